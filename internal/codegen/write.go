package codegen

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/kafmesh/kafmesh/internal/spec"
)

// Result says what [Write] changed. Paths are slash-separated and relative
// to the module root, sorted.
type Result struct {
	// Written are the files created or changed.
	Written []string
	// Removed are the stale generated files deleted.
	Removed []string
	// Unchanged counts the files that already had the right content.
	Unchanged int
}

// Write brings svc's output tree in line with files (from [Files]): it
// writes the files that are missing or differ, and removes the generated
// files that files no longer contains. Only files that carry a "Code
// generated ... DO NOT EDIT." header are ever replaced or removed, and only
// these: "*.km.go" (and the 2021 generator's "*.km.mock.go") directly in
// the output directory or one of its sub-directories, and "*.pb.go" files
// (models and gRPC stubs) anywhere under <output>/models.
//
// Every problem found before writing (a hand-written file where a
// generated one must go, a file outside the output directory) is returned
// without writing anything. Changed files are first written to a temporary
// directory in the module root and then renamed into place, so a file is
// never seen half written.
func Write(ctx context.Context, svc *spec.Service, files []File) (Result, error) {
	var res Result
	out, err := outputPath(svc)
	if err != nil {
		return res, err
	}
	root := svc.ModuleRoot
	outDir := filepath.Join(root, filepath.FromSlash(out))
	rel := func(abs string) string {
		r, err := filepath.Rel(root, abs)
		if err != nil {
			return abs
		}
		return filepath.ToSlash(r)
	}

	existing, err := generatedFiles(outDir)
	if err != nil {
		return res, err
	}
	want := map[string]bool{}
	var changed []File
	var problems []string
	for _, f := range files {
		abs := filepath.Join(root, filepath.FromSlash(f.Path))
		if !inside(outDir, abs) {
			problems = append(problems, fmt.Sprintf("%s is outside the output directory %s", f.Path, out))
			continue
		}
		want[abs] = true
		cur, err := os.ReadFile(abs)
		switch {
		case err == nil && bytes.Equal(cur, f.Content):
			res.Unchanged++
		case err == nil && !isGenerated(cur):
			problems = append(problems, fmt.Sprintf("%s exists and is not generated (it has no \"Code generated ... DO NOT EDIT.\" header); move it away, kafmesh does not overwrite hand-written files", f.Path))
		case err == nil || errors.Is(err, fs.ErrNotExist):
			changed = append(changed, f)
		default:
			problems = append(problems, fmt.Sprintf("cannot read %s: %v", f.Path, err))
		}
	}
	if len(problems) > 0 {
		return res, errors.New("nothing was written:\n" + strings.Join(problems, "\n"))
	}
	var stale []string
	for _, abs := range existing {
		if !want[abs] {
			stale = append(stale, abs)
		}
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}

	if len(changed) > 0 {
		tmp, err := os.MkdirTemp(root, ".kafmesh-gen-")
		if err != nil {
			return res, fmt.Errorf("nothing was written: %w", err)
		}
		defer os.RemoveAll(tmp)
		for i, f := range changed {
			if err := os.WriteFile(filepath.Join(tmp, strconv.Itoa(i)), f.Content, 0o644); err != nil {
				return res, fmt.Errorf("nothing was written: %w", err)
			}
		}
		for i, f := range changed {
			abs := filepath.Join(root, filepath.FromSlash(f.Path))
			if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
				return res, fmt.Errorf("write %s: %w", f.Path, err)
			}
			if err := os.Rename(filepath.Join(tmp, strconv.Itoa(i)), abs); err != nil {
				return res, fmt.Errorf("write %s: %w", f.Path, err)
			}
			res.Written = append(res.Written, f.Path)
		}
	}
	for _, abs := range stale {
		if err := os.Remove(abs); err != nil {
			return res, fmt.Errorf("remove stale %s: %w", rel(abs), err)
		}
		res.Removed = append(res.Removed, rel(abs))
		removeEmptyDirs(filepath.Dir(abs), outDir)
	}
	slices.Sort(res.Written)
	slices.Sort(res.Removed)
	return res, nil
}

// inside reports whether path is dir or below it.
func inside(dir, path string) bool {
	r, err := filepath.Rel(dir, path)
	return err == nil && r != ".." && !strings.HasPrefix(r, ".."+string(filepath.Separator))
}

// removeEmptyDirs removes dir and its parents up to, not including, stop,
// as long as they are empty.
func removeEmptyDirs(dir, stop string) {
	for dir != stop && inside(stop, dir) {
		if os.Remove(dir) != nil {
			return // not empty, or gone
		}
		dir = filepath.Dir(dir)
	}
}

// generatedFiles lists the generated files Write manages in outDir:
// *.km.go and *.km.mock.go in outDir and its direct sub-directories, and
// *.pb.go files anywhere under outDir/models, each only if it carries a
// generated-code header.
func generatedFiles(outDir string) ([]string, error) {
	var out []string
	check := func(path string) error {
		ok, err := fileIsGenerated(path)
		if ok {
			out = append(out, path)
		}
		return err
	}
	kafmeshName := func(name string) bool {
		return strings.HasSuffix(name, ".km.go") || strings.HasSuffix(name, ".km.mock.go")
	}
	top, err := os.ReadDir(outDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	for _, e := range top {
		path := filepath.Join(outDir, e.Name())
		switch {
		case e.Type().IsRegular() && kafmeshName(e.Name()):
			if err := check(path); err != nil {
				return nil, err
			}
		case e.IsDir() && e.Name() == "models":
			err := filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				if d.Type().IsRegular() && strings.HasSuffix(p, ".pb.go") {
					return check(p)
				}
				return nil
			})
			if err != nil {
				return nil, err
			}
		case e.IsDir():
			sub, err := os.ReadDir(path)
			if err != nil {
				return nil, err
			}
			for _, s := range sub {
				if s.Type().IsRegular() && kafmeshName(s.Name()) {
					if err := check(filepath.Join(path, s.Name())); err != nil {
						return nil, err
					}
				}
			}
		}
	}
	slices.Sort(out)
	return out, nil
}

// generatedLine is the Go convention for generated files
// (https://go.dev/s/generatedcode).
var generatedLine = regexp.MustCompile(`^// Code generated .* DO NOT EDIT\.$`)

// isGenerated reports whether a Go file has the generated-code line before
// its package clause.
func isGenerated(src []byte) bool {
	sc := bufio.NewScanner(bytes.NewReader(src))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if generatedLine.MatchString(line) {
			return true
		}
		if strings.HasPrefix(line, "package ") {
			return false
		}
	}
	return false
}

func fileIsGenerated(path string) (bool, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return false, err
	}
	return isGenerated(src), nil
}
