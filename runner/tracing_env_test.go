package runner_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/kafmesh/kafmesh/kafmeshtest"
	"github.com/kafmesh/kafmesh/runner"
)

// byName is the last span r received under each name.
func byName(r *kafmeshtest.OTLPReceiver) map[string]kafmeshtest.ReceivedSpan {
	m := map[string]kafmeshtest.ReceivedSpan{}
	for _, s := range r.Spans() {
		m[s.Name] = s
	}
	return m
}

// clearOTELEnv unsets the OTEL_* variables the tests depend on, so the
// environment of the machine cannot change their outcome.
func clearOTELEnv(t *testing.T) {
	for _, k := range []string{"OTEL_SDK_DISABLED", "OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
		"OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_SERVICE_NAME", "OTEL_RESOURCE_ATTRIBUTES", "OTEL_TRACES_SAMPLER"} {
		t.Setenv(k, "")
	}
}

// A service given no tracer provider exports its spans over OTLP/HTTP when
// only the OTEL_* environment asks for it: a record from a source through
// a processor, on a real broker, arrives at an in-process OTLP receiver as
// one trace, under the service's name and the environment's resource.
func TestTracingFromEnvOTLPHTTP(t *testing.T) {
	clearOTELEnv(t)
	recv := kafmeshtest.StartOTLPReceiver(t)
	t.Setenv("OTEL_TRACES_EXPORTER", "otlp")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", recv.URL())
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=kafmesh-test")
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "50")

	brokers := kafmeshtest.StartBroker(t)
	in, out := kafmeshtest.Unique(t, "envtrace-in"), kafmeshtest.Unique(t, "envtrace-out")
	for _, topic := range []string{in, out} {
		kafmeshtest.CreateTopic(t, brokers, topic, 1, false)
	}
	s := newService(t, brokers, "envtrace", t.TempDir(), runner.WithMemoryState())
	src, err := runner.NewSource(s, runner.SourceSpec{Component: "gateway", TopicRef: ref(in, "google.protobuf.StringValue")}, stringCodec)
	if err != nil {
		t.Fatal(err)
	}
	passOn(t, s, "enrich", "first", kafmeshtest.Unique(t, "envtrace"), in, out)
	stop := running(t, s)
	if err := src.Emit(t.Context(), "k1", wrapperspb.String("hello")); err != nil {
		t.Fatal(err)
	}
	send, process := "send "+in, "process "+in
	var got map[string]kafmeshtest.ReceivedSpan
	waitUntil(t, 60*time.Second, func() string {
		got = byName(recv)
		for _, n := range []string{send, process} {
			if _, ok := got[n]; !ok {
				return fmt.Sprintf("the receiver has no span %q (has %d spans)", n, len(got))
			}
		}
		return ""
	})
	if got[process].TraceID != got[send].TraceID || got[process].ParentSpanID != got[send].SpanID {
		t.Errorf("process span (trace %s, parent %s) does not continue the send span (trace %s, span %s)",
			got[process].TraceID, got[process].ParentSpanID, got[send].TraceID, got[send].SpanID)
	}
	for k, v := range map[string]string{"service.name": "envtrace", "deployment.environment.name": "kafmesh-test"} {
		if got[process].Resource[k] != v {
			t.Errorf("resource %s = %q, want %q (all: %v)", k, got[process].Resource[k], v, got[process].Resource)
		}
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// TracerProviderFromEnv builds an OTLP/gRPC exporter when the protocol
// says grpc, and takes service.name from OTEL_SERVICE_NAME.
func TestTracerProviderFromEnvGRPC(t *testing.T) {
	clearOTELEnv(t)
	recv := kafmeshtest.StartOTLPReceiver(t)
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://"+recv.GRPCAddr())
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
	t.Setenv("OTEL_SERVICE_NAME", "from-env")
	tp, err := runner.TracerProviderFromEnv(t.Context(), "default-name")
	if err != nil || tp == nil {
		t.Fatalf("TracerProviderFromEnv = %v, %v; want a provider", tp, err)
	}
	_, span := tp.Tracer("test").Start(t.Context(), "hello")
	span.End()
	if err := tp.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	got, ok := byName(recv)["hello"]
	if !ok {
		t.Fatal("the gRPC receiver got no span")
	}
	if got.Resource["service.name"] != "from-env" {
		t.Errorf("service.name = %q, want from-env", got.Resource["service.name"])
	}
}

// TracerProviderFromEnv with serviceName "" and no name in the
// environment keeps the SDK's default service.name,
// unknown_service:<program>, and the environment's other attributes.
func TestTracerProviderFromEnvDefaultServiceName(t *testing.T) {
	clearOTELEnv(t)
	recv := kafmeshtest.StartOTLPReceiver(t)
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://"+recv.GRPCAddr())
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=kafmesh-test")
	tp, err := runner.TracerProviderFromEnv(t.Context(), "")
	if err != nil || tp == nil {
		t.Fatalf("TracerProviderFromEnv = %v, %v; want a provider", tp, err)
	}
	_, span := tp.Tracer("test").Start(t.Context(), "hello")
	span.End()
	if err := tp.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	got, ok := byName(recv)["hello"]
	if !ok {
		t.Fatal("the gRPC receiver got no span")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	want := "unknown_service:" + filepath.Base(exe)
	if got.Resource["service.name"] != want {
		t.Errorf("service.name = %q, want %q", got.Resource["service.name"], want)
	}
	if got.Resource["deployment.environment.name"] != "kafmesh-test" {
		t.Errorf("deployment.environment.name = %q, want kafmesh-test", got.Resource["deployment.environment.name"])
	}
}

// Nothing set, "none" or OTEL_SDK_DISABLED means no provider; an exporter
// or protocol kafmesh cannot build is an error naming it, from
// TracerProviderFromEnv and from NewService alike.
func TestTracerProviderFromEnvOffAndErrors(t *testing.T) {
	for _, c := range []struct {
		name    string
		env     map[string]string
		wantErr string
	}{
		{name: "nothing set"},
		{name: "none", env: map[string]string{"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1"}},
		{name: "disabled", env: map[string]string{"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"}},
		{name: "unknown exporter", env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp,zipkin"}, wantErr: `"zipkin"`},
		{name: "unknown exporter after console", env: map[string]string{"OTEL_TRACES_EXPORTER": "console,zipkin"}, wantErr: `"zipkin"`},
		{name: "unknown protocol", env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/json"}, wantErr: `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL "http/json"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			clearOTELEnv(t)
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			tp, err := runner.TracerProviderFromEnv(t.Context(), "default-name")
			if tp != nil {
				_ = tp.Shutdown(context.Background())
			}
			_, svcErr := runner.NewService(runner.Definition{Name: "envcheck"}, runner.WithBrokers("127.0.0.1:1"), runner.WithStateDir(t.TempDir()), runner.WithHTTPAddr(""))
			if c.wantErr == "" {
				if err != nil || tp != nil || svcErr != nil {
					t.Fatalf("got provider %v, error %v, NewService error %v; want none", tp, err, svcErr)
				}
				return
			}
			for _, e := range []error{err, svcErr} {
				if e == nil || !strings.Contains(e.Error(), c.wantErr) {
					t.Errorf("error %v, want one naming %s", e, c.wantErr)
				}
			}
		})
	}
}

// OTEL_TRACES_EXPORTER=console builds a provider (spans go to standard
// output as JSON) without any OTLP variable.
func TestTracerProviderFromEnvConsole(t *testing.T) {
	clearOTELEnv(t)
	t.Setenv("OTEL_TRACES_EXPORTER", "console")
	tp, err := runner.TracerProviderFromEnv(t.Context(), "console-test")
	if err != nil || tp == nil {
		t.Fatalf("TracerProviderFromEnv = %v, %v; want a provider", tp, err)
	}
	if err := tp.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
}
