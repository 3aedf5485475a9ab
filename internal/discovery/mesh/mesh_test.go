package mesh_test

import (
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	discoveryv1 "github.com/kafmesh/kafmesh/api/discovery/v1"
	"github.com/kafmesh/kafmesh/internal/discovery/internal/meshtest"
	"github.com/kafmesh/kafmesh/internal/discovery/mesh"
)

func edgeSet(t *mesh.Tree) []string {
	var out []string
	for _, e := range t.Edges {
		out = append(out, string(e.Rel)+" "+e.From+" "+e.To)
	}
	return out
}

func TestFromServiceBuildsEveryNodeAndEdge(t *testing.T) {
	tree, err := mesh.FromService(meshtest.Devices())
	if err != nil {
		t.Fatal(err)
	}
	if tree.Service != "Service:devices" {
		t.Errorf("service id %q", tree.Service)
	}
	kinds := map[mesh.Kind]int{}
	for _, n := range tree.Nodes {
		kinds[n.Kind]++
	}
	want := map[mesh.Kind]int{
		mesh.KindService: 1, mesh.KindComponent: 2, mesh.KindProcessor: 1, mesh.KindSource: 1, mesh.KindSink: 1,
		mesh.KindView: 1, mesh.KindViewSource: 1, mesh.KindViewSink: 1, mesh.KindTopic: 5,
	}
	for k, n := range want {
		if kinds[k] != n {
			t.Errorf("%d %s nodes, want %d (all: %v)", kinds[k], k, n, kinds)
		}
	}
	edges := edgeSet(tree)
	for _, e := range []string{
		"HAS_COMPONENT Service:devices Component:devices/heartbeats",
		"HAS_PART Component:devices/heartbeats Processor:devices/heartbeats/enricher",
		"READS Processor:devices/heartbeats/enricher Topic:kafmesh.deviceId.Heartbeat",
		"JOINS Processor:devices/heartbeats/enricher Topic:kafmesh.deviceId.Details",
		"LOOKS_UP Processor:devices/heartbeats/enricher Topic:kafmesh.customerId.Details",
		"WRITES Processor:devices/heartbeats/enricher Topic:kafmesh.deviceId.EnrichedHeartbeat",
		"PERSISTS_TO Processor:devices/heartbeats/enricher Topic:devices.heartbeats.enricher-table",
		"WRITES Source:devices/heartbeats/kafmesh.deviceId.Heartbeat Topic:kafmesh.deviceId.Heartbeat",
		"READS Sink:devices/heartbeats/warehouse Topic:kafmesh.deviceId.EnrichedHeartbeat",
		"WRITES ViewSource:devices/details/registry Topic:kafmesh.deviceId.Details",
		"READS View:devices/details/kafmesh.deviceId.Details Topic:kafmesh.deviceId.Details",
		"READS ViewSink:devices/details/cache Topic:kafmesh.deviceId.Details",
	} {
		if !slices.Contains(edges, e) {
			t.Errorf("missing edge %s", e)
		}
	}
	// 2 HAS_COMPONENT, 6 HAS_PART, 5 processor topic edges, 1 for each
	// other part.
	if len(edges) != 2+6+5+5 {
		t.Errorf("%d edges: %v", len(edges), edges)
	}
	for _, n := range tree.Nodes {
		if n.ID == "Processor:devices/heartbeats/enricher" && (n.GroupName != "devices.heartbeats.enricher" || n.Description != "adds details to heartbeats") {
			t.Errorf("processor node %+v", n)
		}
		if n.ID == "Topic:kafmesh.deviceId.Heartbeat" && (n.Message != "kafmesh.deviceId.Heartbeat" || n.TopicType != "PROTOBUF") {
			t.Errorf("topic node %+v", n)
		}
	}
	var out *mesh.Edge
	for i, e := range tree.Edges {
		if e.Rel == mesh.RelWrites && e.From == "Processor:devices/heartbeats/enricher" {
			out = &tree.Edges[i]
		}
	}
	if out == nil || out.Description != "enriched heartbeats" {
		t.Errorf("output edge %+v lacks its description", out)
	}
}

