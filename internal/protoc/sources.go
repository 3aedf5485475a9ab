package protoc

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// sourceFile is one .proto file found under a root directory.
type sourceFile struct {
	// name is the file's name as other files import it: slash-separated and
	// relative to its root (e.g. "kafmesh/deviceId/heartbeat.proto").
	name string
	// root is the root directory the file was found under, as given.
	root string
	// display is the path shown in diagnostics.
	display string
}

// findSources walks every root and returns the .proto files under them,
// sorted by name. A root that is missing or not a directory, a file found
// under two roots with the same name, and a file that shadows a well-known
// type are reported as diagnostics.
func findSources(roots []string, workDir string, isStandard func(string) bool) ([]sourceFile, Diagnostics, error) {
	var (
		files []sourceFile
		diags Diagnostics
		seen  = map[string]sourceFile{}
	)
	for _, root := range roots {
		info, err := os.Stat(root)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			diags = append(diags, Diagnostic{File: displayPath(workDir, root), Message: "protobuf directory does not exist"})
			continue
		case err != nil:
			return nil, nil, fmt.Errorf("reading protobuf directory: %w", err)
		case !info.IsDir():
			diags = append(diags, Diagnostic{File: displayPath(workDir, root), Message: "protobuf directory is not a directory"})
			continue
		}
		err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() || !strings.HasSuffix(d.Name(), ".proto") {
				return nil
			}
			rel, err := filepath.Rel(root, path)
			if err != nil {
				return err
			}
			src := sourceFile{name: filepath.ToSlash(rel), root: root, display: displayPath(workDir, path)}
			if isStandard(src.name) {
				diags = append(diags, Diagnostic{File: src.display, Message: fmt.Sprintf("%q is a well-known type that is always available; remove this copy", src.name)})
				return nil
			}
			if first, dup := seen[src.name]; dup {
				diags = append(diags, Diagnostic{File: src.display, Message: fmt.Sprintf("%q is also found at %s; file names must be unique across protobuf directories", src.name, first.display)})
				return nil
			}
			seen[src.name] = src
			files = append(files, src)
			return nil
		})
		if err != nil {
			return nil, nil, fmt.Errorf("walking protobuf directory %s: %w", displayPath(workDir, root), err)
		}
	}
	sortSources(files)
	return files, diags, nil
}

func sortSources(files []sourceFile) {
	slices.SortFunc(files, func(a, b sourceFile) int { return strings.Compare(a.name, b.name) })
}

// displayPath returns path relative to workDir when path lies under it, and
// path unchanged otherwise (relative paths already are relative to the
// working directory).
func displayPath(workDir, path string) string {
	if workDir == "" || !filepath.IsAbs(path) {
		return filepath.Clean(path)
	}
	rel, err := filepath.Rel(workDir, path)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return filepath.Clean(path)
	}
	return rel
}
