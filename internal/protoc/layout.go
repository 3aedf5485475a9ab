package protoc

import (
	"fmt"
	"go/token"
	"path"
	"strings"
	"unicode"

	"google.golang.org/protobuf/types/descriptorpb"
)

// Layout decides the Go import path and package name of each generated file
// and where the file is written. Build one with [ModelsLayout] or
// [GoPackageLayout].
type Layout struct {
	module     string
	outputPath string
	goPackage  bool
}

// ModelsLayout places the code generated for a file named <dir>/<name>.proto
// in package <module>/<outputPath>/models/<dir>, written to
// <outputPath>/models/<dir>/<name>.pb.go; the package name is the last
// element of that path made a Go identifier (for example "deviceId" or
// "v1"). The files' own go_package options are ignored. This is the layout
// of the 2021 kafmesh generator, so imports of existing services keep
// working. Well-known types map to google.golang.org/protobuf/types/known/...
func ModelsLayout(module, outputPath string) Layout {
	return Layout{module: module, outputPath: outputPath}
}

// GoPackageLayout honours each file's go_package option (a full import path,
// optionally followed by ";name"). Files are written to their import path
// with the module path stripped, so every go_package must lie inside module.
func GoPackageLayout(module string) Layout {
	return Layout{module: module, goPackage: true}
}

// validate checks the layout's own fields.
func (l Layout) validate() error {
	if l.module == "" || strings.HasSuffix(l.module, "/") {
		return fmt.Errorf("invalid Go module path %q", l.module)
	}
	if l.goPackage {
		return nil
	}
	if l.outputPath == "" {
		return fmt.Errorf("output path is empty")
	}
	clean := path.Clean(l.outputPath)
	if clean != l.outputPath || path.IsAbs(clean) || clean == "." || clean == ".." || strings.HasPrefix(clean, "../") {
		return fmt.Errorf("output path %q must be a clean, slash-separated path inside the module", l.outputPath)
	}
	return nil
}

// goPackageOf returns the Go import path and package name of a file under the
// roots, or an error naming the file when its go_package option cannot be
// used.
func (l Layout) goPackageOf(fdp *descriptorpb.FileDescriptorProto, display string) (importPath, name string, err error) {
	if !l.goPackage {
		importPath = l.module + "/" + l.outputPath + "/models"
		if dir := path.Dir(fdp.GetName()); dir != "." {
			importPath += "/" + dir
		}
		return importPath, goIdentifier(path.Base(importPath)), nil
	}
	opt := fdp.GetOptions().GetGoPackage()
	if opt == "" {
		return "", "", fmt.Errorf("%s: no go_package option; add one like option go_package = \"%s/...;name\"", display, l.module)
	}
	importPath, name, _ = strings.Cut(opt, ";")
	if !strings.HasPrefix(importPath, l.module+"/") {
		return "", "", fmt.Errorf("%s: go_package %q is outside module %q", display, importPath, l.module)
	}
	if name == "" {
		name = goIdentifier(path.Base(importPath))
	}
	return importPath, name, nil
}

// goIdentifier turns s into a valid Go identifier: characters that may not
// appear in one become '_', a leading digit gets a '_' in front and a
// keyword gets a '_' after.
func goIdentifier(s string) string {
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == '_' || unicode.IsLetter(r):
			b.WriteRune(r)
		case unicode.IsDigit(r):
			if i == 0 {
				b.WriteByte('_')
			}
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	id := b.String()
	if id == "" {
		return "_"
	}
	if token.IsKeyword(id) {
		id += "_"
	}
	return id
}
