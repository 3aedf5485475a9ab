package main

import (
	"github.com/kafmesh/kafmesh/internal/cli"
	"github.com/spf13/cobra"
)

// newRootCommand builds the kafmesh command tree.
//
// To add a subcommand, write it in its own file of this package as
//
//	func newDiscoverCommand(env *cli.Env) *cobra.Command
//
// (print through env.Stdout/env.Stderr, take the context from
// cmd.Context(), return an error rather than exiting) and add it to the
// list below.
func newRootCommand(env *cli.Env) *cobra.Command {
	root := &cobra.Command{
		Use:   "kafmesh",
		Short: "Kafmesh builds Kafka stream services from a definition and shows them as one mesh",
		Long: `Kafmesh reads a service definition (docs/kafmesh/definition.yml), its
component files and the protobuf messages they name, checks them, and
generates strongly typed Go for the kafmesh runtime.`,
		Version: cli.Version(),
	}
	root.AddCommand(
		cli.NewGenCommand(env),
		cli.NewCheckCommand(env),
		cli.NewGraphCommand(env),
		cli.NewVersionCommand(env),
		cli.NewExportCommand(env),
		cli.NewOffsetsCommand(env, nil),
		newDiscoverCommand(env),
		newDevCommand(env),
		cli.NewMigrateCommand(env),
		cli.NewDLQCommand(env, nil),
	)
	return root
}
