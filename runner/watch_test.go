package runner_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	watchv1 "github.com/kafmesh/kafmesh/api/watch/v1"
	"github.com/kafmesh/kafmesh/kafmeshtest"
	"github.com/kafmesh/kafmesh/runner"
)

// servedService is a counter service whose APIs are on a gRPC server of
// the test's own, served before Run starts, so watchers can connect before
// any record is processed.
func servedService(t testing.TB, brokers []string, c counter, stateDir string, opts ...runner.Option) (*runner.Service, *grpc.ClientConn) {
	t.Helper()
	srv := grpc.NewServer()
	s := newService(t, brokers, "counting", stateDir, append(opts, runner.WithGRPCServer(srv))...)
	c.register(t, s)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return s, dial(t, lis.Addr().String())
}

// streamReader collects what a Watch stream delivers until it ends.
type streamReader struct {
	mu   sync.Mutex
	ops  []*watchv1.Operation
	err  error
	done chan struct{}
}

func watchStream(t testing.TB, conn *grpc.ClientConn, key string) *streamReader {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	stream, err := watchv1.NewWatchAPIClient(conn).Processor(ctx, &watchv1.ProcessorRequest{Component: "counting", Processor: "counter", Key: key})
	if err != nil {
		t.Fatal(err)
	}
	r := &streamReader{done: make(chan struct{})}
	go func() {
		defer close(r.done)
		for {
			resp, err := stream.Recv()
			r.mu.Lock()
			if err != nil {
				r.err = err
				r.mu.Unlock()
				return
			}
			r.ops = append(r.ops, resp.GetOperation())
			r.mu.Unlock()
		}
	}()
	return r
}

func (r *streamReader) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.ops)
}

func (r *streamReader) operations() []*watchv1.Operation {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*watchv1.Operation(nil), r.ops...)
}

// outputReader reads a processor's output topic across service restarts.
type outputReader struct {
	cl  *kgo.Client
	got []*kgo.Record
}

func (o *outputReader) take(t testing.TB, n int) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		fs := o.cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d outputs", len(out), n)
		}
		fs.EachRecord(func(r *kgo.Record) { out = append(out, r) })
	}
	return out
}

// span is the time between the first and the last output of a batch: how
// long the processor took to work through its backlog.
func span(rs []*kgo.Record) time.Duration {
	first, last := rs[0].Timestamp, rs[0].Timestamp
	for _, r := range rs {
		if r.Timestamp.Before(first) {
			first = r.Timestamp
		}
		if r.Timestamp.After(last) {
			last = r.Timestamp
		}
	}
	return last.Sub(first)
}

// checkOperations checks that ops are exactly the operations the counter
// did for key-0 on inputs from..to (every keys-th is key-0), whose count
// was before when the batch started.
func checkOperations(t testing.TB, c counter, ops []*watchv1.Operation, from, to, keys int, before int64) {
	t.Helper()
	want := 0
	for i := from; i < to; i++ {
		if i%keys == 0 {
			want++
		}
	}
	if len(ops) != want {
		t.Errorf("%d operations, want %d", len(ops), want)
		return
	}
	decode := func(json string, m proto.Message) {
		if err := protojson.Unmarshal([]byte(json), m); err != nil {
			t.Fatalf("value %q: %v", json, err)
		}
	}
	next := from
	for n, op := range ops {
		for next%keys != 0 {
			next++
		}
		count := before + int64(n) + 1
		in := &wrapperspb.StringValue{}
		decode(op.GetInput().GetValue(), in)
		if op.GetInput().GetTopic() != c.in || op.GetInput().GetMessage() != "google.protobuf.StringValue" || in.GetValue() != fmt.Sprintf("event-%d", next) {
			t.Fatalf("operation %d input %v, want event-%d from %s", n, op.GetInput(), next, c.in)
		}
		if ts := op.GetInput().GetTimestamp(); !ts.IsValid() || ts.AsTime().Year() < 2020 || op.GetInput().GetOffset() < 0 || op.GetInput().GetPartition() < 0 {
			t.Fatalf("operation %d input read from partition %d offset %d at %v, want the record's partition, offset and timestamp",
				n, op.GetInput().GetPartition(), op.GetInput().GetOffset(), ts)
		}
		if hs := op.GetInput().GetHeaders(); len(hs) != 1 || hs[0].GetKey() != "event" || string(hs[0].GetValue()) != strconv.Itoa(next) {
			t.Fatalf("operation %d input headers %v, want event=%d", n, hs, next)
		}
		if n > 0 && op.GetInput().GetPartition() == ops[n-1].GetInput().GetPartition() && op.GetInput().GetOffset() <= ops[n-1].GetInput().GetOffset() {
			t.Fatalf("operation %d offset %d not after the previous %d in partition %d", n, op.GetInput().GetOffset(), ops[n-1].GetInput().GetOffset(), op.GetInput().GetPartition())
		}
		if !op.GetStartTime().IsValid() || op.GetEndTime().AsTime().Before(op.GetStartTime().AsTime()) {
			t.Fatalf("operation %d times %v..%v", n, op.GetStartTime(), op.GetEndTime())
		}
		acts := op.GetActions()
		if len(acts) != 3 || acts[0].GetActionGetState() == nil || acts[1].GetActionSetState() == nil || acts[2].GetActionOutput() == nil {
			t.Fatalf("operation %d actions %v, want get state, set state, output", n, acts)
		}
		prev, saved, out := &wrapperspb.Int64Value{}, &wrapperspb.Int64Value{}, &wrapperspb.Int64Value{}
		if v := acts[0].GetActionGetState().GetValue(); v != "null" {
			decode(v, prev)
		}
		decode(acts[1].GetActionSetState().GetValue(), saved)
		decode(acts[2].GetActionOutput().GetValue(), out)
		o := acts[2].GetActionOutput()
		if prev.GetValue() != count-1 || saved.GetValue() != count || out.GetValue() != count || o.GetKey() != "key-0" || o.GetTopic() != c.out {
			t.Fatalf("operation %d: state %d -> %d, output %s %s=%d; want %d -> %d", n, prev.GetValue(), saved.GetValue(), o.GetTopic(), o.GetKey(), out.GetValue(), count-1, count)
		}
		if acts[1].GetActionSetState().GetTopic() != c.group+"-table" {
			t.Fatalf("operation %d state topic %s", n, acts[1].GetActionSetState().GetTopic())
		}
		next++
	}
}

