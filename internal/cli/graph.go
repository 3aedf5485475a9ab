package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

// NewGraphCommand returns `graph [DEFINITION] --format mermaid|dot`.
func NewGraphCommand(env *Env) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "graph [DEFINITION]",
		Short: "Print the declared mesh of a service as a Mermaid or Graphviz graph",
		Long: `Graph prints, on standard output, the parts of every component (sources,
processors, sinks, views, view sources, view sinks) and the topics they use,
with edges labelled input, join, lookup, output, state, source, sink, view,
viewSource or viewSink in the direction the data flows. The definition is
validated first (the .proto files are not compiled).`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			render, ok := graphRenderers[format]
			if !ok {
				return fmt.Errorf("unknown format %q; use --format mermaid or --format dot", format)
			}
			def, err := loadDefinition(cmd.Context(), env, args, false)
			if err != nil {
				return err
			}
			_, err = env.Stdout.Write([]byte(render(meshOf(def.service))))
			return err
		},
	}
	cmd.Flags().StringVar(&format, "format", "mermaid", "graph language: mermaid or dot")
	return cmd
}

// graphRenderers maps --format values to renderers.
var graphRenderers = map[string]func(mesh) string{
	"mermaid": renderMermaid,
	"dot":     renderDot,
}
