package codegen_test

import (
	"bytes"
	"context"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kafmesh/kafmesh/internal/cli"
	"github.com/kafmesh/kafmesh/internal/codegen"
)

// exampleDir is the example service. It is part of this module (so that
// `kafmesh dev` can run it and `go install` needs no replace directive), and
// root `go test ./...` runs its tests.
const exampleDir = "../../examples/devices"

func exampleDefinition(t testing.TB) string {
	t.Helper()
	def, err := filepath.Abs(filepath.Join(exampleDir, "docs", "kafmesh", "definition.yml"))
	if err != nil {
		t.Fatal(err)
	}
	return def
}

// TestExampleUpToDate checks that the generated code committed in
// examples/devices is what the generator writes now, and that no stale
// generated file is left beside it: regenerate with
// `go run ./cmd/kafmesh gen examples/devices/docs/kafmesh/definition.yml`
// from the repository root.
func TestExampleUpToDate(t *testing.T) {
	svc, set := load(t, exampleDefinition(t))
	files, err := codegen.Files(context.Background(), svc, set)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, f := range files {
		want[f.Path] = true
		got, err := os.ReadFile(filepath.Join(svc.ModuleRoot, filepath.FromSlash(f.Path)))
		if err != nil || !bytes.Equal(got, f.Content) {
			t.Errorf("%s is not what kafmesh gen writes now (%v); run kafmesh gen examples/devices/docs/kafmesh/definition.yml", f.Path, err)
		}
	}
	onDisk := readTree(t, svc.Output.Dir, nil)
	for rel, content := range onDisk {
		path := "examples/devices/internal/definitions/" + rel
		if !want[path] && strings.Contains(content, "DO NOT EDIT.") {
			t.Errorf("%s is a stale generated file; run kafmesh gen examples/devices/docs/kafmesh/definition.yml", path)
		}
	}
}

// TestExampleFromScratch copies examples/devices into a fresh module
// without its generated code, runs `kafmesh gen` there (the CLI command,
// in process), then go build and go vet; a second gen changes nothing.
func TestExampleFromScratch(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the example in a fresh module; run without -short")
	}
	goTool := goCommand(t)

	// The example as a service module of its own, the way a user lays one
	// out: its own module path, and the definition's output path relative to
	// that module.
	const module = "example.com/devices"
	dir := t.TempDir()
	files := readTree(t, exampleDir, func(rel string) bool {
		return strings.HasPrefix(rel, "internal/definitions/")
	})
	for rel, content := range files {
		if strings.HasSuffix(rel, ".go") {
			files[rel] = strings.ReplaceAll(content, "github.com/kafmesh/kafmesh/examples/devices/", module+"/")
		}
	}
	def := "docs/kafmesh/definition.yml"
	files[def] = strings.Replace(files[def], "path: examples/devices/internal/definitions", "path: internal/definitions", 1)
	if !strings.Contains(files[def], "path: internal/definitions") {
		t.Fatalf("%s: no output path to rewrite", def)
	}
	writeTree(t, dir, files)
	writeTempModule(t, goTool, dir, module)

	gen := func() {
		t.Helper()
		var out bytes.Buffer
		env := &cli.Env{Stdout: &out, Stderr: &out, WorkDir: dir}
		if code := cli.Execute(context.Background(), cli.NewGenCommand(env), nil, env); code != 0 || out.Len() > 0 {
			t.Fatalf("kafmesh gen: exit status %d\n%s", code, out.String())
		}
	}
	gen()
	first := readTree(t, dir, nil)
	runGo(t, goTool, dir, "build", "./...")
	runGo(t, goTool, dir, "vet", "./...")
	gen()
	second := readTree(t, dir, nil)
	for _, p := range slices.Sorted(maps.Keys(second)) {
		if first[p] != second[p] && !strings.HasPrefix(p, "go.") {
			t.Errorf("the second gen changed %s", p)
		}
	}
	if len(first) > len(second) {
		t.Error("the second gen removed files")
	}
}
