package spec

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
)

// Option configures [Load].
type Option func(*config)

type config struct {
	workDir  string
	messages MessageLoader
	compat   string
}

// WithCompat accepts what an older kafmesh accepted, reporting it as
// warnings that say the fix instead of errors. The one value is
// CompatKafmesh2021: unknown (dead) keys are ignored, a component declared
// in two files is merged, and a message ref is also resolved by the
// directory of a .proto file whose package line differs (when the Messages
// implement MessagesByDirectory).
func WithCompat(c string) Option {
	return func(cfg *config) { cfg.compat = c }
}

// WithWorkDir sets the directory that a relative definition path is
// resolved against and that file paths in diagnostics are shown relative
// to. By default it is the process working directory.
func WithWorkDir(dir string) Option {
	return func(c *config) { c.workDir = dir }
}

// WithMessages checks every protobuf message ref against a fixed set of
// messages (the .proto directories of the definition are not read).
func WithMessages(m Messages) Option {
	return WithMessageLoader(func(context.Context, []string) (Messages, Diagnostics, error) {
		return m, nil, nil
	})
}

// WithMessageLoader compiles the definition's .proto directories with l and
// checks every protobuf message ref against the result. Without it (or
// [WithMessages]) refs are checked for form only.
func WithMessageLoader(l MessageLoader) Option {
	return func(c *config) { c.messages = l }
}

// Load reads the definition file at path and the component files its globs
// match, resolves every name and validates the whole service.
//
// It returns the service and every diagnostic found, sorted by file, line
// and column. The service is nil when the definition file itself is not
// valid YAML; otherwise it is returned even when there are errors, but it
// is complete and consistent only when diags.HasErrors() is false. The
// error is for failures that are not problems of the definition: the
// definition file cannot be read, the context is cancelled, or the message
// loader fails.
func Load(ctx context.Context, path string, opts ...Option) (svc *Service, diags Diagnostics, err error) {
	cfg := config{}
	for _, opt := range opts {
		opt(&cfg)
	}
	if cfg.workDir == "" {
		if cfg.workDir, err = os.Getwd(); err != nil {
			return nil, nil, fmt.Errorf("find the working directory: %w", err)
		}
	}
	if cfg.workDir, err = filepath.Abs(cfg.workDir); err != nil {
		return nil, nil, err
	}
	if !filepath.IsAbs(path) {
		path = filepath.Join(cfg.workDir, path)
	}
	l := &loader{cfg: cfg}
	svc, err = l.load(ctx, filepath.Clean(path))
	l.diags.Sort()
	return svc, l.diags, err
}

// loader holds the state of one Load call.
type loader struct {
	cfg   config
	diags Diagnostics
	// protoDirMissing is set when a protobuf directory does not exist
	// (reported); the messages are then not loaded.
	protoDirMissing bool
}

// display returns the path as shown in diagnostics: relative to the working
// directory when under it, else absolute.
func (l *loader) display(abs string) string {
	rel, err := filepath.Rel(l.cfg.workDir, abs)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return abs
	}
	return rel
}

func (l *loader) parser(abs string) *parser {
	return &parser{file: l.display(abs), diags: &l.diags, compat: l.cfg.compat}
}

func (l *loader) load(ctx context.Context, defFile string) (*Service, error) {
	src, err := os.ReadFile(defFile)
	if err != nil {
		return nil, fmt.Errorf("read the definition: %w", err)
	}
	p := l.parser(defFile)
	root := p.document(src)
	if root == nil {
		return nil, nil
	}
	raw := p.service(root)
	if !raw.keys.ok {
		return nil, nil // not a mapping: reported, and nothing else can be read.
	}
	defDir := filepath.Dir(defFile)

	r := newResolver(&l.diags)
	r.compat = l.cfg.compat
	svc := r.service(raw, defFile)
	l.module(p, raw, svc, defDir)
	l.protoDirs(p, raw, svc, defDir)

	for _, file := range l.componentFiles(p, raw, defDir) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		cp := l.parser(file)
		src, err := os.ReadFile(file)
		if err != nil {
			cp.errorf(Position{File: cp.file}, "cannot read the component file: %v", errors.Unwrap(err))
			continue
		}
		if croot := cp.document(src); croot != nil {
			if rc := cp.component(croot, file); rc.keys.ok {
				r.component(rc)
			}
		}
	}
	r.finish()
	r.validate()

	if l.cfg.messages != nil {
		if err := l.checkMessages(ctx, r, raw); err != nil {
			return svc, err
		}
	}
	return svc, nil
}

