package cli

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/kafmesh/kafmesh/internal/spec"
)

// NewMigrateCommand returns `migrate [DEFINITION]`: rewrite a kafmesh 2021
// definition into the strict form.
func NewMigrateCommand(env *Env) *cobra.Command {
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "migrate [DEFINITION]",
		Short: "Rewrite a kafmesh 2021 definition into the form kafmesh check accepts",
		Long: `Migrate rewrites the service definition (default docs/kafmesh/definition.yml)
and its component files from what the 2021 kafmesh accepted into the strict
form: it removes unknown (dead) keys, renames emitters to sources, and merges
a component declared in several files into its first file (removing the
others). It prints every change as file:line:col: what changed, then runs
the strict check. With --dry-run it prints the changes and writes nothing.
YAML comments are kept; indentation is normalized to two spaces in the files
it rewrites. A .proto whose package line differs from its directory is not
rewritten: kafmesh check reports it.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			workDir, err := env.workDir()
			if err != nil {
				return err
			}
			path, err := definitionPath(args, workDir)
			if err != nil {
				return err
			}
			m, err := spec.Migrate(path, workDir)
			if err != nil {
				return err
			}
			for _, c := range m.Changes {
				fmt.Fprintf(env.Stdout, "%s: %s\n", c.Position, c.Message)
			}
			if len(m.Changes) == 0 {
				fmt.Fprintln(env.Stdout, "nothing to change")
			}
			if dryRun {
				return nil
			}
			for file, content := range m.Write {
				info, err := os.Stat(file)
				if err != nil {
					return err
				}
				if err := os.WriteFile(file, content, info.Mode().Perm()); err != nil {
					return err
				}
			}
			for _, file := range m.Remove {
				if err := os.Remove(file); err != nil {
					return err
				}
			}
			_, err = loadDefinition(cmd.Context(), env, args, true)
			return err
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the changes, write nothing")
	return cmd
}