func TestFromServiceRejectsMalformedAnswersNamingThePlace(t *testing.T) {
	cases := map[string]struct {
		edit func(*discoveryv1.Service)
		want string
	}{
		"no service name":   {func(s *discoveryv1.Service) { s.Name = "" }, "service has no name"},
		"no component name": {func(s *discoveryv1.Service) { s.Components[1].Name = "" }, `service "devices": component #2 has no name`},
		"input without topic": {func(s *discoveryv1.Service) { s.Components[0].Processors[0].Inputs[0].Topic = nil },
			`service "devices", component "heartbeats", processor "enricher", input #1 has no topic`},
		"sink topic without name": {func(s *discoveryv1.Service) { s.Components[0].Sinks[0].Topic.Topic = "" },
			`service "devices", component "heartbeats", sink "warehouse": topic has no name`},
		"unnamed view sink": {func(s *discoveryv1.Service) { s.Components[1].ViewSinks[0].Name = "" },
			`service "devices", component "details", view sink #1 has no name`},
		"broken descriptors": {func(s *discoveryv1.Service) { s.FileDescriptorSet = []byte{0xff, 0xff} }, `service "devices": file descriptor set`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			svc := meshtest.Devices()
			tc.edit(svc)
			_, err := mesh.FromService(svc)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
	if _, err := mesh.FromService(nil); err == nil {
		t.Error("nil service accepted")
	}
}

func TestFingerprintChangesWithAnyReportedField(t *testing.T) {
	base, _ := mesh.FromService(meshtest.Devices())
	again, _ := mesh.FromService(meshtest.Devices())
	if base.Fingerprint() != again.Fingerprint() {
		t.Fatal("same answer, different fingerprints")
	}
	for name, edit := range map[string]func(*discoveryv1.Service){
		"description":   func(s *discoveryv1.Service) { s.Components[0].Processors[0].Description = "x" },
		"group":         func(s *discoveryv1.Service) { s.Components[0].Processors[0].GroupName = "x" },
		"output desc":   func(s *discoveryv1.Service) { s.Components[0].Processors[0].Outputs[0].Description = "x" },
		"topic message": func(s *discoveryv1.Service) { s.Components[0].Processors[0].Persistence.Topic.Message = "x.Y" },
		"new input": func(s *discoveryv1.Service) {
			p := s.Components[0].Processors[0]
			p.Inputs = append(p.Inputs, &discoveryv1.Input{Topic: &discoveryv1.TopicDefinition{Topic: "more"}})
		},
	} {
		svc := meshtest.Devices()
		edit(svc)
		tree, err := mesh.FromService(svc)
		if err != nil {
			t.Fatal(err)
		}
		if tree.Fingerprint() == base.Fingerprint() {
			t.Errorf("%s: fingerprint did not change", name)
		}
	}
}

func TestIDsAreStableAndEscaped(t *testing.T) {
	if got := mesh.PartID(mesh.KindSink, "a/b", "c d", "e"); got != "Sink:a%2Fb/c%20d/e" {
		t.Errorf("PartID = %q", got)
	}
	if got := mesh.KindOf(mesh.TopicID("x")); got != mesh.KindTopic {
		t.Errorf("KindOf = %q", got)
	}
	if got := mesh.KindOf("Nope:x"); got != "" {
		t.Errorf("KindOf unknown = %q", got)
	}
	if got := mesh.PodID("", "10.0.0.1:443", ""); got != "Pod:static/10.0.0.1:443" {
		t.Errorf("static PodID = %q", got)
	}
	if got := mesh.PodID("prod", "devices-0", "u-1"); got != "Pod:prod/devices-0/u-1" {
		t.Errorf("PodID = %q", got)
	}
}

// graphOf builds a graph of the given services, one pod each.
func graphOf(t *testing.T, svcs ...*discoveryv1.Service) *mesh.Graph {
	t.Helper()
	var nodes []mesh.Node
	var edges []mesh.Edge
	var pods []mesh.Pod
	reports := map[string][]string{}
	seen := map[string]bool{}
	for i, s := range svcs {
		tree, err := mesh.FromService(s)
		if err != nil {
			t.Fatal(err)
		}
		pod := mesh.Pod{ID: mesh.PodID("ns", s.Name+"-"+string(rune('0'+i)), "uid"), Name: s.Name, Namespace: "ns"}
		pods = append(pods, pod)
		for _, n := range tree.Nodes {
			reports[pod.ID] = append(reports[pod.ID], n.ID)
			if !seen[n.ID] {
				seen[n.ID] = true
				nodes = append(nodes, n)
			}
		}
		edges = append(edges, tree.Edges...)
	}
	return mesh.NewGraph(nodes, edges, pods, reports)
}

func names(ns []*mesh.Node) []string {
	var out []string
	for _, n := range ns {
		out = append(out, n.ID)
	}
	return out
}

func TestGraphDerivesDependenciesAndTopicUse(t *testing.T) {
	g := graphOf(t, meshtest.Devices(), meshtest.Alerts())
	if got := names(g.DependsOn("Service:alerts")); !slices.Equal(got, []string{"Service:devices"}) {
		t.Errorf("alerts depends on %v", got)
	}
	if got := names(g.DependsOn("Service:devices")); len(got) != 0 {
		t.Errorf("devices depends on %v (its own topics must not count)", got)
	}
	if got := names(g.Dependents("Service:devices")); !slices.Equal(got, []string{"Service:alerts"}) {
		t.Errorf("devices dependents %v", got)
	}
	// Component level: heartbeats joins details' table.
	if got := names(g.DependsOn("Component:devices/heartbeats")); !slices.Equal(got, []string{"Component:devices/details"}) {
		t.Errorf("heartbeats depends on %v", got)
	}
	if got := names(g.Producers(mesh.TopicID(meshtest.TopicEnriched))); !slices.Equal(got, []string{"Processor:devices/heartbeats/enricher"}) {
		t.Errorf("producers %v", got)
	}
	if got := names(g.Consumers(mesh.TopicID(meshtest.TopicEnriched))); !slices.Equal(got, []string{"Processor:alerts/rules/checker", "Sink:devices/heartbeats/warehouse"}) {
		t.Errorf("consumers %v", got)
	}
	if s := g.ServiceOf("Sink:devices/heartbeats/warehouse"); s == nil || s.ID != "Service:devices" {
		t.Errorf("ServiceOf sink = %v", s)
	}
	if got := g.PodsOf("Processor:alerts/rules/checker"); len(got) != 1 || got[0].Name != "alerts" {
		t.Errorf("pods of checker %v", got)
	}
	hits := g.Search("ENRICH", 0)
	var ids []string
	for _, h := range hits {
		ids = append(ids, h.Node.ID)
	}
	if !slices.Equal(ids, []string{"Processor:devices/heartbeats/enricher", "Topic:devices.heartbeats.enricher-table", "Topic:kafmesh.deviceId.EnrichedHeartbeat"}) {
		t.Errorf("search hits %v", ids)
	}
	if got := g.Search("a", 2); len(got) != 2 {
		t.Errorf("limit ignored: %d hits", len(got))
	}
}

func TestMessageSchemaFromReportedDescriptors(t *testing.T) {
	g := graphOf(t, meshtest.Devices(), meshtest.Alerts())
	s := g.MessageSchema("kafmesh.deviceId.Heartbeat")
	if s == nil {
		t.Fatal("no schema")
	}
	if s.File != "kafmesh/deviceId/heartbeat.proto" || s.Service != "Service:devices" {
		t.Errorf("schema %+v", s)
	}
	got := map[string]mesh.FieldSchema{}
	for _, f := range s.Fields {
		got[f.Name] = f
	}
	check := func(name, typ, label string, num int) {
		f, ok := got[name]
		if !ok || f.Type != typ || f.Label != label || f.Number != num {
			t.Errorf("field %s = %+v, want %s %s #%d", name, f, label, typ, num)
		}
	}
	check("device_id", "string", "optional", 1)
	check("time", "google.protobuf.Timestamp", "optional", 2)
	check("tags", "string", "repeated", 3)
	check("counters", "int64", "map", 4)
	if got["counters"].KeyType != "string" || got["lat"].Oneof != "where" || got["device_id"].JSONName != "deviceId" {
		t.Errorf("fields %+v", got)
	}
	if g.MessageSchema("alerts.deviceId.Alert") != nil {
		t.Error("schema for a message no service described")
	}
	// The descriptors are used as sent, so a set the scraper stored is the
	// set the schema is read from.
	if !proto.Equal(&discoveryv1.Service{FileDescriptorSet: g.Node("Service:devices").Descriptors}, &discoveryv1.Service{FileDescriptorSet: meshtest.DevicesDescriptors()}) {
		t.Error("descriptors changed on the way")
	}
}
