package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafmesh/kafmesh/bench/internal/workload"
)

// W4 measures latency under steady load: the harness produces the input at
// a fixed rate while the contender runs, and a read_committed consumer of
// the output takes, for every output, the time from its input's timestamp
// (set by the harness when it produced the input) to the moment the
// consumer sees the output. An output of W1's count-by-key is (key, n): the
// n-th input of that key, so every output names its input without the
// contenders' help.
//
// Phases, one after another in one run of a contender: steady (after a
// warm-up from the first output), then for contenders with state a second
// instance joining the group (rebalance), that instance leaving again (not
// measured), and a restart of the first instance with its state folder and
// a changelog preloaded with W4StateKeys keys. A record belongs to the phase
// in which it was produced.

// LatencyPhase names a W4 phase.
type LatencyPhase string

// The W4 phases.
const (
	PhaseSteady  LatencyPhase = "steady"
	PhaseJoin    LatencyPhase = "join"
	PhaseRestart LatencyPhase = "restart"
)

// LatencyResult is one contender at one input rate in one W4 phase.
type LatencyResult struct {
	Contender Contender
	Rate      int // target input records/s
	Achieved  float64
	Phase     LatencyPhase
	Window    time.Duration
	Err       error
	Records   int64 // outputs measured
	Missing   int64 // inputs of the phase whose output never came
	P50, P99  time.Duration
	P999, Max time.Duration
	CPU       float64 // contender CPU seconds per second over the phase
	Load      string
}

// latencyLimit is the highest latency the histograms track.
const latencyLimit = 10 * time.Minute

// w4Rates returns the input rates of W4 for contender c: the configured
// fixed rates, plus the configured fraction of c's W1 median rate of this
// run when W1 ran for it.
func (r *runner) w4Rates(c Contender, rep *Report) []int {
	rates := append([]int(nil), r.cfg.W4Rates...)
	if f := r.cfg.W4W1Fraction; f > 0 {
		if res, ok := rep.result("w1", c.Name); ok && res.Err == nil && res.Rate() > 0 {
			rates = append(rates, int(res.Rate()*f))
		}
	}
	return rates
}

// latencies runs W4 for every contender and rate, rates outermost so the
// contenders of one rate run close together.
func (r *runner) latencies(ctx context.Context, contenders []Contender, rep *Report) error {
	for _, c := range contenders {
		for _, rate := range r.w4Rates(c, rep) {
			if rate <= 0 {
				continue
			}
			res, err := r.latencyRun(ctx, c, rate)
			rep.Latencies = append(rep.Latencies, res...)
			if err != nil {
				return err
			}
			if r.cfg.Settle > 0 {
				time.Sleep(r.cfg.Settle)
			}
		}
	}
	return nil
}

