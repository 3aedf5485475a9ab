package release

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// imageConfig is the part of an OCI image config the test reads.
type imageConfig struct {
	OS           string `json:"os"`
	Architecture string `json:"architecture"`
	Config       struct {
		User         string
		WorkingDir   string
		Env          []string
		Entrypoint   []string
		Cmd          []string
		ExposedPorts map[string]struct{}
		Labels       map[string]string
	} `json:"config"`
}

// TestImageTarball builds the container image the way scripts/release.sh
// does (a static kafmesh binary, then tools/imagebuild, no container
// engine) and checks the tarball: its config says what the Dockerfile says
// (entrypoint, CMD discover, non-root user, port, labels with the version,
// source and licence), and the binary in its layer is static and reports the
// stamped version.
func TestImageTarball(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the kafmesh binary and the image tarball; skipped with -short")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	const version, revision = "v0.0.0-imagetest", "0123456789abcdef0123456789abcdef01234567"
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "kafmesh")
	// The flags of scripts/release.sh.
	goOutput(t, root, []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=" + runtime.GOARCH, "GOFLAGS=-trimpath"},
		"build", "-buildvcs=false", "-ldflags", "-s -w -X "+modulePath+"/internal/buildinfo.version="+version+
			" -X "+modulePath+"/internal/buildinfo.revision="+revision, "-o", bin, "./cmd/kafmesh")
	image := filepath.Join(tmp, "image.tar")
	goOutput(t, filepath.Join(root, "tools", "imagebuild"), []string{"GOWORK=off"},
		"run", ".", "-binary", bin, "-platform", "linux/"+runtime.GOARCH, "-version", version, "-revision", revision,
		"-created", "2026-12-06T00:00:00Z", "-out", image, "-oci-layout", filepath.Join(tmp, "layout"))

	cfg, files := readImage(t, image, "ghcr.io/kafmesh/kafmesh:"+version)
	c := cfg.Config
	if cfg.OS != "linux" || cfg.Architecture != runtime.GOARCH {
		t.Errorf("platform %s/%s", cfg.OS, cfg.Architecture)
	}
	if !slices.Equal(c.Entrypoint, []string{"/usr/local/bin/kafmesh"}) || !slices.Equal(c.Cmd, []string{"discover"}) {
		t.Errorf("entrypoint %q cmd %q, want kafmesh discover", c.Entrypoint, c.Cmd)
	}
	if c.User == "" || strings.HasPrefix(c.User, "0:") || c.User == "0" || c.User == "root" {
		t.Errorf("user %q: want a non-root user", c.User)
	}
	if _, ok := c.ExposedPorts["8080/tcp"]; !ok || len(c.ExposedPorts) != 1 {
		t.Errorf("exposed ports %v, want 8080/tcp (discover's --listen default)", c.ExposedPorts)
	}
	for k, want := range map[string]string{
		"org.opencontainers.image.version":  version,
		"org.opencontainers.image.revision": revision,
		"org.opencontainers.image.source":   "https://github.com/kafmesh/kafmesh",
		"org.opencontainers.image.licenses": "Apache-2.0",
	} {
		if c.Labels[k] != want {
			t.Errorf("label %s = %q, want %q", k, c.Labels[k], want)
		}
	}

	// The Dockerfile's final stage describes the same image.
	df := parseDockerfile(t, filepath.Join(root, "Dockerfile"), map[string]string{"VERSION": version, "REVISION": revision})
	if !slices.Equal(df.entrypoint, c.Entrypoint) || !slices.Equal(df.cmd, c.Cmd) || df.user != c.User ||
		df.workDir != c.WorkingDir || !slices.Equal(df.env, c.Env) || !slices.Equal(df.expose, slices.Sorted(maps.Keys(c.ExposedPorts))) {
		t.Errorf("Dockerfile and tarball differ:\nDockerfile %+v\ntarball    %+v", df, c)
	}
	for k, v := range c.Labels {
		if k != "org.opencontainers.image.created" && df.labels[k] != v {
			t.Errorf("label %s: tarball %q, Dockerfile %q", k, v, df.labels[k])
		}
	}
	for k := range df.labels {
		if _, ok := c.Labels[k]; !ok {
			t.Errorf("label %s is in the Dockerfile, not in the tarball", k)
		}
	}

	// The binary in the layer: static, and it runs.
	kafmesh, ok := files["usr/local/bin/kafmesh"]
	if !ok {
		t.Fatalf("no usr/local/bin/kafmesh in the image; files: %v", slices.Sorted(maps.Keys(files)))
	}
	if kafmesh.mode&0o111 == 0 {
		t.Errorf("usr/local/bin/kafmesh mode %o is not executable", kafmesh.mode)
	}
	if d, ok := files["data/"]; !ok || d.uid != 65532 {
		t.Errorf("data/ missing or not owned by the non-root user: %+v", d)
	}
	if err := static(kafmesh.body); err != nil {
		t.Errorf("usr/local/bin/kafmesh: %v", err)
	}
	extracted := filepath.Join(tmp, "extracted-kafmesh")
	if err := os.WriteFile(extracted, kafmesh.body, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(extracted, "version", "--json").Output()
	var info struct{ Version, Revision string }
	if err != nil || json.Unmarshal(out, &info) != nil || info.Version != version || info.Revision != revision {
		t.Errorf("kafmesh version --json from the image: %v, %s", err, out)
	}
	if _, err := os.Stat(filepath.Join(tmp, "layout", "index.json")); err != nil {
		t.Errorf("no OCI layout written: %v", err)
	}
}

