package watch_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kafmesh/kafmesh/internal/discovery/internal/meshtest"
	"github.com/kafmesh/kafmesh/internal/discovery/mesh"
	"github.com/kafmesh/kafmesh/internal/discovery/watch"
)

// liveGraph is the devices service run by pods that answered their last
// scrape.
func liveGraph(t *testing.T, addrs ...string) *mesh.Graph {
	t.Helper()
	tree, err := mesh.FromService(meshtest.Devices())
	if err != nil {
		t.Fatal(err)
	}
	var pods []mesh.Pod
	reports := map[string][]string{}
	now := time.Now()
	for _, a := range addrs {
		p := mesh.Pod{ID: mesh.PodID("", a, ""), Name: a, Address: a, Source: "static", FirstSeen: now, LastSeen: now, LastScrape: now}
		pods = append(pods, p)
		for _, n := range tree.Nodes {
			reports[p.ID] = append(reports[p.ID], n.ID)
		}
	}
	return mesh.NewGraph(tree.Nodes, tree.Edges, pods, reports)
}

// A followed watch opens a stream on a pod that joins, and on the pod that
// replaces one that went away, and ends only with its context.
func TestFollowedWatchFollowsPodsAsTheyComeAndGo(t *testing.T) {
	a := meshtest.Serve(t, meshtest.Devices())
	var current atomic.Pointer[mesh.Graph]
	current.Store(liveGraph(t, a.Addr))
	w := watch.New(watch.WithFollow(func(context.Context) (*mesh.Graph, error) { return current.Load(), nil }, 50*time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := w.Watch(ctx, current.Load(), enricher, "dev-1")
	if err != nil {
		t.Fatal(err)
	}
	a.WaitWatchers(t, 1)
	a.Emit("heartbeats", "enricher", "dev-1", op(`{"n":1}`))
	if e := next(t, ch); e.Operation == nil || e.Pod.Address != a.Addr {
		t.Fatalf("first event %+v", e)
	}

	// A second pod joins the processor.
	b := meshtest.Serve(t, meshtest.Devices())
	current.Store(liveGraph(t, a.Addr, b.Addr))
	b.WaitWatchers(t, 1)
	b.Emit("heartbeats", "enricher", "dev-1", op(`{"n":2}`))
	if e := next(t, ch); e.Operation == nil || e.Pod.Address != b.Addr {
		t.Fatalf("event from the new pod %+v", e)
	}

	// The first pod goes away (its stream fails) and a replacement comes.
	a.Stop()
	if e := next(t, ch); e.Err == nil || e.Pod.Address != a.Addr {
		t.Fatalf("event when a pod went away %+v", e)
	}
	c := meshtest.Serve(t, meshtest.Devices())
	current.Store(liveGraph(t, b.Addr, c.Addr))
	c.WaitWatchers(t, 1)
	c.Emit("heartbeats", "enricher", "dev-1", op(`{"n":3}`))
	if e := next(t, ch); e.Operation == nil || e.Pod.Address != c.Addr {
		t.Fatalf("event from the replacement %+v", e)
	}
	if n := b.Watchers(); n != 1 {
		t.Fatalf("the pod that stayed has %d streams, want 1 (no duplicates)", n)
	}

	cancel()
	select {
	case _, ok := <-ch:
		for ok {
			_, ok = <-ch
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the watch did not end with its context")
	}
}
