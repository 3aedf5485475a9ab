package runner

import (
	"context"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kotel"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	oteltrace "go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
)

// Tracing (OpenTelemetry). It is off unless WithTracerProvider gave a
// provider or the OTEL_* environment configures an exporter (see
// tracing_env.go); when off, the only cost on a record is one nil check.
//
// When on:
//   - a source starts a producer span per record and writes the W3C trace
//     context (traceparent, tracestate) into the record's headers;
//   - a processor continues the trace of each input record's headers with
//     one consumer span per handled record (attributes: kafmesh.component,
//     kafmesh.processor, messaging.destination.name, partition, offset);
//     join and lookup reads are events on it, retries, skips and dead
//     letters too; its outputs carry the span's context on in their
//     headers (dead letters keep the input's headers);
//   - a sink continues the trace with one span per collected record.
//
// Headers that hold no valid trace context start a new trace.

// WithTracerProvider makes the service trace records with tp (see the
// package's tracing notes in tracing.go and docs/observability.md). A nil
// tp leaves tracing off unless the OTEL_* environment turns it on.
func WithTracerProvider(tp oteltrace.TracerProvider) Option {
	return func(c *serviceConfig) { c.tracerProvider = tp }
}

// tracerName is the instrumentation scope of kafmesh's spans.
const tracerName = "github.com/kafmesh/kafmesh/runner"

// propagator writes and reads W3C trace context and baggage.
var propagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

// headerCarrier adapts a record's headers to the propagation API.
type headerCarrier struct{ r *kgo.Record }

func (h headerCarrier) Get(key string) string {
	for _, hd := range h.r.Headers {
		if hd.Key == key {
			return string(hd.Value)
		}
	}
	return ""
}

func (h headerCarrier) Set(key, value string) {
	for i, hd := range h.r.Headers {
		if hd.Key == key {
			h.r.Headers[i].Value = []byte(value)
			return
		}
	}
	h.r.Headers = append(h.r.Headers, kgo.RecordHeader{Key: key, Value: []byte(value)})
}

func (h headerCarrier) Keys() []string {
	keys := make([]string, len(h.r.Headers))
	for i, hd := range h.r.Headers {
		keys[i] = hd.Key
	}
	return keys
}

// injectTrace writes the trace context of ctx into r's headers.
func injectTrace(ctx context.Context, r *kgo.Record) {
	propagator.Inject(ctx, headerCarrier{r})
}

// recordAttrs are the attributes of a span about record r.
func recordAttrs(component, part string, r *kgo.Record) []attribute.KeyValue {
	return []attribute.KeyValue{
		attribute.String("kafmesh.component", component),
		attribute.String("kafmesh.part", part),
		attribute.String("messaging.system", "kafka"),
		attribute.String("messaging.destination.name", r.Topic),
		attribute.Int("messaging.destination.partition.id", int(r.Partition)),
		attribute.Int64("messaging.kafka.offset", r.Offset),
	}
}

// startConsumeSpan continues the trace in r's headers with a consumer span
// named "<verb> <topic>"; the returned context carries it.
func (o *observability) startConsumeSpan(ctx context.Context, verb, component, part string, r *kgo.Record) (context.Context, oteltrace.Span) {
	ctx = propagator.Extract(ctx, headerCarrier{r})
	return o.tracer.Start(ctx, verb+" "+r.Topic, oteltrace.WithSpanKind(oteltrace.SpanKindConsumer),
		oteltrace.WithAttributes(recordAttrs(component, part, r)...))
}