// latencyRun runs contender c through the W4 phases at rate records/s.
func (r *runner) latencyRun(ctx context.Context, c Contender, rate int) ([]LatencyResult, error) {
	spec, cfg := r.cfg.Spec, r.cfg
	group := fmt.Sprintf("%s-w4-%s-%d", r.prefix, c.Name, rate)
	input, output := group+"-in", group+"-out"
	stateful := c.changelog != nil
	phases := []LatencyPhase{PhaseSteady}
	if stateful {
		phases = append(phases, PhaseJoin, PhaseRestart)
	}
	fail := func(err error) ([]LatencyResult, error) {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		r.cfg.logf("w4: %s at %d/s FAILED: %v", c.Label, rate, err)
		var out []LatencyResult
		for _, p := range phases {
			out = append(out, LatencyResult{Contender: c, Rate: rate, Phase: p, Err: err})
		}
		return out, nil
	}
	if err := r.k.createTopics(ctx, spec.Partitions, false, input, output); err != nil {
		return fail(err)
	}
	if c.stateTopicsCreated != nil {
		if err := r.k.createTopics(ctx, spec.Partitions, true, c.stateTopicsCreated(group)...); err != nil {
			return fail(err)
		}
	}
	if stateful && cfg.W4StateKeys > 0 {
		changelog := c.changelog(group)
		if c.stateTopicsCreated == nil {
			if err := r.k.createTopics(ctx, spec.Partitions, true, changelog); err != nil {
				return fail(err)
			}
		}
		start := time.Now()
		if err := r.ld.load(ctx, changelog, cfg.W4StateKeys, func(i int) (string, []byte) {
			return workload.RestoreKey(i), c.changelogValue(workload.RestoredCount(i))
		}); err != nil {
			return fail(err)
		}
		r.cfg.logf("w4: loaded %d keys of state into %s in %s", cfg.W4StateKeys, changelog, time.Since(start).Round(time.Millisecond))
	}

	tr := newTracker(spec.Keys)
	cctx, stopConsumer := context.WithCancel(ctx)
	defer stopConsumer()
	consumed := make(chan error, 1)
	go func() { consumed <- tr.consume(cctx, cfg.Brokers, output) }()

	args := func(instance int) []string {
		return []string{"--brokers", joinComma(cfg.Brokers), "--group", group, "--output", output,
			"--state-dir", filepath.Join(cfg.WorkDir, "state", fmt.Sprintf("%s-%d", group, instance)),
			"--linger-ms", fmt.Sprint(cfg.LingerMS), "--batch-bytes", fmt.Sprint(cfg.BatchBytes),
			"--commit-ms", fmt.Sprint(cfg.CommitMS), "--fetch-max-wait-ms", "500", "--mode", "count", "--input", input}
	}
	logPath := func(instance, start int) string {
		return filepath.Join(cfg.WorkDir, "logs", fmt.Sprintf("w4-%s-%d-i%d-s%d.log", c.Name, rate, instance, start))
	}
	defer func() {
		for i := 1; i <= 2; i++ {
			_ = os.RemoveAll(filepath.Join(cfg.WorkDir, "state", fmt.Sprintf("%s-%d", group, i)))
		}
	}()
	r.cfg.logf("w4: running %s at %d records/s", c.Label, rate)
	load := loadAverage()
	first, err := startProcess(c, cfg, args(1), logPath(1, 1))
	if err != nil {
		return fail(err)
	}
	running := []*process{first}
	all := []*process{first} // every instance of this run, for CPU time
	defer func() {
		for _, p := range running {
			p.kill()
		}
	}()

	pctx, stopProducer := context.WithCancel(ctx)
	defer stopProducer()
	produced := make(chan error, 1)
	go func() { produced <- tr.produce(pctx, cfg.Brokers, input, rate, spec) }()

	// Warm up: from the first output, W4Warmup more.
	if err := waitFor(ctx, 3*time.Minute, func() bool { return tr.outputs.Load() > 0 }, running, produced); err != nil {
		return fail(fmt.Errorf("no output: %w", err))
	}
	if err := sleepWatching(ctx, cfg.W4Warmup, running, produced); err != nil {
		return fail(err)
	}
	type window struct {
		phase      LatencyPhase
		from, to   time.Time
		cpu0, cpu1 float64
	}
	var windows []window
	measure := func(p LatencyPhase, d time.Duration, during func() error) error {
		w := window{phase: p, from: time.Now()}
		w.cpu0 = cpuOf(all)
		if during != nil {
			if err := during(); err != nil {
				return err
			}
		}
		if err := sleepWatching(ctx, d-time.Since(w.from), running, produced); err != nil {
			return err
		}
		w.to = time.Now()
		w.cpu1 = cpuOf(all)
		windows = append(windows, w)
		return nil
	}
	if err := measure(PhaseSteady, cfg.W4Duration, nil); err != nil {
		return fail(err)
	}
	if stateful {
		// A second instance joins.
		if err := measure(PhaseJoin, cfg.W4Window, func() error {
			// It is stopped for good after the window (a scale-in):
			// a static member leaves its group then.
			second, err := startProcess(c, cfg, append(args(2), "--leave-on-stop=true"), logPath(2, 1))
			if err != nil {
				return err
			}
			running, all = append(running, second), append(all, second)
			return nil
		}); err != nil {
			return fail(err)
		}
		// It leaves again (a rebalance of its own, not measured).
		second := running[1]
		running = running[:1]
		if err := second.stop(time.Minute); err != nil {
			return fail(err)
		}
		if err := sleepWatching(ctx, cfg.W4Warmup, running, produced); err != nil {
			return fail(err)
		}
		// The first restarts with its state folder.
		if err := measure(PhaseRestart, cfg.W4Window, func() error {
			if err := running[0].stop(time.Minute); err != nil {
				return err
			}
			again, err := startProcess(c, cfg, args(1), logPath(1, 2))
			if err != nil {
				return err
			}
			running[0], all = again, append(all, again)
			return nil
		}); err != nil {
			return fail(err)
		}
	}
	stopProducer()
	if err := <-produced; err != nil && !errors.Is(err, context.Canceled) {
		return fail(fmt.Errorf("produce input: %w", err))
	}
	// Drain: every measured input's output, or give up after W4Drain.
	last := windows[len(windows)-1].to
	_ = waitFor(ctx, cfg.W4Drain, func() bool { return tr.pendingBefore(last) == 0 }, running, nil)
	stopConsumer()
	if err := <-consumed; err != nil && !errors.Is(err, context.Canceled) {
		return fail(fmt.Errorf("read output: %w", err))
	}
	for _, p := range running {
		_ = p.stop(time.Minute)
	}
	running = nil

	var out []LatencyResult
	for _, w := range windows {
		h, missing, inputs := tr.histogram(w.from, w.to)
		d := w.to.Sub(w.from)
		res := LatencyResult{Contender: c, Rate: rate, Phase: w.phase, Window: d, Records: h.TotalCount(), Missing: missing,
			Achieved: float64(inputs) / d.Seconds(), CPU: (w.cpu1 - w.cpu0) / d.Seconds(), Load: load,
			P50: micros(h.ValueAtQuantile(50)), P99: micros(h.ValueAtQuantile(99)),
			P999: micros(h.ValueAtQuantile(99.9)), Max: micros(h.Max())}
		if h.TotalCount() == 0 {
			res.Err = fmt.Errorf("no output of the %d inputs of the %s phase", inputs, w.phase)
		}
		out = append(out, res)
		r.cfg.logf("w4: %s at %d/s, %s: p50 %s p99 %s p99.9 %s max %s (%d outputs, %d missing, CPU %.2f)",
			c.Label, rate, w.phase, res.P50, res.P99, res.P999, res.Max, res.Records, res.Missing, res.CPU)
	}
	return out, nil
}

