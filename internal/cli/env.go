// Package cli holds the kafmesh commands that work on a service definition
// (gen, check, graph) and version, so that both binaries, cmd/kafmesh and
// the compatibility entry cmd/kafmesh-gen, build them the same way.
//
// Every command reads and writes only through an [Env], so tests run them in
// process with their own output buffers, working directory and generator.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
)

// Env is what the commands use of the outside world.
type Env struct {
	// Stdout receives command output (graph, version); Stderr receives
	// diagnostics and errors.
	Stdout io.Writer
	Stderr io.Writer
	// WorkDir is the directory relative paths are resolved against and
	// diagnostics are shown relative to; "" means the process working
	// directory.
	WorkDir string
	// Generator writes the code for gen; nil means [DefaultGenerator].
	Generator Generator
}

// workDir returns WorkDir or the process working directory.
func (e *Env) workDir() (string, error) {
	if e.WorkDir != "" {
		return e.WorkDir, nil
	}
	return os.Getwd()
}

func (e *Env) generator() Generator {
	if e.Generator != nil {
		return e.Generator
	}
	return DefaultGenerator()
}

// errReported is returned by a command whose problems were already printed
// (as diagnostics): the exit status is 1 and nothing more is printed.
var errReported = errors.New("problems reported")

// Execute runs cmd with args and returns the process exit status: 0 on
// success, 1 when the command failed (its diagnostics or error printed on
// env.Stderr).
func Execute(ctx context.Context, cmd *cobra.Command, args []string, env *Env) int {
	cmd.SetArgs(args)
	cmd.SetOut(env.Stdout)
	cmd.SetErr(env.Stderr)
	cmd.SilenceUsage = true
	cmd.SilenceErrors = true
	err := cmd.ExecuteContext(ctx)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errReported):
		return 1
	default:
		fmt.Fprintf(env.Stderr, "%s: %v\n", cmd.Name(), err)
		return 1
	}
}
