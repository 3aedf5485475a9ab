package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/kafmesh/kafmesh/internal/spec"
)

// NewCheckCommand returns `check [DEFINITION]`: validate only, for CI.
func NewCheckCommand(env *Env) *cobra.Command {
	var compat string
	cmd := &cobra.Command{
		Use:   "check [DEFINITION]",
		Short: "Validate a service definition, its components and its .proto files",
		Long: `Check loads the service definition (default docs/kafmesh/definition.yml, then
.yaml), the component files its globs match and the .proto files under its
messages directories, and reports every problem at once, sorted, as
file:line:col: message. It writes nothing. The exit status is 1 when there
is any error; warnings are printed but do not fail the check.

With --compat kafmesh2021 it accepts what the 2021 kafmesh accepted and
reports it as warnings that say the fix: unknown (dead) keys are ignored, a
component declared in two files is merged, and a message is also found by
the directory of its .proto file when the file's package line differs.
kafmesh migrate fixes the definition; the package lines are yours to fix.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var opts []spec.Option
			switch compat {
			case "":
			case spec.CompatKafmesh2021:
				opts = append(opts, spec.WithCompat(compat))
			default:
				return fmt.Errorf("--compat %q is not known; the one value is %s", compat, spec.CompatKafmesh2021)
			}
			_, err := loadDefinition(cmd.Context(), env, args, true, opts...)
			return err
		},
	}
	cmd.Flags().StringVar(&compat, "compat", "", "accept what an older kafmesh accepted, as warnings with the fix (kafmesh2021)")
	return cmd
}
