package main

import (
	"github.com/spf13/cobra"

	"github.com/kafmesh/kafmesh/internal/cli"
	discover "github.com/kafmesh/kafmesh/internal/discovery/cli"
	"github.com/kafmesh/kafmesh/internal/discovery/web"
)

// newDiscoverCommand returns `kafmesh discover` (discovery/cli): scrape
// every kafmesh service and serve the mesh as GraphQL, with the web UI
// (discovery/web, embedded in the binary) at /. Logs go to stderr.
func newDiscoverCommand(env *cli.Env) *cobra.Command {
	return discover.NewCommand(env.Stderr, web.ServerOptions)
}