// Two watchers of one key receive identical, complete operation streams,
// while a third watcher that never reads is dropped and does not hold the
// processor back. Each phase processes a backlog of the same size with a
// fresh service; the log shows the throughput of each.
func TestWatchersIdenticalAndStalledWatcherDropped(t *testing.T) {
	brokers := kafmeshtest.StartBroker(t)
	c := newCounter(t)
	kafmeshtest.CreateTopic(t, brokers, c.in, 4, false)
	cl := client(t, brokers)
	out := &outputReader{cl: client(t, brokers, kgo.ConsumeTopics(c.out), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))}
	stateDir := t.TempDir()
	// KAFMESH_WATCH_RECORDS sets a larger backlog for steadier numbers.
	n, keys := 20000, 10
	if v, err := strconv.Atoi(os.Getenv("KAFMESH_WATCH_RECORDS")); err == nil && v >= keys {
		n = v - v%keys
	}

	type phase struct {
		name            string
		active, stalled bool
	}
	var rates []string
	for i, ph := range []phase{{"no watchers", false, false}, {"two watchers", true, false}, {"two watchers and a stalled one", true, true}} {
		from := i * n
		s, conn := servedService(t, brokers, c, stateDir, runner.WithWatchBuffer(1<<16))
		if i == 0 {
			if err := s.ConfigureTopics(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
		// The backlog is in Kafka before the service starts.
		recs := inputRecords(c.in, from, from+n, keys)
		for i, r := range recs { // a header the watchers must see
			r.Headers = []kgo.RecordHeader{{Key: "event", Value: []byte(strconv.Itoa(from + i))}}
		}
		produce(t, cl, recs...)

		var a, b *streamReader
		var stalled *runner.Watcher
		if ph.active {
			a, b = watchStream(t, conn, "key-0"), watchStream(t, conn, "key-0")
			waitUntil(t, 10*time.Second, func() string {
				if m := metric(t, s.Gatherer(), "kafmesh_watch_watchers", nil); m != 2 {
					return fmt.Sprintf("%v watch streams connected, want 2", m)
				}
				return ""
			})
		}
		if ph.stalled {
			var err error
			if stalled, err = s.Watch("counting", "counter", "key-0", 16); err != nil {
				t.Fatal(err)
			}
		}

		stop := running(t, s)
		outs := out.take(t, n)
		d := span(outs)
		rate := float64(n-1) / d.Seconds()
		rates = append(rates, fmt.Sprintf("%s: %d records in %v = %.0f records/s", ph.name, n, d.Round(time.Millisecond), rate))

		if ph.active {
			waitUntil(t, 60*time.Second, func() string {
				if a.count() < n/keys || b.count() < n/keys {
					return fmt.Sprintf("watchers received %d and %d of %d operations", a.count(), b.count(), n/keys)
				}
				return ""
			})
		}
		if err := stop(); err != nil {
			t.Fatalf("%s: Run: %v", ph.name, err)
		}
		if !ph.active {
			continue
		}
		// Run's end closes the streams; each is complete and identical.
		for _, r := range []*streamReader{a, b} {
			<-r.done
			if status.Code(r.err) != codes.Unavailable {
				t.Errorf("%s: stream ended with %v, want Unavailable when the service stops", ph.name, r.err)
			}
		}
		opsA, opsB := a.operations(), b.operations()
		if len(opsA) != len(opsB) {
			t.Fatalf("%s: watchers received %d and %d operations", ph.name, len(opsA), len(opsB))
		}
		for k := range opsA {
			if !proto.Equal(opsA[k], opsB[k]) {
				t.Fatalf("%s: operation %d differs:\n%v\n%v", ph.name, k, opsA[k], opsB[k])
			}
		}
		checkOperations(t, c, opsA, from, from+n, keys, int64(i*n/keys))

		if ph.stalled {
			if !stalled.Dropped() {
				t.Errorf("the stalled watcher was not dropped")
			}
			buffered := 0
			for range stalled.Operations() {
				buffered++
			}
			if buffered != 16 {
				t.Errorf("the stalled watcher holds %d operations, want its buffer of 16", buffered)
			}
			if m := metric(t, s.Gatherer(), "kafmesh_watch_dropped_watchers_total", nil); m != 1 {
				t.Errorf("dropped watchers metric %v, want 1", m)
			}
		}
	}
	expectCounts(t, lastCounts(t, consumeN(t, brokers, c.out, 3*n, time.Minute)), 3*n, keys)
	for _, r := range rates {
		t.Log(r)
	}
}

// A gRPC client that stops reading is dropped with ResourceExhausted once
// its buffer is full; an unknown processor is NotFound; a client that
// leaves is forgotten.
func TestWatchStreamDropsSlowClient(t *testing.T) {
	brokers := kafmeshtest.StartBroker(t)
	c := newCounter(t)
	kafmeshtest.CreateTopic(t, brokers, c.in, 2, false)
	s, conn := servedService(t, brokers, c, t.TempDir(), runner.WithWatchBuffer(1))
	if err := s.ConfigureTopics(t.Context()); err != nil {
		t.Fatal(err)
	}
	api := watchv1.NewWatchAPIClient(conn)

	unknown, err := api.Processor(t.Context(), &watchv1.ProcessorRequest{Component: "counting", Processor: "nope", Key: "k"})
	if err == nil {
		_, err = unknown.Recv()
	}
	if status.Code(err) != codes.NotFound || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("watching an unknown processor: %v, want NotFound naming it", err)
	}

	// A client that goes away is forgotten.
	leaveCtx, leave := context.WithCancel(context.Background())
	if _, err := api.Processor(leaveCtx, &watchv1.ProcessorRequest{Component: "counting", Processor: "counter", Key: "other"}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, func() string {
		if m := metric(t, s.Gatherer(), "kafmesh_watch_watchers", nil); m != 1 {
			return fmt.Sprintf("%v watch streams connected, want 1", m)
		}
		return ""
	})
	leave()
	waitUntil(t, 10*time.Second, func() string {
		if m := metric(t, s.Gatherer(), "kafmesh_watch_watchers", nil); m != 0 {
			return fmt.Sprintf("%v watch streams connected after the client left, want 0", m)
		}
		return ""
	})

	// The slow client: small flow-control windows, and it reads nothing
	// until the processor is done.
	slowConn := dial(t, conn.Target(), grpc.WithInitialWindowSize(64<<10), grpc.WithInitialConnWindowSize(64<<10))
	slow, err := watchv1.NewWatchAPIClient(slowConn).Processor(t.Context(), &watchv1.ProcessorRequest{Component: "counting", Processor: "counter", Key: "key-0"})
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, func() string {
		if m := metric(t, s.Gatherer(), "kafmesh_watch_watchers", nil); m != 1 {
			return fmt.Sprintf("%v watch streams connected, want 1", m)
		}
		return ""
	})
	stop := running(t, s)
	const total = 3000
	produce(t, client(t, brokers), inputRecords(c.in, 0, total, 1)...)
	expectCounts(t, lastCounts(t, consumeN(t, brokers, c.out, total, 2*time.Minute)), total, 1)

	received := 0
	for {
		_, err := slow.Recv()
		if err == nil {
			received++
			continue
		}
		if errors.Is(err, io.EOF) || status.Code(err) != codes.ResourceExhausted || !strings.Contains(err.Error(), "dropped") {
			t.Fatalf("after %d operations the slow stream ended with %v, want ResourceExhausted saying it was dropped", received, err)
		}
		break
	}
	if received == 0 || received >= total {
		t.Errorf("the slow client received %d of %d operations before it was dropped", received, total)
	}
	if m := metric(t, s.Gatherer(), "kafmesh_watch_dropped_watchers_total", nil); m != 1 {
		t.Errorf("dropped watchers metric %v, want 1", m)
	}
	t.Logf("the slow client received %d of %d operations before it was dropped", received, total)
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
}
