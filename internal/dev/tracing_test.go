package dev_test

import (
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/kafmesh/kafmesh/internal/dev"
)

// span is one span the receiver got.
type span struct{ name, service, trace, id, parent string }

// With --otlp-endpoint, kafmesh dev sends the example service's traces to
// that OTLP/HTTP endpoint: here an in-process receiver, which gets a
// source's send span and the processor span that continues it, under the
// example service's name.
func TestDevSendsTracesToOTLPEndpoint(t *testing.T) {
	var mu sync.Mutex
	var spans []span
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req coltracepb.ExportTraceServiceRequest
		if r.URL.Path != "/v1/traces" || proto.Unmarshal(body, &req) != nil {
			http.Error(w, "not an OTLP trace export", http.StatusBadRequest)
			return
		}
		mu.Lock()
		for _, rs := range req.GetResourceSpans() {
			service := ""
			for _, kv := range rs.GetResource().GetAttributes() {
				if kv.GetKey() == "service.name" {
					service = kv.GetValue().GetStringValue()
				}
			}
			for _, ss := range rs.GetScopeSpans() {
				for _, s := range ss.GetSpans() {
					spans = append(spans, span{s.GetName(), service, hex.EncodeToString(s.GetTraceId()),
						hex.EncodeToString(s.GetSpanId()), hex.EncodeToString(s.GetParentSpanId())})
				}
			}
		}
		mu.Unlock()
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	}))
	defer srv.Close()

	info := startDev(t, dev.Config{Devices: 2, OTLPEndpoint: srv.URL})
	if info.Traces != srv.URL {
		t.Errorf("Info.Traces = %q, want %q", info.Traces, srv.URL)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		mu.Lock()
		got := append([]span(nil), spans...)
		mu.Unlock()
		byID := map[string]span{}
		for _, s := range got {
			byID[s.id] = s
		}
		var connected string
		for _, s := range got {
			if p, ok := byID[s.parent]; ok && strings.HasPrefix(s.name, "process ") && strings.HasPrefix(p.name, "send ") && p.trace == s.trace {
				connected = fmt.Sprintf("%s -> %s", p.name, s.name)
				if s.service != "kafmesh" {
					t.Errorf("span %s has service.name %q, want kafmesh", s.name, s.service)
				}
				break
			}
		}
		if connected != "" {
			t.Logf("%d spans; one trace: %s", len(got), connected)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 60 s, %d spans and no processor span continuing a source's send span", len(got))
		}
		time.Sleep(100 * time.Millisecond)
	}
}
