package neo4j_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kafmesh/kafmesh/internal/discovery"
	"github.com/kafmesh/kafmesh/internal/discovery/internal/meshtest"
	"github.com/kafmesh/kafmesh/internal/discovery/scrape"
	neo4jstore "github.com/kafmesh/kafmesh/internal/discovery/store/neo4j"
	"github.com/kafmesh/kafmesh/internal/discovery/targets"
)

// discover on the real Neo4j, whose connection is cut: GraphQL answers in
// seconds from the last graph, marked stale, and current again once the
// connection is back.
func TestDiscoverServesTheLastGraphWhileNeo4jIsCut(t *testing.T) {
	uri := serverURI(t)
	wipe(t, uri)
	proxy := newCutProxy(t, hostPort(t, uri))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := neo4jstore.Open(ctx, "bolt://"+proxy.lis.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	devices := meshtest.Serve(t, meshtest.Devices())
	src, err := targets.NewStatic([]string{devices.Addr}, "")
	if err != nil {
		t.Fatal(err)
	}
	svc := discovery.New(st, discovery.WithSources(src), discovery.WithSnapshotMaxAge(time.Millisecond),
		discovery.WithScrapeOptions(scrape.WithInterval(500*time.Millisecond)))
	addrc := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx, "127.0.0.1:0", func(a net.Addr) { addrc <- a }) }()
	defer func() { cancel(); <-done }()
	url := "http://" + (<-addrc).String() + "/query"
	<-svc.FirstRound()

	type answer struct {
		Data struct {
			Services   []struct{ Name string }
			MeshStatus struct {
				Stale bool
				Error *string
			}
		}
		Errors []struct{ Message string }
	}
	ask := func() (answer, time.Duration) {
		start := time.Now()
		resp, err := http.Post(url, "application/json", strings.NewReader(`{"query":"{ services { name } meshStatus { stale error } }"}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var a answer
		_ = json.NewDecoder(resp.Body).Decode(&a)
		return a, time.Since(start)
	}
	if a, _ := ask(); len(a.Data.Services) != 1 || a.Data.MeshStatus.Stale {
		t.Fatalf("before the cut: %+v", a)
	}

	proxy.setCut(true)
	time.Sleep(10 * time.Millisecond)
	for i := range 3 {
		a, took := ask()
		if len(a.Errors) > 0 || len(a.Data.Services) != 1 || !a.Data.MeshStatus.Stale || a.Data.MeshStatus.Error == nil {
			t.Fatalf("request %d during the cut: %+v", i, a)
		}
		if took > 5*time.Second {
			t.Fatalf("request %d during the cut took %s, want a few seconds at most", i, took)
		}
		t.Logf("request %d during the cut answered in %s: %s", i, took.Round(time.Millisecond), *a.Data.MeshStatus.Error)
	}

	proxy.setCut(false)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if a, _ := ask(); !a.Data.MeshStatus.Stale && len(a.Data.Services) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("still stale 30 s after the connection came back")
		}
		time.Sleep(200 * time.Millisecond)
	}
}
