// Command kafmesh is the kafmesh toolkit's one CLI: gen, check, graph and
// version (see root.go for the list of subcommands).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/kafmesh/kafmesh/internal/cli"
)

func main() {
	os.Exit(run(os.Args[1:], &cli.Env{Stdout: os.Stdout, Stderr: os.Stderr}))
}

// run executes the CLI and returns the exit status. Interrupt and SIGTERM
// cancel the command's context.
func run(args []string, env *cli.Env) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return cli.Execute(ctx, newRootCommand(env), args, env)
}
