package main

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/kafmesh/kafmesh/internal/protoc"
)

// module is the Go module the generated packages belong to; every
// go_package option under api/proto lies inside it.
const module = "github.com/kafmesh/kafmesh"

// generate compiles the .proto files under protoDir and returns their Go
// code, with paths relative to the module root.
func generate(ctx context.Context, protoDir string) ([]protoc.File, error) {
	set, err := protoc.Compile(ctx, []string{protoDir})
	if err != nil {
		return nil, err
	}
	return set.Generate(ctx, protoc.GoPackageLayout(module))
}

// committedFiles lists the generated Go files (*.pb.go) under
// <moduleRoot>/api, as slash-separated paths relative to the module root.
func committedFiles(moduleRoot string) ([]string, error) {
	var paths []string
	err := filepath.WalkDir(filepath.Join(moduleRoot, "api"), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(d.Name(), ".pb.go") {
			return nil
		}
		rel, err := filepath.Rel(moduleRoot, path)
		if err != nil {
			return err
		}
		paths = append(paths, filepath.ToSlash(rel))
		return nil
	})
	if os.IsNotExist(err) {
		return nil, nil
	}
	return paths, err
}
