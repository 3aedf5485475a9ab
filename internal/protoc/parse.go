package protoc

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/bufbuild/protocompile/ast"
	"github.com/bufbuild/protocompile/parser"
	"github.com/bufbuild/protocompile/reporter"
)

// parsedFile is a source file after parsing. result is nil when the file has
// syntax errors; broken is set when the file or one of its imports cannot be
// linked.
type parsedFile struct {
	src    sourceFile
	ast    *ast.FileNode
	result parser.Result
	broken bool
}

// parseSources parses every source file, reporting syntax errors to handler.
// Files are parsed up front (rather than inside the compiler) so that every
// file's syntax errors and missing imports are reported, not just the first.
func parseSources(ctx context.Context, sources []sourceFile, handler *reporter.Handler) (map[string]*parsedFile, error) {
	parsed := make(map[string]*parsedFile, len(sources))
	for _, src := range sources {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		data, err := os.ReadFile(filepath.Join(src.root, filepath.FromSlash(src.name)))
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", src.display, err)
		}
		fileHandler := handler.SubHandler()
		p := &parsedFile{src: src}
		parsed[src.name] = p
		node, err := parser.Parse(src.name, bytes.NewReader(data), fileHandler)
		if err != nil {
			p.broken = true
			continue
		}
		p.ast = node
		res, err := parser.ResultFromAST(node, true, fileHandler)
		if err != nil {
			p.broken = true
			continue
		}
		p.result = res
	}
	return parsed, nil
}

// checkImports reports every import that names neither a file under the
// roots nor a well-known type, at the position of the imported name, and
// marks the importing file broken.
func checkImports(parsed map[string]*parsedFile, roots []string, isStandard func(string) bool, handler *reporter.Handler) {
	for _, p := range parsed {
		if p.result == nil {
			continue
		}
		for _, decl := range p.ast.Decls {
			imp, ok := decl.(*ast.ImportNode)
			if !ok || imp.Name == nil {
				continue
			}
			name := imp.Name.AsString()
			if _, ok := parsed[name]; ok || isStandard(name) {
				continue
			}
			p.broken = true
			_ = handler.HandleErrorf(p.ast.NodeInfo(imp.Name), "imported file %q not found (searched %s and the well-known types)", name, strings.Join(roots, ", "))
		}
	}
}

// linkable returns the names of the files that parsed cleanly and whose
// imports (transitively) did too, so that linking reports only new problems.
func linkable(parsed map[string]*parsedFile) []string {
	state := map[string]int{} // 0 unvisited, 1 in progress, 2 good, 3 bad
	var visit func(name string) bool
	visit = func(name string) bool {
		p, ok := parsed[name]
		if !ok {
			return true // a well-known type; missing imports were reported already
		}
		switch state[name] {
		case 1:
			return true // an import cycle; the compiler reports it
		case 2:
			return true
		case 3:
			return false
		}
		state[name] = 1
		good := !p.broken
		if good {
			for _, dep := range p.result.FileDescriptorProto().GetDependency() {
				if !visit(dep) {
					good = false
				}
			}
		}
		state[name] = 3
		if good {
			state[name] = 2
		}
		return good
	}
	var names []string
	for _, src := range sortedParsed(parsed) {
		if visit(src.name) {
			names = append(names, src.name)
		}
	}
	return names
}

// sortedParsed returns the parsed files' sources in name order.
func sortedParsed(parsed map[string]*parsedFile) []sourceFile {
	out := make([]sourceFile, 0, len(parsed))
	for _, p := range parsed {
		out = append(out, p.src)
	}
	sortSources(out)
	return out
}
