// Command kafmesh-gen is the compatibility entry of the 2021 tool:
// `kafmesh-gen docs/kafmesh/definition.yml` does what `kafmesh gen
// docs/kafmesh/definition.yml` does.
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

func run(args []string, env *cli.Env) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmd := cli.NewGenCommand(env)
	cmd.Use = "kafmesh-gen DEFINITION"
	cmd.Version = cli.Version()
	return cli.Execute(ctx, cmd, args, env)
}
