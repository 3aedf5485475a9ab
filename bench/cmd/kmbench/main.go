// Command kmbench runs kafmesh's peer benchmarks (W1 count-by-key, W2
// restore, W3 join + lookup, W4 latency under steady load) against a running broker, prints the tables
// and writes them as markdown. bench/run.sh builds the contenders, starts
// the broker and calls it; see `bench/run.sh --help`.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kafmesh/kafmesh/bench/internal/harness"
	"github.com/kafmesh/kafmesh/bench/internal/workload"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "kmbench:", err)
		os.Exit(1)
	}
}

func run() error {
	spec := workload.Default()
	var cfg harness.Config
	brokers := flag.String("brokers", "127.0.0.1:19092", "seed brokers, comma-separated")
	flag.IntVar(&spec.Records, "records", spec.Records, "input records of W1 and W3, and keys restored in W2")
	flag.IntVar(&spec.Probes, "probes", spec.Probes, "W2 probe records")
	workloads := flag.String("workloads", "w1,w2,w3,w4", "workloads to run")
	contenders := flag.String("contenders", "", "contenders to run, comma-separated (default all: kafmesh, kafmesh-eos, goka, franz, streams)")
	flag.StringVar(&cfg.BinDir, "bin", "bin", "folder of the Go contender binaries")
	flag.StringVar(&cfg.StreamsJar, "streams-jar", "streams/target/streams-bench.jar", "the Kafka Streams contender jar")
	flag.StringVar(&cfg.Java, "java", "java", "java binary")
	flag.StringVar(&cfg.JavaOpts, "java-opts", "-Xmx1g", "JVM flags of the Kafka Streams contender")
	flag.StringVar(&cfg.WorkDir, "work-dir", "", "state folders and logs (default a new temporary folder)")
	flag.DurationVar(&cfg.Timeout, "timeout", 0, "limit per contender and workload (default 2m + 1s per 2,000 records)")
	flag.DurationVar(&cfg.Settle, "settle", 2*time.Second, "pause between contenders")
	flag.IntVar(&cfg.LingerMS, "linger-ms", 5, "producer linger of every contender, ms")
	flag.IntVar(&cfg.BatchBytes, "batch-bytes", 1<<20, "producer batch size of every contender, bytes")
	flag.IntVar(&cfg.CommitMS, "commit-ms", 100, "commit interval of every contender, ms")
	w4Rates := flag.String("w4-rates", "10000", "W4 fixed input rates, records/s, comma-separated (empty: none)")
	flag.Float64Var(&cfg.W4W1Fraction, "w4-w1-fraction", 0.5, "W4 also runs each contender at this fraction of its W1 rate of this run (0: no)")
	flag.DurationVar(&cfg.W4Warmup, "w4-warmup", 5*time.Second, "W4 warm-up from the first output")
	flag.DurationVar(&cfg.W4Duration, "w4-duration", 30*time.Second, "W4 steady phase")
	flag.DurationVar(&cfg.W4Window, "w4-window", 15*time.Second, "W4 join and restart phases")
	flag.DurationVar(&cfg.W4Drain, "w4-drain", time.Minute, "W4 longest wait for the last outputs")
	flag.IntVar(&cfg.W4StateKeys, "w4-state-keys", 0, "W4 keys of state preloaded for the restart (default -records)")
	flag.IntVar(&cfg.Repeat, "repeat", 1, "runs per contender and workload, round the contenders; the median counts")
	flag.BoolVar(&cfg.KeepTopics, "keep-topics", false, "keep the run's topics")
	flag.StringVar(&cfg.BrokerDesc, "broker-desc", "Apache Kafka", "broker description for the report")
	flag.StringVar(&cfg.Revision, "revision", "", "the kafmesh revision measured, for the report")
	flag.StringVar(&cfg.Command, "command", "", "the command line to print in the report (default this one)")
	out := flag.String("out", "", "write the markdown report here")
	docs := flag.String("docs", "", "replace the peers section of this docs file (docs/benchmarks.md)")
	flag.Parse()

	for _, r := range splitList(*w4Rates) {
		n, err := strconv.Atoi(r)
		if err != nil || n <= 0 {
			return fmt.Errorf("-w4-rates: %q is not a positive number", r)
		}
		cfg.W4Rates = append(cfg.W4Rates, n)
	}
	if len(cfg.W4Rates) == 0 && cfg.W4W1Fraction <= 0 {
		return fmt.Errorf("-w4-rates is empty and -w4-w1-fraction is 0: W4 has no rate to run")
	}
	cfg.Brokers = strings.Split(*brokers, ",")
	cfg.Spec = spec
	cfg.Workloads = splitList(*workloads)
	cfg.Contenders = splitList(*contenders)
	cfg.Progress = os.Stderr
	if cfg.Command == "" {
		cfg.Command = strings.Join(os.Args, " ")
	}
	if cfg.WorkDir == "" {
		d, err := os.MkdirTemp("", "kmbench-")
		if err != nil {
			return err
		}
		cfg.WorkDir = d
	}
	fmt.Fprintf(os.Stderr, "kmbench: state and logs in %s\n", cfg.WorkDir)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := harness.Run(ctx, cfg)
	if rep == nil {
		return err
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "kmbench: run stopped:", err)
	}
	fmt.Println()
	fmt.Print(rep.Tables())
	md := rep.Markdown()
	if *out != "" {
		if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
			return err
		}
		title := fmt.Sprintf("# Peer benchmark results, %s\n\n", rep.Started.UTC().Format("2006-01-02 15:04 UTC"))
		if err := os.WriteFile(*out, []byte(title+md), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "kmbench: wrote %s\n", *out)
	}
	if *docs != "" && err == nil {
		if werr := harness.WriteDocs(*docs, md); werr != nil {
			return werr
		}
		fmt.Fprintf(os.Stderr, "kmbench: updated %s\n", *docs)
	}
	if err != nil {
		return err
	}
	if rep.Failed() {
		return fmt.Errorf("at least one contender failed or produced wrong output (see the tables and %s/logs)", cfg.WorkDir)
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}
