package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// setupTracing picks the service's tracer. Tracing is on when
//   - WithTracerProvider gave a provider: the service uses it; or
//   - the standard OTEL_* environment asks for traces (see
//     TracerProviderFromEnv): the service builds a provider of its own from
//     that environment (service.name defaults to the service's name), and
//     flushes and shuts it down when it is closed (Run returning, or Close).
//
// Otherwise the tracer stays nil and records pay one nil check. The
// process's global provider (otel.SetTracerProvider) is never used: pass
// it with WithTracerProvider to share it.
func (s *Service) setupTracing() error {
	if tp := s.cfg.tracerProvider; tp != nil {
		s.obs.tracer, s.obs.tracerProvider = tp.Tracer(tracerName), tp
		return nil
	}
	tp, err := tracerProviderFromEnv(context.Background(), os.Getenv, s.def.Name)
	if err != nil {
		return fmt.Errorf("runner: tracing from the OTEL_* environment: %w", err)
	}
	if tp != nil {
		s.obs.ownTracerProvider = tp
		s.obs.tracerProvider = tp
		s.obs.tracer = tp.Tracer(tracerName)
	}
	return nil
}

// shutdownTracing flushes and stops the provider the service built from
// the environment (none when the caller gave one: that is the caller's to
// shut down). It waits at most 5 seconds for the exporter; spans not sent
// by then are dropped and the failure is logged.
func (s *Service) shutdownTracing() {
	tp := s.obs.ownTracerProvider
	if tp == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := tp.Shutdown(ctx); err != nil {
		s.log.Warn("tracing: flushing the spans at shutdown failed", "error", err)
	}
}

// TracerProviderFromEnv builds an OpenTelemetry SDK tracer provider from
// the standard OTEL_* environment alone, or returns nil (and no error)
// when the environment does not ask for traces, so a program can write
//
//	tp, err := runner.TracerProviderFromEnv(ctx, "devices")
//	if err != nil { ... }
//	if tp != nil {
//		defer tp.Shutdown(context.Background())
//		opts = append(opts, runner.WithTracerProvider(tp))
//	}
//
// to share one provider between several services (a service without
// WithTracerProvider builds its own from the same environment).
//
// The environment asks for traces when OTEL_SDK_DISABLED is not "true" and
// either OTEL_TRACES_EXPORTER is set to anything but "none", or
// OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set
// (then the exporter is "otlp"). Unlike the OpenTelemetry default, nothing
// set means no tracing at all, not an exporter to localhost.
//
// Supported: OTEL_TRACES_EXPORTER "otlp" and "console" (spans as JSON on
// standard output, for a look while developing), as a comma-separated list
// ("none" entries are ignored); otlp with OTEL_EXPORTER_OTLP_TRACES_PROTOCOL
// or OTEL_EXPORTER_OTLP_PROTOCOL "http/protobuf" (the default) or "grpc".
// The exporters read the rest of OTEL_EXPORTER_OTLP_* themselves
// (endpoint, headers, timeout, compression, certificates); the SDK reads
// OTEL_TRACES_SAMPLER(_ARG), OTEL_BSP_* and OTEL_SPAN_*_LIMIT; the resource
// comes from OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES, with
// serviceName as service.name when they name none ("" leaves the SDK's
// default, unknown_service:<program>). Any other
// exporter or protocol is an error that names it. Building does not
// connect: an unreachable collector shows later, as export errors through
// the OpenTelemetry error handler, and never blocks records.
//
// opts are appended to the provider's options (e.g. a sampler or another
// span processor).
func TracerProviderFromEnv(ctx context.Context, serviceName string, opts ...sdktrace.TracerProviderOption) (*sdktrace.TracerProvider, error) {
	return tracerProviderFromEnv(ctx, os.Getenv, serviceName, opts...)
}

