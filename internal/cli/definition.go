package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/kafmesh/kafmesh/internal/protoc"
	"github.com/kafmesh/kafmesh/internal/spec"
)

// DefaultDefinitions are tried in order when no definition path is given.
var defaultDefinitions = []string{
	filepath.Join("docs", "kafmesh", "definition.yml"),
	filepath.Join("docs", "kafmesh", "definition.yaml"),
}

// definitionPath returns the definition named by args, or the first default
// that exists under workDir.
func definitionPath(args []string, workDir string) (string, error) {
	if len(args) > 0 {
		return args[0], nil
	}
	for _, p := range defaultDefinitions {
		if _, err := os.Stat(filepath.Join(workDir, p)); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("no definition given and neither %s nor %s exists here; pass the definition path as an argument", defaultDefinitions[0], defaultDefinitions[1])
}

// loaded is a definition loaded and validated.
type loaded struct {
	service *spec.Service
	// protos is the compiled .proto set; nil when the messages were not
	// compiled (graph) or could not be.
	protos *protoc.Set
}

// loadDefinition loads and validates the definition named by args, printing
// every diagnostic on stderr. With compile, the .proto files are compiled
// and every message ref is checked against them. It returns errReported
// when there is any error diagnostic.
func loadDefinition(ctx context.Context, env *Env, args []string, compile bool, extra ...spec.Option) (*loaded, error) {
	workDir, err := env.workDir()
	if err != nil {
		return nil, err
	}
	path, err := definitionPath(args, workDir)
	if err != nil {
		return nil, err
	}
	out := &loaded{}
	opts := append([]spec.Option{spec.WithWorkDir(workDir)}, extra...)
	if compile {
		opts = append(opts, spec.WithMessageLoader(compileMessages(workDir, &out.protos)))
	}
	svc, diags, err := spec.Load(ctx, path, opts...)
	printDiagnostics(env.Stderr, diags)
	if err != nil {
		return nil, err
	}
	if diags.HasErrors() {
		return nil, errReported
	}
	out.service = svc
	return out, nil
}

func printDiagnostics(w io.Writer, diags spec.Diagnostics) {
	io.WriteString(w, diags.String())
}

// compileMessages is the spec.MessageLoader backed by internal/protoc: it
// compiles the .proto files under the definition's protobuf directories,
// turns compile problems into diagnostics and keeps the compiled set in
// *set for generation.
func compileMessages(workDir string, set **protoc.Set) spec.MessageLoader {
	return func(ctx context.Context, dirs []string) (spec.Messages, spec.Diagnostics, error) {
		compiled, err := protoc.Compile(ctx, dirs, protoc.WithWorkingDir(workDir))
		var problems protoc.Diagnostics
		if errors.As(err, &problems) {
			diags := make(spec.Diagnostics, len(problems))
			for i, p := range problems {
				diags[i] = spec.Diagnostic{
					Severity: spec.Error,
					Position: spec.Position{File: p.File, Line: p.Line, Col: p.Col},
					Message:  p.Message,
				}
			}
			return nil, diags, nil
		}
		if err != nil {
			return nil, nil, err
		}
		*set = compiled
		return protoMessages{compiled}, nil, nil
	}
}

// protoMessages answers spec's message lookups from a compiled set.
type protoMessages struct{ set *protoc.Set }

func (m protoMessages) Has(fullName string) bool {
	_, ok := m.set.Message(fullName)
	return ok
}

func (m protoMessages) Names() []string { return m.set.MessageNames() }

// InDirectory implements spec.MessagesByDirectory for check --compat.
func (m protoMessages) InDirectory(dir, name string) (file, pkg string, ok bool) {
	for _, f := range m.set.Files() {
		if path.Dir(f.Path()) != dir {
			continue
		}
		if md := f.Messages().ByName(protoreflect.Name(name)); md != nil {
			return m.set.SourcePath(f.Path()), string(f.Package()), true
		}
	}
	return "", "", false
}
