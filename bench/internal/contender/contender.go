// Package contender is what the Go contenders share: their command line
// (the same flags bench/streams takes), the matched settings, and the
// "first-read" line the harness times from.
package contender

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"runtime/trace"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Config is one contender run, from the command line.
type Config struct {
	Brokers  []string
	Mode     string // "count" or "enrich"
	Input    string
	Output   string
	Group    string
	Join     string // enrich: the co-partitioned table
	Lookup   string // enrich: the lookup table
	StateDir string
	EOS      bool // kafmesh and franz: exactly-once (Kafka transactions)
	// LeaveOnStop: this instance is removed for good when it stops (W4's
	// second instance, a scale-in), so a static member leaves its group.
	LeaveOnStop bool

	Linger         time.Duration
	BatchBytes     int
	CommitInterval time.Duration
	FetchMaxWait   time.Duration
}

// Parse reads the flags every contender takes; name is the program name for
// messages.
func Parse(name string, args []string) (Config, error) {
	var c Config
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	brokers := fs.String("brokers", "", "seed brokers, comma-separated")
	fs.StringVar(&c.Mode, "mode", "", "count (W1, W2) or enrich (W3)")
	fs.StringVar(&c.Input, "input", "", "input topic")
	fs.StringVar(&c.Output, "output", "", "output topic")
	fs.StringVar(&c.Group, "group", "", "consumer group (and state table prefix)")
	fs.StringVar(&c.Join, "join", "", "enrich: co-partitioned table topic")
	fs.StringVar(&c.Lookup, "lookup", "", "enrich: lookup table topic")
	fs.StringVar(&c.StateDir, "state-dir", "", "local state folder (empty at start)")
	fs.BoolVar(&c.EOS, "eos", false, "exactly-once: Kafka transactions (kafmesh and franz)")
	fs.BoolVar(&c.LeaveOnStop, "leave-on-stop", false, "the instance is removed for good when it stops: leave the group (static members)")
	lingerMS := fs.Int("linger-ms", 5, "producer linger")
	fs.IntVar(&c.BatchBytes, "batch-bytes", 1<<20, "producer batch size")
	commitMS := fs.Int("commit-ms", 100, "commit interval")
	fetchWaitMS := fs.Int("fetch-max-wait-ms", 500, "fetch max wait")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	c.Brokers = strings.Split(*brokers, ",")
	c.Linger = time.Duration(*lingerMS) * time.Millisecond
	c.CommitInterval = time.Duration(*commitMS) * time.Millisecond
	c.FetchMaxWait = time.Duration(*fetchWaitMS) * time.Millisecond
	var missing []string
	for flagName, v := range map[string]string{"brokers": *brokers, "mode": c.Mode, "input": c.Input, "output": c.Output, "group": c.Group, "state-dir": c.StateDir} {
		if v == "" {
			missing = append(missing, "-"+flagName)
		}
	}
	if c.Mode == "enrich" && (c.Join == "" || c.Lookup == "") {
		missing = append(missing, "-join and -lookup (enrich)")
	}
	if len(missing) > 0 {
		return c, fmt.Errorf("%s: missing %s", name, strings.Join(missing, ", "))
	}
	if c.Mode != "count" && c.Mode != "enrich" {
		return c, fmt.Errorf("%s: -mode must be count or enrich, not %q", name, c.Mode)
	}
	return c, nil
}

// FirstRead prints "first-read <unix nanos>" on stdout the first time Mark
// is called; the harness times W1 and W3 from it. Mark is cheap after the
// first call.
type FirstRead struct {
	done atomic.Bool
	once sync.Once
}

// Mark reports the first record read.
func (f *FirstRead) Mark() {
	if f.done.Load() {
		return
	}
	f.once.Do(func() {
		fmt.Fprintf(os.Stdout, "first-read %d\n", time.Now().UnixNano())
		f.done.Store(true)
	})
}

// Main runs a contender: it parses the flags, cancels run's context on
// SIGTERM or SIGINT, and exits non-zero with the error run returns.
func Main(name string, run func(ctx context.Context, c Config, first *FirstRead, log *slog.Logger) error) {
	// KMBENCH_LOG_LEVEL (debug, info, warn, error; default warn) is the
	// contender's log level: info shows the runtime's restores and commits.
	var level slog.Level
	if err := level.UnmarshalText([]byte(cmp.Or(os.Getenv("KMBENCH_LOG_LEVEL"), "warn"))); err != nil {
		fmt.Fprintf(os.Stderr, "%s: KMBENCH_LOG_LEVEL: %v\n", name, err)
		os.Exit(2)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})).With("contender", name)
	c, err := Parse(name, os.Args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	stopProfile := profile(name, log)
	err = run(ctx, c, &FirstRead{}, log)
	stopProfile()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
}

// profile writes a CPU profile of the whole run to
// $KMBENCH_CPUPROFILE_DIR/<name>-<pid>.prof and an execution trace (where
// goroutines wait) to $KMBENCH_TRACE_DIR/<name>-<pid>.trace when those
// variables are set, for profiling a contender under the harness.
func profile(name string, log *slog.Logger) (stop func()) {
	stops := []func(){
		record("KMBENCH_CPUPROFILE_DIR", name+"-%d.prof", "CPU profile", pprof.StartCPUProfile, pprof.StopCPUProfile, log),
		record("KMBENCH_TRACE_DIR", name+"-%d.trace", "execution trace", trace.Start, trace.Stop, log),
	}
	return func() {
		for _, stop := range stops {
			stop()
		}
	}
}

// record starts a recording (start, stop) into a file named by pattern (with
// the pid) in the folder $env, when env is set; it returns what stops it.
func record(env, pattern, what string, start func(io.Writer) error, stop func(), log *slog.Logger) func() {
	dir := os.Getenv(env)
	if dir == "" {
		return func() {}
	}
	f, err := os.Create(filepath.Join(dir, fmt.Sprintf(pattern, os.Getpid())))
	if err == nil {
		if err = start(f); err != nil {
			f.Close()
		}
	}
	if err != nil {
		log.Warn("no "+what, "error", err)
		return func() {}
	}
	return func() { stop(); f.Close() }
}
