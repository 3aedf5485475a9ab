package runner_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/kafmesh/kafmesh/kafmeshtest"
	"github.com/kafmesh/kafmesh/runner"
)

// pausableCounter is the counter of processor_test.go whose handler can
// be frozen, which freezes its processor's poll loop as a GC pause or a
// stopped VM would (the group client's heartbeats go on, but the member
// cannot rejoin a rebalance while its commit is pending, so the
// coordinator evicts it after the rebalance timeout).
type pausableCounter struct {
	counter
	pause   atomic.Bool
	blocked chan struct{} // closed when the handler froze
	release chan struct{} // close to unfreeze
	once    sync.Once
}

func (c *pausableCounter) register(t testing.TB, s *runner.Service) {
	t.Helper()
	p := runner.NewProcessor(c.spec(), c.opts...)
	runner.HandleInput(p, 0, stringCodec, func(ctx *runner.ProcessorContext, m *wrapperspb.StringValue) error {
		if c.pause.Load() {
			c.once.Do(func() { close(c.blocked) })
			<-c.release
		}
		n, _ := runner.State(ctx, countCodec)
		next := wrapperspb.Int64(n.GetValue() + 1)
		runner.SaveState(ctx, countCodec, next)
		runner.Output(ctx, 0, countCodec, ctx.Key(), next)
		return nil
	})
	if err := s.Register(p); err != nil {
		t.Fatal(err)
	}
}

// lastValues is the last count of each key in offset order (the value a
// restore ends with; what compaction keeps).
func lastValues(t testing.TB, rs []*kgo.Record) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, r := range rs {
		var v wrapperspb.Int64Value
		if err := proto.Unmarshal(r.Value, &v); err != nil {
			t.Fatal(err)
		}
		out[string(r.Key)] = v.Value
	}
	return out
}

// checkGenerations fails if a changelog record was written under an older
// group generation than one before it in its partition (a stale write by a
// member that had lost the partition), or carries no generation.
func checkGenerations(t testing.TB, rs []*kgo.Record) {
	t.Helper()
	highest := map[int32]int64{}
	for _, r := range rs {
		gen := int64(-2)
		for _, h := range r.Headers {
			if h.Key == "kafmesh-generation" {
				gen, _ = strconv.ParseInt(string(h.Value), 10, 64)
			}
		}
		if gen == -2 {
			t.Fatalf("changelog record %s[%d]@%d has no kafmesh-generation header", r.Topic, r.Partition, r.Offset)
		}
		if gen < highest[r.Partition] {
			t.Errorf("changelog %s[%d]@%d (key %s) written under generation %d after generation %d", r.Topic, r.Partition, r.Offset, r.Key, gen, highest[r.Partition])
		}
		highest[r.Partition] = max(highest[r.Partition], gen)
	}
}

// waitGroupCommitted waits until group committed every record topic has now.
func waitGroupCommitted(t testing.TB, brokers []string, group, topic string, timeout time.Duration) {
	t.Helper()
	ends := endOffsets(t, brokers, topic)
	adm := kadm.NewClient(client(t, brokers))
	waitUntil(t, timeout, func() string {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		offs, err := adm.FetchOffsets(ctx, group)
		if err != nil {
			return fmt.Sprintf("fetch offsets: %v", err)
		}
		var behind []string
		for p, end := range ends {
			if o, _ := offs.Lookup(topic, p); o.At < end {
				behind = append(behind, fmt.Sprintf("partition %d committed %d of %d", p, o.At, end))
			}
		}
		if len(behind) > 0 {
			time.Sleep(100 * time.Millisecond)
			return "input not processed: " + strings.Join(behind, ", ")
		}
		return ""
	})
}

