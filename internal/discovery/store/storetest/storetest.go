// Package storetest is the contract every store.Store passes: the same
// tests run against the SQLite store and against a real Neo4j server.
package storetest

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"testing"
	"time"

	discoveryv1 "github.com/kafmesh/kafmesh/api/discovery/v1"
	"github.com/kafmesh/kafmesh/internal/discovery/internal/meshtest"
	"github.com/kafmesh/kafmesh/internal/discovery/mesh"
	"github.com/kafmesh/kafmesh/internal/discovery/store"
)

// Fresh prepares a new, empty store location and returns a function that
// opens it. Opening twice opens the same location, as a restarted discovery
// would; the suite closes what it opens.
type Fresh func(t *testing.T) (open func(t *testing.T) store.Store)

// Run runs the contract suite.
func Run(t *testing.T, fresh Fresh) {
	for _, tc := range []struct {
		name string
		test func(*testing.T, func(*testing.T) store.Store)
	}{
		{"EmptyStore", testEmpty},
		{"ReportWritesTheWholeTree", testReport},
		{"SameReportRewritesNothing", testUnchanged},
		{"RedeployedPodReplacesItsTree", testRedeploy},
		{"FailKeepsTheLastTree", testFail},
		{"RetainRemovesVanishedPodsAndOrphans", testRetain},
		{"SharedTopicOutlivesOneService", testSharedTopic},
		{"PropertiesFollowTheRemainingPod", testStaleProperties},
		{"HistorySurvivesReopen", testReopen},
		{"AwkwardNamesRoundTrip", testAwkwardNames},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.test(t, fresh(t)) })
	}
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func openStore(t *testing.T, open func(*testing.T) store.Store) store.Store {
	t.Helper()
	s := open(t)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func pod(name string) mesh.Pod {
	return mesh.Pod{ID: mesh.PodID("prod", name, "uid-"+name), Namespace: "prod", Name: name, UID: "uid-" + name, Address: "10.0.0.1:443", Source: "kubernetes"}
}

func tree(t *testing.T, svc *discoveryv1.Service) *mesh.Tree {
	t.Helper()
	tr, err := mesh.FromService(svc)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func report(t *testing.T, s store.Store, p mesh.Pod, at time.Time, svc *discoveryv1.Service) store.Change {
	t.Helper()
	c, err := s.Report(context.Background(), p, at, tree(t, svc))
	if err != nil {
		t.Fatalf("Report(%s): %v", p.ID, err)
	}
	return c
}

func graph(t *testing.T, s store.Store) *mesh.Graph {
	t.Helper()
	g, err := s.Graph(context.Background())
	if err != nil {
		t.Fatalf("Graph: %v", err)
	}
	return g
}

// dump renders a graph's nodes, edges and reports as sorted lines, so two
// graphs compare as wholes.
func dump(g *mesh.Graph) []string {
	var out []string
	for _, k := range mesh.NodeKinds {
		for _, n := range g.Nodes(k) {
			out = append(out, fmt.Sprintf("node %s kind=%s name=%q desc=%q group=%q msg=%q type=%q desc-bytes=%d",
				n.ID, n.Kind, n.Name, n.Description, n.GroupName, n.Message, n.TopicType, len(n.Descriptors)))
		}
	}
	for _, e := range g.Edges() {
		out = append(out, fmt.Sprintf("edge %s %s %s desc=%q", e.From, e.Rel, e.To, e.Description))
	}
	for _, p := range g.Pods() {
		for _, n := range g.NodesOfPod(p.ID, "") {
			out = append(out, "report "+p.ID+" "+n.ID)
		}
	}
	sort.Strings(out)
	return out
}

// want renders what a graph holding exactly these trees must contain.
func want(reports map[mesh.Pod]*mesh.Tree) []string {
	var nodes []mesh.Node
	var edges []mesh.Edge
	var pods []mesh.Pod
	rep := map[string][]string{}
	seen := map[string]bool{}
	for p, tr := range reports {
		pods = append(pods, p)
		for _, n := range tr.Nodes {
			rep[p.ID] = append(rep[p.ID], n.ID)
			if !seen[n.ID] {
				seen[n.ID] = true
				nodes = append(nodes, n)
			}
		}
		for _, e := range tr.Edges {
			if !seen[e.Key()] {
				seen[e.Key()] = true
				edges = append(edges, e)
			}
		}
	}
	return dump(mesh.NewGraph(nodes, edges, pods, rep))
}

func diff(t *testing.T, got, want []string) {
	t.Helper()
	if slices.Equal(got, want) {
		return
	}
	g, w := map[string]bool{}, map[string]bool{}
	for _, x := range got {
		g[x] = true
	}
	for _, x := range want {
		w[x] = true
	}
	for _, x := range want {
		if !g[x] {
			t.Errorf("missing: %s", x)
		}
	}
	for _, x := range got {
		if !w[x] {
			t.Errorf("unexpected: %s", x)
		}
	}
}

func testEmpty(t *testing.T, open func(*testing.T) store.Store) {
	s := openStore(t, open)
	if err := s.Ping(context.Background()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	g := graph(t, s)
	if len(g.Pods()) != 0 || len(g.Edges()) != 0 || len(g.Nodes(mesh.KindService)) != 0 {
		t.Fatalf("new store not empty: %v", dump(g))
	}
	c, err := s.Retain(context.Background(), nil)
	if err != nil || !c.Empty() {
		t.Fatalf("Retain on empty store = %+v, %v", c, err)
	}
}

func testReport(t *testing.T, open func(*testing.T) store.Store) {
	s := openStore(t, open)
	p := pod("devices-0")
	c := report(t, s, p, t0, meshtest.Devices())
	tr := tree(t, meshtest.Devices())
	if c.Unchanged || c.NodesAdded != len(tr.Nodes) || c.EdgesAdded != len(tr.Edges) || c.NodesUpdated+c.NodesRemoved+c.EdgesRemoved != 0 {
		t.Errorf("first report change = %+v, want %d nodes and %d edges added", c, len(tr.Nodes), len(tr.Edges))
	}
	g := graph(t, s)
	diff(t, dump(g), want(map[mesh.Pod]*mesh.Tree{p: tr}))

	got := g.Pod(p.ID)
	if got == nil {
		t.Fatal("pod not stored")
	}
	if got.Namespace != "prod" || got.Name != "devices-0" || got.UID != "uid-devices-0" || got.Address != "10.0.0.1:443" || got.Source != "kubernetes" {
		t.Errorf("pod identity %+v", got)
	}
	if !got.FirstSeen.Equal(t0) || !got.LastSeen.Equal(t0) || !got.LastScrape.Equal(t0) || got.LastError != "" {
		t.Errorf("pod times %+v", got)
	}
	if svc := g.Node("Service:devices"); svc == nil || string(svc.Descriptors) != string(meshtest.DevicesDescriptors()) {
		t.Error("service descriptors not kept byte for byte")
	}
	if g.MessageSchema("kafmesh.deviceId.Heartbeat") == nil {
		t.Error("no message schema from stored descriptors")
	}
}

func testUnchanged(t *testing.T, open func(*testing.T) store.Store) {
	s := openStore(t, open)
	p := pod("devices-0")
	report(t, s, p, t0, meshtest.Devices())
	before := dump(graph(t, s))
	c := report(t, s, p, t0.Add(time.Minute), meshtest.Devices())
	if !c.Unchanged || !c.Empty() {
		t.Errorf("same report change = %+v, want unchanged", c)
	}
	g := graph(t, s)
	diff(t, dump(g), before)
	got := g.Pod(p.ID)
	if !got.FirstSeen.Equal(t0) || !got.LastSeen.Equal(t0.Add(time.Minute)) || !got.LastScrape.Equal(t0.Add(time.Minute)) {
		t.Errorf("timestamps after second scrape %+v", got)
	}
}

// devicesV2 is Devices re-deployed: the processor's description changed,
// its lookup and the whole details component are gone, a sink was added.
func devicesV2() *discoveryv1.Service {
	svc := meshtest.Devices()
	c := svc.Components[0]
	p := c.Processors[0]
	p.Description = "v2"
	p.Lookups = nil
	c.Sinks = append(c.Sinks, &discoveryv1.Sink{Name: "archive", Topic: &discoveryv1.TopicDefinition{Topic: "archive.v2", Message: "kafmesh.deviceId.EnrichedHeartbeat"}})
	svc.Components = svc.Components[:1]
	return svc
}

func testRedeploy(t *testing.T, open func(*testing.T) store.Store) {
	s := openStore(t, open)
	p := pod("devices-0")
	report(t, s, p, t0, meshtest.Devices())
	c := report(t, s, p, t0.Add(time.Minute), devicesV2())
	v2 := tree(t, devicesV2())
	diff(t, dump(graph(t, s)), want(map[mesh.Pod]*mesh.Tree{p: v2}))
	// Added: the archive sink and its topic. Updated: the processor.
	// Removed: the details component, its 3 parts, the customers topic.
	// Details topic stays: the processor still joins it.
	if c.Unchanged || c.NodesAdded != 2 || c.NodesUpdated != 1 || c.NodesRemoved != 5 {
		t.Errorf("node changes %+v, want 2 added, 1 updated, 5 removed", c)
	}
	// Edges added: HAS_PART + READS of the archive sink. Removed: LOOKS_UP,
	// HAS_COMPONENT details, 3 HAS_PART and 3 topic edges of its parts.
	if c.EdgesAdded != 2 || c.EdgesRemoved != 8 {
		t.Errorf("edge changes %+v, want 2 added, 8 removed", c)
	}
	if g := graph(t, s); g.Node("Processor:devices/heartbeats/enricher").Description != "v2" {
		t.Error("processor description not updated")
	}
}

func testFail(t *testing.T, open func(*testing.T) store.Store) {
	s := openStore(t, open)
	ctx := context.Background()
	p := pod("devices-0")
	report(t, s, p, t0, meshtest.Devices())
	if err := s.Fail(ctx, p, t0.Add(time.Minute), "connection refused"); err != nil {
		t.Fatal(err)
	}
	g := graph(t, s)
	diff(t, dump(g), want(map[mesh.Pod]*mesh.Tree{p: tree(t, meshtest.Devices())}))
	got := g.Pod(p.ID)
	if got.LastError != "connection refused" || !got.LastScrape.Equal(t0.Add(time.Minute)) || !got.LastSeen.Equal(t0) || !got.FirstSeen.Equal(t0) || got.Healthy() {
		t.Errorf("failed pod %+v", got)
	}
	// Recovery clears the error.
	report(t, s, p, t0.Add(2*time.Minute), meshtest.Devices())
	if got := graph(t, s).Pod(p.ID); got.LastError != "" || !got.LastSeen.Equal(t0.Add(2*time.Minute)) || !got.Healthy() {
		t.Errorf("recovered pod %+v", got)
	}

	// A pod that never answered is recorded with no tree.
	q := pod("hung-0")
	if err := s.Fail(ctx, q, t0, "deadline exceeded"); err != nil {
		t.Fatal(err)
	}
	g = graph(t, s)
	got = g.Pod(q.ID)
	if got == nil || got.LastError != "deadline exceeded" || !got.FirstSeen.Equal(t0) || !got.LastSeen.IsZero() || len(g.NodesOfPod(q.ID, "")) != 0 {
		t.Errorf("never-answering pod %+v", got)
	}
}

func testRetain(t *testing.T, open func(*testing.T) store.Store) {
	s := openStore(t, open)
	ctx := context.Background()
	a, b, c := pod("devices-0"), pod("devices-1"), pod("alerts-0")
	report(t, s, a, t0, meshtest.Devices())
	report(t, s, b, t0, meshtest.Devices())
	report(t, s, c, t0, meshtest.Alerts())

	ch, err := s.Retain(ctx, []string{b.ID, c.ID})
	if err != nil {
		t.Fatal(err)
	}
	if ch.PodsRemoved != 1 || ch.NodesRemoved != 0 || ch.EdgesRemoved != 0 {
		t.Errorf("removing one of two devices pods: %+v", ch)
	}
	diff(t, dump(graph(t, s)), want(map[mesh.Pod]*mesh.Tree{b: tree(t, meshtest.Devices()), c: tree(t, meshtest.Alerts())}))

	// The last devices pod goes: every devices node goes with it, sinks,
	// view sinks and all; the enriched topic stays (alerts reads it).
	ch, err = s.Retain(ctx, []string{c.ID})
	if err != nil {
		t.Fatal(err)
	}
	g := graph(t, s)
	diff(t, dump(g), want(map[mesh.Pod]*mesh.Tree{c: tree(t, meshtest.Alerts())}))
	if g.Node("Sink:devices/heartbeats/warehouse") != nil || g.Node("ViewSink:devices/details/cache") != nil {
		t.Error("sinks outlived their pods")
	}
	if ch.PodsRemoved != 1 || ch.NodesRemoved == 0 || ch.EdgesRemoved == 0 {
		t.Errorf("removing the last devices pod: %+v", ch)
	}

	if _, err := s.Retain(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if d := dump(graph(t, s)); len(d) != 0 || len(graph(t, s).Pods()) != 0 {
		t.Errorf("store not empty after all pods left: %v", d)
	}
}

func testSharedTopic(t *testing.T, open func(*testing.T) store.Store) {
	s := openStore(t, open)
	a, c := pod("devices-0"), pod("alerts-0")
	report(t, s, a, t0, meshtest.Devices())
	report(t, s, c, t0, meshtest.Alerts())
	if _, err := s.Retain(context.Background(), []string{a.ID}); err != nil {
		t.Fatal(err)
	}
	g := graph(t, s)
	diff(t, dump(g), want(map[mesh.Pod]*mesh.Tree{a: tree(t, meshtest.Devices())}))
	enriched := mesh.TopicID(meshtest.TopicEnriched)
	if g.Node(enriched) == nil || len(g.Consumers(enriched)) != 1 {
		t.Errorf("enriched topic consumers %v", g.Consumers(enriched))
	}
}

func testStaleProperties(t *testing.T, open func(*testing.T) store.Store) {
	s := openStore(t, open)
	a, b := pod("devices-0"), pod("devices-1")
	report(t, s, a, t0, meshtest.Devices())
	v2 := meshtest.Devices()
	v2.Components[0].Processors[0].Description = "v2"
	report(t, s, b, t0, v2)
	if got := graph(t, s).Node("Processor:devices/heartbeats/enricher").Description; got != "v2" {
		t.Fatalf("description %q after v2 pod reported", got)
	}
	// The v2 pod goes away; the next scrape of the v1 pod must restore its
	// description although its own answer did not change.
	if _, err := s.Retain(context.Background(), []string{a.ID}); err != nil {
		t.Fatal(err)
	}
	report(t, s, a, t0.Add(time.Minute), meshtest.Devices())
	if got := graph(t, s).Node("Processor:devices/heartbeats/enricher").Description; got != "adds details to heartbeats" {
		t.Errorf("description %q, want the remaining pod's", got)
	}
}

func testReopen(t *testing.T, open func(*testing.T) store.Store) {
	s := open(t)
	a, q := pod("devices-0"), pod("hung-0")
	report(t, s, a, t0, meshtest.Devices())
	if err := s.Fail(context.Background(), q, t0, "refused"); err != nil {
		t.Fatal(err)
	}
	before := dump(graph(t, s))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, open)
	g := graph(t, s)
	diff(t, dump(g), before)
	if p := g.Pod(a.ID); p == nil || !p.FirstSeen.Equal(t0) || !p.LastSeen.Equal(t0) {
		t.Errorf("pod after reopen %+v", p)
	}
	if p := g.Pod(q.ID); p == nil || p.LastError != "refused" {
		t.Errorf("failing pod after reopen %+v", p)
	}
	// The fingerprint survived too: the same report is still a no-op.
	if c := report(t, s, a, t0.Add(time.Minute), meshtest.Devices()); !c.Unchanged {
		t.Errorf("report after reopen %+v, want unchanged", c)
	}
}

func testAwkwardNames(t *testing.T, open func(*testing.T) store.Store) {
	s := openStore(t, open)
	svc := &discoveryv1.Service{Name: "a/b c", Description: "quotes ' \" and \\ and ünïcode", Components: []*discoveryv1.Component{{
		Name:    "x:y",
		Sources: []*discoveryv1.Source{{Topic: &discoveryv1.TopicDefinition{Topic: "t'1", Type: discoveryv1.TopicType_TOPIC_TYPE_RAW}}},
	}}}
	p := mesh.Pod{ID: mesh.PodID("", "[::1]:8443", ""), Name: "[::1]:8443", Address: "[::1]:8443", Source: "static"}
	report(t, s, p, t0, svc)
	g := graph(t, s)
	diff(t, dump(g), want(map[mesh.Pod]*mesh.Tree{p: tree(t, svc)}))
	if n := g.Node(mesh.ServiceID("a/b c")); n == nil || n.Description != svc.Description {
		t.Errorf("service %+v", n)
	}
	if n := g.Node(mesh.TopicID("t'1")); n == nil || n.TopicType != "RAW" {
		t.Errorf("topic %+v", n)
	}
}
