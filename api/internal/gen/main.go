// Command gen regenerates the Go code of the kafmesh wire contracts from
// the .proto files under api/proto, with kafmesh's own pure-Go generator
// (internal/protoc): no protoc or plugins needed. Run it through
// `go generate ./api` (it expects to start in the api directory).
//
// Generated files that no .proto produces any more are removed.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

func main() {
	protoDir := flag.String("proto", "proto", "directory holding the .proto files (the import root)")
	moduleRoot := flag.String("root", "..", "root directory of the github.com/kafmesh/kafmesh module")
	flag.Parse()
	if err := run(context.Background(), *protoDir, *moduleRoot); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(ctx context.Context, protoDir, moduleRoot string) error {
	files, err := generate(ctx, protoDir)
	if err != nil {
		return err
	}
	stale, err := committedFiles(moduleRoot)
	if err != nil {
		return err
	}
	keep := map[string]bool{}
	for _, f := range files {
		keep[f.Path] = true
		path := filepath.Join(moduleRoot, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, f.Content, 0o644); err != nil {
			return err
		}
	}
	for _, path := range stale {
		if !keep[path] {
			if err := os.Remove(filepath.Join(moduleRoot, filepath.FromSlash(path))); err != nil {
				return err
			}
		}
	}
	return nil
}