// TestPausedInstanceNeverCorruptsState is the zombie scenario: instance A
// freezes in the middle of a commit cycle, B joins, the coordinator evicts
// A and gives B every partition; B processes everything; then A wakes up
// with its stale, uncommitted batch. A must write neither changelog
// values nor local state for partitions it lost, must not exit, and must
// get back to work; every key's count (outputs and changelog) is exact.
func TestPausedInstanceNeverCorruptsState(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out a rebalance timeout")
	}
	for _, mode := range []struct {
		name string
		opts []runner.PartOption
	}{{"at-least-once", nil}, {"exactly-once", []runner.PartOption{runner.ExactlyOnce()}}} {
		t.Run(mode.name, func(t *testing.T) {
			brokers := kafmeshtest.StartBroker(t)
			c := &pausableCounter{counter: newCounter(t, mode.opts...), blocked: make(chan struct{}), release: make(chan struct{})}
			kafmeshtest.CreateTopic(t, brokers, c.in, 4, false)
			kopts := runner.WithKafkaOptions(kgo.SessionTimeout(6*time.Second), kgo.RebalanceTimeout(3*time.Second),
				kgo.HeartbeatInterval(300*time.Millisecond))
			a := newService(t, brokers, "zombie", t.TempDir(), runner.WithInstanceID("a"), kopts)
			c.register(t, a)
			if err := a.ConfigureTopics(t.Context()); err != nil {
				t.Fatal(err)
			}
			stopA := running(t, a)
			const keys, batch = 40, 2000
			cl := client(t, brokers)
			produce(t, cl, inputRecords(c.in, 0, batch, keys)...)
			waitGroupCommitted(t, brokers, c.group, c.in, 60*time.Second)

			// A freezes on the first record of the next batch.
			c.pause.Store(true)
			produce(t, cl, inputRecords(c.in, batch, 2*batch, keys)...)
			select {
			case <-c.blocked:
			case <-time.After(30 * time.Second):
				t.Fatal("A never handled the second batch")
			}
			b := newService(t, brokers, "zombie", t.TempDir(), runner.WithInstanceID("b"), kopts)
			(&pausableCounter{counter: c.counter}).register(t, b)
			stopB := running(t, b)
			// B gets every partition once A is evicted, and processes the
			// second batch.
			waitGroupCommitted(t, brokers, c.group, c.in, 90*time.Second)
			// B goes on past what A holds.
			produce(t, cl, inputRecords(c.in, 2*batch, 3*batch, keys)...)
			waitGroupCommitted(t, brokers, c.group, c.in, 60*time.Second)

			// A wakes up with its stale batch and tries to commit it.
			c.pause.Store(false)
			close(c.release)
			time.Sleep(4 * time.Second)
			// The changelog's last value of each key is its count: no
			// stale value of A's landed after B's.
			expectCounts(t, lastValues(t, consumeQuiet(t, brokers, c.group+"-table", 2*time.Second)), 3*batch, keys)
			if t.Failed() {
				t.Log("the changelog holds stale values after the paused instance woke up")
			}

			checkGenerations(t, consumeQuiet(t, brokers, c.group+"-table", 2*time.Second))

			// Both work on.
			produce(t, cl, inputRecords(c.in, 3*batch, 4*batch, keys)...)
			waitGroupCommitted(t, brokers, c.group, c.in, 90*time.Second)
			errB, errA := stopB(), stopA()
			if errB != nil {
				t.Errorf("B: %v", errB)
			}
			if errA != nil {
				t.Errorf("A exited instead of rejoining: %v", errA)
			}

			const total = 4 * batch
			expectCounts(t, lastCounts(t, consumeQuiet(t, brokers, c.out, 2*time.Second)), total, keys)
			// The changelog's last value of each key is its count: no
			// stale value of A's landed after B's.
			expectCounts(t, lastValues(t, consumeQuiet(t, brokers, c.group+"-table", 2*time.Second)), total, keys)
			// With exactly-once the session aborts the stale transaction
			// itself; at-least-once must notice and rejoin.
			if g := metric(t, a.Gatherer(), "kafmesh_processor_restarts_total", nil); len(mode.opts) == 0 && g < 1 {
				t.Errorf("A restarted its group session %v times, want at least once", g)
			}
		})
	}
}

// TestPoisonRecordErrorNamesTheWayOut: a record that fails under the
// default policy stops the service with an error naming the record and
// the offsets skip command.
func TestPoisonRecordErrorNamesTheWayOut(t *testing.T) {
	brokers := kafmeshtest.StartBroker(t)
	c := newCounter(t)
	kafmeshtest.CreateTopic(t, brokers, c.in, 1, false)
	s := newService(t, brokers, "poison", t.TempDir())
	c.register(t, s)
	if err := s.ConfigureTopics(t.Context()); err != nil {
		t.Fatal(err)
	}
	produce(t, client(t, brokers), &kgo.Record{Topic: c.in, Key: []byte("k"), Value: []byte{0xff, 0xff, 0xff}})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err := s.Run(ctx)
	if err == nil {
		t.Fatal("Run returned nil for a poison record")
	}
	var pe *runner.PoisonError
	want := fmt.Sprintf("kafmesh offsets skip --group %s --topic %s --partition 0 --offset 0", c.group, c.in)
	if !errors.As(err, &pe) || pe.Offset != 0 || pe.Topic != c.in || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q: want a PoisonError naming %q", err, want)
	}
}

