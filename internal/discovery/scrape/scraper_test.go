package scrape_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	discoveryv1 "github.com/kafmesh/kafmesh/api/discovery/v1"
	"github.com/kafmesh/kafmesh/internal/discovery/internal/meshtest"
	"github.com/kafmesh/kafmesh/internal/discovery/mesh"
	"github.com/kafmesh/kafmesh/internal/discovery/scrape"
	"github.com/kafmesh/kafmesh/internal/discovery/store/sqlite"
	"github.com/kafmesh/kafmesh/internal/discovery/targets"
)

// listSource is a target source the test edits between rounds.
type listSource struct {
	mu  sync.Mutex
	ts  []targets.Target
	err error
}

func (l *listSource) Name() string { return "test list" }

func (l *listSource) Targets(context.Context) ([]targets.Target, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]targets.Target(nil), l.ts...), l.err
}

func (l *listSource) set(err error, addrs ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.err = err
	l.ts = nil
	for _, a := range addrs {
		l.ts = append(l.ts, target(a))
	}
}

func target(addr string) targets.Target {
	return targets.Target{ID: mesh.PodID("", addr, ""), Name: addr, Address: addr, Source: "static"}
}

func openStore(t testing.TB) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "mesh.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func result(t *testing.T, r scrape.Round, addr string) scrape.Result {
	t.Helper()
	for _, x := range r.Results {
		if x.Target.Address == addr {
			return x
		}
	}
	t.Fatalf("no result for %s in %+v", addr, r.Results)
	return scrape.Result{}
}

func TestBadTargetsFailAloneAndGoodOnesAreRecorded(t *testing.T) {
	ctx := context.Background()
	devices := meshtest.Serve(t, meshtest.Devices())
	alerts := meshtest.Serve(t, meshtest.Alerts(), meshtest.OnlyDiscoverName(), meshtest.WithoutPing())
	stuck := meshtest.Serve(t, meshtest.Devices())
	stuck.Hang(make(chan struct{}))
	invalid := meshtest.Serve(t, &discoveryv1.Service{Name: ""})
	hung, refusing, garbage := meshtest.Hung(t), meshtest.Refusing(t), meshtest.Garbage(t)

	st := openStore(t)
	src := &listSource{}
	src.set(nil, devices.Addr, alerts.Addr, stuck.Addr, invalid.Addr, hung, refusing, garbage)
	reg := prometheus.NewRegistry()
	// Concurrency 2 with three targets that hang: the good ones still get
	// their turn, because every call has a deadline.
	s := scrape.New(st, []targets.Source{src}, scrape.WithTimeout(300*time.Millisecond), scrape.WithConcurrency(2), scrape.WithRegisterer(reg))
	r := s.Round(ctx)

	if !r.Complete || len(r.Results) != 7 {
		t.Fatalf("round complete=%v with %d results", r.Complete, len(r.Results))
	}
	for _, addr := range []string{devices.Addr, alerts.Addr} {
		if res := result(t, r, addr); res.Err != nil {
			t.Errorf("%s: %v", addr, res.Err)
		}
	}
	for addr, stage := range map[string]string{
		stuck.Addr: "get_service_info", invalid.Addr: "invalid", hung: "ping", refusing: "ping", garbage: "ping",
	} {
		res := result(t, r, addr)
		if res.Err == nil || res.Stage != stage {
			t.Errorf("%s: stage %q err %v, want a failure at %s", addr, res.Stage, res.Err, stage)
		}
	}
	if res := result(t, r, invalid.Addr); !strings.Contains(res.Err.Error(), "service has no name") {
		t.Errorf("invalid tree error %v", res.Err)
	}

	g, err := st.Graph(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if g.Node("Service:devices") == nil || g.Node("Service:alerts") == nil {
		t.Fatal("good services missing from the store")
	}
	if deps := g.DependsOn("Service:alerts"); len(deps) != 1 || deps[0].Name != "devices" {
		t.Errorf("alerts depends on %v", deps)
	}
	for _, addr := range []string{stuck.Addr, invalid.Addr, hung, refusing, garbage} {
		p := g.Pod(mesh.PodID("", addr, ""))
		if p == nil || p.LastError == "" || !p.LastSeen.IsZero() || p.Healthy() {
			t.Errorf("failing pod %s recorded as %+v", addr, p)
		}
	}
	if p := g.Pod(mesh.PodID("", devices.Addr, "")); p == nil || !p.Healthy() || len(g.NodesOfPod(p.ID, mesh.KindService)) != 1 {
		t.Errorf("devices pod %+v", p)
	}

	// Per-target metrics.
	if v := value(t, reg, "kafmesh_discover_scrapes_total", map[string]string{"target": mesh.PodID("", hung, ""), "result": "error"}); v != 1 {
		t.Errorf("hung target error count %v", v)
	}
	if v := value(t, reg, "kafmesh_discover_scrapes_total", map[string]string{"target": mesh.PodID("", devices.Addr, ""), "result": "ok"}); v != 1 {
		t.Errorf("devices ok count %v", v)
	}
}

// value finds one series in a registry and returns its value.
func value(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if want, ok := labels[lp.GetName()]; ok && want != lp.GetValue() {
					continue next
				}
			}
			if m.GetCounter() != nil {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	t.Fatalf("no series %s %v", name, labels)
	return 0
}

func seriesCount(t *testing.T, reg *prometheus.Registry, name, target string) int {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "target" && lp.GetValue() == target {
					n++
				}
			}
		}
	}
	return n
}

