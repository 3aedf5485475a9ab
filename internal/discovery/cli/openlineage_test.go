package cli

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kafmesh/kafmesh/internal/discovery/internal/meshtest"
)

// TestOpenLineageAndExport runs discover on the two-service test mesh with
// --openlineage-url pointing at a recording endpoint: one run event per
// part arrives, once (the mesh does not change after), and the
// /export/<format> routes answer for the whole mesh.
func TestOpenLineageAndExport(t *testing.T) {
	var mu sync.Mutex
	var events []map[string]any
	lineage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var ev map[string]any
		if r.URL.Path != "/api/v1/lineage" || r.Header.Get("Content-Type") != "application/json" || json.Unmarshal(b, &ev) != nil {
			http.Error(w, "bad event", http.StatusBadRequest)
			return
		}
		mu.Lock()
		events = append(events, ev)
		mu.Unlock()
		w.WriteHeader(http.StatusCreated)
	}))
	defer lineage.Close()
	devices := meshtest.Serve(t, meshtest.Devices())
	alerts := meshtest.Serve(t, meshtest.Alerts())
	url, _ := discover(t, "--listen", "127.0.0.1:0", "--store", filepath.Join(t.TempDir(), "m.db"),
		"--target", devices.Addr, "--target", alerts.Addr, "--scrape-interval", "100ms",
		"--openlineage-url", lineage.URL+"/api/v1/lineage", "--openlineage-interval", "100ms",
		"--openlineage-namespace", "kafka://broker:9092")
	waitMesh(t, url, 2)

	// devices has 6 parts (source, processor, sink, view source, view,
	// view sink) and alerts 1 (a processor): 7 events.
	const want = 7
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		n := len(events)
		mu.Unlock()
		if n >= want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d OpenLineage events after 20 s, want %d", n, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // several more intervals: nothing new to send
	mu.Lock()
	got := append([]map[string]any(nil), events...)
	mu.Unlock()
	if len(got) != want {
		t.Errorf("%d events, want %d (an unchanged mesh is sent once)", len(got), want)
	}
	jobs := map[string]map[string]any{}
	for _, ev := range got {
		jobs[ev["job"].(map[string]any)["name"].(string)] = ev
	}
	checker := jobs["alerts.rules.checker"]
	if checker == nil {
		t.Fatalf("no event for alerts.rules.checker; jobs %v", jobs)
	}
	in := checker["inputs"].([]any)[0].(map[string]any)
	if in["name"] != meshtest.TopicEnriched || in["namespace"] != "kafka://broker:9092" {
		t.Errorf("checker input %v", in)
	}
	enricher := jobs["devices.heartbeats.enricher"]
	if enricher == nil {
		t.Fatalf("no event for devices.heartbeats.enricher; jobs %v", jobs)
	}
	// devices reported descriptors for the heartbeat: its dataset has a schema facet.
	var hasSchema bool
	for _, d := range enricher["inputs"].([]any) {
		ds := d.(map[string]any)
		if ds["name"] == meshtest.TopicHeartbeat {
			_, hasSchema = ds["facets"].(map[string]any)["schema"]
		}
	}
	if !hasSchema {
		t.Errorf("the heartbeat dataset has no schema facet: %v", enricher["inputs"])
	}

	get := func(path string) (int, string) {
		resp, err := http.Get(url + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := get("/export/backstage")
	if code != 200 || strings.Count(body, "kind: Component") != 2 || !strings.Contains(body, "consumesApis:\n    - devices-events") {
		t.Errorf("/export/backstage %d:\n%s", code, body)
	}
	code, body = get("/export/asyncapi")
	var all map[string]map[string]any
	if code != 200 || json.Unmarshal([]byte(body), &all) != nil || all["devices"]["asyncapi"] != "3.0.0" || all["alerts"] == nil {
		t.Errorf("/export/asyncapi %d: %.300s", code, body)
	}
	if code, body = get("/export/asyncapi?service=alerts"); code != 200 || !strings.Contains(body, `"title": "alerts"`) {
		t.Errorf("/export/asyncapi?service=alerts %d: %.300s", code, body)
	}
	if code, body = get("/export/openlineage"); code != 200 || strings.Count(body, "\n") != want {
		t.Errorf("/export/openlineage %d: %.300s", code, body)
	}
	if code, _ = get("/export/nope"); code != http.StatusNotFound {
		t.Errorf("/export/nope: %d", code)
	}
	if code, _ = get("/export/asyncapi?service=nope"); code != http.StatusNotFound {
		t.Errorf("unknown service: %d", code)
	}
}
