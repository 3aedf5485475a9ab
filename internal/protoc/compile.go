package protoc

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/bufbuild/protocompile"
	"github.com/bufbuild/protocompile/linker"
	"github.com/bufbuild/protocompile/reporter"
)

// Option configures [Compile].
type Option func(*compileConfig)

type compileConfig struct {
	workDir     string
	parallelism int
}

// WithWorkingDir sets the directory that absolute file paths in diagnostics
// are made relative to. By default it is the process working directory.
// Relative root directories are always shown as given.
func WithWorkingDir(dir string) Option {
	return func(c *compileConfig) { c.workDir = dir }
}

// WithParallelism bounds how many files are linked at once. By default it is
// the number of CPUs.
func WithParallelism(n int) Option {
	return func(c *compileConfig) { c.parallelism = n }
}

// Compile parses and links every .proto file under the given root
// directories. Each root is an import root: a file is named, and imported by
// other files, by its slash-separated path relative to its root (for example
// "kafmesh/deviceId/heartbeat.proto"). The well-known types
// (google/protobuf/*.proto) can always be imported; copies of them under a
// root are rejected.
//
// When the sources are invalid, Compile returns a nil Set and a [Diagnostics]
// error holding every problem found, sorted by file and position. A file
// whose own source is broken (or that imports a broken or missing file) is
// not linked, so problems that only linking would find in it appear once the
// first ones are fixed. Other errors (an unreadable directory, a cancelled
// context) are returned as they are.
func Compile(ctx context.Context, roots []string, opts ...Option) (*Set, error) {
	cfg := compileConfig{}
	for _, opt := range opts {
		opt(&cfg)
	}
	if cfg.workDir == "" {
		if wd, err := os.Getwd(); err == nil {
			cfg.workDir = wd
		}
	}

	standard := standardImports()
	isStandard := func(name string) bool {
		_, err := standard.FindFileByPath(name)
		return err == nil
	}
	sources, diags, err := findSources(roots, cfg.workDir, isStandard)
	if err != nil {
		return nil, err
	}

	collector := &errorCollector{}
	handler := reporter.NewHandler(reporter.NewReporter(collector.add, nil))
	parsed, err := parseSources(ctx, sources, handler)
	if err != nil {
		return nil, err
	}
	checkImports(parsed, roots, isStandard, handler)

	compiler := protocompile.Compiler{
		Resolver: protocompile.CompositeResolver{
			protocompile.ResolverFunc(func(name string) (protocompile.SearchResult, error) {
				if p, ok := parsed[name]; ok && p.result != nil {
					return protocompile.SearchResult{ParseResult: p.result}, nil
				}
				return protocompile.SearchResult{}, fs.ErrNotExist
			}),
			standard,
		},
		MaxParallelism: cfg.parallelism,
		SourceInfoMode: protocompile.SourceInfoStandard,
		Reporter:       reporter.NewReporter(collector.add, nil),
	}
	var linked linker.Files
	if names := linkable(parsed); len(names) > 0 {
		var compileErr error
		linked, compileErr = compiler.Compile(ctx, names...)
		var withPos reporter.ErrorWithPos
		switch {
		case compileErr == nil, errors.Is(compileErr, reporter.ErrInvalidSource):
		case errors.As(compileErr, &withPos):
			collector.add(withPos)
		default:
			return nil, fmt.Errorf("compiling protobuf files: %w", compileErr)
		}
	}

	displays := make(map[string]string, len(sources))
	for _, src := range sources {
		displays[src.name] = src.display
	}
	diags = append(diags, collector.diagnostics(displays)...)
	if len(diags) > 0 {
		return nil, diags.normalize()
	}
	return newSet(linked, displays)
}

// standardImports returns a resolver that knows only the well-known types
// that protoc ships with (google/protobuf/*.proto), as compiled into
// google.golang.org/protobuf.
func standardImports() protocompile.Resolver {
	return protocompile.WithStandardImports(protocompile.ResolverFunc(func(string) (protocompile.SearchResult, error) {
		return protocompile.SearchResult{}, fs.ErrNotExist
	}))
}

// protoPositionInText matches a "file.proto:line:col" reference inside an
// error message (such as "already defined at a/b.proto:3:9"), so that it can
// be rewritten to the path the user opens.
var protoPositionInText = regexp.MustCompile(`[^\s:"']+\.proto:\d+:\d+`)

// alreadyDefined matches a collision message ("symbol "p.A" already defined
// at a.proto:3:9") and captures the position of the first definition.
var alreadyDefined = regexp.MustCompile(`^(.* already defined.* at )([^\s]+):(\d+):(\d+)(.*)$`)

// earlierFirst makes collision diagnostics deterministic. Files are linked
// in parallel, so which of two clashing definitions protocompile sees first
// varies between runs; earlierFirst always reports the clash at the
// definition that sorts last (by path, line, column) and points at the
// other one.
func earlierFirst(d Diagnostic) Diagnostic {
	m := alreadyDefined.FindStringSubmatch(d.Message)
	if m == nil {
		return d
	}
	other := Diagnostic{File: m[2]}
	other.Line, _ = strconv.Atoi(m[3])
	other.Col, _ = strconv.Atoi(m[4])
	if cmp.Or(cmp.Compare(d.File, other.File), cmp.Compare(d.Line, other.Line), cmp.Compare(d.Col, other.Col)) >= 0 {
		return d
	}
	other.Message = fmt.Sprintf("%s%s:%d:%d%s", m[1], d.File, d.Line, d.Col, m[5])
	return other
}

// errorCollector is the reporter callback that keeps every error (returning
// nil makes protocompile carry on and report the rest).
type errorCollector struct {
	mu   sync.Mutex
	errs []reporter.ErrorWithPos
}

func (c *errorCollector) add(err reporter.ErrorWithPos) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.errs = append(c.errs, err)
	return nil
}

// diagnostics converts the collected errors, naming each file by its display
// path.
func (c *errorCollector) diagnostics(displays map[string]string) Diagnostics {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(Diagnostics, 0, len(c.errs))
	for _, err := range c.errs {
		pos := err.GetPosition()
		file, ok := displays[pos.Filename]
		if !ok {
			file = pos.Filename
		}
		msg := err.Error()
		if inner := err.Unwrap(); inner != nil {
			msg = inner.Error()
		}
		msg = protoPositionInText.ReplaceAllStringFunc(msg, func(ref string) string {
			name, rest, _ := strings.Cut(ref, ":")
			if display, ok := displays[name]; ok {
				return display + ":" + rest
			}
			return ref
		})
		out = append(out, earlierFirst(Diagnostic{File: file, Line: pos.Line, Col: pos.Col, Message: msg}))
	}
	return out
}
