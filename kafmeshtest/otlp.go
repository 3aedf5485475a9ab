package kafmeshtest

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
)

// OTLPReceiver is an in-process OpenTelemetry trace receiver for tests: it
// accepts OTLP/HTTP (protobuf, at URL()+"/v1/traces") and OTLP/gRPC (at
// GRPCAddr()) exports and keeps every span, so a test can point a service's
// OTEL_EXPORTER_OTLP_ENDPOINT (or `kafmesh dev --otlp-endpoint`) at it and
// check what arrives. It stops when the test ends.
type OTLPReceiver struct {
	coltracepb.UnimplementedTraceServiceServer
	url, grpcAddr string

	mu    sync.Mutex
	spans []ReceivedSpan
}

// ReceivedSpan is one span an OTLPReceiver got. IDs are lower-case hex;
// ParentSpanID is "" for a root span. Resource and Attributes hold the
// string form of each value.
type ReceivedSpan struct {
	Name                          string
	TraceID, SpanID, ParentSpanID string
	Resource, Attributes          map[string]string
}

// StartOTLPReceiver starts a receiver on loopback ports.
func StartOTLPReceiver(tb testing.TB) *OTLPReceiver {
	tb.Helper()
	r := &OTLPReceiver{}
	hs := httptest.NewServer(http.HandlerFunc(r.serveHTTP))
	tb.Cleanup(hs.Close)
	r.url = hs.URL
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	gs := grpc.NewServer()
	coltracepb.RegisterTraceServiceServer(gs, r)
	go func() { _ = gs.Serve(lis) }()
	tb.Cleanup(gs.Stop)
	r.grpcAddr = lis.Addr().String()
	return r
}

// URL is the OTLP/HTTP base URL, e.g. http://127.0.0.1:41234 (an exporter
// given it as OTEL_EXPORTER_OTLP_ENDPOINT posts to /v1/traces).
func (r *OTLPReceiver) URL() string { return r.url }

// GRPCAddr is the OTLP/gRPC address, host:port, without TLS.
func (r *OTLPReceiver) GRPCAddr() string { return r.grpcAddr }

// Spans returns a copy of every span received so far, in arrival order.
func (r *OTLPReceiver) Spans() []ReceivedSpan {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]ReceivedSpan(nil), r.spans...)
}

// Export is the OTLP/gRPC trace service.
func (r *OTLPReceiver) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	r.add(req)
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

func (r *OTLPReceiver) serveHTTP(w http.ResponseWriter, req *http.Request) {
	if req.URL.Path != "/v1/traces" || req.Method != http.MethodPost {
		http.Error(w, fmt.Sprintf("%s %s: only POST /v1/traces", req.Method, req.URL.Path), http.StatusNotFound)
		return
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, 64<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var msg coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(body, &msg); err != nil {
		http.Error(w, "not an OTLP protobuf trace export: "+err.Error(), http.StatusBadRequest)
		return
	}
	r.add(&msg)
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

func (r *OTLPReceiver) add(req *coltracepb.ExportTraceServiceRequest) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		res := attrs(rs.GetResource().GetAttributes())
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				r.spans = append(r.spans, ReceivedSpan{
					Name: s.GetName(), TraceID: hex.EncodeToString(s.GetTraceId()), SpanID: hex.EncodeToString(s.GetSpanId()),
					ParentSpanID: hex.EncodeToString(s.GetParentSpanId()), Resource: res, Attributes: attrs(s.GetAttributes()),
				})
			}
		}
	}
}

func attrs(kvs []*commonpb.KeyValue) map[string]string {
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		v := kv.GetValue()
		switch v.GetValue().(type) {
		case *commonpb.AnyValue_StringValue:
			m[kv.GetKey()] = v.GetStringValue()
		case *commonpb.AnyValue_IntValue:
			m[kv.GetKey()] = fmt.Sprint(v.GetIntValue())
		case *commonpb.AnyValue_BoolValue:
			m[kv.GetKey()] = fmt.Sprint(v.GetBoolValue())
		case *commonpb.AnyValue_DoubleValue:
			m[kv.GetKey()] = fmt.Sprint(v.GetDoubleValue())
		default:
			m[kv.GetKey()] = v.String()
		}
	}
	return m
}
