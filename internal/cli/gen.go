package cli

import (
	"context"

	"github.com/kafmesh/kafmesh/internal/codegen"
	"github.com/kafmesh/kafmesh/internal/protoc"
	"github.com/kafmesh/kafmesh/internal/spec"
	"github.com/spf13/cobra"
)

// Generator writes the Go code of a validated service: models from the
// compiled .proto files and one package per component, under
// svc.Output.Dir. It must write nothing when it fails (generate into a
// temporary directory and swap).
//
// It is only called when the definition and the .proto files have no
// error.
type Generator interface {
	Generate(ctx context.Context, svc *spec.Service, protos *protoc.Set) error
}

// GeneratorFunc adapts a function to [Generator].
type GeneratorFunc func(ctx context.Context, svc *spec.Service, protos *protoc.Set) error

// Generate calls f.
func (f GeneratorFunc) Generate(ctx context.Context, svc *spec.Service, protos *protoc.Set) error {
	return f(ctx, svc, protos)
}

// DefaultGenerator returns the generator gen uses: internal/codegen, which
// writes the models, the component packages and the service package, and
// nothing at all when it fails.
func DefaultGenerator() Generator {
	return GeneratorFunc(codegen.Generate)
}

// NewGenCommand returns `gen [DEFINITION]`: validate, then generate.
func NewGenCommand(env *Env) *cobra.Command {
	return &cobra.Command{
		Use:   "gen [DEFINITION]",
		Short: "Generate the Go code of a service from its definition",
		Long: `Gen runs every check of "kafmesh check" on the service definition (default
docs/kafmesh/definition.yml, then .yaml) and, when there is no error,
writes the models and the typed parts of every component under output.path
(relative to the Go module root). When anything is wrong it prints every
problem, writes nothing and exits with status 1.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			def, err := loadDefinition(cmd.Context(), env, args, true)
			if err != nil {
				return err
			}
			return env.generator().Generate(cmd.Context(), def.service, def.protos)
		},
	}
}
