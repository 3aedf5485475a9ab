package web_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/kafmesh/kafmesh/internal/discovery/internal/meshtest"
	"github.com/kafmesh/kafmesh/internal/discovery/mesh"
	"github.com/kafmesh/kafmesh/internal/discovery/web/webtest"
)

// The browser tests run the real discovery service (scraper, SQLite store,
// GraphQL, the embedded UI) against real gRPC targets on loopback, and
// drive the UI in headless Chromium as a user would: clicks on the canvas,
// typing, reading what the page shows. Screenshots go to artifacts/ui/.

func TestMapShowsEveryServiceAndItsDependencies(t *testing.T) {
	devices := meshtest.Serve(t, meshtest.Devices())
	alerts := meshtest.Serve(t, meshtest.Alerts())
	url := startDiscovery(t, devices.Addr, alerts.Addr)
	b := webtest.NewBrowser(t)

	b.Open(t, url+"/")
	g := b.Graph(t)
	if ids := g.NodeIDs(); !slices.Equal(ids, []string{"Service:devices", "Service:alerts"}) && !slices.Equal(ids, []string{"Service:alerts", "Service:devices"}) {
		t.Fatalf("map nodes = %v, want the two services", ids)
	}
	// alerts reads devices' enriched heartbeats: data flows devices → alerts.
	if !g.HasEdge("Service:devices", "Service:alerts", "depends") || len(g.Edges) != 1 {
		t.Errorf("map edges = %+v, want one devices → alerts", g.Edges)
	}
	if got := b.Text(t, `[data-testid="map-counts"]`); !strings.HasPrefix(got, "2 services") {
		t.Errorf("counts = %q", got)
	}
	b.Screenshot(t, "map")

	// Search dims what does not match; the filter survives in the link.
	b.Do(t, "filter the map", chromedp.SendKeys(chromedp.CSS(`[data-testid="map-filter"]`), "alert"))
	g = b.Graph(t)
	if _, cls, _ := g.Node("Service:alerts"); !slices.Contains(cls, "match") {
		t.Errorf("alerts classes %v, want match", cls)
	}
	if _, cls, _ := g.Node("Service:devices"); !slices.Contains(cls, "dimmed") {
		t.Errorf("devices classes %v, want dimmed", cls)
	}
	if hash := webtest.Eval[string](t, b, `location.hash`); hash != "#/?q=alert" {
		t.Errorf("hash after filtering = %q", hash)
	}
	b.NoPageErrors(t)
}

func TestClickThroughToAComponentShowsItsTopicFlow(t *testing.T) {
	devices := meshtest.Serve(t, meshtest.Devices())
	alerts := meshtest.Serve(t, meshtest.Alerts())
	url := startDiscovery(t, devices.Addr, alerts.Addr)
	b := webtest.NewBrowser(t)

	b.Open(t, url+"/")
	b.ClickNode(t, "Service:devices")
	if page := webtest.Eval[string](t, b, `window.kafmeshUI.page`); page != "service" {
		t.Fatalf("after clicking devices on the map: page %q", page)
	}
	if got := b.Text(t, `[data-testid="page-title"]`); got != "devices" {
		t.Errorf("service page title %q", got)
	}
	g := b.Graph(t)
	for _, id := range []string{"Component:devices/heartbeats", "Component:devices/details", "Component:alerts/rules"} {
		if _, _, ok := g.Node(id); !ok {
			t.Errorf("service graph lacks %s: %v", id, g.NodeIDs())
		}
	}
	b.Screenshot(t, "service")

	b.ClickNode(t, "Component:devices/heartbeats")
	if page := webtest.Eval[string](t, b, `window.kafmeshUI.page`); page != "component" {
		t.Fatalf("after clicking heartbeats: page %q", page)
	}
	g = b.Graph(t)
	proc := "Processor:devices/heartbeats/enricher"
	want := []struct{ from, to, kind string }{
		{mesh.TopicID(meshtest.TopicHeartbeat), proc, "input"},
		{mesh.TopicID(meshtest.TopicDetails), proc, "join"},
		{mesh.TopicID(meshtest.TopicCustomers), proc, "lookup"},
		{proc, mesh.TopicID(meshtest.TopicEnriched), "output"},
		{proc, mesh.TopicID(meshtest.TopicState), "state"},
		{"Source:devices/heartbeats/" + meshtest.TopicHeartbeat, mesh.TopicID(meshtest.TopicHeartbeat), "produce"},
		{mesh.TopicID(meshtest.TopicEnriched), "Sink:devices/heartbeats/warehouse", "read"},
	}
	for _, e := range want {
		if !g.HasEdge(e.from, e.to, e.kind) {
			t.Errorf("component graph lacks %s edge %s → %s; edges: %+v", e.kind, e.from, e.to, g.Edges)
		}
	}
	if len(g.Edges) != len(want) {
		t.Errorf("component graph has %d edges, want %d: %+v", len(g.Edges), len(want), g.Edges)
	}
	legend := b.Text(t, `[data-testid="edge-legend"]`)
	for _, k := range []string{"input", "join", "lookup", "output", "state"} {
		if !strings.Contains(legend, k) {
			t.Errorf("legend %q lacks %s", legend, k)
		}
	}
	b.Screenshot(t, "component")

	// The topic flow continues to the topic page: who writes and reads it.
	b.ClickNode(t, mesh.TopicID(meshtest.TopicEnriched))
	if page := webtest.Eval[string](t, b, `window.kafmeshUI.page`); page != "topic" {
		t.Fatalf("after clicking the enriched topic: page %q", page)
	}
	consumers := b.Text(t, `[data-testid="consumer-table"]`)
	for _, s := range []string{"alerts", "rules", "Processor checker", "devices", "Sink warehouse"} {
		if !strings.Contains(consumers, s) {
			t.Errorf("consumers %q lack %q", consumers, s)
		}
	}
	if producers := b.Text(t, `[data-testid="producer-table"]`); !strings.Contains(producers, "Processor enricher") || !strings.Contains(producers, "output") {
		t.Errorf("producers %q", producers)
	}
	if msg := b.Text(t, `[data-testid="topic-message"]`); msg != "kafmesh.deviceId.EnrichedHeartbeat" {
		t.Errorf("message %q", msg)
	}
	b.Screenshot(t, "topic")
	b.NoPageErrors(t)
}

