// Package harness runs the peer benchmarks: it loads the workloads' data
// into fresh topics once, runs each contender as its own process against
// them one after another, times each from the outside, checks its output,
// and reports.
package harness

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/kafmesh/kafmesh/bench/internal/workload"
)

// Config is one benchmark run.
type Config struct {
	Brokers    []string
	Spec       workload.Spec
	Workloads  []string // of "w1", "w2", "w3"; all when empty
	Contenders []string // contender names; all when empty
	BinDir     string   // the Go contenders' binaries
	StreamsJar string
	Java       string
	JavaOpts   string
	WorkDir    string        // state folders and logs
	Timeout    time.Duration // per contender and workload; 0: from the record count
	Settle     time.Duration // pause between contenders
	Repeat     int           // runs per contender and workload; the median counts
	LingerMS   int           // producer linger of every contender
	BatchBytes int           // producer batch size of every contender
	CommitMS   int           // commit interval of every contender (default 100)

	// W4, latency under steady load.
	W4Rates      []int         // fixed input rates, records/s (default 10,000)
	W4W1Fraction float64       // also this fraction of each contender's W1 rate of this run; 0: no
	W4Warmup     time.Duration // from the first output until the steady phase (default 5s)
	W4Duration   time.Duration // the steady phase (default 30s)
	W4Window     time.Duration // the join and restart phases (default 15s)
	W4Drain      time.Duration // the longest wait for outputs after the input stops (default 60s)
	W4StateKeys  int           // keys preloaded into the changelog of a stateful contender (default Spec.Records)
	KeepTopics   bool
	BrokerDesc   string // e.g. "Apache Kafka 4.4.0, single-node KRaft"
	Command      string // the exact command line, for the report
	Revision     string // the kafmesh revision measured, for the report
	Progress     io.Writer
}

// Workloads are the workload ids in order.
var Workloads = []string{"w1", "w2", "w3", "w4"}

// Result is one contender on one workload.
type Result struct {
	Workload  string
	Contender Contender
	Err       error // the run failed or its output was wrong: no numbers count
	Items     int   // records processed (W1, W3) or keys restored (W2)
	Wall      time.Duration
	Startup   time.Duration // process start to first record read
	CPU       float64       // seconds, over Wall
	PeakRSS   int64
	Load      string
	// RoundRates is the rate of each run this result is the median of,
	// in round order (contenders take turns, so round i of two contenders
	// ran under similar load); empty for a single or failed run.
	RoundRates []float64
}

// RateRange is the lowest and highest rate of the runs.
func (r Result) RateRange() (lo, hi float64) {
	if len(r.RoundRates) == 0 {
		return r.Rate(), r.Rate()
	}
	return slices.Min(r.RoundRates), slices.Max(r.RoundRates)
}

// Rate is items per second of wall time.
func (r Result) Rate() float64 {
	if r.Err != nil || r.Wall <= 0 {
		return 0
	}
	return float64(r.Items) / r.Wall.Seconds()
}

// Report is a whole run.
type Report struct {
	Config   Config
	Machine  Machine
	Started  time.Time
	Finished time.Time
	LoadEnd  string
	Results  []Result
	// Latencies are W4's results, in run order.
	Latencies []LatencyResult
	// RestoreLimit is W2's limit: a bare franz-go read of the same
	// changelog into Pebble (zero when W2 did not run).
	RestoreLimit time.Duration
}

func (cfg *Config) logf(format string, args ...any) {
	if cfg.Progress != nil {
		fmt.Fprintf(cfg.Progress, "kmbench: "+format+"\n", args...)
	}
}

// Run runs the configured workloads for the configured contenders.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.Spec.Validate(); err != nil {
		return nil, err
	}
	contenders, err := selectContenders(cfg.Contenders)
	if err != nil {
		return nil, err
	}
	workloads := cfg.Workloads
	if len(workloads) == 0 {
		workloads = Workloads
	}
	for _, w := range workloads {
		if !slices.Contains(Workloads, w) {
			return nil, fmt.Errorf("unknown workload %q (known: w1, w2, w3, w4)", w)
		}
	}
	if cfg.LingerMS == 0 {
		cfg.LingerMS = 5
	}
	if cfg.BatchBytes == 0 {
		cfg.BatchBytes = 1 << 20
	}
	if cfg.CommitMS == 0 {
		cfg.CommitMS = 100
	}
	if len(cfg.W4Rates) == 0 && cfg.W4W1Fraction == 0 {
		cfg.W4Rates = []int{10_000}
	}
	cfg.W4Warmup = cmp.Or(cfg.W4Warmup, 5*time.Second)
	cfg.W4Duration = cmp.Or(cfg.W4Duration, 30*time.Second)
	cfg.W4Window = cmp.Or(cfg.W4Window, 15*time.Second)
	cfg.W4Drain = cmp.Or(cfg.W4Drain, time.Minute)
	if cfg.W4StateKeys == 0 {
		cfg.W4StateKeys = cfg.Spec.Records
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 2*time.Minute + time.Duration(cfg.Spec.Records/2000)*time.Second
	}
	if err := os.MkdirAll(filepath.Join(cfg.WorkDir, "logs"), 0o755); err != nil {
		return nil, err
	}
	k, err := dialKafka(cfg.Brokers)
	if err != nil {
		return nil, err
	}
	defer k.close()
	ld, err := newLoader(cfg.Brokers)
	if err != nil {
		return nil, err
	}
	defer ld.close()

	rep := &Report{Config: cfg, Machine: describeMachine(cfg), Started: time.Now()}
	r := &runner{cfg: cfg, k: k, ld: ld, prefix: fmt.Sprintf("kmb%d", time.Now().Unix())}
	if !cfg.KeepTopics {
		defer func() {
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			if err := k.deletePrefix(dctx, r.prefix); err != nil {
				cfg.logf("could not delete the run's topics (%s*): %v", r.prefix, err)
			}
		}()
	}
	// The W3 tables go in before the input, so their records are older
	// than every input record: Kafka Streams joins by timestamp, and a
	// table row newer than an event would not be joined with it.
	if slices.Contains(workloads, "w3") {
		if err := r.loadTables(ctx); err != nil {
			return rep, err
		}
	}
	if slices.Contains(workloads, "w1") || slices.Contains(workloads, "w3") {
		if err := r.loadInput(ctx); err != nil {
			return rep, err
		}
	}
	for _, w := range Workloads {
		if !slices.Contains(workloads, w) {
			continue
		}
		if w == "w4" {
			if err := r.latencies(ctx, contenders, rep); err != nil {
				return rep, err
			}
			continue
		}
		if w == "w2" {
			limit, err := r.restoreLimit(ctx)
			if err != nil {
				return rep, fmt.Errorf("w2 limit: %w", err)
			}
			rep.RestoreLimit = limit
		}
		results, err := r.workload(ctx, w, contenders)
		rep.Results = append(rep.Results, results...)
		if err != nil {
			return rep, err
		}
	}
	rep.Finished, rep.LoadEnd = time.Now(), loadAverage()
	return rep, nil
}