// tracerProviderFromEnv is TracerProviderFromEnv reading getenv, with
// serviceName as service.name unless OTEL_SERVICE_NAME or
// OTEL_RESOURCE_ATTRIBUTES names one ("" gives the SDK's default resource,
// service.name unknown_service:<program>, under the environment's).
func tracerProviderFromEnv(ctx context.Context, getenv func(string) string, serviceName string, opts ...sdktrace.TracerProviderOption) (*sdktrace.TracerProvider, error) {
	if !tracingFromEnv(getenv) {
		return nil, nil
	}
	names := strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER"))
	if names == "" {
		names = "otlp"
	}
	// Every name is checked before any exporter is built, so an unsupported
	// one cannot leave built exporters (and their connections) behind.
	var kinds []string
	for name := range strings.SplitSeq(names, ",") {
		switch name = strings.ToLower(strings.TrimSpace(name)); name {
		case "none", "":
		case "otlp", "console":
			kinds = append(kinds, name)
		default:
			return nil, fmt.Errorf("OTEL_TRACES_EXPORTER %q is not supported (use otlp, console or none)", name)
		}
	}
	if len(kinds) == 0 {
		return nil, nil
	}
	res, err := resource.New(ctx, resource.WithFromEnv(), resource.WithTelemetrySDK())
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, fmt.Errorf("resource from OTEL_RESOURCE_ATTRIBUTES: %w", err)
	}
	// Under the environment's resource: serviceName, or when it is "" the
	// SDK's default service.name, unknown_service:<program>. (Not
	// resource.Default(): it reads the environment once per process and
	// would keep the OTEL_SERVICE_NAME of its first call.)
	if serviceName == "" {
		serviceName = defaultServiceName()
	}
	if res, err = resource.Merge(resource.NewSchemaless(serviceNameKey.String(serviceName)), res); err != nil {
		return nil, fmt.Errorf("resource: %w", err)
	}
	var exporters []sdktrace.SpanExporter
	for _, kind := range kinds {
		var exp sdktrace.SpanExporter
		if kind == "otlp" {
			exp, err = otlpExporter(ctx, getenv)
		} else if exp, err = stdouttrace.New(stdouttrace.WithWriter(os.Stdout)); err != nil {
			err = fmt.Errorf("console exporter: %w", err)
		}
		if err != nil {
			for _, built := range exporters {
				_ = built.Shutdown(ctx)
			}
			return nil, err
		}
		exporters = append(exporters, exp)
	}
	all := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	for _, exp := range exporters {
		all = append(all, sdktrace.WithBatcher(exp))
	}
	return sdktrace.NewTracerProvider(append(all, opts...)...), nil
}

// defaultServiceName is the OpenTelemetry SDK's service.name for a
// service that names none: unknown_service: and the program's file name
// (unknown_service:go if the program cannot be found).
func defaultServiceName() string {
	exe, err := os.Executable()
	if err != nil {
		return "unknown_service:go"
	}
	return "unknown_service:" + filepath.Base(exe)
}

// serviceNameKey is the resource attribute that names the service.
const serviceNameKey = attribute.Key("service.name")

// otlpExporter is the OTLP span exporter of the protocol the environment
// names.
func otlpExporter(ctx context.Context, getenv func(string) string) (sdktrace.SpanExporter, error) {
	protocol, from := strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")), "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
	if protocol == "" {
		protocol, from = strings.TrimSpace(getenv("OTEL_EXPORTER_OTLP_PROTOCOL")), "OTEL_EXPORTER_OTLP_PROTOCOL"
	}
	var exp sdktrace.SpanExporter
	var err error
	switch strings.ToLower(protocol) {
	case "", "http/protobuf":
		exp, err = otlptracehttp.New(ctx)
	case "grpc":
		exp, err = otlptracegrpc.New(ctx)
	default:
		return nil, fmt.Errorf("%s %q is not supported (use http/protobuf or grpc)", from, protocol)
	}
	if err != nil {
		return nil, fmt.Errorf("OTLP %s exporter: %w", protocol, err)
	}
	return exp, nil
}

// tracingFromEnv reports whether the OTEL_* variables ask for traces.
func tracingFromEnv(getenv func(string) string) bool {
	if strings.EqualFold(getenv("OTEL_SDK_DISABLED"), "true") {
		return false
	}
	switch exp := strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER")); {
	case strings.EqualFold(exp, "none"):
		return false
	case exp != "":
		return true
	}
	return getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}
