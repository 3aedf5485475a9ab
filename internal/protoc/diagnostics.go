package protoc

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Diagnostic is one problem found in a .proto file.
//
// File is the path as the user would open it (the root directory joined with
// the file's name, relative to the working directory when possible). Line and
// Col are 1-based; both are zero when the position is unknown (for example a
// root directory that cannot be read).
type Diagnostic struct {
	File    string
	Line    int
	Col     int
	Message string
}

// String formats the diagnostic as "file:line:col: message", leaving out the
// line and column when they are unknown.
func (d Diagnostic) String() string {
	if d.Line <= 0 {
		return fmt.Sprintf("%s: %s", d.File, d.Message)
	}
	return fmt.Sprintf("%s:%d:%d: %s", d.File, d.Line, d.Col, d.Message)
}

// Diagnostics is a list of problems; it is the error type [Compile] returns
// when the sources are invalid. Callers can range over it to merge these
// problems with their own.
type Diagnostics []Diagnostic

// Error lists every diagnostic, one a line.
func (ds Diagnostics) Error() string {
	lines := make([]string, len(ds))
	for i, d := range ds {
		lines[i] = d.String()
	}
	return strings.Join(lines, "\n")
}

// normalize sorts the diagnostics by file, line, column and message, and
// drops exact duplicates (one broken file can be reported by several
// importers).
func (ds Diagnostics) normalize() Diagnostics {
	out := slices.Clone(ds)
	slices.SortFunc(out, func(a, b Diagnostic) int {
		return cmp.Or(
			cmp.Compare(a.File, b.File),
			cmp.Compare(a.Line, b.Line),
			cmp.Compare(a.Col, b.Col),
			cmp.Compare(a.Message, b.Message),
		)
	})
	return slices.Compact(out)
}