// TestPoisonRecordCommitsTheRecordsBeforeIt: at-least-once, the records
// handled before a poison one in the same poll are committed before the
// processor stops, so the group's committed offset is the poison record's
// own and `offsets skip` needs no --allow-gap.
func TestPoisonRecordCommitsTheRecordsBeforeIt(t *testing.T) {
	brokers := kafmeshtest.StartBroker(t)
	c := newCounter(t)
	kafmeshtest.CreateTopic(t, brokers, c.in, 1, false)
	s := newService(t, brokers, "poison", t.TempDir())
	c.register(t, s)
	if err := s.ConfigureTopics(t.Context()); err != nil {
		t.Fatal(err)
	}
	const good = 7
	rs := inputRecords(c.in, 0, good, 3)
	rs = append(rs, &kgo.Record{Topic: c.in, Key: []byte("k"), Value: []byte{0xff, 0xff, 0xff}})
	rs = append(rs, inputRecords(c.in, good, good+3, 3)...)
	produce(t, client(t, brokers), rs...)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var pe *runner.PoisonError
	if err := s.Run(ctx); !errors.As(err, &pe) || pe.Offset != good {
		t.Fatalf("Run: %v, want a PoisonError at offset %d", err, good)
	}
	adm := kadm.NewClient(client(t, brokers))
	offs, err := adm.FetchOffsets(t.Context(), c.group)
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := offs.Lookup(c.in, 0); o.At != good {
		t.Fatalf("committed offset %d, want %d: the records before the poison one are committed, nothing after it", o.At, good)
	}
	if n := len(consumeN(t, brokers, c.out, good, 30*time.Second)); n != good {
		t.Fatalf("%d outputs, want %d", n, good)
	}
}

