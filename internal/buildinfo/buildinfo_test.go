package buildinfo

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestFrom(t *testing.T) {
	setting := func(kv ...string) []debug.BuildSetting {
		var s []debug.BuildSetting
		for i := 0; i < len(kv); i += 2 {
			s = append(s, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return s
	}
	const rev = "56b49fb25d8212ecf7660bbb45e2baa3e2d9831d"
	cases := []struct {
		name string
		bi   *debug.BuildInfo
		want Info
		line string
	}{
		{"no build info", nil,
			Info{Version: Devel, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH},
			Devel + " " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH},
		{"installed from a tag", &debug.BuildInfo{GoVersion: "go1.26.0",
			Main:     debug.Module{Path: ModulePath, Version: "v0.1.0"},
			Settings: setting("GOOS", "linux", "GOARCH", "arm64")},
			Info{Version: "v0.1.0", GoVersion: "go1.26.0", Platform: "linux/arm64"},
			"v0.1.0 go1.26.0 linux/arm64"},
		{"dirty checkout", &debug.BuildInfo{GoVersion: "go1.26.0",
			Main: debug.Module{Path: ModulePath, Version: "v0.0.0-20261206025831-56b49fb25d82+dirty"},
			Settings: setting("GOOS", "darwin", "GOARCH", "amd64", "vcs", "git", "vcs.revision", rev,
				"vcs.time", "2026-12-06T02:58:31Z", "vcs.modified", "true")},
			Info{Version: "v0.0.0-20261206025831-56b49fb25d82+dirty", Revision: rev, Time: "2026-12-06T02:58:31Z",
				Modified: true, GoVersion: "go1.26.0", Platform: "darwin/amd64"},
			"v0.0.0-20261206025831-56b49fb25d82+dirty (revision 56b49fb25d82, modified) go1.26.0 darwin/amd64"},
		{"checkout without VCS stamp", &debug.BuildInfo{GoVersion: "go1.26.0",
			Main: debug.Module{Path: ModulePath, Version: "(devel)"}, Settings: setting("GOOS", "linux", "GOARCH", "amd64")},
			Info{Version: Devel, GoVersion: "go1.26.0", Platform: "linux/amd64"},
			"devel go1.26.0 linux/amd64"},
		{"service depending on a release", &debug.BuildInfo{GoVersion: "go1.26.0",
			Main:     debug.Module{Path: "example.com/svc", Version: "(devel)"},
			Deps:     []*debug.Module{{Path: "github.com/twmb/franz-go", Version: "v1.22.3"}, {Path: ModulePath, Version: "v0.2.0"}},
			Settings: setting("GOOS", "linux", "GOARCH", "amd64", "vcs.revision", rev, "vcs.modified", "false")},
			Info{Version: "v0.2.0", Revision: rev, GoVersion: "go1.26.0", Platform: "linux/amd64"},
			"v0.2.0 (revision 56b49fb25d82) go1.26.0 linux/amd64"},
		{"service with kafmesh replaced by a directory", &debug.BuildInfo{GoVersion: "go1.26.0",
			Main:     debug.Module{Path: "example.com/svc"},
			Deps:     []*debug.Module{{Path: ModulePath, Version: "v0.2.0", Replace: &debug.Module{Path: "../kafmesh"}}},
			Settings: setting("GOOS", "linux", "GOARCH", "amd64")},
			Info{Version: Devel, GoVersion: "go1.26.0", Platform: "linux/amd64"},
			"devel go1.26.0 linux/amd64"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := From(c.bi)
			if got != c.want {
				t.Errorf("From:\n got %+v\nwant %+v", got, c.want)
			}
			if s := got.String(); s != c.line {
				t.Errorf("String: %q, want %q", s, c.line)
			}
		})
	}
}

func TestStamped(t *testing.T) {
	recorded := Info{Version: "v0.0.0-20261206025831-56b49fb25d82+dirty", Revision: "56b49fb", Time: "t", Modified: true, GoVersion: "go1.26.0"}
	if got := stamped(recorded, "", ""); got != recorded {
		t.Errorf("nothing stamped: %+v", got)
	}
	got := stamped(recorded, "v0.1.0", "")
	if got.Version != "v0.1.0" || got.Revision != "56b49fb" || !got.Modified {
		t.Errorf("version stamped: %+v", got)
	}
	got = stamped(Info{Version: Devel, GoVersion: "go1.26.0"}, "v0.1.0", "abcdef")
	if want := (Info{Version: "v0.1.0", Revision: "abcdef", GoVersion: "go1.26.0"}); got != want {
		t.Errorf("both stamped: %+v, want %+v", got, want)
	}
}

// A binary built from a git checkout with VCS stamping on carries the
// checkout's revision and dirty flag, and a pseudo-version made from them;
// Read in that binary reports them. (GOFLAGS may turn stamping off on a
// developer machine; the build here turns it on explicitly.)
func TestReadInCheckoutBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary in a fresh git repository; skipped with -short")
	}
	for _, tool := range []string{"git", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not on PATH: %v", tool, err)
		}
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// A module named like kafmesh so the main module is the one Read looks
	// for; it prints what Read returns, through this very package (copied,
	// since internal/ packages cannot be imported from outside the module).
	if err := os.MkdirAll(filepath.Join(dir, "internal", "buildinfo"), 0o755); err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join(root, "internal", "buildinfo", "buildinfo.go"))
	if err != nil {
		t.Fatal(err)
	}
	write("internal/buildinfo/buildinfo.go", string(src))
	write("go.mod", "module "+ModulePath+"\n\ngo 1.26.0\n")
	write("main.go", `package main

import (
	"encoding/json"
	"os"

	"`+ModulePath+`/internal/buildinfo"
)

func main() { json.NewEncoder(os.Stdout).Encode(buildinfo.Read()) }
`)
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"}, args...)...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("init", "-q")
	git("add", ".")
	git("commit", "-q", "-m", "init")
	rev := git("rev-parse", "HEAD")

	build := func() Info {
		t.Helper()
		bin := filepath.Join(t.TempDir(), "v")
		cmd := exec.Command("go", "build", "-buildvcs=true", "-o", bin, ".")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOFLAGS=", "GOWORK=off", "GOTOOLCHAIN=local")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, out)
		}
		out, err := exec.Command(bin).Output()
		if err != nil {
			t.Fatal(err)
		}
		var info Info
		if err := json.Unmarshal(out, &info); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		return info
	}

	clean := build()
	if clean.Revision != rev || clean.Modified || clean.Time == "" || !strings.Contains(clean.Version, rev[:12]) ||
		strings.HasSuffix(clean.Version, "+dirty") {
		t.Errorf("clean checkout: %+v (HEAD %s)", clean, rev)
	}
	write("README", "an uncommitted file\n")
	dirty := build()
	if dirty.Revision != rev || !dirty.Modified || !strings.HasSuffix(dirty.Version, "+dirty") {
		t.Errorf("dirty checkout: %+v", dirty)
	}
}
