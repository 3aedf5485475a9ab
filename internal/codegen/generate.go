package codegen

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"
	"text/template"

	"github.com/kafmesh/kafmesh/internal/protoc"
	"github.com/kafmesh/kafmesh/internal/spec"
)

// File is one generated file.
type File struct {
	// Path is slash-separated and relative to the module root, e.g.
	// "internal/definitions/details/enricher_processor.km.go".
	Path    string
	Content []byte
}

// Generate writes the code of svc under its output directory: [Files],
// then [Write]. svc must have loaded without errors; protos is the compiled
// .proto set of its messages directories (nil only when the service uses no
// protobuf topic and has no .proto files).
//
// Nothing is written when generation fails. It implements the generator of
// `kafmesh gen`.
func Generate(ctx context.Context, svc *spec.Service, protos *protoc.Set) error {
	files, err := Files(ctx, svc, protos)
	if err != nil {
		return err
	}
	_, err = Write(ctx, svc, files)
	return err
}

//go:embed templates/*.tmpl
var templateFS embed.FS

// Files renders, in memory, every file of svc: the models from protos and
// the kafmesh files, sorted by path. The same inputs always give
// byte-identical files.
//
// Problems of the definition that only code generation finds (two parts
// whose generated identifiers clash, a component named "models") are
// returned as one error listing them as "file:line:col: message".
func Files(ctx context.Context, svc *spec.Service, protos *protoc.Set) ([]File, error) {
	out, err := outputPath(svc)
	if err != nil {
		return nil, err
	}
	b := &builder{svc: svc, set: protos}
	var files []File
	if protos != nil {
		layout := protoc.ModelsLayout(svc.Output.Module, out)
		if b.types, err = protos.GoTypes(layout); err != nil {
			return nil, err
		}
		models, err := protos.Generate(ctx, layout)
		if err != nil {
			return nil, err
		}
		for _, f := range models {
			files = append(files, File{Path: f.Path, Content: f.Content})
		}
	}

	var components []*componentData
	for _, c := range svc.Components {
		components = append(components, b.component(c))
	}
	service := b.service(components)
	b.diags.Sort()
	if err := b.diags.Err(); err != nil {
		return nil, err
	}

	r, err := newRenderer()
	if err != nil {
		return nil, err
	}
	r.compat = svc.Output.Compat == spec.CompatKafmesh2021
	for _, c := range components {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		dir := path.Join(out, c.Package)
		rendered, err := r.component(c)
		if err != nil {
			return nil, err
		}
		for _, f := range rendered {
			f.Path = path.Join(dir, f.Path)
			files = append(files, f)
		}
	}
	rendered, err := r.service(service)
	if err != nil {
		return nil, err
	}
	for _, f := range rendered {
		f.Path = path.Join(out, f.Path)
		files = append(files, f)
	}
	slices.SortFunc(files, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	for i := 1; i < len(files); i++ {
		if files[i].Path == files[i-1].Path {
			return nil, fmt.Errorf("two generated files would be written to %s; rename the part or .proto file that gives one of them", files[i].Path)
		}
	}
	return files, nil
}

// outputPath returns output.path clean and slash-separated, relative to the
// module root.
func outputPath(svc *spec.Service) (string, error) {
	p := path.Clean(strings.ReplaceAll(svc.Output.Path, `\`, "/"))
	if p == "." || p == "" || path.IsAbs(p) || p == ".." || strings.HasPrefix(p, "../") {
		return "", fmt.Errorf("%s: output path %q cannot hold generated code; give the generated code a directory of its own inside the module, e.g. internal/definitions", svc.Pos, svc.Output.Path)
	}
	if svc.Output.Module == "" {
		return "", fmt.Errorf("%s: the Go module of the output is unknown; set output.module or add a module line to go.mod", svc.Pos)
	}
	return p, nil
}

// renderer executes the templates.
type renderer struct {
	t *template.Template
	// compat generates the kafmesh 2021 names too (output.compat).
	compat bool
}

func newRenderer() (*renderer, error) {
	t, err := template.New("").Funcs(template.FuncMap{
		"comment":    comment,
		"sentence":   sentence,
		"lowerFirst": lowerFirst,
		"trimPrefix": strings.TrimPrefix,
		"trimSuffix": strings.TrimSuffix,
	}).ParseFS(templateFS, "templates/*.tmpl")
	if err != nil {
		return nil, fmt.Errorf("parse the templates: %w", err)
	}
	return &renderer{t: t}, nil
}

// file renders the declarations of one file and assembles it.
func (r *renderer) file(name, tmpl string, data any, source, pkgDoc, pkg string, models map[string]string) (File, error) {
	var body bytes.Buffer
	if err := r.t.ExecuteTemplate(&body, tmpl, data); err != nil {
		return File{}, fmt.Errorf("render %s: %w", name, err)
	}
	content, err := goFile(name, source, pkgDoc, pkg, body.Bytes(), models)
	if err != nil {
		return File{}, err
	}
	return File{Path: name, Content: content}, nil
}

// component renders the files of one component package, named relative to
// its directory.
func (r *renderer) component(c *componentData) ([]File, error) {
	type job struct {
		name, tmpl string
		data       any
	}
	var jobs []job
	for _, s := range c.Sources {
		stem := snake(s.Type)
		jobs = append(jobs, job{stem + ".km.go", "source.tmpl", s}, job{stem + "_fake.km.go", "source_fake.tmpl", s})
	}
	for _, p := range c.Processors {
		stem := snake(p.Type) + "_processor"
		jobs = append(jobs, job{stem + ".km.go", "processor.tmpl", p}, job{stem + "_fake.km.go", "processor_fake.tmpl", p})
	}
	for _, s := range c.Sinks {
		jobs = append(jobs, job{snake(s.Type) + ".km.go", "sink.tmpl", s})
	}
	if c.SinkContextFake != "" {
		jobs = append(jobs, job{"sink_context_fake.km.go", "sink_context_fake.tmpl", c})
	}
	for _, v := range c.Views {
		stem := snake(v.Type)
		jobs = append(jobs, job{stem + ".km.go", "view.tmpl", v}, job{stem + "_fake.km.go", "view_fake.tmpl", v})
	}
	for _, v := range c.ViewSources {
		stem := snake(v.Type)
		jobs = append(jobs, job{stem + ".km.go", "view_source.tmpl", v}, job{stem + "_fake.km.go", "view_source_fake.tmpl", v})
	}
	for _, v := range c.ViewSinks {
		stem := snake(v.Type)
		jobs = append(jobs, job{stem + ".km.go", "view_sink.tmpl", v}, job{stem + "_fake.km.go", "view_sink_fake.tmpl", v})
	}

	doc := fmt.Sprintf("// Package %s is the generated code of component %q: its typed parts,\n// their registration functions and fakes for unit tests.", c.Package, c.Name)
	if c.Description != "" {
		doc += "\n//\n" + comment(c.Description)
	}
	pkg, err := r.file("component.km.go", "component.tmpl", c, c.Source, doc, c.Package, c.imports)
	if err != nil {
		return nil, err
	}
	if r.compat {
		jobs = append(jobs, job{"compat2021.km.go", "compat2021.tmpl", c})
	}
	files := []File{pkg}
	for _, j := range jobs {
		f, err := r.file(j.name, j.tmpl, j.data, c.Source, "", c.Package, c.imports)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	return files, nil
}

// service renders the files of the service package.
func (r *renderer) service(s *serviceData) ([]File, error) {
	var names []string
	for _, c := range s.Components {
		names = append(names, c.Package)
	}
	doc := fmt.Sprintf("// Package %s is the generated code of service %q: its definition,\n// the topics it owns and NewService. Each component's parts are in a\n// package of its own: %s.", s.Package, s.Name, strings.Join(names, ", "))
	if s.Description != "" {
		doc += "\n//\n" + comment(s.Description)
	}
	service, err := r.file("service.km.go", "service.tmpl", s, s.Source, doc, s.Package, s.imports)
	if err != nil {
		return nil, err
	}
	topics, err := r.file("topics.km.go", "topics.tmpl", s, s.Source, "", s.Package, s.imports)
	if err != nil {
		return nil, err
	}
	files := []File{service, topics}
	if r.compat {
		// The 2021 entry points name the component packages.
		imports := maps.Clone(s.imports)
		for _, c := range s.Components {
			imports[c.ImportPath] = c.Alias
		}
		f, err := r.file("compat2021.km.go", "service_compat2021.tmpl", s, s.Source, "", s.Package, imports)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	return files, nil
}
