package spec

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Severity tells whether a diagnostic stops generation.
type Severity int

const (
	// Error is a problem that must be fixed: check exits with status 1 and
	// gen writes nothing.
	Error Severity = iota
	// Warning is printed but does not fail the command.
	Warning
)

// String returns "error" or "warning".
func (s Severity) String() string {
	if s == Warning {
		return "warning"
	}
	return "error"
}

// Position is a place in a definition file. File is the path as shown to the
// user: relative to the working directory when the file is under it, else
// absolute. Line and Col are 1-based; they are zero when the place is the
// file as a whole (for example a file that cannot be read).
type Position struct {
	File string
	Line int
	Col  int
}

// String formats the position as "file:line:col" (or just "file" when the
// line is unknown).
func (p Position) String() string {
	if p.Line <= 0 {
		return p.File
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// Diagnostic is one problem found in a definition.
type Diagnostic struct {
	Severity Severity
	Position
	Message string
}

// String formats the diagnostic as "file:line:col: message", with
// "warning: " before the message of a warning.
func (d Diagnostic) String() string {
	prefix := ""
	if d.Severity == Warning {
		prefix = "warning: "
	}
	return d.Position.String() + ": " + prefix + d.Message
}

// Diagnostics is every problem found while loading a definition, sorted by
// file, line and column once [Load] returns.
type Diagnostics []Diagnostic

// HasErrors reports whether any diagnostic is an [Error].
func (ds Diagnostics) HasErrors() bool {
	return slices.ContainsFunc(ds, func(d Diagnostic) bool { return d.Severity == Error })
}

// Errors returns only the errors.
func (ds Diagnostics) Errors() Diagnostics {
	return ds.filter(Error)
}

// Warnings returns only the warnings.
func (ds Diagnostics) Warnings() Diagnostics {
	return ds.filter(Warning)
}

func (ds Diagnostics) filter(s Severity) Diagnostics {
	var out Diagnostics
	for _, d := range ds {
		if d.Severity == s {
			out = append(out, d)
		}
	}
	return out
}

// String lists every diagnostic, one a line, each ending in a newline.
func (ds Diagnostics) String() string {
	var b strings.Builder
	for _, d := range ds {
		b.WriteString(d.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// Err returns nil when there is no error, else an error whose message lists
// the errors one a line (warnings left out).
func (ds Diagnostics) Err() error {
	errs := ds.Errors()
	if len(errs) == 0 {
		return nil
	}
	return diagnosticsError(errs)
}

type diagnosticsError Diagnostics

func (e diagnosticsError) Error() string {
	return strings.TrimSuffix(Diagnostics(e).String(), "\n")
}

// Sort orders the diagnostics by file, line, column, severity and message,
// and drops exact duplicates.
func (ds *Diagnostics) Sort() {
	slices.SortStableFunc(*ds, func(a, b Diagnostic) int {
		return cmp.Or(
			cmp.Compare(a.File, b.File),
			cmp.Compare(a.Line, b.Line),
			cmp.Compare(a.Col, b.Col),
			cmp.Compare(a.Severity, b.Severity),
			cmp.Compare(a.Message, b.Message),
		)
	})
	*ds = slices.Compact(*ds)
}
