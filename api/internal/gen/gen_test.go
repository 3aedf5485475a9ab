package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// The committed generated code must be what the generator produces from the
// committed .proto files today.
func TestCommittedCodeIsCurrent(t *testing.T) {
	const moduleRoot = "../../.."
	files, err := generate(context.Background(), "../../proto")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no files generated from api/proto")
	}
	var want []string
	for _, f := range files {
		want = append(want, f.Path)
		committed, err := os.ReadFile(filepath.Join(moduleRoot, filepath.FromSlash(f.Path)))
		if err != nil {
			t.Errorf("%s is not committed: run go generate ./api", f.Path)
			continue
		}
		if !bytes.Equal(committed, f.Content) {
			t.Errorf("%s is stale: run go generate ./api", f.Path)
		}
	}
	have, err := committedFiles(moduleRoot)
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range have {
		if !slices.Contains(want, path) {
			t.Errorf("%s is generated from no .proto: run go generate ./api", path)
		}
	}
}

// run writes the files and removes generated files no .proto produces.
func TestRunWritesAndPrunes(t *testing.T) {
	root := t.TempDir()
	orphan := filepath.Join(root, "api", "old", "v1", "old.pb.go")
	if err := os.MkdirAll(filepath.Dir(orphan), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(orphan, []byte("package old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := run(context.Background(), "../../proto", root); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(orphan); !os.IsNotExist(err) {
		t.Errorf("orphan generated file kept (stat err %v)", err)
	}
	got, err := committedFiles(root)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(got, "api/discovery/v1/discovery_grpc.pb.go") || !slices.Contains(got, "api/watch/v1/watch.pb.go") {
		t.Errorf("written files = %v", got)
	}
}
