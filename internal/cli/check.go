package cli

import (
	"github.com/spf13/cobra"
)

// NewCheckCommand returns `check [DEFINITION]`: validate only, for CI.
func NewCheckCommand(env *Env) *cobra.Command {
	return &cobra.Command{
		Use:   "check [DEFINITION]",
		Short: "Validate a service definition, its components and its .proto files",
		Long: `Check loads the service definition (default docs/kafmesh/definition.yml, then
.yaml), the component files its globs match and the .proto files under its
messages directories, and reports every problem at once, sorted, as
file:line:col: message. It writes nothing. The exit status is 1 when there
is any error; warnings are printed but do not fail the check.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := loadDefinition(cmd.Context(), env, args, true)
			return err
		},
	}
}