// module finds the Go module the output belongs to.
func (l *loader) module(p *parser, raw rawService, svc *Service, defDir string) {
	root, modPath, found, err := findModule(defDir)
	where := raw.pos
	if raw.hasOutput {
		where = raw.outputPos
	}
	switch {
	case err != nil:
		p.errorf(where, "cannot read go.mod: %v", err)
		return
	case !found:
		p.errorf(where, "no go.mod in %s or any directory above it; output.path is relative to the Go module root: create the module (go mod init) or move the definition into one", defDir)
		return
	}
	svc.ModuleRoot = root
	if svc.Output.Module == "" {
		if modPath == "" {
			p.errorf(where, "%s has no module line; add one or set output.module", filepath.Join(root, "go.mod"))
		}
		svc.Output.Module = modPath
	}
	if raw.outputPath.Set && svc.Output.Path != "" {
		svc.Output.Dir = filepath.Join(root, filepath.FromSlash(svc.Output.Path))
		svc.Output.ImportPath = strings.TrimSuffix(svc.Output.Module+"/"+strings.TrimPrefix(cleanSlash(svc.Output.Path), "./"), "/.")
	}
}

// protoDirs resolves messages.protobuf against the definition's directory.
func (l *loader) protoDirs(p *parser, raw rawService, svc *Service, defDir string) {
	for _, d := range raw.protobufDirs {
		dir := d.Value
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(defDir, filepath.FromSlash(dir))
		}
		info, err := os.Stat(dir)
		switch {
		case err != nil:
			p.errorf(d.Pos, "protobuf directory %q does not exist (looked for %s); messages paths are relative to the definition file", d.Value, dir)
			l.protoDirMissing = true
			continue
		case !info.IsDir():
			p.errorf(d.Pos, "protobuf directory %q is not a directory (%s)", d.Value, dir)
			l.protoDirMissing = true
			continue
		}
		if !slices.Contains(svc.ProtoDirs, dir) {
			svc.ProtoDirs = append(svc.ProtoDirs, dir)
		}
	}
}

// componentFiles expands the component globs, relative to the definition's
// directory, into absolute file paths: the globs in the order written, the
// files of one glob sorted, each file once.
func (l *loader) componentFiles(p *parser, raw rawService, defDir string) []string {
	if raw.componentsInvalid || raw.keys.typo("components") {
		return nil
	}
	if !raw.hasComponents {
		p.errorf(raw.pos, "the service definition has no components; add components: with a glob of component files, e.g. - ./components/*.yaml")
		return nil
	}
	var files []string
	for _, g := range raw.components {
		pattern := g.Value
		if !filepath.IsAbs(pattern) {
			pattern = filepath.Join(defDir, filepath.FromSlash(pattern))
		}
		matches, err := doublestar.FilepathGlob(pattern, doublestar.WithFilesOnly())
		if err != nil {
			p.errorf(g.Pos, "components glob %q is not a valid pattern: %v", g.Value, err)
			continue
		}
		if len(matches) == 0 {
			p.warnf(g.Pos, "no component files match %q (looked for %s); component paths are relative to the definition file", g.Value, pattern)
			continue
		}
		slices.Sort(matches)
		for _, m := range matches {
			if abs, err := filepath.Abs(m); err == nil && !slices.Contains(files, abs) {
				files = append(files, abs)
			}
		}
	}
	switch {
	case len(raw.components) == 0:
		p.errorf(raw.componentsPos, "components lists no globs; add one, e.g. - ./components/*.yaml")
	case len(files) == 0:
		p.errorf(raw.componentsPos, "no component files found: no glob under components matched a file")
	}
	return files
}

// checkMessages loads the messages of the protobuf directories (whenever
// there are any, so a caller's loader sees them even for an all-raw
// service) and checks that every protobuf ref names one of them.
func (l *loader) checkMessages(ctx context.Context, r *resolver, raw rawService) error {
	if r.svc.TopicPrefix == "" {
		return nil // without a valid service name, two-fragment refs name no package.
	}
	if len(raw.protobufDirs) == 0 {
		if !raw.protobufInvalid && r.hasProtobufEntries() {
			p := parser{file: r.svc.Pos.File, diags: &l.diags, compat: l.cfg.compat}
			where := raw.pos
			if raw.messagesPos.Line > 0 {
				where = raw.messagesPos
			}
			p.errorf(where, "no protobuf directories: add messages: protobuf: with the directories that hold the .proto files (relative to the definition file)")
		}
		return nil
	}
	if l.protoDirMissing {
		return nil // reported already.
	}
	msgs, diags, err := l.cfg.messages(ctx, r.svc.ProtoDirs)
	l.diags = append(l.diags, diags...)
	if err != nil {
		return fmt.Errorf("load the protobuf messages: %w", err)
	}
	if msgs != nil {
		r.checkRefs(msgs)
	}
	return nil
}
