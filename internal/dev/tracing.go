package dev

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	oteltrace "go.opentelemetry.io/otel/trace"
)

// serviceName is the example service's name (examples/devices), the
// resource's service.name.
const serviceName = "kafmesh"

// tracerProvider builds the tracer provider of --otlp-endpoint: nil when
// endpoint is "" (the example service then follows the OTEL_* environment,
// see runner.TracerProviderFromEnv). endpoint is a URL, http:// or
// https://; protocol is "http/protobuf" (default; the URL's path, when
// there is none, becomes /v1/traces) or "grpc" (host and port of the URL;
// http:// means no TLS). Nothing connects here: an unreachable collector
// shows later as export errors and never slows the mesh.
func tracerProvider(ctx context.Context, endpoint, protocol string) (*sdktrace.TracerProvider, error) {
	if endpoint == "" {
		return nil, nil
	}
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--otlp-endpoint %q: want a URL such as http://localhost:4318 (http/protobuf) or http://localhost:4317 (grpc)", endpoint)
	}
	var exp sdktrace.SpanExporter
	switch strings.ToLower(protocol) {
	case "", "http/protobuf":
		if u.Path == "" || u.Path == "/" {
			u.Path = "/v1/traces"
		}
		exp, err = otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(u.String()))
	case "grpc":
		exp, err = otlptracegrpc.New(ctx, otlptracegrpc.WithEndpointURL(u.String()))
	default:
		return nil, fmt.Errorf("--otlp-protocol %q: want http/protobuf or grpc", protocol)
	}
	if err != nil {
		return nil, fmt.Errorf("OTLP exporter for %s: %w", endpoint, err)
	}
	return sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", serviceName)))), nil
}

// tracerOrNil keeps a nil *TracerProvider from becoming a non-nil
// interface (which would turn tracing on with a nil provider).
func tracerOrNil(tp *sdktrace.TracerProvider) oteltrace.TracerProvider {
	if tp == nil {
		return nil
	}
	return tp
}