func micros(us int64) time.Duration { return time.Duration(us) * time.Microsecond }

// cpuOf is the CPU seconds the processes used so far: from /proc while
// one runs, from its exit status once it has exited.
func cpuOf(ps []*process) float64 {
	var sum float64
	for _, p := range ps {
		if p.exited() {
			if st := p.cmd.ProcessState; st != nil {
				sum += (st.UserTime() + st.SystemTime()).Seconds()
			}
		} else if c, err := cpuSeconds(p.cmd.Process.Pid); err == nil {
			sum += c
		}
	}
	return sum
}

// waitFor polls done every 10ms until it holds, a process exits, the
// producer fails, or limit passes.
func waitFor(ctx context.Context, limit time.Duration, done func() bool, ps []*process, produced <-chan error) error {
	deadline := time.Now().Add(limit)
	for !done() {
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %s", limit)
		}
		if err := sleepWatching(ctx, 10*time.Millisecond, ps, produced); err != nil {
			return err
		}
	}
	return nil
}

// sleepWatching sleeps d, failing early when a process exits or the
// producer stops.
func sleepWatching(ctx context.Context, d time.Duration, ps []*process, produced <-chan error) error {
	if d <= 0 {
		return nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
			return nil
		case err := <-produced:
			return fmt.Errorf("the input producer stopped: %v", err)
		case <-tick.C:
			for _, p := range ps {
				if p.exited() {
					return fmt.Errorf("%s exited early: %v (log: %s)", p.name, p.err, p.log)
				}
			}
		}
	}
}

// process is one running contender instance.
type process struct {
	name, log string
	cmd       *exec.Cmd
	logf      *os.File
	done      chan struct{}
	err       error
}

func startProcess(c Contender, cfg Config, args []string, logPath string) (*process, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := c.cmd(cfg, args)
	fmt.Fprintf(logf, "$ %s\n", strings.Join(cmd.Args, " "))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", c.Name, err)
	}
	p := &process{name: c.Name, log: logPath, cmd: cmd, logf: logf, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	return p, nil
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM and waits up to grace for the exit, then kills.
func (p *process) stop(grace time.Duration) error {
	if p.exited() {
		return nil
	}
	exited := make(chan error, 1)
	go func() { <-p.done; exited <- p.err }()
	return stop(p.cmd.Process, exited, grace)
}

func (p *process) kill() {
	if !p.exited() {
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// tracker keeps the produce time of every input per key, in order, and
// the latency of the first output seen for each.
type tracker struct {
	start time.Time

	mu      sync.Mutex
	sent    [][]int32 // key index -> produce time of its n-th input, µs since start
	seen    [][]int32 // key index -> latency of its n-th output, µs (0: not seen)
	outputs atomic.Int64
}

func newTracker(keys int) *tracker {
	return &tracker{start: time.Now(), sent: make([][]int32, keys), seen: make([][]int32, keys)}
}

// produce writes the input at rate records/s until ctx ends: keys
// round-robin as in W1, each record's timestamp the moment it is handed to
// the client.
func (t *tracker) produce(ctx context.Context, brokers []string, topic string, rate int, spec workload.Spec) error {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerBatchMaxBytes(1<<20),
		kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)),
		kgo.MaxBufferedRecords(1<<20),
	)
	if err != nil {
		return err
	}
	defer cl.Close()
	values := make([][]byte, 1024)
	for i := range values {
		values[i] = spec.InputValue(i)
	}
	keys := make([][]byte, spec.Keys)
	for i := range keys {
		keys[i] = []byte(spec.Key(i))
	}
	var failed atomic.Value
	ack := func(_ *kgo.Record, err error) {
		if err != nil {
			failed.CompareAndSwap(nil, err)
		}
	}
	begin := time.Now()
	sent := 0
	for ctx.Err() == nil {
		due := int(time.Since(begin).Seconds() * float64(rate))
		for ; sent < due && ctx.Err() == nil; sent++ {
			k := sent % len(keys)
			now := time.Now()
			t.mu.Lock()
			t.sent[k] = append(t.sent[k], int32(now.Sub(t.start).Microseconds()))
			t.mu.Unlock()
			// Not ctx: a record the client still buffers when ctx ends
			// would fail, and its output would count as missing.
			cl.Produce(context.Background(), &kgo.Record{Topic: topic, Key: keys[k], Value: values[sent%len(values)], Timestamp: now}, ack)
		}
		if err, _ := failed.Load().(error); err != nil {
			return err
		}
		time.Sleep(time.Millisecond)
	}
	fctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := cl.Flush(fctx); err != nil {
		return fmt.Errorf("flush the input: %w", err)
	}
	if err, _ := failed.Load().(error); err != nil {
		return err
	}
	return ctx.Err()
}

