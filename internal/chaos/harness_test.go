package chaos

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
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

	"github.com/kafmesh/kafmesh/runner"
)

// repoRoot is the module root (two levels up from this package).
func repoRoot(t testing.TB) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(wd, "..", "..")
}

// ---------------------------------------------------------------------------
// The broker: a single-node Kafka of the suite's own (scripts/kafka.sh with
// a run dir and ports nobody else uses), so it can be killed and restarted.
// ---------------------------------------------------------------------------

// broker is the suite's Kafka: one node, or a cluster of several whose
// first node is the one the broker faults restart. addr lists every node's
// address, comma-separated.
type broker struct {
	t       testing.TB
	script  string
	nodes   []brokerNode
	addr    string
	rf      int16      // replication of the topics the scenarios create
	mu      sync.Mutex // one restart at a time
	outages []time.Duration
}

type brokerNode struct {
	env    []string
	runDir string
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startBroker starts the suite's single-node broker, or skips the test
// when Java or the broker jars are not available.
func startBroker(t *testing.T) *broker { return startCluster(t, "broker", 1) }

// startCluster starts a KRaft cluster of n nodes (every node a controller
// and a broker; internal and scenario topics replicated n times, at least 2
// in sync when n > 1) in run dirs named name-<i>, all at once: a node of a
// multi-node cluster is ready only once a quorum runs.
func startCluster(t *testing.T, name string, n int) *broker {
	t.Helper()
	if _, err := exec.LookPath("java"); err != nil {
		t.Skip("chaos suite: no java on PATH; the suite runs its own Apache Kafka broker (scripts/kafka.sh needs Java 17+)")
	}
	b := &broker{t: t, script: filepath.Join(repoRoot(t), "scripts", "kafka.sh"), rf: int16(n)}
	ports, ctrls := make([]int, n), make([]int, n)
	var voters, addrs []string
	for i := range n {
		ports[i], ctrls[i] = freePort(t), freePort(t)
		voters = append(voters, fmt.Sprintf("%d@127.0.0.1:%d", i+1, ctrls[i]))
		addrs = append(addrs, fmt.Sprintf("127.0.0.1:%d", ports[i]))
	}
	b.addr = strings.Join(addrs, ",")
	cluster := ""
	if n > 1 {
		id := make([]byte, 16)
		if _, err := rand.Read(id); err != nil {
			t.Fatal(err)
		}
		cluster = "A" + base64.RawURLEncoding.EncodeToString(id)[1:] // a KRaft cluster id, never starting with "-"
	}
	for i := range n {
		dir := name
		if n > 1 {
			dir = fmt.Sprintf("%s-%d", name, i+1)
		}
		node := brokerNode{runDir: stateRoot(t, dir)}
		node.env = append(os.Environ(), "KAFMESH_RUN_DIR="+node.runDir, "KAFMESH_KAFKA_PORT="+strconv.Itoa(ports[i]),
			"KAFMESH_KAFKA_CONTROLLER_PORT="+strconv.Itoa(ctrls[i]))
		if n > 1 {
			node.env = append(node.env, "KAFMESH_KAFKA_NODE_ID="+strconv.Itoa(i+1), "KAFMESH_KAFKA_VOTERS="+strings.Join(voters, ","),
				"KAFMESH_KAFKA_CLUSTER_ID="+cluster, "KAFMESH_KAFKA_REPLICATION="+strconv.Itoa(n))
		}
		b.nodes = append(b.nodes, node)
	}
	if out, err := b.kafkaShNode(0, "fetch"); err != nil {
		t.Skipf("chaos suite: the Kafka jars are not available (scripts/kafka.sh fetch failed: %v)\n%s", err, out)
	}
	t.Cleanup(func() {
		// All at once: the last node of a cluster, alone, waits for a
		// quorum it cannot have before it gives up its controlled
		// shutdown.
		var wg sync.WaitGroup
		for i := range b.nodes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if out, err := b.kafkaShNode(i, "stop"); err != nil {
					t.Errorf("stop the chaos broker %d: %v\n%s", i+1, err, out)
				}
			}()
		}
		wg.Wait()
	})
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if out, err := b.kafkaShNode(i, "start"); err != nil {
				errs[i] = fmt.Errorf("node %d: %v\n%s", i+1, err, out)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("start the chaos broker: %v", err)
	}
	t.Logf("chaos broker: %d node(s) on %s (run dir %s)", n, b.addr, b.nodes[0].runDir)
	return b
}