func TestEveryRoundRescrapesAndDiffs(t *testing.T) {
	ctx := context.Background()
	devices := meshtest.Serve(t, meshtest.Devices())
	st := openStore(t)
	src := &listSource{}
	src.set(nil, devices.Addr)
	s := scrape.New(st, []targets.Source{src}, scrape.WithTimeout(2*time.Second))

	first := s.Round(ctx)
	if res := first.Results[0]; res.Err != nil || res.Change.NodesAdded == 0 {
		t.Fatalf("first round %+v", res)
	}
	second := s.Round(ctx)
	if res := second.Results[0]; res.Err != nil || !res.Change.Unchanged || second.Changed() {
		t.Fatalf("second round with the same answer %+v", res)
	}
	if devices.Calls() != 2 {
		t.Errorf("target answered %d GetServiceInfo calls, want one per round", devices.Calls())
	}

	// Re-deployed under the same address with a changed definition.
	v2 := meshtest.Devices()
	v2.Components[0].Processors[0].Description = "v2"
	v2.Components[0].Sinks = nil
	devices.SetService(v2)
	third := s.Round(ctx)
	res := third.Results[0]
	if res.Err != nil || res.Change.NodesUpdated != 1 || res.Change.NodesRemoved != 1 || !third.Changed() {
		t.Fatalf("round after redeploy %+v", res.Change)
	}
	g, _ := st.Graph(ctx)
	if g.Node("Processor:devices/heartbeats/enricher").Description != "v2" || g.Node("Sink:devices/heartbeats/warehouse") != nil {
		t.Error("store still shows the old definition")
	}
	pod := g.Pod(mesh.PodID("", devices.Addr, ""))
	if pod.FirstSeen.After(pod.LastSeen) || pod.LastSeen.Before(pod.LastScrape) {
		t.Errorf("pod times %+v", pod)
	}
}

