package release

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"
)

const modulePath = "github.com/kafmesh/kafmesh"

// testVersion is the version the committed tree is published as:
// v0.0.0-installtest.<the first 12 hex digits of HEAD's tree>. A prerelease
// of v0.0.0 sorts below every real release, so it can never be mistaken for
// one; the tree hash makes every published content a version of its own,
// since the go command trusts that a module version never changes (the
// build cache keeps what it compiled of a module version, and -trimpath
// keys it by that version).
var testVersion string

// TestInstallLikeAUser publishes the committed tree (git archive HEAD, what
// a tag would contain) as testVersion in a file-based module proxy and uses
// it the way a new user would, in a fresh module cache and GOPATH, served
// from this machine's module download cache where it can be:
//
//   - go install .../cmd/kafmesh@version, and `kafmesh version` names it;
//   - a new module gets the CLI with go get -tool, runs `go tool kafmesh gen`
//     on a small definition, and builds and vets the generated code;
//   - a new service module that imports only runner builds, vets, and
//     `go list -m all` and `go doc` work in it;
//   - neither module's go directive is raised above the minimum (go 1.26.0).
//
// Uncommitted changes are not part of what is tested: commit first.
func TestInstallLikeAUser(t *testing.T) {
	if testing.Short() {
		t.Skip("installs the module from a file proxy into a fresh module cache (minutes on a cold build cache, about a minute warm); skipped with -short")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("git"); err != nil {
		t.Skipf("git not on PATH (%v): the test publishes git archive HEAD", err)
	}
	tree, err := exec.Command("git", "-C", root, "rev-parse", "--verify", "HEAD^{tree}").CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(tree))) < 12 {
		t.Skipf("%s is not a git checkout with a commit (%v: %s): the test publishes git archive HEAD", root, err, tree)
	}
	testVersion = "v0.0.0-installtest." + strings.TrimSpace(string(tree))[:12]
	goenv := strings.Split(goOutput(t, root, nil, "env", "GOMODCACHE", "GOPROXY"), "\n")
	if len(goenv) < 2 || goenv[0] == "" {
		t.Fatalf("go env GOMODCACHE GOPROXY: %q", goenv)
	}
	downloads := filepath.Join(goenv[0], "cache", "download")
	// The proxy list: the published version, then this machine's module
	// download cache (everything kafmesh's own builds fetched), then the
	// machine's GOPROXY for what only a consumer's pruned module graph
	// selects (e.g. the .info of an older golang.org/x/tools dependency that
	// go list -m all reports); with GOPROXY=off the test runs fully offline
	// and fails on such a module.
	proxies := "file://" + filepath.ToSlash(downloads)
	if p := strings.TrimSpace(goenv[1]); p != "" && p != "off" {
		proxies += "," + p
	}

	tmp := t.TempDir()
	proxy := filepath.Join(tmp, "proxy")
	publish(t, root, proxy, testVersion)

	// A fresh module cache and GOPATH; the build cache is the machine's.
	// The build flags are scripts/release.sh's (CGO_ENABLED=0, -trimpath;
	// they change nothing about how modules resolve, which is what this test
	// is about), so the dependencies compiled here are the ones
	// TestImageTarball compiles: -trimpath keys them by module version, not
	// directory. `go tool` takes no -trimpath, so it compiles the CLI keyed
	// by directory; the module cache is emptied before and after but lives at
	// the same path in every run, so that work is done once per machine too.
	modcache := stableModCache(t)
	env := []string{
		"GOPATH=" + filepath.Join(tmp, "gopath"),
		"GOMODCACHE=" + modcache,
		"GOBIN=" + filepath.Join(tmp, "bin"),
		"GOPROXY=file://" + filepath.ToSlash(proxy) + "," + proxies,
		"GOSUMDB=off", "GONOSUMDB=" + modulePath, "GOPRIVATE=", "GONOPROXY=", "GOINSECURE=",
		"GOFLAGS=-modcacherw -trimpath", "GOWORK=off", "GOTOOLCHAIN=local", "CGO_ENABLED=0",
	}

	t.Run("go install", func(t *testing.T) {
		goOutput(t, tmp, env, "install", modulePath+"/cmd/kafmesh@"+testVersion)
		bin := filepath.Join(tmp, "bin", "kafmesh")
		out, err := exec.Command(bin, "version").CombinedOutput()
		if err != nil || !strings.HasPrefix(string(out), "kafmesh "+testVersion+" ") {
			t.Errorf("kafmesh version: %v, %q; want it to start with %q", err, out, "kafmesh "+testVersion+" ")
		}
		out, err = exec.Command(bin, "version", "--json").Output()
		var info struct{ Version string }
		if err != nil || json.Unmarshal(out, &info) != nil || info.Version != testVersion {
			t.Errorf("kafmesh version --json: %v, %s", err, out)
		}
	})

	t.Run("go get -tool and go tool kafmesh gen", func(t *testing.T) {
		dir := filepath.Join(tmp, "tooluser")
		writeTree(t, dir, map[string]string{
			"go.mod":                               "module example.com/tooluser\n\ngo 1.26.0\n",
			"docs/kafmesh/definition.yml":          "name: tooluser\noutput:\n  package: gen\n  path: gen\nmessages:\n  protobuf:\n    - protos\ncomponents:\n  - components/*.yaml\n",
			"docs/kafmesh/components/beats.yaml":   "name: beats\nsources:\n  - message: deviceId.heartbeat\n",
			"docs/kafmesh/protos/tooluser/a.proto": "syntax = \"proto3\";\npackage tooluser.deviceId;\nmessage Heartbeat {\n  string id = 1;\n}\n",
			"main.go": `package main

import (
	"log"

	"example.com/tooluser/gen"
	"example.com/tooluser/gen/beats"
	"github.com/kafmesh/kafmesh/runner"
)

func main() {
	svc, err := gen.NewService(runner.WithBrokers("127.0.0.1:9092"))
	if err != nil {
		log.Fatal(err)
	}
	if _, err := beats.RegisterDeviceIDHeartbeatSource(svc); err != nil {
		log.Fatal(err)
	}
}
`,
		})
		goOutput(t, dir, env, "get", "-tool", modulePath+"/cmd/kafmesh@"+testVersion)
		goOutput(t, dir, env, "tool", "kafmesh", "gen")
		for _, f := range []string{"gen/service.km.go", "gen/beats/device_id_heartbeat_source.km.go"} {
			if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
				t.Errorf("go tool kafmesh gen wrote no %s: %v", f, err)
			}
		}
		if v := goOutput(t, dir, env, "tool", "kafmesh", "version"); !strings.HasPrefix(v, "kafmesh "+testVersion+" ") {
			t.Errorf("go tool kafmesh version: %q", v)
		}
		goOutput(t, dir, env, "mod", "tidy")
		goOutput(t, dir, env, "build", "./...")
		goOutput(t, dir, env, "vet", "./...")
		checkConsumer(t, dir, env)
	})

	t.Run("service importing runner", func(t *testing.T) {
		dir := filepath.Join(tmp, "service")
		writeTree(t, dir, map[string]string{
			"go.mod": "module example.com/service\n\ngo 1.26.0\n",
			"main.go": `package main

import (
	"context"
	"log"

	"github.com/kafmesh/kafmesh/runner"
)

func main() {
	svc, err := runner.NewService(runner.Definition{Name: "service"}, runner.WithBrokers("127.0.0.1:9092"))
	if err != nil {
		log.Fatal(err)
	}
	if err := svc.Run(context.Background()); err != nil {
		log.Fatal(err)
	}
}
`,
		})
		goOutput(t, dir, env, "get", modulePath+"/runner@"+testVersion)
		goOutput(t, dir, env, "mod", "tidy")
		goOutput(t, dir, env, "build", "./...")
		goOutput(t, dir, env, "vet", "./...")
		if doc := goOutput(t, dir, env, "doc", modulePath+"/runner", "NewService"); !strings.Contains(doc, "func NewService(") {
			t.Errorf("go doc runner NewService:\n%s", doc)
		}
		checkConsumer(t, dir, env)
	})
}

