package runner_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	oteltrace "go.opentelemetry.io/otel/trace"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/kafmesh/kafmesh/kafmeshtest"
	"github.com/kafmesh/kafmesh/runner"
)

// passOn registers a stateless processor that writes each input to its
// output with the same key.
func passOn(t *testing.T, s *runner.Service, component, name, group, in, out string) {
	t.Helper()
	p := runner.NewProcessor(runner.ProcessorSpec{
		Component: component, Name: name, Group: group,
		Inputs:  []runner.TopicRef{ref(in, "google.protobuf.StringValue")},
		Outputs: []runner.OutputRef{{TopicRef: ref(out, "google.protobuf.StringValue")}},
	})
	runner.HandleInput(p, 0, stringCodec, func(ctx *runner.ProcessorContext, m *wrapperspb.StringValue) error {
		runner.Output(ctx, 0, stringCodec, ctx.Key(), wrapperspb.String(m.GetValue()+"+"+name))
		return nil
	})
	if err := s.Register(p); err != nil {
		t.Fatal(err)
	}
}

// One record goes from a source of service A through a processor of A and
// a processor of service B into a sink of B: the spans of all four form
// one trace, each the child of the one before, carried in record headers.
func TestTraceAcrossServices(t *testing.T) {
	brokers := kafmeshtest.StartBroker(t)
	in, mid, out := kafmeshtest.Unique(t, "trace-in"), kafmeshtest.Unique(t, "trace-mid"), kafmeshtest.Unique(t, "trace-out")
	for _, topic := range []string{in, mid, out} {
		kafmeshtest.CreateTopic(t, brokers, topic, 2, false)
	}
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })

	a := newService(t, brokers, "tracea", t.TempDir(), runner.WithTracerProvider(tp), runner.WithMemoryState())
	src, err := runner.NewSource(a, runner.SourceSpec{Component: "gateway", TopicRef: ref(in, "google.protobuf.StringValue")}, stringCodec)
	if err != nil {
		t.Fatal(err)
	}
	passOn(t, a, "enrich", "first", kafmeshtest.Unique(t, "first"), in, mid)

	b := newService(t, brokers, "traceb", t.TempDir(), runner.WithTracerProvider(tp), runner.WithMemoryState())
	passOn(t, b, "score", "second", kafmeshtest.Unique(t, "second"), mid, out)
	sink := &countingSink{}
	if err := runner.NewSink(b, runner.SinkSpec{Component: "export", Name: "store", Group: kafmeshtest.Unique(t, "store"), TopicRef: ref(out, "")},
		runner.Raw(), sink, runner.Interval(100*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	running(t, a)
	running(t, b)

	if err := src.Emit(t.Context(), "k1", wrapperspb.String("hello")); err != nil {
		t.Fatal(err)
	}
	want := []string{"send " + in, "process " + in, "process " + mid, "sink " + out}
	byName := map[string]tracetest.SpanStub{}
	waitUntil(t, 60*time.Second, func() string {
		clear(byName)
		for _, s := range exp.GetSpans() {
			byName[s.Name] = s
		}
		for _, n := range want {
			if _, ok := byName[n]; !ok {
				return fmt.Sprintf("no span %q yet (have %d spans)", n, len(byName))
			}
		}
		return ""
	})
	root := byName[want[0]]
	if root.Parent.IsValid() {
		t.Errorf("the source span has a parent: %v", root.Parent)
	}
	for i := 1; i < len(want); i++ {
		s, parent := byName[want[i]], byName[want[i-1]]
		if s.SpanContext.TraceID() != root.SpanContext.TraceID() {
			t.Errorf("%s is in trace %s, want %s", s.Name, s.SpanContext.TraceID(), root.SpanContext.TraceID())
		}
		if s.Parent.SpanID() != parent.SpanContext.SpanID() {
			t.Errorf("%s has parent %s, want %s (%s)", s.Name, s.Parent.SpanID(), parent.SpanContext.SpanID(), parent.Name)
		}
	}
	attrs := map[string]string{}
	for _, kv := range byName["process "+mid].Attributes {
		attrs[string(kv.Key)] = kv.Value.Emit()
	}
	for k, v := range map[string]string{"kafmesh.component": "score", "kafmesh.processor": "score/second", "messaging.destination.name": mid} {
		if attrs[k] != v {
			t.Errorf("process span attribute %s = %q, want %q (all: %v)", k, attrs[k], v, attrs)
		}
	}
	for _, k := range []string{"messaging.destination.partition.id", "messaging.kafka.offset"} {
		if _, ok := attrs[k]; !ok {
			t.Errorf("process span has no %s", k)
		}
	}
	if !strings.HasPrefix(byName["sink "+out].Name, "sink ") || sink.collected.Load() != 1 {
		t.Errorf("sink collected %d records, want 1", sink.collected.Load())
	}
}

// With tracing on, the gRPC server Run starts makes a server span per call.
func TestTraceGRPCServer(t *testing.T) {
	brokers := kafmeshtest.StartBroker(t)
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	s := newService(t, brokers, "tracegrpc", t.TempDir(), runner.WithTracerProvider(tp), runner.WithGRPCAddr("127.0.0.1:0"))
	table := kafmeshtest.Unique(t, "trace-table")
	kafmeshtest.CreateTopic(t, brokers, table, 1, true)
	if _, err := runner.NewView(s, runner.ViewSpec{Component: "c", TopicRef: ref(table, "google.protobuf.StringValue")}, stringCodec); err != nil {
		t.Fatal(err)
	}
	running(t, s)
	waitUntil(t, 30*time.Second, func() string {
		if s.GRPCAddr() == "" {
			return "gRPC not listening"
		}
		return ""
	})
	if _, err := healthpb.NewHealthClient(dial(t, s.GRPCAddr())).Check(t.Context(), &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, func() string {
		for _, sp := range exp.GetSpans() {
			if sp.Name == "grpc.health.v1.Health/Check" {
				return ""
			}
		}
		return fmt.Sprintf("no server span among %d", len(exp.GetSpans()))
	})
}

// spanCtxSink is a view sink that records whether its Sync got a context
// carrying a span.
type spanCtxSink struct{ traced atomic.Bool }

func (s *spanCtxSink) Sync(ctx context.Context, v runner.Reader[*wrapperspb.StringValue]) error {
	s.traced.Store(oteltrace.SpanFromContext(ctx).SpanContext().IsValid())
	return nil
}

// A view source's sync and a view sink's sync each make a "sync <topic>"
// span, handed to the handler in its context; the view source's writes
// carry that span's trace context in their headers.
func TestTraceViewSourceAndViewSink(t *testing.T) {
	brokers := kafmeshtest.StartBroker(t)
	table := kafmeshtest.Unique(t, "trace-vs")
	kafmeshtest.CreateTopic(t, brokers, table, 1, true)
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	s := newService(t, brokers, "tracevs", t.TempDir(), runner.WithTracerProvider(tp), runner.WithMemoryState())
	tr := runner.TopicRef{Topic: table, Message: "google.protobuf.StringValue", Type: runner.TopicProtobuf}
	if err := runner.NewViewSource(s, runner.ViewSourceSpec{Component: "catalog", Name: "importer", TopicRef: tr}, stringCodec,
		fixedSource{"a": "1", "b": "2"}, runner.Interval(time.Hour)); err != nil {
		t.Fatal(err)
	}
	sink := &spanCtxSink{}
	if err := runner.NewViewSink(s, runner.ViewSinkSpec{Component: "catalog", Name: "exporter", TopicRef: tr}, stringCodec,
		sink, runner.Interval(time.Hour)); err != nil {
		t.Fatal(err)
	}
	running(t, s)
	byRole := map[string]tracetest.SpanStub{}
	waitUntil(t, 30*time.Second, func() string {
		for _, sp := range exp.GetSpans() {
			for _, kv := range sp.Attributes {
				if kv.Key == "kafmesh.role" {
					byRole[kv.Value.AsString()] = sp
				}
			}
		}
		if len(byRole) < 2 {
			return fmt.Sprintf("sync spans of %v, want view_source and view_sink", byRole)
		}
		return ""
	})
	attrs := func(sp tracetest.SpanStub) map[string]string {
		m := map[string]string{}
		for _, kv := range sp.Attributes {
			m[string(kv.Key)] = kv.Value.Emit()
		}
		return m
	}
	src, snk := byRole["view_source"], byRole["view_sink"]
	for _, c := range []struct {
		span tracetest.SpanStub
		want map[string]string
	}{
		{src, map[string]string{"kafmesh.part": "importer", "kafmesh.sync.result": "ok", "kafmesh.sync.updates": "2", "kafmesh.sync.deletes": "0", "messaging.destination.name": table}},
		{snk, map[string]string{"kafmesh.part": "exporter", "kafmesh.sync.result": "ok", "messaging.destination.name": table}},
	} {
		if c.span.Name != "sync "+table {
			t.Errorf("span name %q, want %q", c.span.Name, "sync "+table)
		}
		got := attrs(c.span)
		for k, v := range c.want {
			if got[k] != v {
				t.Errorf("%s: %s = %q, want %q (all: %v)", c.span.Name, k, got[k], v, got)
			}
		}
	}
	if !sink.traced.Load() {
		t.Error("the view sink's Sync got a context without the sync's span")
	}
	recs := consumeN(t, brokers, table, 2, 30*time.Second)
	for _, r := range recs {
		var tp string
		for _, h := range r.Headers {
			if h.Key == "traceparent" {
				tp = string(h.Value)
			}
		}
		if !strings.Contains(tp, src.SpanContext.TraceID().String()) {
			t.Errorf("record %s has traceparent %q, want one in trace %s", r.Key, tp, src.SpanContext.TraceID())
		}
	}
}

// With WithKafkaClientTracing, the Kafka client's publish and receive
// spans join the record's trace: the source's send span is the parent of
// the publish span, which is the parent of the processor's span and of
// the receive span, all in one trace.
func TestTraceKafkaClientSpans(t *testing.T) {
	brokers := kafmeshtest.StartBroker(t)
	in, out := kafmeshtest.Unique(t, "kotel-in"), kafmeshtest.Unique(t, "kotel-out")
	for _, topic := range []string{in, out} {
		kafmeshtest.CreateTopic(t, brokers, topic, 1, false)
	}
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	s := newService(t, brokers, "tracekotel", t.TempDir(), runner.WithTracerProvider(tp), runner.WithMemoryState(), runner.WithKafkaClientTracing())
	src, err := runner.NewSource(s, runner.SourceSpec{Component: "gateway", TopicRef: ref(in, "google.protobuf.StringValue")}, stringCodec)
	if err != nil {
		t.Fatal(err)
	}
	group := kafmeshtest.Unique(t, "kotel")
	passOn(t, s, "enrich", "first", group, in, out)
	running(t, s)
	if err := src.Emit(t.Context(), "k1", wrapperspb.String("hello")); err != nil {
		t.Fatal(err)
	}
	send, publish, receive, process := "send "+in, in+" publish", in+" receive", "process "+in
	byName := map[string]tracetest.SpanStub{}
	waitUntil(t, 60*time.Second, func() string {
		clear(byName)
		for _, sp := range exp.GetSpans() {
			byName[sp.Name] = sp
		}
		for _, n := range []string{send, publish, receive, process} {
			if _, ok := byName[n]; !ok {
				return fmt.Sprintf("no span %q yet (have %d)", n, len(byName))
			}
		}
		return ""
	})
	trace := byName[send].SpanContext.TraceID()
	for child, parent := range map[string]string{publish: send, receive: publish, process: publish} {
		c, p := byName[child], byName[parent]
		if c.SpanContext.TraceID() != trace || c.Parent.SpanID() != p.SpanContext.SpanID() {
			t.Errorf("%s (trace %s, parent %s) is not the child of %s (trace %s, span %s)",
				child, c.SpanContext.TraceID(), c.Parent.SpanID(), parent, trace, p.SpanContext.SpanID())
		}
	}
	// kotel replaces each produced record's Context with its span's; the
	// at-least-once commit still finds the records' commit epoch through
	// it, so the input is committed.
	waitGroupCommitted(t, brokers, group, in, 30*time.Second)
}
