package cli

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/kafmesh/kafmesh/internal/discovery/internal/meshtest"
	"github.com/kafmesh/kafmesh/kafmeshtest"
)

// With only the OTEL_* environment set, `kafmesh discover` traces its
// calls to targets: an in-process OTLP receiver gets the client spans of
// a scrape, under service.name kafmesh-discover; the last ones are sent
// when the command stops.
func TestDiscoverTracesScrapesFromOTELEnvironment(t *testing.T) {
	recv := kafmeshtest.StartOTLPReceiver(t)
	for k, v := range map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_ENDPOINT": recv.URL(),
		"OTEL_EXPORTER_OTLP_PROTOCOL": "", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "",
		"OTEL_SERVICE_NAME": "", "OTEL_RESOURCE_ATTRIBUTES": "", "OTEL_SDK_DISABLED": ""} {
		t.Setenv(k, v)
	}
	devices := meshtest.Serve(t, meshtest.Devices())
	url, stop := discover(t, "--listen", "127.0.0.1:0", "--store", filepath.Join(t.TempDir(), "mesh.db"),
		"--scrape-interval", "1h", "--target", devices.Addr)
	waitMesh(t, url, 1)
	stop() // flushes the spans
	const method = "kafmesh.discovery.v1.DiscoveryAPI/GetServiceInfo"
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, s := range recv.Spans() {
			if s.Name == method {
				if s.Resource["service.name"] != "kafmesh-discover" {
					t.Errorf("span %s has service.name %q, want kafmesh-discover", s.Name, s.Resource["service.name"])
				}
				if s.Attributes["rpc.method"] == "" && s.Attributes["rpc.system"] == "" && s.Attributes["rpc.system.name"] == "" {
					t.Errorf("span %s has no rpc attributes: %v", s.Name, s.Attributes)
				}
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s span among %d received", method, len(recv.Spans()))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
