package discovery

import (
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/propagation"
	oteltrace "go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
)

// WithTracerProvider traces discover's gRPC calls to its targets (the
// scrapes' Ping and GetServiceInfo, the live watch) with tp: a client span
// per call (otelgrpc), whose W3C trace context goes along in the call's
// metadata, so a target that traces its server (a kafmesh service with
// tracing on) continues the same trace. nil leaves tracing off.
func WithTracerProvider(tp oteltrace.TracerProvider) Option {
	return func(s *Service) {
		if tp == nil {
			return
		}
		s.dialOpts = append(s.dialOpts, grpc.WithStatsHandler(otelgrpc.NewClientHandler(otelgrpc.WithTracerProvider(tp),
			otelgrpc.WithPropagators(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})))))
	}
}
