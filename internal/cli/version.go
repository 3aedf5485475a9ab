package cli

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/kafmesh/kafmesh/internal/buildinfo"
)

// Version returns the kafmesh module version of the running binary (v0.1.0
// when installed from a tag, a pseudo-version for a VCS-stamped checkout
// build), or "devel" when the build recorded none.
func Version() string { return buildinfo.Read().Version }

// NewVersionCommand returns `version`: one line for people, or with --json
// the fields of buildinfo.Info for scripts.
func NewVersionCommand(env *Env) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the kafmesh version, VCS revision and Go version",
		Long: `Print the kafmesh version: the module version when installed with
go install ...@version, and the VCS revision (and whether the work tree had
uncommitted changes) for a build from a checkout. --json prints an object with
version, revision, time, modified, goVersion and platform.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			info := buildinfo.Read()
			if asJSON {
				enc := json.NewEncoder(env.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(info)
			}
			_, err := fmt.Fprintf(env.Stdout, "kafmesh %s\n", info)
			return err
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON object")
	return cmd
}