func TestVanishingTargetsAreRemovedWithWhatOnlyTheyReported(t *testing.T) {
	ctx := context.Background()
	devices := meshtest.Serve(t, meshtest.Devices())
	alerts := meshtest.Serve(t, meshtest.Alerts())
	st := openStore(t)
	src := &listSource{}
	src.set(nil, devices.Addr, alerts.Addr)
	reg := prometheus.NewRegistry()
	s := scrape.New(st, []targets.Source{src}, scrape.WithTimeout(time.Second), scrape.WithRegisterer(reg))
	s.Round(ctx)

	// alerts dies in the middle of answering.
	// The handler holds its answer until Stop has cut the connection, so
	// the call fails every time (without the wait the answer could win).
	alerts.OnGetServiceInfo(func() { go alerts.Stop(); time.Sleep(2 * time.Second) })
	r := s.Round(ctx)
	if res := result(t, r, alerts.Addr); res.Err == nil {
		t.Fatal("scrape of a target that vanished mid-call succeeded")
	}
	g, _ := st.Graph(ctx)
	if g.Node("Service:alerts") == nil || g.Pod(mesh.PodID("", alerts.Addr, "")).LastError == "" {
		t.Fatal("a failing pod must keep its last known tree and show its error")
	}

	// A source that fails must not make pods look gone.
	src.set(errors.New("api server unreachable"), devices.Addr)
	r = s.Round(ctx)
	if r.Complete || r.Removed.PodsRemoved != 0 {
		t.Fatalf("round with a failed source removed pods: %+v", r.Removed)
	}
	if g, _ := st.Graph(ctx); g.Node("Service:alerts") == nil {
		t.Fatal("alerts removed although the source failed")
	}

	// The pod is gone from its source: it and everything only it reported go.
	src.set(nil, devices.Addr)
	r = s.Round(ctx)
	if r.Removed.PodsRemoved != 1 {
		t.Fatalf("removal %+v", r.Removed)
	}
	g, _ = st.Graph(ctx)
	if g.Node("Service:alerts") != nil || g.Node("Processor:alerts/rules/checker") != nil || g.Node(mesh.TopicID(meshtest.TopicAlerts)) != nil {
		t.Error("alerts' nodes outlived its pod")
	}
	if g.Node(mesh.TopicID(meshtest.TopicEnriched)) == nil {
		t.Error("a topic devices still reports was removed")
	}
	if n := seriesCount(t, reg, "kafmesh_discover_scrapes_total", mesh.PodID("", alerts.Addr, "")); n != 0 {
		t.Errorf("%d metric series left for the removed target", n)
	}
}

func TestRunScrapesEveryIntervalUntilCancelled(t *testing.T) {
	devices := meshtest.Serve(t, meshtest.Devices())
	st := openStore(t)
	src := &listSource{}
	src.set(nil, devices.Addr)
	rounds := make(chan scrape.Round, 10)
	s := scrape.New(st, []targets.Source{src}, scrape.WithInterval(20*time.Millisecond), scrape.WithTimeout(time.Second),
		scrape.OnRound(func(r scrape.Round) { rounds <- r }))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	for i := 0; i < 3; i++ {
		select {
		case r := <-rounds:
			if r.Failed() != 0 {
				t.Fatalf("round %d failed: %+v", i, r.Results)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("round %d never came", i)
		}
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Run returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if devices.Calls() < 3 {
		t.Errorf("%d calls for 3 rounds", devices.Calls())
	}
}

// syncBuffer is a log destination safe for concurrent scrapes.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func TestFailingTargetsAreNamedOncePerStateChangeWithATimeoutReason(t *testing.T) {
	ctx := context.Background()
	hung := meshtest.Hung(t)
	stuck := meshtest.Serve(t, meshtest.Devices())
	release := make(chan struct{})
	stuck.Hang(release)
	var logs syncBuffer
	src := &listSource{}
	src.set(nil, hung, stuck.Addr)
	s := scrape.New(openStore(t), []targets.Source{src}, scrape.WithTimeout(300*time.Millisecond),
		scrape.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))))
	for range 2 {
		r := s.Round(ctx)
		for _, addr := range []string{hung, stuck.Addr} {
			if res := result(t, r, addr); res.Err == nil || res.Err.Error() != res.Stage+": timed out after 300ms" {
				t.Errorf("%s: error %v, want %q", addr, res.Err, res.Stage+": timed out after 300ms")
			}
		}
	}
	for _, addr := range []string{hung, stuck.Addr} {
		want := fmt.Sprintf(`level=WARN msg="target failing" target=%s address=%s reason=`, mesh.PodID("", addr, ""), addr)
		if n := strings.Count(logs.String(), want); n != 1 {
			t.Errorf("%s logged failing %d times over two rounds, want once:\n%s", addr, n, logs.String())
		}
	}
	if strings.Contains(logs.String(), "closed network connection") {
		t.Errorf("a timeout logged as a closed connection:\n%s", logs.String())
	}
	close(release)
	s.Round(ctx)
	if !strings.Contains(logs.String(), `level=INFO msg="target answers again" target=`+mesh.PodID("", stuck.Addr, "")) {
		t.Errorf("recovery not logged:\n%s", logs.String())
	}
}
