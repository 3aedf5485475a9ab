package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

const (
	// records per pipeline and scenario; each scenario runs an
	// at-least-once and an exactly-once pipeline side by side.
	records    = 50_000
	keys       = 1_000
	partitions = 6
	// sessionTimeout is the instances' consumer group session timeout
	// (the broker's minimum), so a dead or paused member is noticed fast.
	sessionTimeout = 6 * time.Second
	// shutdownLimit is how long an instance may take to exit after
	// SIGTERM: the runtime's shutdown deadline (30s) and some slack.
	shutdownLimit = 40 * time.Second
	// drainLimit bounds the wait for the last input to be committed
	// after the faults; a pipeline still behind then has stalled.
	drainLimit = 90 * time.Second
	// probeFrom is the first id of the probe records.
	probeFrom = 1_000_000_000
)

// scenario is one fault, injected while the input is produced at a steady
// rate into both pipelines.
type scenario struct {
	name      string
	instances int
	produce   time.Duration // how long the input takes to produce
	policy    string        // the instances' error policy
	poison    int           // poison records mixed into the input
	crash     func(p *pipeline, name string, start int) []string
	fault     func(f *faults)
	// cluster runs the scenario on a three-node cluster (topics replicated
	// three times, two in sync) instead of the single broker: a restarted
	// node's partitions keep a leader on the others, as in production.
	cluster bool
}

// faults is what a scenario's fault function works with.
type faults struct {
	t  *testing.T
	b  *broker
	ps []*pipeline
}

// each runs fn for every pipeline at once and waits for all of them.
func (f *faults) each(fn func(p *pipeline)) {
	var wg sync.WaitGroup
	for _, p := range f.ps {
		wg.Add(1)
		go func() { defer wg.Done(); fn(p) }()
	}
	wg.Wait()
}

// killAndRestart kills instance name with SIGKILL and starts it again at
// once, on the same state directory, like a supervisor would.
func (f *faults) killAndRestart(name string) {
	f.each(func(p *pipeline) {
		p.kill(name, syscall.SIGKILL)
		if !p.wait(name, 10*time.Second) {
			f.t.Errorf("%s: %s did not die of SIGKILL", p.mode(), name)
		}
		p.start(name)
	})
}

func (f *faults) brokerRestart(sig syscall.Signal, down time.Duration) {
	d, err := f.b.restart(sig, down)
	if err != nil {
		f.t.Fatalf("broker restart: %v", err)
	}
	f.t.Logf("broker %v and restart: away for %s", sig, d.Round(time.Millisecond))
}

func scenarios() []scenario {
	return []scenario{
		{name: "kill9-loop", instances: 1, produce: 20 * time.Second, policy: "fail", fault: func(f *faults) {
			for range 4 {
				time.Sleep(3 * time.Second)
				f.killAndRestart("inst-0")
			}
		}},
		{name: "broker-sigterm", instances: 2, produce: 20 * time.Second, policy: "fail", fault: func(f *faults) {
			time.Sleep(4 * time.Second)
			f.brokerRestart(syscall.SIGTERM, 2*time.Second)
		}},
		{name: "broker-sigkill", instances: 2, produce: 20 * time.Second, policy: "fail", fault: func(f *faults) {
			time.Sleep(4 * time.Second)
			f.brokerRestart(syscall.SIGKILL, time.Second)
		}},
		{name: "pause-past-session", instances: 2, produce: 30 * time.Second, policy: "fail", fault: func(f *faults) {
			// Each instance in turn freezes past the session timeout and
			// wakes up as a zombie whose partitions have moved.
			for _, name := range []string{"inst-1", "inst-0"} {
				time.Sleep(4 * time.Second)
				f.each(func(p *pipeline) { p.kill(name, syscall.SIGSTOP) })
				time.Sleep(sessionTimeout + 4*time.Second)
				f.each(func(p *pipeline) { p.kill(name, syscall.SIGCONT) })
			}
		}},
		{name: "churn-3", instances: 3, produce: 24 * time.Second, policy: "fail", fault: func(f *faults) {
			step := func(d time.Duration, fn func(p *pipeline)) { time.Sleep(d); f.each(fn) }
			step(3*time.Second, func(p *pipeline) { p.stop("inst-0") })
			step(2*time.Second, func(p *pipeline) { p.start("inst-0") })
			step(3*time.Second, func(p *pipeline) {
				p.kill("inst-1", syscall.SIGKILL)
				p.wait("inst-1", 10*time.Second)
				p.start("inst-1")
			})
			step(3*time.Second, func(p *pipeline) { p.stop("inst-2") })
			step(2*time.Second, func(p *pipeline) { p.start("inst-3") })
			step(3*time.Second, func(p *pipeline) {
				p.kill("inst-0", syscall.SIGKILL)
				p.wait("inst-0", 10*time.Second)
				p.start("inst-0")
			})
		}},
		{name: "crash-in-commit", instances: 1, produce: 20 * time.Second, policy: "fail",
			crash: func(p *pipeline, _ string, start int) []string {
				// Four crashes, at both points of a commit, then a
				// clean run. Commits come every 100ms with exactly-once
				// and every second at-least-once.
				if start >= 4 {
					return nil
				}
				point, n := "changelog", 10+4*start
				if start%2 == 1 {
					point, n = "request", 2+start
					if p.exactlyOnce {
						n = 15 + 5*start
					}
				}
				return []string{"-crash-in-commit", strconv.Itoa(n), "-crash-point", point}
			},
			fault: func(f *faults) {}},
		{name: "poison-records", instances: 1, produce: 12 * time.Second, policy: "deadletter", poison: 40, fault: func(f *faults) {}},
		// The cluster scenarios last: TestChaos starts their cluster only
		// for them, so its three extra brokers never load the machine
		// during the timing-sensitive single-broker scenarios.
		{name: "cluster-broker-sigterm", instances: 2, produce: 20 * time.Second, policy: "fail", cluster: true, fault: func(f *faults) {
			time.Sleep(4 * time.Second)
			f.brokerRestart(syscall.SIGTERM, 2*time.Second)
		}},
		{name: "cluster-broker-sigkill", instances: 2, produce: 20 * time.Second, policy: "fail", cluster: true, fault: func(f *faults) {
			time.Sleep(4 * time.Second)
			f.brokerRestart(syscall.SIGKILL, time.Second)
		}},
	}
}

