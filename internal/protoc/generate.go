package protoc

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"google.golang.org/protobuf/cmd/protoc-gen-go/internal_gengo"
	"google.golang.org/protobuf/compiler/protogen"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/pluginpb"
)

// File is one generated Go file.
type File struct {
	// Path is slash-separated and relative to the module root, for example
	// "internal/definitions/models/kafmesh/deviceId/heartbeat.pb.go".
	Path    string
	Content []byte
}

// Generate produces, in memory, the Go code for every file under the roots
// (not for the well-known types, which live in google.golang.org/protobuf):
// <name>.pb.go from protoc-gen-go's generator, and <name>_grpc.pb.go with
// gRPC stubs for files that declare services. The layout decides import
// paths and file paths. Files come back sorted by path, and the same Set and
// layout always give byte-identical output: the protoc version line, which
// would only say "(unknown)", is left out of the header.
//
// Generate fails when the layout is invalid or a file cannot be placed (for
// example a go_package outside the module in [GoPackageLayout]).
func (s *Set) Generate(ctx context.Context, layout Layout) ([]File, error) {
	gen, err := s.plugin(layout)
	if err != nil {
		return nil, err
	}
	for _, f := range gen.Files {
		if !f.Generate {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		internal_gengo.GenerateFile(gen, f)
		if len(f.Services) > 0 {
			generateGRPC(gen, f)
		}
	}
	resp := gen.Response()
	if resp.Error != nil {
		return nil, fmt.Errorf("generating Go code: %s", resp.GetError())
	}
	files := make([]File, 0, len(resp.File))
	for _, rf := range resp.File {
		files = append(files, File{Path: rf.GetName(), Content: stripProtocVersion([]byte(rf.GetContent()))})
	}
	slices.SortFunc(files, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	return files, nil
}

// GoType names the Go type generated for a message.
type GoType struct {
	// ImportPath is the Go package's import path, for example
	// "github.com/acme/svc/internal/definitions/models/kafmesh/deviceId".
	ImportPath string
	// PackageName is the Go package name, for example "deviceId".
	PackageName string
	// Name is the type's name in that package, for example "Heartbeat"
	// (nested messages are joined with '_', as protoc-gen-go does).
	Name string
}

// GoTypes returns the Go type of every message in the set (nested messages
// and the well-known types included), keyed by full message name, as
// [Set.Generate] with the same layout names them.
func (s *Set) GoTypes(layout Layout) (map[string]GoType, error) {
	gen, err := s.plugin(layout)
	if err != nil {
		return nil, err
	}
	out := map[string]GoType{}
	var walk func(f *protogen.File, msgs []*protogen.Message)
	walk = func(f *protogen.File, msgs []*protogen.Message) {
		for _, m := range msgs {
			if m.Desc.IsMapEntry() {
				continue
			}
			out[string(m.Desc.FullName())] = GoType{
				ImportPath:  string(m.GoIdent.GoImportPath),
				PackageName: string(f.GoPackageName),
				Name:        m.GoIdent.GoName,
			}
			walk(f, m.Messages)
		}
	}
	for _, f := range gen.Files {
		walk(f, f.Messages)
	}
	return out, nil
}

// plugin builds the protogen plugin for the set, with an M mapping for every
// file under the roots and module= so output paths are module-relative.
func (s *Set) plugin(layout Layout) (*protogen.Plugin, error) {
	if err := layout.validate(); err != nil {
		return nil, err
	}
	params := []string{"paths=import", "module=" + layout.module}
	names := make([]string, 0, len(s.local))
	for _, f := range s.local {
		name := f.Path()
		if strings.ContainsAny(name, ",=") {
			return nil, fmt.Errorf("%s: file names containing ',' or '=' are not supported", s.displays[name])
		}
		importPath, pkg, err := layout.goPackageOf(s.protos[name], s.displays[name])
		if err != nil {
			return nil, err
		}
		params = append(params, fmt.Sprintf("M%s=%s;%s", name, importPath, pkg))
		names = append(names, name)
	}
	req := &pluginpb.CodeGeneratorRequest{
		FileToGenerate: names,
		Parameter:      proto.String(strings.Join(params, ",")),
		ProtoFile:      s.requestProtos(),
	}
	gen, err := protogen.Options{}.New(req)
	if err != nil {
		return nil, fmt.Errorf("preparing Go code generation: %w", err)
	}
	return gen, nil
}

// protocVersionLine matches the header line where protoc-gen-go records the
// protoc version; in-process there is no protoc, so it would say
// "(unknown)".
var protocVersionLine = regexp.MustCompile(`(?m)^// \tprotoc +[^\n]*\n`)

func stripProtocVersion(src []byte) []byte {
	return protocVersionLine.ReplaceAll(src, nil)
}
