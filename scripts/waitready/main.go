// Command waitready blocks until a test service that scripts/kafka.sh or
// scripts/neo4j.sh started is ready to serve tests, or fails with a message
// that says why.
//
//	waitready kafka -brokers 127.0.0.1:19092 [-pid N] [-timeout 90s]
//	waitready neo4j -bolt 127.0.0.1:17687 -http 127.0.0.1:17474 [-pid N] [-timeout 120s]
//
// "Ready" means more than "the port accepts connections":
//
//   - kafka: a metadata request lists at least one broker, and the group and
//     transaction coordinators answer (which makes the broker create its
//     __consumer_offsets and __transaction_state topics now, not in the
//     middle of the first test).
//   - neo4j: the Bolt port completes a protocol handshake, and a Cypher query
//     (RETURN 1) succeeds through the HTTP API against the default database.
//
// With -pid, the probe stops early when that process has exited (the
// service crashed on start), instead of waiting out the timeout.
//
// Exit codes: 0 ready, 1 not ready within the timeout or the process exited,
// 2 bad usage.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "kafka":
		err = runKafka(os.Args[2:])
	case "neo4j":
		err = runNeo4j(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "waitready %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: waitready kafka|neo4j [flags] (see -h of each)")
	os.Exit(2)
}

// probe is one readiness check; it returns nil when the service is ready and
// an error describing what is not ready yet otherwise.
type probe func(ctx context.Context) error

// waitFor runs check every interval until it succeeds, the timeout passes, or
// the process pid (when > 0) has exited. The error names the last reason the
// check gave, so a timeout says what was still missing.
func waitFor(what string, pid int, timeout time.Duration, check probe) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	const interval = 250 * time.Millisecond
	var last error
	for {
		if pid > 0 && !processAlive(pid) {
			if last != nil {
				return fmt.Errorf("%s: process %d exited before it was ready (last check: %v)", what, pid, last)
			}
			return fmt.Errorf("%s: process %d exited before it was ready", what, pid)
		}
		attempt, cancelAttempt := context.WithTimeout(ctx, 10*time.Second)
		last = check(attempt)
		cancelAttempt()
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: not ready after %s: %w", what, timeout, last)
		case <-time.After(interval):
		}
	}
}

// processAlive reports whether pid exists and is not a zombie.
func processAlive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true // no procfs: trust kill(0)
	}
	return !isZombie(stat)
}

// isZombie reads the state field of a /proc/<pid>/stat line; it follows the
// command name, which is in parentheses and may itself contain spaces.
func isZombie(stat []byte) bool {
	for i := len(stat) - 1; i >= 0; i-- {
		if stat[i] == ')' {
			return i+2 < len(stat) && stat[i+2] == 'Z'
		}
	}
	return false
}

// newFlags returns a flag set whose errors go to stderr and exit with 2.
func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("waitready "+name, flag.ExitOnError)
	fs.SetOutput(io.Writer(os.Stderr))
	return fs
}