// TestChaos runs every scenario against a broker of its own, the cluster
// scenarios last, on a three-node cluster started for them (subtest
// "cluster"). It needs KAFMESH_CHAOS=1 and Java (for Apache Kafka); it
// takes several minutes.
func TestChaos(t *testing.T) {
	if os.Getenv("KAFMESH_CHAOS") == "" {
		t.Skip("chaos suite: set KAFMESH_CHAOS=1 to run it (needs Java 17+ and a few minutes; scripts/test.sh does)")
	}
	suiteStart := time.Now()
	// Build the service while the broker starts.
	bin := filepath.Join(t.TempDir(), "counter")
	built := make(chan error, 1)
	go func() {
		out, err := exec.Command("go", "build", "-o", bin, "./counter").CombinedOutput()
		if err != nil {
			err = fmt.Errorf("%w\n%s", err, out)
		}
		built <- err
	}()
	b := startBroker(t)
	if err := <-built; err != nil {
		t.Fatalf("build the counter service: %v", err)
	}
	t.Logf("broker started and counter built in %s", time.Since(suiteStart).Round(time.Millisecond))
	only := os.Getenv("KAFMESH_CHAOS_RUN") // a comma-separated subset, for debugging
	if only != "" {
		// A name that matches no scenario must not pass as a run of it
		// (scripts/test.sh reruns failed scenarios by name).
		for _, name := range strings.Split(only, ",") {
			if !slices.ContainsFunc(scenarios(), func(sc scenario) bool { return sc.name == name }) {
				t.Fatalf("KAFMESH_CHAOS_RUN names %q, which is no scenario", name)
			}
		}
	}
	var summary []string
	var onCluster []scenario
	for _, sc := range scenarios() {
		if only != "" && !slices.Contains(strings.Split(only, ","), sc.name) {
			continue
		}
		if sc.cluster {
			onCluster = append(onCluster, sc)
			continue
		}
		t.Run(sc.name, func(t *testing.T) {
			summary = append(summary, runScenario(t, b, bin, sc)...)
		})
	}
	// The cluster scenarios run after all others, inside one subtest that
	// owns the cluster: a cluster that does not start fails (or skips)
	// only them, and its nodes stop as soon as they are done.
	var cluster *broker
	if len(onCluster) > 0 {
		t.Run("cluster", func(t *testing.T) {
			start := time.Now()
			cluster = startCluster(t, "cluster", 3)
			t.Logf("three-node cluster started in %s", time.Since(start).Round(time.Millisecond))
			for _, sc := range onCluster {
				t.Run(sc.name, func(t *testing.T) {
					summary = append(summary, runScenario(t, cluster, bin, sc)...)
				})
			}
		})
	}
	outages := fmt.Sprintf("broker outages %v", b.outages)
	if cluster != nil {
		outages += fmt.Sprintf(", cluster outages %v", cluster.outages)
	}
	t.Logf("chaos suite: %d scenarios in %s; %s", len(summary)/2, time.Since(suiteStart).Round(time.Second), outages)
	for _, s := range summary {
		t.Log("chaos summary: " + s)
	}
}