// endSpan ends span, marking it failed when err is not nil.
func endSpan(span oteltrace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// traceSourceRecord starts the producer span of a source record and
// writes its context into r's headers; the caller ends the span once the
// record is acknowledged. nil when tracing is off.
func (s *Service) traceSourceRecord(ctx context.Context, component string, r *kgo.Record) oteltrace.Span {
	if s.obs.tracer == nil {
		return nil
	}
	ctx, span := s.obs.tracer.Start(ctx, "send "+r.Topic, oteltrace.WithSpanKind(oteltrace.SpanKindProducer),
		oteltrace.WithAttributes(attribute.String("kafmesh.component", component), attribute.String("messaging.system", "kafka"),
			attribute.String("messaging.destination.name", r.Topic)))
	injectTrace(ctx, r)
	return span
}

// startProcessSpan is the span of one record handled by processor pp
// (retries included). The caller ends it with endSpan.
func (pp *processorPart) startProcessSpan(ctx context.Context, r *kgo.Record) (context.Context, oteltrace.Span) {
	ctx, span := pp.svc.obs.startConsumeSpan(ctx, "process", pp.p.spec.Component, pp.p.spec.Name, r)
	span.SetAttributes(attribute.String("kafmesh.processor", pp.p.spec.Component+"/"+pp.p.spec.Name),
		attribute.String("messaging.consumer.group.name", pp.p.spec.Group))
	return ctx, span
}

// spanEvent adds a join or lookup read to the record's span.
func (c *ProcessorContext) spanEvent(name, topic, key string, found bool) {
	c.span.AddEvent(name, oteltrace.WithAttributes(attribute.String("messaging.destination.name", topic),
		attribute.String("kafmesh.key", key), attribute.Bool("kafmesh.found", found)))
}

// grpcTracing are the options that trace the calls of the gRPC server Run
// starts (WithGRPCAddr), see [GRPCServerTracing]. None when tracing is off.
// A server given with WithGRPCServer is the caller's: add
// GRPCServerTracing(tp) to it.
func (s *Service) grpcTracing() []grpc.ServerOption {
	if s.obs.tracerProvider == nil {
		return nil
	}
	return []grpc.ServerOption{GRPCServerTracing(s.obs.tracerProvider)}
}

// GRPCServerTracing is the gRPC server option that traces a server's calls
// the way a kafmesh service traces its own server: otelgrpc makes a server
// span per call with tp, continuing the caller's W3C trace context and
// baggage from the call's metadata. Give it to grpc.NewServer for a server
// passed with WithGRPCServer, with the same tp as WithTracerProvider. A
// nil tp makes otelgrpc use the process's global provider
// (otel.GetTracerProvider); to trace nothing, leave the option out.
func GRPCServerTracing(tp oteltrace.TracerProvider) grpc.ServerOption {
	return grpc.StatsHandler(otelgrpc.NewServerHandler(otelgrpc.WithTracerProvider(tp), otelgrpc.WithPropagators(propagator)))
}

// startSyncSpan starts the span of one view source or view sink sync,
// "sync <topic>", a root span (a sync follows a timer, not a record); the
// returned context carries it into the handler's Sync, so spans of the
// handler's own calls (a database client's) become its children. nil
// span, and ctx unchanged, when tracing is off.
func (o *observability) startSyncSpan(ctx context.Context, role, component, part, topic string) (context.Context, oteltrace.Span) {
	if o.tracer == nil {
		return ctx, nil
	}
	return o.tracer.Start(ctx, "sync "+topic, oteltrace.WithNewRoot(), oteltrace.WithSpanKind(oteltrace.SpanKindInternal),
		oteltrace.WithAttributes(attribute.String("kafmesh.component", component), attribute.String("kafmesh.part", part),
			attribute.String("kafmesh.role", role), attribute.String("messaging.system", "kafka"),
			attribute.String("messaging.destination.name", topic)))
}

// endSyncSpan ends a sync's span (nil: tracing is off) with its result
// (ok, error or timeout) and its error.
func endSyncSpan(span oteltrace.Span, result string, err error, attrs ...attribute.KeyValue) {
	if span == nil {
		return
	}
	span.SetAttributes(append(attrs, attribute.String("kafmesh.sync.result", result))...)
	endSpan(span, err)
}

// WithKafkaClientTracing adds the Kafka client's own spans (franz-go's
// plugin/kotel) under the service's tracer provider: a producer span
// "<topic> publish" per record produced, from buffering to
// acknowledgement, and a consumer span "<topic> receive" per record
// fetched, from fetch to poll: every record any client of the service
// fetches, state restores and view and lookup table follows included, so
// it is for looking into the client, not for production. Off by default;
// it does nothing while tracing is off.
//
// The publish span is the child of the kafmesh span whose trace context
// the record's headers carry (the source's send span, the processor's
// process span), and the headers then carry the publish span's context:
// the next processor's span is its child, so the trace stays one chain.
// The receive span continues the same trace; the processor's span is its
// sibling (both children of the publish span).
func WithKafkaClientTracing() Option {
	return func(c *serviceConfig) { c.kafkaTracing = true }
}

// kafkaClientTracing is the kotel hook of a new Kafka client; none unless
// WithKafkaClientTracing and tracing is on.
func (s *Service) kafkaClientTracing() []kgo.Opt {
	if !s.cfg.kafkaTracing || s.obs.tracerProvider == nil {
		return nil
	}
	t := kotel.NewTracer(kotel.TracerProvider(s.obs.tracerProvider), kotel.TracerPropagator(propagator), kotel.ClientID(s.cfg.clientID))
	return []kgo.Opt{kgo.WithHooks(kotelHook{t})}
}

// kotelHook is kotel's tracer, except that a produced record's span
// continues the trace context already in its headers (kotel would start
// from the produce call's context, which need not carry kafmesh's span,
// and then overwrite the headers with an unrelated trace).
type kotelHook struct{ t *kotel.Tracer }

func (h kotelHook) OnProduceRecordBuffered(r *kgo.Record) {
	if r.Context == nil {
		r.Context = context.Background()
	}
	r.Context = propagator.Extract(r.Context, headerCarrier{r})
	h.t.OnProduceRecordBuffered(r)
}

func (h kotelHook) OnProduceRecordUnbuffered(r *kgo.Record, err error) {
	h.t.OnProduceRecordUnbuffered(r, err)
}

func (h kotelHook) OnFetchRecordBuffered(r *kgo.Record) { h.t.OnFetchRecordBuffered(r) }

func (h kotelHook) OnFetchRecordUnbuffered(r *kgo.Record, polled bool) {
	h.t.OnFetchRecordUnbuffered(r, polled)
}