// consume reads the output with read_committed until ctx ends and records
// each (key, n) output's latency the first time it is seen.
func (t *tracker) consume(ctx context.Context, brokers []string, topic string) error {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.FetchMaxWait(100*time.Millisecond),
	)
	if err != nil {
		return err
	}
	defer cl.Close()
	var bad error
	for ctx.Err() == nil {
		fs := cl.PollRecords(ctx, 10000)
		now := int32(time.Since(t.start).Microseconds())
		if err := fetchErr(fs); err != nil {
			return err
		}
		t.mu.Lock()
		fs.EachRecord(func(rec *kgo.Record) {
			k, n, err := decodeOutput(rec.Key, rec.Value)
			if err == nil && (k >= len(t.sent) || n > len(t.sent[k])) {
				err = fmt.Errorf("output %s=%d names an input that was never produced", rec.Key, n)
			}
			if err != nil {
				if bad == nil {
					bad = err
				}
				return
			}
			if len(t.seen[k]) < n {
				t.seen[k] = append(t.seen[k], make([]int32, n-len(t.seen[k]))...)
			}
			if t.seen[k][n-1] == 0 {
				t.seen[k][n-1] = max(now-t.sent[k][n-1], 1)
				t.outputs.Add(1)
			}
		})
		t.mu.Unlock()
		if bad != nil {
			return bad
		}
	}
	return ctx.Err()
}

func fetchErr(fs kgo.Fetches) error {
	var first error
	fs.EachError(func(topic string, p int32, err error) {
		if first == nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
			first = fmt.Errorf("fetch %s[%d]: %w", topic, p, err)
		}
	})
	return first
}

// decodeOutput reads a W1 output: key "key-<k>" and a
// google.protobuf.Int64Value count n >= 1.
func decodeOutput(key, value []byte) (k, n int, err error) {
	rest, ok := strings.CutPrefix(string(key), "key-")
	if !ok {
		return 0, 0, fmt.Errorf("output key %q is not an input key", key)
	}
	if k, err = strconv.Atoi(rest); err != nil {
		return 0, 0, fmt.Errorf("output key %q: %w", key, err)
	}
	var v uint64
	if len(value) >= 2 && value[0] == 0x08 {
		var shift uint
		for _, b := range value[1:] {
			v |= uint64(b&0x7f) << shift
			if b < 0x80 {
				break
			}
			shift += 7
		}
	}
	if v < 1 || v > 1<<31 {
		return 0, 0, fmt.Errorf("output %s: value %x is not a count", key, value)
	}
	return k, int(v), nil
}

// pendingBefore counts inputs produced before t whose output has not been
// seen.
func (t *tracker) pendingBefore(before time.Time) int {
	limit := int32(before.Sub(t.start).Microseconds())
	t.mu.Lock()
	defer t.mu.Unlock()
	pending := 0
	for k, sent := range t.sent {
		for n, at := range sent {
			if at >= limit {
				break
			}
			if n >= len(t.seen[k]) || t.seen[k][n] == 0 {
				pending++
			}
		}
	}
	return pending
}

// histogram returns the latencies (µs) of the inputs produced in [from,
// to), the number of those with no output, and the number of inputs.
func (t *tracker) histogram(from, to time.Time) (h *hdrhistogram.Histogram, missing, inputs int64) {
	lo, hi := int32(from.Sub(t.start).Microseconds()), int32(to.Sub(t.start).Microseconds())
	h = hdrhistogram.New(1, latencyLimit.Microseconds(), 3)
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, sent := range t.sent {
		for n, at := range sent {
			if at < lo || at >= hi {
				continue
			}
			inputs++
			if n < len(t.seen[k]) && t.seen[k][n] > 0 {
				_ = h.RecordValue(int64(t.seen[k][n]))
			} else {
				missing++
			}
		}
	}
	return h, missing, inputs
}