// TestSourcesOnlyServiceRunsUntilCanceled: a service with only sources
// (and its servers) keeps running, and serving, until its context ends.
func TestSourcesOnlyServiceRunsUntilCanceled(t *testing.T) {
	brokers := kafmeshtest.StartBroker(t)
	topic := kafmeshtest.Unique(t, "emitted")
	s := newService(t, brokers, "emitter", t.TempDir(), runner.WithHTTPAddr("127.0.0.1:0"))
	src, err := runner.NewSource(s, runner.SourceSpec{Component: "emitting",
		TopicRef: runner.TopicRef{Topic: topic, Message: "google.protobuf.StringValue", Type: runner.TopicProtobuf}}, stringCodec)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ConfigureTopics(t.Context()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	select {
	case err := <-done:
		t.Fatalf("Run returned %v while its context was live", err)
	case <-time.After(500 * time.Millisecond):
	}
	// Emitting while Run runs (the shared producer is created now, which
	// raced with Run's own use of it).
	if err := src.Emit(ctx, "k", wrapperspb.String("v")); err != nil {
		t.Fatal(err)
	}
	if s.HTTPAddr() == "" {
		t.Error("the HTTP server is not serving")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if rs := consumeN(t, brokers, topic, 1, 30*time.Second); string(rs[0].Key) != "k" {
		t.Fatalf("read %q", rs[0].Key)
	}
}

// TestViewSkipsUndecodableValues: one bad value in a table topic does not
// break the view: Get reads the key as absent, Range leaves it out, the
// metric counts it; with OnError(FailOnError()) reads return the error.
func TestViewSkipsUndecodableValues(t *testing.T) {
	brokers := kafmeshtest.StartBroker(t)
	topic := kafmeshtest.Unique(t, "table")
	kafmeshtest.CreateTopic(t, brokers, topic, 2, true)
	produce(t, client(t, brokers), stringRecord(topic, "good", ptr("fine")),
		&kgo.Record{Topic: topic, Key: []byte("bad"), Value: []byte{0xff, 0xff, 0xff}})
	ref := runner.TopicRef{Topic: topic, Type: runner.TopicProtobuf}

	s := newService(t, brokers, "viewer", t.TempDir())
	v, err := runner.NewView(s, runner.ViewSpec{Component: "c", TopicRef: ref}, stringCodec)
	if err != nil {
		t.Fatal(err)
	}
	running(t, s)
	if err := v.WaitReady(t.Context()); err != nil {
		t.Fatal(err)
	}
	if m, ok, err := v.Get("bad"); err != nil || ok {
		t.Fatalf("Get(bad) = %v, %v, %v; want absent, no error", m, ok, err)
	}
	if m, ok, err := v.Get("good"); err != nil || !ok || m.GetValue() != "fine" {
		t.Fatalf("Get(good) = %v, %v, %v", m, ok, err)
	}
	var seen []string
	if err := v.Range(func(k string, _ *wrapperspb.StringValue) bool { seen = append(seen, k); return true }); err != nil {
		t.Fatalf("Range: %v", err)
	}
	if len(seen) != 1 || seen[0] != "good" {
		t.Fatalf("Range saw %v, want [good]", seen)
	}
	if n := metric(t, s.Gatherer(), "kafmesh_view_undecodable_total", map[string]string{"topic": topic}); n != 2 {
		t.Errorf("kafmesh_view_undecodable_total = %v, want 2 (Get and Range)", n)
	}

	strict := newService(t, brokers, "strict", t.TempDir())
	sv, err := runner.NewView(strict, runner.ViewSpec{Component: "c", TopicRef: ref}, stringCodec, runner.OnError(runner.FailOnError()))
	if err != nil {
		t.Fatal(err)
	}
	running(t, strict)
	if err := sv.WaitReady(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, _, err := sv.Get("bad"); err == nil || !strings.Contains(err.Error(), `key "bad"`) {
		t.Fatalf("strict Get(bad) error = %v, want one naming the key", err)
	}
	if _, err := runner.NewView(newService(t, brokers, "x", t.TempDir()), runner.ViewSpec{Component: "c", TopicRef: ref},
		stringCodec, runner.OnError(runner.DeadLetterOnError())); err == nil {
		t.Fatal("a view accepted a dead-letter policy")
	}
}

// TestTombstonesDeleteStateAndCommitInterval covers DeliverTombstones (a
// tombstone reaches the handler as a nil message), DeleteState (a
// tombstone in the changelog) and CommitInterval (an hour's interval still
// commits as soon as the input goes idle, and everything is committed at
// shutdown).
func TestTombstonesDeleteStateAndCommitInterval(t *testing.T) {
	brokers := kafmeshtest.StartBroker(t)
	c := newCounter(t, runner.DeliverTombstones(), runner.CommitInterval(time.Hour))
	kafmeshtest.CreateTopic(t, brokers, c.in, 2, false)
	s := newService(t, brokers, "tombstones", t.TempDir())
	p := runner.NewProcessor(c.spec(), c.opts...)
	var tombstones, handled atomic.Int32
	runner.HandleInput(p, 0, stringCodec, func(ctx *runner.ProcessorContext, m *wrapperspb.StringValue) error {
		handled.Add(1)
		if m == nil {
			tombstones.Add(1)
			runner.DeleteState(ctx)
			return nil
		}
		n, _ := runner.State(ctx, countCodec)
		next := wrapperspb.Int64(n.GetValue() + 1)
		runner.SaveState(ctx, countCodec, next)
		runner.Output(ctx, 0, countCodec, ctx.Key(), next)
		return nil
	})
	if err := s.Register(p); err != nil {
		t.Fatal(err)
	}
	if err := s.ConfigureTopics(t.Context()); err != nil {
		t.Fatal(err)
	}
	stop := running(t, s)
	cl := client(t, brokers)
	produce(t, cl, inputRecords(c.in, 0, 10, 2)...)
	produce(t, cl, &kgo.Record{Topic: c.in, Key: []byte("key-0")})
	// Every record handled (the partitions may be fetched at different
	// moments: stopping after the tombstone alone could leave the other
	// partition's records polled but unhandled, and those are rightly not
	// committed).
	waitUntil(t, 30*time.Second, func() string {
		if tombstones.Load() == 0 || handled.Load() < 11 {
			return fmt.Sprintf("%d of 11 records handled, %d tombstones", handled.Load(), tombstones.Load())
		}
		return ""
	})
	// An hour's commit interval bounds only how long the processor works
	// between commits: once its input goes idle it commits at once.
	waitGroupCommitted(t, brokers, c.group, c.in, 30*time.Second)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	waitGroupCommitted(t, brokers, c.group, c.in, 10*time.Second)
	var deleted, key1 bool
	for _, r := range consumeQuiet(t, brokers, c.group+"-table", time.Second) {
		switch string(r.Key) {
		case "key-0":
			deleted = r.Value == nil
		case "key-1":
			key1 = r.Value != nil
		}
	}
	if !deleted || !key1 {
		t.Fatalf("changelog: key-0 deleted %v (want true), key-1 present %v (want true)", deleted, key1)
	}
}