func TestTopicPageShowsTheMessageSchema(t *testing.T) {
	devices := meshtest.Serve(t, meshtest.Devices())
	url := startDiscovery(t, devices.Addr)
	b := webtest.NewBrowser(t)

	b.Open(t, url+"/#/topic/"+escape(mesh.TopicID(meshtest.TopicHeartbeat)))
	schema := b.Text(t, `[data-testid="schema-table"]`)
	for _, s := range []string{"device_id", "deviceId", "google.protobuf.Timestamp", "map<string, int64>", "repeated", "oneof where"} {
		if !strings.Contains(schema, s) {
			t.Errorf("schema %q lacks %q", schema, s)
		}
	}
	producers := b.Text(t, `[data-testid="producer-table"]`)
	if !strings.Contains(producers, "Source") {
		t.Errorf("producers %q lack the source", producers)
	}
	// Discovery runs without --brokers here: the settings say so.
	if note := b.Text(t, `[data-testid="settings-note"][data-state="no-brokers"]`); !strings.Contains(note, "No broker connection") || !strings.Contains(note, "--brokers") {
		t.Errorf("settings note %q", note)
	}
	b.NoPageErrors(t)
}

func TestPodsPageShowsHealthLastScrapeAndLastError(t *testing.T) {
	devices := meshtest.Serve(t, meshtest.Devices())
	dead := meshtest.Refusing(t)
	url := startDiscovery(t, devices.Addr, dead)
	b := webtest.NewBrowser(t)

	b.Open(t, url+"/#/pods")
	if got := b.Text(t, `[data-testid="pod-summary"]`); got != "2 pods, 1 healthy, 1 unhealthy" {
		t.Errorf("summary %q", got)
	}
	row := b.Text(t, `tr[data-pod="`+mesh.PodID("", dead, "")+`"]`)
	if !strings.Contains(row, "unhealthy") || !strings.Contains(row, "refused") {
		t.Errorf("row of the refusing target %q: want unhealthy and the connection error", row)
	}
	okRow := b.Text(t, `tr[data-pod="`+mesh.PodID("", devices.Addr, "")+`"]`)
	if !strings.Contains(okRow, "healthy") || !strings.Contains(okRow, "devices") || !strings.Contains(okRow, "ago") && !strings.Contains(okRow, "just now") {
		t.Errorf("row of the devices target %q", okRow)
	}
	b.Screenshot(t, "pods")
	b.NoPageErrors(t)
}

func TestEmptyMeshRendersWithoutErrors(t *testing.T) {
	url := startDiscovery(t, meshtest.Refusing(t))
	b := webtest.NewBrowser(t)

	b.Open(t, url+"/")
	if state := webtest.Eval[string](t, b, `document.querySelector("[data-state]").dataset.state`); state != "empty" {
		t.Errorf("map state %q, want empty", state)
	}
	if got := b.Text(t, `[data-state="empty"] h2`); got != "No services discovered yet" {
		t.Errorf("empty map says %q", got)
	}
	for _, route := range []string{"#/topics", "#/pods", "#/service/" + escape("Service:nope"), "#/nonsense/route"} {
		b.Open(t, url+"/"+route)
		if state := webtest.Eval[string](t, b, `(document.querySelector("[data-state]") || {dataset: {}}).dataset.state || "page"`); state == "error" {
			t.Errorf("%s shows an error on an empty mesh", route)
		}
	}
	b.Open(t, url+"/")
	b.Screenshot(t, "empty-mesh")
	b.NoPageErrors(t)
}

// escape is encodeURIComponent for the ids in these tests.
func escape(id string) string {
	r := strings.NewReplacer(":", "%3A", "/", "%2F", "%", "%25")
	return r.Replace(id)
}