func (b *broker) kafkaShNode(i int, cmd string) ([]byte, error) {
	c := exec.Command(b.script, cmd)
	c.Env = b.nodes[i].env
	return c.CombinedOutput()
}

// kafkaSh runs scripts/kafka.sh cmd for the first node, the one the
// broker faults restart.
func (b *broker) kafkaSh(cmd string) ([]byte, error) { return b.kafkaShNode(0, cmd) }

func (b *broker) pid() int {
	raw, err := os.ReadFile(filepath.Join(b.nodes[0].runDir, "kafka", "kafka.pid"))
	if err != nil {
		b.t.Fatalf("broker pid: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil {
		b.t.Fatalf("broker pid: %v", err)
	}
	return pid
}

// restart sends sig to the broker, waits for it to exit, waits down more,
// and starts it again on its data; it returns how long the broker was
// away (from the signal until it served again).
func (b *broker) restart(sig syscall.Signal, down time.Duration) (time.Duration, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	pid := b.pid()
	start := time.Now()
	if err := syscall.Kill(pid, sig); err != nil {
		return 0, fmt.Errorf("signal broker: %w", err)
	}
	for syscall.Kill(pid, 0) == nil {
		if time.Since(start) > 90*time.Second {
			return 0, errors.New("broker did not exit within 90s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(down)
	if out, err := b.kafkaSh("resume"); err != nil {
		return 0, fmt.Errorf("resume broker: %v\n%s", err, out)
	}
	d := time.Since(start)
	b.outages = append(b.outages, d)
	return d, nil
}

// ---------------------------------------------------------------------------
// Instances: counter processes, supervised like a Kubernetes deployment
// would: an instance that exits on its own is recorded (the suite fails on
// it) and started again.
// ---------------------------------------------------------------------------

type instance struct {
	name    string
	logPath string

	mu     sync.Mutex
	cur    *proc // the current (or last) process
	paused bool
	starts int
}

// proc is one process of an instance. Its fields are guarded by the
// instance's mu; each process has its own, so a restart never mixes up
// what the suite meant for the previous one.
type proc struct {
	cmd      *exec.Cmd
	done     chan struct{} // closed when the process exited
	intended bool          // the suite killed or stopped it
	crashes  bool          // configured to kill itself
}

// pipeline is one processor group (one delivery mode) of a scenario: its
// topics, its instances, and what went wrong with them.
type pipeline struct {
	t           *testing.T
	b           *broker
	bin         string
	exactlyOnce bool
	policy      string
	in, out     string
	group       string
	stateRoot   string
	// crashArgs, when set, gives the crash flags of an instance's next
	// start (nil: no crash).
	crashArgs func(p *pipeline, name string, start int) []string

	mu        sync.Mutex
	instances map[string]*instance
	unexpect  []string // unexpected exits
	stopping  bool
	wg        sync.WaitGroup
}

func (p *pipeline) mode() string {
	if p.exactlyOnce {
		return "exactly-once"
	}
	return "at-least-once"
}

func (p *pipeline) args(name string, start int) []string {
	a := []string{"-brokers", p.b.addr, "-in", p.in, "-out", p.out, "-group", p.group,
		"-state-dir", filepath.Join(p.stateRoot, name), "-instance", name, "-policy", p.policy,
		"-session-timeout", sessionTimeout.String()}
	if p.exactlyOnce {
		a = append(a, "-exactly-once")
	}
	if p.crashArgs != nil {
		a = append(a, p.crashArgs(p, name, start)...)
	}
	return a
}

// start starts instance name (again, when it ran before).
func (p *pipeline) start(name string) {
	p.mu.Lock()
	in := p.instances[name]
	if in == nil {
		in = &instance{name: name, logPath: filepath.Join(p.stateRoot, name+".log")}
		p.instances[name] = in
	}
	p.mu.Unlock()
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.cur != nil {
		select {
		case <-in.cur.done:
		default:
			p.t.Errorf("%s: start %s: still running", p.mode(), name)
			return
		}
	}
	args := p.args(name, in.starts)
	pr := &proc{crashes: slices.Contains(args, "-crash-in-commit"), done: make(chan struct{})}
	in.starts++
	logf, err := os.OpenFile(in.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		p.t.Errorf("%s: start %s: %v", p.mode(), name, err) // may run in a supervisor goroutine: no Fatal
		return
	}
	fmt.Fprintf(logf, "==== start %d: %s\n", in.starts, strings.Join(args, " "))
	cmd := exec.Command(p.bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		p.t.Errorf("%s: start %s: %v", p.mode(), name, err)
		return
	}
	pr.cmd = cmd
	in.cur, in.paused = pr, false
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		err := cmd.Wait()
		logf.Close()
		in.mu.Lock()
		intended, crashes := pr.intended, pr.crashes
		in.mu.Unlock()
		close(pr.done)
		killed := false
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			killed = true
		}
		p.mu.Lock()
		stopping := p.stopping
		p.mu.Unlock()
		if intended {
			return
		}
		if crashes && killed {
			// It crashed inside a commit as configured: restart it at
			// once, like a supervisor would.
			if !stopping {
				p.start(name)
			}
			return
		}
		msg := fmt.Sprintf("%s exited on its own (%v): %s", name, err, lastLines(in.logPath, 4))
		p.mu.Lock()
		p.unexpect = append(p.unexpect, msg)
		p.mu.Unlock()
		p.t.Logf("%s: UNEXPECTED EXIT: %s", p.mode(), msg)
		time.Sleep(time.Second) // a supervisor's restart delay
		p.mu.Lock()
		stopping = p.stopping
		p.mu.Unlock()
		if !stopping {
			p.start(name)
		}
	}()
}

func lastLines(path string, n int) string {
	raw, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

func (p *pipeline) inst(name string) *instance {
	p.mu.Lock()
	defer p.mu.Unlock()
	in := p.instances[name]
	if in == nil {
		p.t.Fatalf("no instance %s", name)
	}
	return in
}

// kill sends sig to a running instance as a fault the suite intends.
func (p *pipeline) kill(name string, sig syscall.Signal) {
	in := p.inst(name)
	in.mu.Lock()
	defer in.mu.Unlock()
	if sig == syscall.SIGKILL || sig == syscall.SIGTERM {
		in.cur.intended = true
	}
	if err := in.cur.cmd.Process.Signal(sig); err != nil {
		p.t.Logf("%s: signal %s %v: %v", p.mode(), name, sig, err)
	}
	in.paused = sig == syscall.SIGSTOP
}

// wait waits for the current process of instance name to exit.
func (p *pipeline) wait(name string, timeout time.Duration) bool {
	in := p.inst(name)
	in.mu.Lock()
	done := in.cur.done
	in.mu.Unlock()
	select {
	case <-done:
		return true
	case <-time.After(timeout):
		return false
	}
}

// stop stops instance name with SIGTERM; it must exit 0 within the
// shutdown timeout.
func (p *pipeline) stop(name string) {
	in := p.inst(name)
	in.mu.Lock()
	cmd, done := in.cur.cmd, in.cur.done
	in.cur.intended = true
	if in.paused {
		_ = cmd.Process.Signal(syscall.SIGCONT)
		in.paused = false
	}
	in.mu.Unlock()
	select {
	case <-done:
		return // exited already (and was recorded then)
	default:
	}
	start := time.Now()
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
		if code := cmd.ProcessState.ExitCode(); code != 0 {
			p.recordExit(fmt.Sprintf("%s exited %d after SIGTERM: %s", name, code, lastLines(in.logPath, 4)))
		}
	case <-time.After(shutdownLimit):
		_ = cmd.Process.Kill()
		<-done
		p.recordExit(fmt.Sprintf("%s did not exit within %s of SIGTERM (killed): %s", name, shutdownLimit, lastLines(in.logPath, 4)))
	}
	if d := time.Since(start); d > 10*time.Second {
		p.t.Logf("%s: %s took %s to stop", p.mode(), name, d.Round(time.Millisecond))
	}
}

func (p *pipeline) recordExit(msg string) {
	p.mu.Lock()
	p.unexpect = append(p.unexpect, msg)
	p.mu.Unlock()
	p.t.Logf("%s: UNEXPECTED: %s", p.mode(), msg)
}

// stopAll stops every instance and ends the supervision.
func (p *pipeline) stopAll() {
	p.mu.Lock()
	p.stopping = true
	names := make([]string, 0, len(p.instances))
	for n := range p.instances {
		names = append(names, n)
	}
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, n := range names {
		wg.Add(1)
		go func() { defer wg.Done(); p.stop(n) }()
	}
	wg.Wait()
	p.wg.Wait()
}

// ---------------------------------------------------------------------------
// Kafka helpers
// ---------------------------------------------------------------------------

func newClient(t testing.TB, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(strings.Split(addr, ",")...)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func createTopics(t testing.TB, adm *kadm.Client, partitions int32, rf int16, compact map[string]bool, topics ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, topic := range topics {
		var cfg map[string]*string
		if compact[topic] {
			v := "compact"
			cfg = map[string]*string{"cleanup.policy": &v}
		}
		resp, err := adm.CreateTopic(ctx, partitions, rf, cfg, topic)
		if err == nil {
			err = resp.Err
		}
		if err != nil {
			t.Fatalf("create topic %s: %v", topic, err)
		}
	}
	// Wait until the metadata shows every partition with a leader, so the
	// instances never start before their topics exist.
	for {
		md, err := adm.Metadata(ctx, topics...)
		ready := err == nil
		for _, topic := range topics {
			td, ok := md.Topics[topic]
			if !ok || td.Err != nil || len(td.Partitions) != int(partitions) {
				ready = false
				continue
			}
			for _, pd := range td.Partitions {
				if pd.Leader < 0 || pd.Err != nil {
					ready = false
				}
			}
		}
		if ready {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("topics %v not ready: %v", topics, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// committedAll waits until group has committed every input record,
// returning "" or what is still behind at the timeout.
func committedAll(adm *kadm.Client, group, topic string, timeout time.Duration) string {
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		ends, err := adm.ListEndOffsets(ctx, topic)
		var offs kadm.OffsetResponses
		if err == nil {
			offs, err = adm.FetchOffsets(ctx, group)
		}
		cancel()
		if err != nil {
			last = err.Error()
		} else {
			var behind []string
			ends.Each(func(o kadm.ListedOffset) {
				if c, _ := offs.Lookup(topic, o.Partition); c.At < o.Offset {
					behind = append(behind, fmt.Sprintf("partition %d at %d of %d", o.Partition, c.At, o.Offset))
				}
			})
			if len(behind) == 0 {
				return ""
			}
			last = strings.Join(behind, ", ")
		}
		if time.Now().After(deadline) {
			return last
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// readBack reads every record of the topics (read_committed): until each
// partition reached its end offset (less one, for a transaction marker)
// and nothing came for quiet, or nothing came for 15s at all.
func readBack(t testing.TB, adm *kadm.Client, addr string, quiet time.Duration, topics ...string) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	ends, err := adm.ListEndOffsets(ctx, topics...)
	cancel()
	if err != nil {
		t.Errorf("read back: end offsets: %v", err)
	}
	cl := newClient(t, addr, kgo.ConsumeTopics(topics...), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.FetchMaxBytes(64<<20))
	defer cl.Close()
	seen := map[string]map[int32]int64{}
	reached := func() bool {
		ok := true
		ends.Each(func(o kadm.ListedOffset) {
			if o.Offset > 0 && seen[o.Topic][o.Partition]+1 < o.Offset-1 {
				ok = false
			}
		})
		return ok
	}
	var out []*kgo.Record
	lastRecord := time.Now()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), quiet)
		fs := cl.PollFetches(ctx)
		cancel()
		n := 0
		fs.EachRecord(func(r *kgo.Record) {
			out = append(out, r)
			n++
			if seen[r.Topic] == nil {
				seen[r.Topic] = map[int32]int64{}
			}
			seen[r.Topic][r.Partition] = max(seen[r.Topic][r.Partition], r.Offset)
		})
		if n > 0 {
			lastRecord = time.Now()
			continue
		}
		if reached() {
			return out
		}
		if time.Since(lastRecord) > 15*time.Second {
			t.Errorf("read back %v: nothing more for 15s before reaching the end offsets", topics)
			return out
		}
	}
}

// openTransactions lists partitions whose last stable offset is behind the
// high watermark: a transaction still open.
func openTransactions(adm *kadm.Client, topics ...string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	hwm, err := adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return err.Error()
	}
	lso, err := adm.ListCommittedOffsets(ctx, topics...)
	if err != nil {
		return err.Error()
	}
	var open []string
	hwm.Each(func(o kadm.ListedOffset) {
		if l, ok := lso.Lookup(o.Topic, o.Partition); ok && l.Offset < o.Offset {
			open = append(open, fmt.Sprintf("%s[%d] stable %d < end %d", o.Topic, o.Partition, l.Offset, o.Offset))
		}
	})
	return strings.Join(open, ", ")
}

func header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// decode turns what was read back into the checker's records.
func decode(p *pipeline, rs []*kgo.Record, probeFrom uint64) (ins []Input, outs []Output, log []ChangelogEntry, dead []DeadLetter) {
	for _, r := range rs {
		switch r.Topic {
		case p.in:
			in := Input{Partition: r.Partition, Offset: r.Offset, Key: string(r.Key), Time: r.Timestamp}
			var v wrapperspb.StringValue
			id, err := uint64(0), proto.Unmarshal(r.Value, &v)
			if err == nil {
				id, err = strconv.ParseUint(v.GetValue(), 10, 64)
			}
			if err != nil {
				in.Poison = true
			} else {
				in.ID, in.Probe = id, id >= probeFrom
			}
			ins = append(ins, in)
		case p.out:
			o := Output{Partition: r.Partition, Offset: r.Offset, Key: string(r.Key)}
			payload, _, err := runner.Unframe(r.Value)
			var v wrapperspb.StringValue
			if err == nil {
				err = proto.Unmarshal(payload, &v)
			}
			if err == nil {
				o.ID, o.Count, o.At, err = parseOutput(v.GetValue())
			}
			if err != nil {
				o = Output{Partition: r.Partition, Offset: r.Offset, Bad: err.Error()}
			}
			outs = append(outs, o)
		case p.group + "-table":
			e := ChangelogEntry{Partition: r.Partition, Offset: r.Offset, Key: string(r.Key)}
			if r.Value != nil {
				payload, _, err := runner.Unframe(r.Value)
				var v wrapperspb.Int64Value
				if err == nil {
					err = proto.Unmarshal(payload, &v)
				}
				if err != nil {
					e.Count = -1
				} else {
					e.Count = v.GetValue()
				}
			}
			log = append(log, e)
		case p.group + "-dlq":
			po, _ := strconv.ParseInt(header(r, "kafmesh-partition"), 10, 32)
			off, _ := strconv.ParseInt(header(r, "kafmesh-offset"), 10, 64)
			dead = append(dead, DeadLetter{Topic: header(r, "kafmesh-topic"), Partition: int32(po), Offset: off})
		}
	}
	return ins, outs, log, dead
}

// poisonValues are values no protobuf decoder accepts: a varint tag that
// never ends, a field longer than the value, and both framings' magic
// bytes in front of bytes that are not protobuf either.
var poisonValues = [][]byte{
	bytes.Repeat([]byte{0xff}, 11),
	{0x0a, 0x10, 'a', 'b', 'c'},
	{0x02, 0, 0, 0, 7, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
	{0x00, 0, 0, 0, 7, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
}

// transactionReport describes, for a stalled exactly-once pipeline, what
// the brokers hold open: every transactional id of the group that is not
// complete (state, age, partitions) and every hanging transaction
// (runner.FindGroupHangingTransactions, with no minimum age) on topics and
// the group's __consumer_offsets partition, so a stall's log says which
// transaction blocks the readers.
func transactionReport(adm *kadm.Client, group string, topics ...string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var lines []string
	listed, err := adm.ListTransactions(ctx, nil, nil)
	if err != nil {
		return "list transactions: " + err.Error()
	}
	var ids []string
	for id := range listed {
		if strings.HasPrefix(id, group+"-") {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	if len(ids) > 0 {
		described, err := adm.DescribeTransactions(ctx, ids...)
		if err != nil {
			lines = append(lines, "describe transactions: "+err.Error())
		}
		for _, d := range described.Sorted() {
			if d.State == "Empty" || d.State == "CompleteCommit" || d.State == "CompleteAbort" {
				continue
			}
			age := ""
			if d.StartTimestamp > 0 {
				age = time.Since(time.UnixMilli(d.StartTimestamp)).Round(time.Second).String()
			}
			lines = append(lines, fmt.Sprintf("txn %s: %s producer %d/%d, open %s (timeout %dms), partitions %v, err %v",
				d.TxnID, d.State, d.ProducerID, d.ProducerEpoch, age, d.TimeoutMillis, d.Topics.Sorted(), d.Err))
		}
	}
	hanging, err := runner.FindGroupHangingTransactions(ctx, adm, group, topics, 0)
	if err != nil {
		lines = append(lines, "hanging transactions: "+err.Error())
	}
	for _, h := range hanging {
		lines = append(lines, "hanging: "+h.String())
	}
	if len(lines) == 0 {
		return "no open transaction"
	}
	return strings.Join(lines, "; ")
}
