package main

import (
	"github.com/spf13/cobra"

	"github.com/kafmesh/kafmesh/cmd/kafmesh/cli"
	discover "github.com/kafmesh/kafmesh/discovery/cli"
)

// newDiscoverCommand returns `kafmesh discover` (discovery/cli): scrape
// every kafmesh service and serve the mesh as GraphQL. Logs go to stderr.
//
// The web UI (discovery/web) mounts itself here by passing an Extra that
// returns server.WithUIFS(<its embedded assets>).
func newDiscoverCommand(env *cli.Env) *cobra.Command {
	return discover.NewCommand(env.Stderr)
}
