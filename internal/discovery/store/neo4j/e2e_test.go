package neo4j_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/kafmesh/kafmesh/internal/discovery"
	"github.com/kafmesh/kafmesh/internal/discovery/internal/meshtest"
	"github.com/kafmesh/kafmesh/internal/discovery/scrape"
	"github.com/kafmesh/kafmesh/internal/discovery/targets"
)

// discover with --store neo4j://…: the mesh GraphQL shows is the graph a
// user finds in Neo4j.
func TestDiscoverOnNeo4jShowsTheSameGraph(t *testing.T) {
	uri := serverURI(t)
	wipe(t, uri)
	devices := meshtest.Serve(t, meshtest.Devices())
	alerts := meshtest.Serve(t, meshtest.Alerts())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := discovery.OpenStore(ctx, discovery.StoreConfig{URL: uri})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	src, _ := targets.NewStatic([]string{devices.Addr, alerts.Addr}, "")
	svc := discovery.New(st, discovery.WithSources(src), discovery.WithScrapeOptions(scrape.WithInterval(time.Hour), scrape.WithTimeout(5*time.Second)))
	addrc := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx, "127.0.0.1:0", func(a net.Addr) { addrc <- a }) }()
	addr := <-addrc
	select {
	case <-svc.FirstRound():
	case <-time.After(60 * time.Second):
		t.Fatal("no first round")
	}

	body, _ := json.Marshal(map[string]string{"query": `{ services { name dependsOn { name } components { name } } topics { name } }`})
	resp, err := http.Post("http://"+addr.String()+"/query", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Data struct {
			Services []struct {
				Name       string
				DependsOn  []struct{ Name string }
				Components []struct{ Name string }
			}
			Topics []struct{ Name string }
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var gqlServices []string
	for _, s := range out.Data.Services {
		gqlServices = append(gqlServices, s.Name)
	}
	if !slices.Equal(gqlServices, []string{"alerts", "devices"}) || out.Data.Services[0].DependsOn[0].Name != "devices" || len(out.Data.Topics) != 6 {
		t.Fatalf("GraphQL on Neo4j: %+v", out.Data)
	}

	var cypherServices []string
	for _, r := range query(t, uri, `MATCH (s:Service) RETURN s.name ORDER BY s.name`) {
		cypherServices = append(cypherServices, r[0].(string))
	}
	if !slices.Equal(cypherServices, gqlServices) {
		t.Errorf("Cypher services %v, GraphQL %v", cypherServices, gqlServices)
	}
	if rows := query(t, uri, `MATCH (t:Topic) RETURN count(t)`); rows[0][0].(int64) != int64(len(out.Data.Topics)) {
		t.Errorf("Cypher topics %v, GraphQL %d", rows, len(out.Data.Topics))
	}
	if rows := query(t, uri, `MATCH (:Service {name: 'alerts'})-[:DEPENDS_ON]->(s:Service) RETURN s.name`); len(rows) != 1 || rows[0][0] != "devices" {
		t.Errorf("DEPENDS_ON %v", rows)
	}
	if rows := query(t, uri, `MATCH (p:Pod) WHERE p.lastError = '' RETURN count(p)`); rows[0][0].(int64) != 2 {
		t.Errorf("healthy pods %v", rows)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
}
