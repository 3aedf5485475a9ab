package dev_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kafmesh/kafmesh/internal/dev"
	"github.com/kafmesh/kafmesh/kafmeshtest"
)

// With --otlp-endpoint, kafmesh dev sends the example service's traces to
// that OTLP/HTTP endpoint: here an in-process receiver, which gets a
// source's send span and the processor span that continues it, under the
// example service's name.
func TestDevSendsTracesToOTLPEndpoint(t *testing.T) {
	recv := kafmeshtest.StartOTLPReceiver(t)
	info := startDev(t, dev.Config{Devices: 2, OTLPEndpoint: recv.URL()})
	if info.Traces != recv.URL() {
		t.Errorf("Info.Traces = %q, want %q", info.Traces, recv.URL())
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		got := recv.Spans()
		byID := map[string]kafmeshtest.ReceivedSpan{}
		for _, s := range got {
			byID[s.SpanID] = s
		}
		var connected string
		for _, s := range got {
			if p, ok := byID[s.ParentSpanID]; ok && strings.HasPrefix(s.Name, "process ") && strings.HasPrefix(p.Name, "send ") && p.TraceID == s.TraceID {
				connected = fmt.Sprintf("%s -> %s", p.Name, s.Name)
				if s.Resource["service.name"] != "kafmesh" {
					t.Errorf("span %s has service.name %q, want kafmesh", s.Name, s.Resource["service.name"])
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
