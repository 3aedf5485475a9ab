package runner_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/kafmesh/kafmesh/kafmeshtest"
	"github.com/kafmesh/kafmesh/runner"
)

// receivedSpan is one span an OTLP receiver got, with its resource.
type receivedSpan struct {
	name, traceID, spanID, parentID string
	resource                        map[string]string
}

// otlpReceiver keeps the spans of the OTLP export requests it is sent.
type otlpReceiver struct {
	coltracepb.UnimplementedTraceServiceServer
	mu    sync.Mutex
	spans []receivedSpan
}

func (r *otlpReceiver) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	r.add(req)
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

func (r *otlpReceiver) add(req *coltracepb.ExportTraceServiceRequest) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		res := attrMap(rs.GetResource().GetAttributes())
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				r.spans = append(r.spans, receivedSpan{name: s.GetName(), traceID: hex.EncodeToString(s.GetTraceId()),
					spanID: hex.EncodeToString(s.GetSpanId()), parentID: hex.EncodeToString(s.GetParentSpanId()), resource: res})
			}
		}
	}
}

// byName is the last span received under each name.
func (r *otlpReceiver) byName() map[string]receivedSpan {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := map[string]receivedSpan{}
	for _, s := range r.spans {
		m[s.name] = s
	}
	return m
}

func attrMap(kvs []*commonpb.KeyValue) map[string]string {
	m := map[string]string{}
	for _, kv := range kvs {
		m[kv.GetKey()] = kv.GetValue().GetStringValue()
	}
	return m
}

// serveHTTP is an OTLP/HTTP (protobuf) receiver; it returns its base URL.
func (r *otlpReceiver) serveHTTP(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(req.Body)
		if req.URL.Path != "/v1/traces" || err != nil {
			http.Error(w, fmt.Sprintf("path %s: %v", req.URL.Path, err), http.StatusNotFound)
			return
		}
		var msg coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(body, &msg); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.add(&msg)
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// serveGRPC is an OTLP/gRPC receiver; it returns its address.
func (r *otlpReceiver) serveGRPC(t *testing.T) string {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	coltracepb.RegisterTraceServiceServer(srv, r)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return lis.Addr().String()
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
	var recv otlpReceiver
	t.Setenv("OTEL_TRACES_EXPORTER", "otlp")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", recv.serveHTTP(t))
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
	var got map[string]receivedSpan
	waitUntil(t, 60*time.Second, func() string {
		got = recv.byName()
		for _, n := range []string{send, process} {
			if _, ok := got[n]; !ok {
				return fmt.Sprintf("the receiver has no span %q (has %d spans)", n, len(got))
			}
		}
		return ""
	})
	if got[process].traceID != got[send].traceID || got[process].parentID != got[send].spanID {
		t.Errorf("process span (trace %s, parent %s) does not continue the send span (trace %s, span %s)",
			got[process].traceID, got[process].parentID, got[send].traceID, got[send].spanID)
	}
	for k, v := range map[string]string{"service.name": "envtrace", "deployment.environment.name": "kafmesh-test"} {
		if got[process].resource[k] != v {
			t.Errorf("resource %s = %q, want %q (all: %v)", k, got[process].resource[k], v, got[process].resource)
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
	var recv otlpReceiver
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://"+recv.serveGRPC(t))
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
	t.Setenv("OTEL_SERVICE_NAME", "from-env")
	tp, err := runner.TracerProviderFromEnv(t.Context())
	if err != nil || tp == nil {
		t.Fatalf("TracerProviderFromEnv = %v, %v; want a provider", tp, err)
	}
	_, span := tp.Tracer("test").Start(t.Context(), "hello")
	span.End()
	if err := tp.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	got, ok := recv.byName()["hello"]
	if !ok {
		t.Fatal("the gRPC receiver got no span")
	}
	if got.resource["service.name"] != "from-env" {
		t.Errorf("service.name = %q, want from-env", got.resource["service.name"])
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
		{name: "unknown protocol", env: map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/json"}, wantErr: `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL "http/json"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			clearOTELEnv(t)
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			tp, err := runner.TracerProviderFromEnv(t.Context())
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
