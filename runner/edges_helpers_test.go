package runner_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/kafmesh/kafmesh/runner"
)

// waitUntil retries check until it returns "" or timeout passes; then it
// fails the test with check's last message.
func waitUntil(t testing.TB, timeout time.Duration, check func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		msg := check()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", timeout, msg)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// strValue encodes a StringValue record value.
func strValue(s string) []byte {
	b, _ := proto.Marshal(wrapperspb.String(s))
	return b
}

// readToEnd reads topic from the start up to the end offsets it has when
// called (every record written before the call), or fails after 30s.
func readToEnd(t testing.TB, brokers []string, topic string) []*kgo.Record {
	t.Helper()
	ends := endOffsets(t, brokers, topic)
	cl := client(t, brokers, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	next := map[int32]int64{}
	done := func() bool {
		for p, end := range ends {
			if next[p] < end {
				return false
			}
		}
		return true
	}
	var out []*kgo.Record
	for !done() {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %s: positions %v before timeout, want the end offsets %v", topic, next, ends)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset < ends[r.Partition] {
				out = append(out, r)
			}
			next[r.Partition] = r.Offset + 1
		})
	}
	return out
}

// tableRecord is a record of a StringValue topic; tombstoneRecord deletes.
func tableRecord(topic, key, value string) *kgo.Record {
	return &kgo.Record{Topic: topic, Key: []byte(key), Value: strValue(value)}
}

func tombstoneRecord(topic, key string) *kgo.Record {
	return &kgo.Record{Topic: topic, Key: []byte(key)}
}

// committed returns the committed offset of each partition of topic for
// group (partitions without a commit are absent).
func committed(t testing.TB, brokers []string, group, topic string) map[int32]int64 {
	t.Helper()
	adm := kadm.NewClient(client(t, brokers))
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	resp, err := adm.FetchOffsets(ctx, group)
	if errors.Is(err, kerr.GroupIDNotFound) {
		return map[int32]int64{} // the group never committed
	}
	if err != nil {
		t.Fatalf("fetch offsets of %s: %v", group, err)
	}
	out := map[int32]int64{}
	resp.Each(func(o kadm.OffsetResponse) {
		if o.Topic == topic && o.Err == nil && o.At >= 0 {
			out[o.Partition] = o.At
		}
	})
	return out
}

// endOffsets returns the end offset of each partition of topic that has
// records.
func endOffsets(t testing.TB, brokers []string, topic string) map[int32]int64 {
	t.Helper()
	adm := kadm.NewClient(client(t, brokers))
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			out[o.Partition] = o.Offset
		}
	})
	return out
}

// metric sums the samples of the metric family name whose labels include
// labels: counter and gauge values, histogram sample counts.
func metric(t testing.TB, g prometheus.Gatherer, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if !hasLabels(m, labels) {
				continue
			}
			switch {
			case m.Counter != nil:
				sum += m.Counter.GetValue()
			case m.Gauge != nil:
				sum += m.Gauge.GetValue()
			case m.Histogram != nil:
				sum += float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return sum
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	have := map[string]string{}
	for _, l := range m.GetLabel() {
		have[l.GetName()] = l.GetValue()
	}
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

func dial(t testing.TB, addr string, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// sinkRecord is one record as a sink saw it.
type sinkRecord struct {
	Key       string
	Value     string // "" with Deleted for tombstones
	Deleted   bool
	Partition int32
	Offset    int64
}

func (r sinkRecord) String() string {
	return fmt.Sprintf("%d@%d %s=%q deleted=%v", r.Partition, r.Offset, r.Key, r.Value, r.Deleted)
}

// memorySink is a SinkHandler over an in-memory "outside store". Collect
// appends to the pending batch; Flush upserts the batch into the store
// keyed by partition and offset (so flushing a record twice is harmless:
// the idempotent Flush the sink contract asks for) and clears it.
type memorySink struct {
	mu         sync.Mutex
	pending    []sinkRecord
	flushed    map[[2]int64]sinkRecord // partition, offset
	seen       map[[2]int64]bool       // collected at least once
	collected  int
	flushSizes []int

	failCollect func(key string) error // optional
	failFlush   func(n int) error      // optional: n counts Flush calls from 1
	flushCalls  int
}

func newMemorySink() *memorySink {
	return &memorySink{flushed: map[[2]int64]sinkRecord{}, seen: map[[2]int64]bool{}}
}

func (s *memorySink) Collect(ctx runner.SinkContext, key string, m *wrapperspb.StringValue) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failCollect != nil {
		if err := s.failCollect(key); err != nil {
			return err
		}
	}
	r := sinkRecord{Key: key, Partition: ctx.Partition(), Offset: ctx.Offset(), Deleted: m == nil}
	if m != nil {
		r.Value = m.GetValue()
	}
	s.pending = append(s.pending, r)
	s.seen[[2]int64{int64(r.Partition), r.Offset}] = true
	s.collected++
	return nil
}

func (s *memorySink) Flush(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.flushCalls++
	if s.failFlush != nil {
		if err := s.failFlush(s.flushCalls); err != nil {
			return err // the batch stays pending, as the contract asks
		}
	}
	for _, r := range s.pending {
		s.flushed[[2]int64{int64(r.Partition), r.Offset}] = r
	}
	s.flushSizes = append(s.flushSizes, len(s.pending))
	s.pending = nil
	return nil
}

// snapshot returns the flushed records sorted by partition and offset.
func (s *memorySink) snapshot() []sinkRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]sinkRecord, 0, len(s.flushed))
	for _, r := range s.flushed {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b sinkRecord) int {
		if a.Partition != b.Partition {
			return int(a.Partition - b.Partition)
		}
		return int(a.Offset - b.Offset)
	})
	return out
}

func (s *memorySink) has(p int32, offset int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.flushed[[2]int64{int64(p), offset}]
	return ok
}

func (s *memorySink) counts() (collected, flushed int, sizes []int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.collected, len(s.flushed), slices.Clone(s.flushSizes)
}

func (s *memorySink) seenAt(p int32, offset int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seen[[2]int64{int64(p), offset}]
}

// flushedAll reports the first offset below ends that none of sinks
// flushed, or "" when they flushed every one.
func flushedAll(ends map[int32]int64, sinks ...*memorySink) string {
	for p, end := range ends {
		for o := int64(0); o < end; o++ {
			found := false
			for _, s := range sinks {
				if s.has(p, o) {
					found = true
					break
				}
			}
			if !found {
				return fmt.Sprintf("partition %d offset %d was never flushed", p, o)
			}
		}
	}
	return ""
}