type layerFile struct {
	body []byte
	mode int64
	uid  int
}

// readImage reads a docker/OCI tarball as tarball.Write lays it out
// (manifest.json naming the config and the layers) with the standard library
// only, as an independent reader.
func readImage(t *testing.T, path, wantTag string) (imageConfig, map[string]layerFile) {
	t.Helper()
	blobs := map[string][]byte{}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		blobs[h.Name] = b
	}
	var manifest []struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	if err := json.Unmarshal(blobs["manifest.json"], &manifest); err != nil || len(manifest) != 1 {
		t.Fatalf("manifest.json: %v %s", err, blobs["manifest.json"])
	}
	m := manifest[0]
	if !slices.Equal(m.RepoTags, []string{wantTag}) {
		t.Errorf("tags %v, want %s", m.RepoTags, wantTag)
	}
	var cfg imageConfig
	if err := json.Unmarshal(blobs[m.Config], &cfg); err != nil {
		t.Fatalf("config %s: %v", m.Config, err)
	}
	files := map[string]layerFile{}
	for _, l := range m.Layers {
		zr, err := gzip.NewReader(bytes.NewReader(blobs[l]))
		if err != nil {
			t.Fatalf("layer %s: %v", l, err)
		}
		lr := tar.NewReader(zr)
		for {
			h, err := lr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("layer %s: %v", l, err)
			}
			body, err := io.ReadAll(lr)
			if err != nil {
				t.Fatal(err)
			}
			files[h.Name] = layerFile{body: body, mode: h.Mode, uid: h.Uid}
		}
	}
	return cfg, files
}

// static fails unless bin is an ELF executable without an interpreter or
// shared libraries: it runs on an empty base.
func static(bin []byte) error {
	f, err := elf.NewFile(bytes.NewReader(bin))
	if err != nil {
		return err
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return errors.New("dynamically linked (has an ELF interpreter)")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		return fmt.Errorf("needs shared libraries %v", libs)
	}
	return nil
}

type dockerfile struct {
	user, workDir   string
	env, expose     []string
	entrypoint, cmd []string
	labels          map[string]string
}

// parseDockerfile reads the directives of the Dockerfile's last stage that
// end up in the image config, with ${ARG}s replaced from args. It knows the
// forms the repository's Dockerfile uses: continuation lines, KEY=VALUE
// pairs (values may be double-quoted) and JSON-array ENTRYPOINT and CMD.
func parseDockerfile(t *testing.T, path string, args map[string]string) dockerfile {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	var cur strings.Builder
	for _, line := range strings.Split(string(src), "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") || (trimmed == "" && cur.Len() == 0) {
			continue
		}
		if s, ok := strings.CutSuffix(trimmed, "\\"); ok {
			cur.WriteString(s + " ")
			continue
		}
		cur.WriteString(trimmed)
		lines = append(lines, cur.String())
		cur.Reset()
	}
	df := dockerfile{labels: map[string]string{}}
	expand := func(s string) string { return os.Expand(s, func(k string) string { return args[k] }) }
	for _, line := range lines {
		instr, rest, _ := strings.Cut(line, " ")
		rest = strings.TrimSpace(rest)
		switch strings.ToUpper(instr) {
		case "FROM":
			df = dockerfile{labels: map[string]string{}} // a new stage
		case "USER":
			df.user = rest
		case "WORKDIR":
			df.workDir = rest
		case "EXPOSE":
			df.expose = append(df.expose, strings.Fields(rest)...)
		case "ENV":
			for _, kv := range pairs(t, rest) {
				df.env = append(df.env, kv[0]+"="+expand(kv[1]))
			}
		case "LABEL":
			for _, kv := range pairs(t, rest) {
				if v := expand(kv[1]); v != "" { // an empty label is not set
					df.labels[kv[0]] = v
				}
			}
		case "ENTRYPOINT", "CMD":
			var v []string
			if err := json.Unmarshal([]byte(rest), &v); err != nil {
				t.Fatalf("Dockerfile %s %s: not a JSON array (exec form): %v", instr, rest, err)
			}
			if strings.ToUpper(instr) == "CMD" {
				df.cmd = v
			} else {
				df.entrypoint = v
			}
		}
	}
	slices.Sort(df.expose)
	return df
}

// pairs splits `a=1 b="two words"` into key/value pairs.
func pairs(t *testing.T, s string) [][2]string {
	t.Helper()
	var out [][2]string
	for s = strings.TrimSpace(s); s != ""; s = strings.TrimSpace(s) {
		k, rest, ok := strings.Cut(s, "=")
		if !ok {
			t.Fatalf("Dockerfile: %q is not KEY=VALUE", s)
		}
		var v string
		if strings.HasPrefix(rest, `"`) {
			end := strings.Index(rest[1:], `"`)
			if end < 0 {
				t.Fatalf("Dockerfile: unterminated quote in %q", s)
			}
			v, s = rest[1:1+end], rest[2+end:]
		} else {
			v, s, _ = strings.Cut(rest, " ")
		}
		out = append(out, [2]string{k, v})
	}
	return out
}
