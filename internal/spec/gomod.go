package spec

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// findModule looks for go.mod in dir and the directories above it. It
// returns the directory holding it and its module path ("" when go.mod has
// no module line).
func findModule(dir string) (root, modulePath string, found bool, err error) {
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		switch {
		case err == nil:
			return dir, modulePathOf(data), true, nil
		case !errors.Is(err, fs.ErrNotExist):
			return "", "", false, err
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", "", false, nil
		}
		dir = parent
	}
}

// modulePathOf returns the path of the module directive of a go.mod file.
func modulePathOf(gomod []byte) string {
	for _, line := range strings.Split(string(gomod), "\n") {
		if i := strings.Index(line, "//"); i >= 0 {
			line = line[:i]
		}
		fields := strings.Fields(line)
		if len(fields) < 2 || fields[0] != "module" {
			continue
		}
		path := strings.Join(fields[1:], " ")
		if unquoted, err := strconv.Unquote(path); err == nil {
			return unquoted
		}
		return path
	}
	return ""
}
