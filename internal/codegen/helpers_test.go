package codegen_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kafmesh/kafmesh/internal/protoc"
	"github.com/kafmesh/kafmesh/internal/spec"
)

// load loads and validates the definition at defPath the way kafmesh gen
// does: the .proto files compiled with internal/protoc, every message ref
// checked. It fails the test on any error diagnostic.
func load(t testing.TB, defPath string) (*spec.Service, *protoc.Set) {
	t.Helper()
	svc, set, diags, err := loadDefinition(context.Background(), defPath)
	if err != nil {
		t.Fatal(err)
	}
	if diags.HasErrors() {
		t.Fatalf("%s does not load:\n%s", defPath, diags)
	}
	return svc, set
}

func loadDefinition(ctx context.Context, defPath string) (*spec.Service, *protoc.Set, spec.Diagnostics, error) {
	var set *protoc.Set
	dir := filepath.Dir(defPath)
	loader := func(ctx context.Context, dirs []string) (spec.Messages, spec.Diagnostics, error) {
		compiled, err := protoc.Compile(ctx, dirs, protoc.WithWorkingDir(dir))
		var problems protoc.Diagnostics
		if errors.As(err, &problems) {
			var diags spec.Diagnostics
			for _, p := range problems {
				diags = append(diags, spec.Diagnostic{Position: spec.Position{File: p.File, Line: p.Line, Col: p.Col}, Message: p.Message})
			}
			return nil, diags, nil
		}
		if err != nil {
			return nil, nil, err
		}
		set = compiled
		return messages{compiled}, nil, nil
	}
	svc, diags, err := spec.Load(ctx, defPath, spec.WithWorkDir(dir), spec.WithMessageLoader(loader))
	return svc, set, diags, err
}

type messages struct{ set *protoc.Set }

func (m messages) Has(name string) bool {
	_, ok := m.set.Message(name)
	return ok
}
func (m messages) Names() []string { return m.set.MessageNames() }

// readTree reads every file under dir, keyed by slash-separated path
// relative to dir; skip leaves out files for which it returns true.
func readTree(t testing.TB, dir string, skip func(rel string) bool) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if skip != nil && skip(rel) {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		out[rel] = string(b)
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return out
}

// writeTree writes files (slash-separated path → content) under dir.
func writeTree(t testing.TB, dir string, files map[string]string) {
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

// copyCase copies a test case's input (everything but expected/) to a new
// temporary directory and returns it.
func copyCase(t testing.TB, caseDir string) string {
	t.Helper()
	dir := t.TempDir()
	files := readTree(t, caseDir, func(rel string) bool { return strings.HasPrefix(rel, "expected/") })
	writeTree(t, dir, files)
	return dir
}