// stableModCache returns an empty module cache directory at a fixed place
// under the kafmesh cache ($KAFMESH_CACHE_DIR, default <user cache
// dir>/kafmesh), locked for this test until it ends and emptied again then.
func stableModCache(t *testing.T) string {
	t.Helper()
	base := os.Getenv("KAFMESH_CACHE_DIR")
	if base == "" {
		userCache, err := os.UserCacheDir()
		if err != nil {
			t.Skipf("no user cache directory for the test's module cache: %v", err)
		}
		base = filepath.Join(userCache, "kafmesh")
	}
	dir := filepath.Join(base, "installtest")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	// Another run of this test (another checkout) waits here.
	if err := lockFile(lock); err != nil {
		lock.Close()
		t.Fatalf("lock %s: %v", lock.Name(), err)
	}
	modcache := filepath.Join(dir, "modcache")
	if err := os.RemoveAll(modcache); err != nil {
		t.Fatalf("empty %s: %v", modcache, err)
	}
	t.Cleanup(func() {
		if err := os.RemoveAll(modcache); err != nil {
			t.Errorf("empty %s: %v", modcache, err)
		}
		lock.Close() // releases the lock
	})
	return modcache
}

// checkConsumer asserts what tools that inspect a module (SBOM, licence,
// update checkers) need: go list -m all works and names kafmesh at the
// published version, and depending on kafmesh kept the go directive at the
// minimum.
func checkConsumer(t *testing.T, dir string, env []string) {
	t.Helper()
	all := goOutput(t, dir, env, "list", "-m", "all")
	if !strings.Contains(all, "\n"+modulePath+" "+testVersion+"\n") {
		t.Errorf("go list -m all does not list %s %s:\n%s", modulePath, testVersion, all)
	}
	if strings.Contains(all, modulePath+"/") {
		t.Errorf("go list -m all lists a nested kafmesh module:\n%s", all)
	}
	gomod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(gomod), "\ngo 1.26.0\n") {
		t.Errorf("the go directive moved from go 1.26.0:\n%s", gomod)
	}
}

