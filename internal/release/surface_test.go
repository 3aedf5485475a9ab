package release

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// promised are the import paths (relative to the module) users may import;
// a pattern ending in "/..." also covers everything below it. Anything else
// that is importable is a promise made by accident: move it under internal/.
var promised = []string{
	"runner",
	"kafmeshtest",
	"api",
	"api/...",
	"examples/...", // the example service, documented as an example
}

// commandRoots are where `package main` commands may live. A command cannot
// be imported, so it promises only its command line: cmd/ holds the released
// ones, examples/ the example's, scripts/ the build and test helpers that
// scripts/*.sh build with `go build ./scripts/NAME`.
var commandRoots = []string{"cmd/...", "examples/...", "scripts/..."}

// TestPublicSurface lists the module's packages with go list and fails when
// an importable one (not under internal/, not package main) is not promised,
// or a command lives outside the command folders.
func TestPublicSurface(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "list", "-f", "{{.ImportPath}} {{.Name}}", "./...")
	cmd.Dir = root
	cmd.Env = append(cmd.Environ(), "GOWORK=off")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list ./...: %v", err)
	}
	var importable []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		importPath, name, _ := strings.Cut(line, " ")
		rel, ok := strings.CutPrefix(importPath, modulePath)
		if !ok {
			t.Errorf("%s is not in module %s", importPath, modulePath)
			continue
		}
		rel = strings.TrimPrefix(rel, "/")
		if isInternal(rel) {
			continue
		}
		if name == "main" {
			if !matchesAny(rel, commandRoots) {
				t.Errorf("command %s lives outside %v", importPath, commandRoots)
			}
			continue
		}
		importable = append(importable, rel)
		if !matchesAny(rel, promised) {
			t.Errorf("%s is importable but not part of the promised surface %v: move it under internal/, or promise it here and in the docs", importPath, promised)
		}
	}
	for _, must := range []string{"runner", "kafmeshtest", "api/discovery/v1", "api/ping/v1", "api/watch/v1"} {
		if !matchesAny(must, importable) {
			t.Errorf("%s/%s is not importable any more; users import it", modulePath, must)
		}
	}
}

// isInternal reports whether rel has an "internal" path element, which the
// go command refuses to let other modules import.
func isInternal(rel string) bool {
	for _, elem := range strings.Split(rel, "/") {
		if elem == "internal" {
			return true
		}
	}
	return false
}

func matchesAny(rel string, patterns []string) bool {
	for _, p := range patterns {
		if prefix, ok := strings.CutSuffix(p, "/..."); ok {
			if rel == prefix || strings.HasPrefix(rel, prefix+"/") {
				return true
			}
		} else if rel == p {
			return true
		}
	}
	return false
}

func TestMatchesAny(t *testing.T) {
	cases := map[string]bool{"runner": true, "runner/x": false, "api": true, "api/ping/v1": true, "apis": false,
		"examples/devices/demo": true, "discovery/web": false, "kafmeshtest": true}
	for rel, want := range cases {
		if got := matchesAny(rel, promised); got != want {
			t.Errorf("matchesAny(%q) = %v, want %v", rel, got, want)
		}
	}
	if !isInternal("examples/devices/internal/definitions") || isInternal("internalx/y") {
		t.Error("isInternal")
	}
}
