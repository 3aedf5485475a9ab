package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func staticHello(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module hello\n\ngo 1.26.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nfunc main() { println(\"hello\") }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "hello")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH, "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// The same binary and flags give the same image digest; another creation
// time gives another.
func TestReproducible(t *testing.T) {
	o := options{binary: staticHello(t), platform: "linux/" + runtime.GOARCH, version: "v0.0.1", created: time.Unix(1700000000, 0).UTC()}
	digest := func(o options) string {
		img, err := build(o)
		if err != nil {
			t.Fatal(err)
		}
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		return d.String()
	}
	a, b := digest(o), digest(o)
	if a != b {
		t.Errorf("two builds: %s and %s", a, b)
	}
	o.created = o.created.Add(time.Second)
	if c := digest(o); c == a {
		t.Errorf("another creation time kept digest %s", c)
	}
}

func TestRefusesWhatCannotRun(t *testing.T) {
	notELF := filepath.Join(t.TempDir(), "script")
	if err := os.WriteFile(notELF, []byte("#!/bin/sh\necho hi\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	other := "arm64"
	if runtime.GOARCH == "arm64" {
		other = "amd64"
	}
	hello := staticHello(t)
	for _, c := range []struct {
		o    options
		want string
	}{
		{options{binary: notELF, platform: "linux/amd64"}, "not an ELF executable"},
		{options{binary: hello, platform: "linux/" + other}, "not " + other},
		{options{binary: hello, platform: "darwin/arm64"}, "want linux/<arch>"},
		{options{binary: hello, platform: "linux/" + runtime.GOARCH, caCerts: filepath.Join(t.TempDir(), "none.pem")}, "-ca-certs"},
	} {
		if _, err := build(c.o); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want %q", c.o, err, c.want)
		}
	}
	if err := run([]string{"-binary", hello}, os.Stdout); err == nil || !strings.Contains(err.Error(), "required") {
		t.Errorf("no -version: %v", err)
	}
}

func TestCreationTime(t *testing.T) {
	if got, _ := creationTime("", ""); !got.Equal(time.Unix(0, 0)) {
		t.Errorf("default %v", got)
	}
	if got, _ := creationTime("", "1700000000"); !got.Equal(time.Unix(1700000000, 0)) {
		t.Errorf("SOURCE_DATE_EPOCH %v", got)
	}
	if got, _ := creationTime("2026-12-06T00:00:00Z", "1"); got.Format(time.RFC3339) != "2026-12-06T00:00:00Z" {
		t.Errorf("-created %v", got)
	}
	if _, err := creationTime("", "soon"); err == nil {
		t.Error("SOURCE_DATE_EPOCH=soon accepted")
	}
}