// publish writes git archive HEAD of root as version of the module into a
// file-based GOPROXY at proxy: the .info, .mod and .zip files and the list.
func publish(t *testing.T, root, proxy, version string) {
	t.Helper()
	src := filepath.Join(t.TempDir(), "src")
	cmd := exec.Command("git", "-C", root, "archive", "--format=tar", "HEAD")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	archive, err := cmd.Output()
	if err != nil {
		t.Fatalf("git archive HEAD: %v\n%s", err, stderr.Bytes())
	}
	if err := untar(bytes.NewReader(archive), src); err != nil {
		t.Fatalf("unpack git archive HEAD: %v", err)
	}
	out, err := exec.Command("git", "-C", root, "log", "-1", "--format=%cI", "HEAD").Output()
	if err != nil {
		t.Fatalf("git log: %v", err)
	}
	commitTime := strings.TrimSpace(string(out))
	when, err := time.Parse(time.RFC3339, commitTime)
	if err != nil {
		t.Fatalf("commit time %q: %v", commitTime, err)
	}

	escaped, err := module.EscapePath(modulePath)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(proxy, filepath.FromSlash(escaped), "@v")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	mv := module.Version{Path: modulePath, Version: version}
	zf, err := os.Create(filepath.Join(dir, version+".zip"))
	if err != nil {
		t.Fatal(err)
	}
	// CreateFromDir leaves out nested modules (bench/) and files a module
	// zip may not hold, as the go command does for a tag.
	if err := modzip.CreateFromDir(zf, mv, src); err != nil {
		zf.Close()
		t.Fatalf("zip the module: %v", err)
	}
	if err := zf.Close(); err != nil {
		t.Fatal(err)
	}
	gomod, err := os.ReadFile(filepath.Join(src, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	info, _ := json.Marshal(struct {
		Version string
		Time    time.Time
	}{version, when.UTC()})
	for name, data := range map[string][]byte{version + ".mod": gomod, version + ".info": info, "list": []byte(version + "\n")} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// untar unpacks the regular files and directories of a tar stream into dir
// (git archive writes nothing else that a module zip could hold).
func untar(r io.Reader, dir string) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if !filepath.IsLocal(h.Name) {
			if h.Typeflag == tar.TypeXGlobalHeader {
				continue
			}
			return fmt.Errorf("archive entry %q leaves the directory", h.Name)
		}
		p := filepath.Join(dir, filepath.FromSlash(h.Name))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode).Perm()|0o600)
			if err != nil {
				return err
			}
			if _, err := io.Copy(f, tr); err != nil {
				f.Close()
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
		}
	}
}

// goOutput runs the go command in dir with extra environment and returns
// its standard output; a failure ends the test with everything it printed.
func goOutput(t *testing.T, dir string, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("go %s (in %s): %v\n%s%s", strings.Join(args, " "), dir, err, stdout.Bytes(), stderr.Bytes())
	}
	t.Logf("go %s: %s", strings.Join(args, " "), time.Since(start).Round(10*time.Millisecond))
	return stdout.String()
}

func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