// eosBrokerRestartQuarantine names the scenarios whose exactly-once
// pipeline is quarantined. After a single broker restarts, Kafka can leave
// a completed transaction's marker unwritten on a partition (its
// coordinator skips partitions whose leader it does not know yet, taking
// them for deleted): the group then hangs on UNSTABLE_OFFSET_COMMIT, or a
// later marker of the same producer closes the partition with the wrong
// result. The runtime reports such a hanging transaction (it logs it and
// sets kafmesh_processor_hanging_transactions) and `kafmesh offsets
// hanging --abort` ends it, but it cannot end it safely by itself
// (docs/testing.md). Set KAFMESH_CHAOS_QUARANTINED=1 to run them anyway.
var eosBrokerRestartQuarantine = []string{"broker-sigterm", "broker-sigkill"}

func quarantined(t *testing.T, scenario string) bool {
	if os.Getenv("KAFMESH_CHAOS_QUARANTINED") != "" || !slices.Contains(eosBrokerRestartQuarantine, scenario) {
		return false
	}
	t.Logf("QUARANTINED: %s exactly-once is not run: a broker restart can leave a transaction hanging in Kafka (docs/testing.md); KAFMESH_CHAOS_QUARANTINED=1 runs it", scenario)
	return true
}

// stateRoot is the folder of a pipeline's instances (state and logs): a
// temporary one, or, with KAFMESH_CHAOS_KEEP=DIR, DIR/<name>, kept after the
// test so the instances' logs can be read.
func stateRoot(t *testing.T, name string) string {
	keep := os.Getenv("KAFMESH_CHAOS_KEEP")
	if keep == "" {
		return t.TempDir()
	}
	dir := filepath.Join(keep, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func runScenario(t *testing.T, b *broker, bin string, sc scenario) []string {
	start := time.Now()
	adm := kadm.NewClient(newClient(t, b.addr))
	var ps []*pipeline
	tag := fmt.Sprintf("%s-%d", sc.name, time.Now().UnixNano()%1_000_000)
	for _, eos := range []bool{false, true} {
		if eos && quarantined(t, sc.name) {
			continue
		}
		mode := "alo"
		if eos {
			mode = "eos"
		}
		p := &pipeline{t: t, b: b, bin: bin, exactlyOnce: eos, policy: sc.policy,
			in: "chaos-in-" + tag + "-" + mode, out: "chaos-out-" + tag + "-" + mode, group: "chaos-" + tag + "-" + mode,
			stateRoot: stateRoot(t, tag+"-"+mode), crashArgs: sc.crash, instances: map[string]*instance{}}
		createTopics(t, adm, partitions, b.rf, map[string]bool{p.group + "-table": true}, p.in, p.out, p.group+"-table", p.group+"-dlq")
		ps = append(ps, p)
	}
	for _, p := range ps {
		for i := range sc.instances {
			p.start(fmt.Sprintf("inst-%d", i))
		}
		t.Cleanup(p.stopAll) // also when the test fails half-way
	}

	// Produce the input at a steady rate while the fault happens.
	var wg sync.WaitGroup
	for _, p := range ps {
		wg.Add(1)
		go func() { defer wg.Done(); produceInput(t, b.addr, p, sc) }()
	}
	f := &faults{t: t, b: b, ps: ps}
	faultStart := time.Now()
	sc.fault(f)
	t.Logf("faults done after %s", time.Since(faultStart).Round(time.Millisecond))
	wg.Wait()
	phase := time.Now()
	since := func() time.Duration {
		d := time.Since(phase).Round(time.Millisecond)
		phase = time.Now()
		return d
	}
	t.Logf("input produced after %s", time.Since(faultStart).Round(time.Millisecond))

	// Wait for the input to be committed, then stop the instances.
	stalled := make([]string, len(ps))
	f.each(func(p *pipeline) {
		for i, q := range ps {
			if q == p {
				stalled[i] = committedAll(adm, p.group, p.in, drainLimit)
				if stalled[i] != "" && p.exactlyOnce {
					stalled[i] += " (" + transactionReport(adm, p.group, p.out, p.group+"-table") + ")"
				}
			}
		}
		p.stopAll()
	})

	t.Logf("drained and stopped in %s", since())

	// A fresh instance restores the state from the changelog and counts
	// one probe record per key: its counts show the state as restored.
	f.each(func(p *pipeline) {
		p.mu.Lock()
		p.stopping = false
		p.crashArgs = nil
		p.mu.Unlock()
		p.start("probe")
		cl := newClient(t, b.addr, kgo.DefaultProduceTopic(p.in))
		var rs []*kgo.Record
		for k := range keys {
			v, _ := proto.Marshal(wrapperspb.String(strconv.Itoa(probeFrom + k)))
			rs = append(rs, &kgo.Record{Key: []byte(keyOf(k)), Value: v})
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
			t.Errorf("%s: produce probes: %v", p.mode(), err)
		}
		cancel()
		if behind := committedAll(adm, p.group, p.in, 60*time.Second); behind != "" {
			if p.exactlyOnce {
				behind += " (" + transactionReport(adm, p.group, p.out, p.group+"-table") + ")"
			}
			t.Errorf("%s: the probe instance did not finish: %s", p.mode(), behind)
		}
		p.stopAll()
	})

	t.Logf("probes done in %s", since())
	var lines []string
	for i, p := range ps {
		open := openTransactions(adm, p.out, p.group+"-table")
		rs := readBack(t, adm, b.addr, 500*time.Millisecond, p.in, p.out, p.group+"-table", p.group+"-dlq")
		ins, outs, log, dead := decode(p, rs, probeFrom)
		r := Check(p.exactlyOnce, ins, outs, log, dead)
		t.Logf("%s: read back %d records in %s", p.mode(), len(rs), since())
		fails := r.Failed()
		if stalled[i] != "" {
			fails = append(fails, "stalled: input not committed "+drainLimit.String()+" after the faults: "+stalled[i])
		}
		if open != "" {
			fails = append(fails, "transactions left open: "+open)
		}
		if n := len(p.unexpect); n > 0 {
			fails = append(fails, fmt.Sprintf("%d unexpected exits: %s", n, strings.Join(p.unexpect, "; ")))
		}
		line := fmt.Sprintf("%-18s %s; unexpected exits %d", sc.name, r.Summary(), len(p.unexpect))
		t.Log(line)
		for _, e := range r.Examples {
			t.Logf("  %s: %s", p.mode(), e)
		}
		for _, fl := range fails {
			t.Errorf("%s %s: %s", sc.name, p.mode(), fl)
		}
		if len(fails) > 0 {
			for name, in := range p.instances {
				t.Logf("  %s log of %s (%d starts): %s", p.mode(), name, in.starts, in.logPath)
			}
		}
		lines = append(lines, fmt.Sprintf("%s (scenario wall %s)", line, time.Since(start).Round(time.Second)))
	}
	return lines
}

func keyOf(k int) string { return fmt.Sprintf("k%04d", k) }

// produceInput produces the pipeline's input at a steady rate over
// sc.produce: records good records (id i has key i mod keys) with
// sc.poison poison records spread among them.
func produceInput(t *testing.T, addr string, p *pipeline, sc scenario) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(addr, ",")...), kgo.DefaultProduceTopic(p.in), kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		t.Error(err)
		return
	}
	defer cl.Close()
	var mu sync.Mutex
	var firstErr error
	promise := func(_ *kgo.Record, err error) {
		if err != nil {
			mu.Lock()
			if firstErr == nil {
				firstErr = err
			}
			mu.Unlock()
		}
	}
	rng := rand.New(rand.NewPCG(uint64(len(sc.name)), 7))
	poisonEvery := 0
	if sc.poison > 0 {
		poisonEvery = records / sc.poison
	}
	start := time.Now()
	ctx := context.Background()
	for i := 0; i < records; {
		due := min(records, int(float64(records)*time.Since(start).Seconds()/sc.produce.Seconds()))
		for ; i < due; i++ {
			if poisonEvery > 0 && i%poisonEvery == poisonEvery/2 {
				bad := poisonValues[(i/poisonEvery)%len(poisonValues)]
				cl.Produce(ctx, &kgo.Record{Key: []byte(keyOf(rng.IntN(keys))), Value: bad}, promise)
			}
			v, _ := proto.Marshal(wrapperspb.String(strconv.Itoa(i)))
			cl.Produce(ctx, &kgo.Record{Key: []byte(keyOf(i % keys)), Value: v}, promise)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := cl.Flush(ctx); err != nil {
		t.Errorf("%s: flush input: %v", p.mode(), err)
	}
	if firstErr != nil {
		t.Errorf("%s: produce input: %v", p.mode(), firstErr)
	}
}
