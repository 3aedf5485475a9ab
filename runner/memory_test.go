package runner_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/kafmesh/kafmesh/runner"
)

func memoryService(t *testing.T, m *runner.MemoryCluster) *runner.Service {
	t.Helper()
	s, err := m.NewService(runner.Definition{Name: "memory"}, runner.WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestMemoryClusterRunsStatefulProcessors(t *testing.T) {
	m := runner.NewMemoryCluster(4)
	c := counter{in: "in", out: "out", group: "counting"}
	c.register(t, memoryService(t, m))
	for _, r := range inputRecords("in", 0, 100, 7) {
		if err := m.ProduceSync(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	// Everything happened before Produce returned.
	outs := m.Records("out")
	if len(outs) != 100 {
		t.Fatalf("%d outputs, want 100", len(outs))
	}
	// Outputs carry the timestamp of the input that caused them.
	for i, in := range m.Records("in") {
		if !outs[i].Timestamp.Equal(in.Timestamp) {
			t.Fatalf("output %d has timestamp %v, its input %v", i, outs[i].Timestamp, in.Timestamp)
		}
	}
	expectCounts(t, lastCounts(t, outs), 100, 7)
	// Each key was handled on the partition Kafka would give it, and its
	// state went to the same partition of the changelog.
	for _, r := range m.Records("counting-table") {
		if want := runner.KeyPartition(r.Key, 4); r.Partition != want {
			t.Errorf("changelog record of %s on partition %d, want %d", r.Key, r.Partition, want)
		}
	}
	expectCounts(t, lastCounts(t, m.Records("counting-table")), 100, 7)
}

func TestMemoryClusterJoinsLookupsAndViews(t *testing.T) {
	m := runner.NewMemoryCluster(3)
	s := memoryService(t, m)
	e := enricher{events: "events", assignments: "assignments", customers: "customers", out: "enriched", group: "enricher"}
	var handled atomic.Int64
	e.register(t, s, &handled)
	view, err := runner.NewView(s, runner.ViewSpec{Component: "c", TopicRef: runner.TopicRef{Topic: "customers"}}, stringCodec)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, r := range []*kgo.Record{
		stringRecord("assignments", "device-1", ptr("cust-1")),
		stringRecord("customers", "cust-1", ptr("Acme")),
		stringRecord("events", "device-1", ptr("e1")),
		stringRecord("customers", "cust-1", ptr("Acme Corp")),
		stringRecord("events", "device-1", ptr("e2")),
		stringRecord("assignments", "device-1", nil),
		stringRecord("events", "device-1", ptr("e3")),
	} {
		if err := m.ProduceSync(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	got := strings.Join(values(t, m.Records("enriched")), " ")
	if got != "e1|cust-1|Acme e2|cust-1|Acme Corp e3||" {
		t.Fatalf("outputs %q", got)
	}
	if !view.Ready() {
		t.Fatal("memory views are ready at once")
	}
	if v, ok, err := view.Get("cust-1"); err != nil || !ok || v.GetValue() != "Acme Corp" {
		t.Fatalf("view Get = %v %v %v", v, ok, err)
	}
}

func TestMemoryClusterReportsHandlerFailures(t *testing.T) {
	m := runner.NewMemoryCluster(1)
	u := &upper{in: "in", out: "out", group: "upper", attempts: map[string]int{}}
	u.register(t, memoryService(t, m))
	var errs []string
	for _, r := range u.inputs() {
		if err := m.ProduceSync(context.Background(), r); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) != 3 || !strings.Contains(errs[0], "cannot handle bad-two") || !strings.Contains(errs[2], "undecodable") {
		t.Fatalf("errors %q; want bad-two, flaky-three and the poison record to fail", errs)
	}
	// Failed records' outputs are not produced.
	if got := fmt.Sprint(values(t, m.Records("out"))); got != "[ONE FOUR]" {
		t.Fatalf("outputs %s", got)
	}
}

func TestMemoryClusterSources(t *testing.T) {
	m := runner.NewMemoryCluster(2)
	s := memoryService(t, m)
	src, err := runner.NewSource(s, runner.SourceSpec{Component: "c", TopicRef: runner.TopicRef{Topic: "in"}}, stringCodec)
	if err != nil {
		t.Fatal(err)
	}
	c := counter{in: "in", out: "out", group: "counting"}
	c.register(t, s)
	if err := src.EmitBulk(context.Background(), []runner.Keyed[*wrapperspb.StringValue]{
		{Key: "a", Value: wrapperspb.String("1")}, {Key: "a", Value: wrapperspb.String("2")}, {Key: "b", Value: wrapperspb.String("3")},
	}); err != nil {
		t.Fatal(err)
	}
	if err := src.Delete(context.Background(), "a"); err != nil {
		t.Fatal(err)
	}
	got := lastCounts(t, m.Records("out"))
	if got["a"] != 2 || got["b"] != 1 {
		t.Fatalf("counts %v", got)
	}
	if rs := m.Records("in"); len(rs) != 4 || rs[3].Value != nil {
		t.Fatalf("input log: %d records, last value %v (want the tombstone)", len(rs), rs[3].Value)
	}
	if err := s.Run(context.Background()); err == nil {
		t.Fatal("Run of a memory service should say there is nothing to run")
	}
}

// recordingSink keeps what it collected and how many flushes it saw.
type recordingSink struct {
	collected []string
	flushes   int
}

func (s *recordingSink) Collect(_ runner.SinkContext, key string, m *wrapperspb.StringValue) error {
	if m == nil {
		s.collected = append(s.collected, key+"=deleted")
		return nil
	}
	s.collected = append(s.collected, key+"="+m.GetValue())
	return nil
}

func (s *recordingSink) Flush(context.Context) error { s.flushes++; return nil }

// fixedSource reports a fixed data set.
type fixedSource map[string]string

func (f fixedSource) Sync(_ context.Context, up runner.Updater[*wrapperspb.StringValue]) error {
	for k, v := range f {
		if err := up.Update(k, wrapperspb.String(v)); err != nil {
			return err
		}
	}
	return nil
}

// copyingSink copies its table into a map at each sync.
type copyingSink map[string]string

func (c copyingSink) Sync(_ context.Context, v runner.Reader[*wrapperspb.StringValue]) error {
	clear(c)
	return v.Range(func(k string, m *wrapperspb.StringValue) bool {
		c[k] = m.GetValue()
		return true
	})
}

func TestMemoryClusterSinksAndViewSourcesAndSinks(t *testing.T) {
	m := runner.NewMemoryCluster(2)
	s := memoryService(t, m)
	sink := &recordingSink{}
	if err := runner.NewSink(s, runner.SinkSpec{Component: "c", Name: "sink", Group: "sink", TopicRef: runner.TopicRef{Topic: "table"}}, stringCodec, sink); err != nil {
		t.Fatal(err)
	}
	data := fixedSource{"a": "1", "b": "2"}
	if err := runner.NewViewSource(s, runner.ViewSourceSpec{Component: "c", Name: "src", TopicRef: runner.TopicRef{Topic: "table"}}, stringCodec, data); err != nil {
		t.Fatal(err)
	}
	mirror := copyingSink{}
	if err := runner.NewViewSink(s, runner.ViewSinkSpec{Component: "c", Name: "mirror", TopicRef: runner.TopicRef{Topic: "table"}}, stringCodec, mirror); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := m.SyncViewSources(ctx); err != nil {
		t.Fatal(err)
	}
	// The outside data changes: b is gone, c is new, a unchanged.
	delete(data, "b")
	data["c"] = "3"
	if err := m.SyncViewSources(ctx); err != nil {
		t.Fatal(err)
	}
	if err := m.SyncViewSinks(ctx); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(mirror); got != "map[a:1 c:3]" {
		t.Fatalf("view sink copied %s", got)
	}
	// Only changes were written (a once), and the sink saw each, a delete
	// included, flushed one by one.
	if n := len(m.Records("table")); n != 4 {
		t.Fatalf("%d records written to the table, want 4 (a, b, c, delete b)", n)
	}
	slices := strings.Join(sink.collected, " ")
	for _, want := range []string{"a=1", "b=2", "c=3", "b=deleted"} {
		if !strings.Contains(slices, want) {
			t.Errorf("sink collected %q, missing %s", slices, want)
		}
	}
	if sink.flushes != 4 {
		t.Errorf("%d flushes, want one per record", sink.flushes)
	}
}

func TestNilHandlersAreRefused(t *testing.T) {
	s := memoryService(t, runner.NewMemoryCluster(1))
	ref := runner.TopicRef{Topic: "t"}
	if err := runner.NewSink[*wrapperspb.StringValue](s, runner.SinkSpec{Name: "s", TopicRef: ref}, stringCodec, nil); err != runner.ErrNilHandler {
		t.Errorf("sink: %v", err)
	}
	if err := runner.NewViewSource[*wrapperspb.StringValue](s, runner.ViewSourceSpec{Name: "vs", TopicRef: ref}, stringCodec, nil); err != runner.ErrNilHandler {
		t.Errorf("view source: %v", err)
	}
	if err := runner.NewViewSink[*wrapperspb.StringValue](s, runner.ViewSinkSpec{Name: "vk", TopicRef: ref}, stringCodec, nil); err != runner.ErrNilHandler {
		t.Errorf("view sink: %v", err)
	}
}