type runner struct {
	cfg    Config
	k      *kafka
	ld     *loader
	prefix string

	input     string // W1 and W3 input, loaded once
	inputEnds map[int32]int64

	join, lookup string // W3 tables
}

func (r *runner) workload(ctx context.Context, w string, contenders []Contender) ([]Result, error) {
	spec := r.cfg.Spec
	join, lookup := r.join, r.lookup
	var probes string
	var probeEnds map[int32]int64
	if w == "w2" {
		probes = r.prefix + "-w2-probes"
		if err := r.k.createTopics(ctx, spec.Partitions, false, probes); err != nil {
			return nil, err
		}
		if err := r.ld.load(ctx, probes, spec.Probes, func(p int) (string, []byte) {
			return workload.RestoreKey(spec.Probe(p)), spec.InputValue(p)
		}); err != nil {
			return nil, err
		}
		var err error
		if probeEnds, err = r.k.endOffsets(ctx, probes); err != nil {
			return nil, err
		}
	}

	// Repeats go round the contenders, so a change in the machine's load
	// spreads over all of them instead of hitting one.
	runs := map[string][]Result{}
	first := true
	for rep := range max(r.cfg.Repeat, 1) {
		for _, c := range contenders {
			if w == "w2" && c.changelog == nil {
				continue // nothing to restore
			}
			if !first && r.cfg.Settle > 0 {
				time.Sleep(r.cfg.Settle)
			}
			first = false
			res, err := r.once(ctx, w, c, rep, workloadTopics{join: join, lookup: lookup, probes: probes, probeEnds: probeEnds})
			if err != nil {
				return nil, err
			}
			runs[c.Name] = append(runs[c.Name], res)
		}
	}
	var results []Result
	for _, c := range contenders {
		if rs := runs[c.Name]; len(rs) > 0 {
			results = append(results, median(rs))
		}
	}
	return results, nil
}

// loadTables creates and loads W3's join and lookup tables.
func (r *runner) loadTables(ctx context.Context) error {
	spec := r.cfg.Spec
	join, lookup := r.prefix+"-w3-join", r.prefix+"-w3-lookup"
	if err := r.k.createTopics(ctx, spec.Partitions, true, join, lookup); err != nil {
		return err
	}
	start := time.Now()
	if err := r.ld.load(ctx, join, spec.Keys, func(i int) (string, []byte) {
		return fmt.Sprintf("key-%d", i), workload.StringValue(spec.Customer(i))
	}); err != nil {
		return err
	}
	if err := r.ld.load(ctx, lookup, spec.Customers, func(i int) (string, []byte) {
		c := fmt.Sprintf("cust-%d", i)
		return c, workload.StringValue(workload.CustomerName(c))
	}); err != nil {
		return err
	}
	r.cfg.logf("w3: loaded %d join rows and %d lookup rows in %s", spec.Keys, spec.Customers, time.Since(start).Round(time.Millisecond))
	r.join, r.lookup = join, lookup
	return nil
}

// loadInput creates and loads the W1/W3 input once per run.
func (r *runner) loadInput(ctx context.Context) error {
	if r.input != "" {
		return nil
	}
	spec := r.cfg.Spec
	topic := r.prefix + "-input"
	if err := r.k.createTopics(ctx, spec.Partitions, false, topic); err != nil {
		return err
	}
	start := time.Now()
	if err := r.ld.load(ctx, topic, spec.Records, func(i int) (string, []byte) {
		return spec.Key(i), spec.InputValue(i)
	}); err != nil {
		return err
	}
	ends, err := r.k.endOffsets(ctx, topic)
	if err != nil {
		return err
	}
	r.cfg.logf("loaded %d input records into %s in %s", spec.Records, topic, time.Since(start).Round(time.Millisecond))
	r.input, r.inputEnds = topic, ends
	return nil
}

func joinComma(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += ","
		}
		out += x
	}
	return out
}
