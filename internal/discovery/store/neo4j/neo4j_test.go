package neo4j_test

import (
	"context"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/kafmesh/kafmesh/internal/discovery/internal/meshtest"
	"github.com/kafmesh/kafmesh/internal/discovery/mesh"
	"github.com/kafmesh/kafmesh/internal/discovery/store"
	neo4jstore "github.com/kafmesh/kafmesh/internal/discovery/store/neo4j"
	"github.com/kafmesh/kafmesh/internal/discovery/store/storetest"
)

// serverURI returns the Neo4j server the tests use, or skips.
func serverURI(t testing.TB) string {
	t.Helper()
	uri := os.Getenv("KAFMESH_TEST_NEO4J")
	if uri == "" {
		t.Skip("KAFMESH_TEST_NEO4J is not set: start a test server with `export \"$(scripts/neo4j.sh start)\"` (or run scripts/test.sh / .ci/run) to run the Neo4j store tests")
	}
	return uri
}

// wipe empties the test database: the tests own it while they run.
func wipe(t testing.TB, uri string) {
	t.Helper()
	ctx := context.Background()
	d, err := neo4j.NewDriverWithContext(uri, neo4j.NoAuth())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(ctx)
	if _, err := neo4j.ExecuteQuery(ctx, d, `MATCH (n) DETACH DELETE n`, nil, neo4j.EagerResultTransformer); err != nil {
		t.Fatalf("wipe %s: %v", uri, err)
	}
}

func open(t testing.TB, uri string) *neo4jstore.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := neo4jstore.Open(ctx, uri)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestContract(t *testing.T) {
	uri := serverURI(t)
	storetest.Run(t, func(t *testing.T) func(*testing.T) store.Store {
		wipe(t, uri)
		return func(t *testing.T) store.Store { return open(t, uri) }
	})
}

func query(t *testing.T, uri, q string) [][]any {
	t.Helper()
	ctx := context.Background()
	d, err := neo4j.NewDriverWithContext(uri, neo4j.NoAuth())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(ctx)
	res, err := neo4j.ExecuteQuery(ctx, d, q, nil, neo4j.EagerResultTransformer)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	var rows [][]any
	for _, r := range res.Records {
		rows = append(rows, r.Values)
	}
	return rows
}

// The graph in Neo4j is the one a user explores with Cypher: labels,
// relationship types, REPORTED_BY and the derived DEPENDS_ON.
func TestGraphIsExplorableWithCypher(t *testing.T) {
	uri := serverURI(t)
	wipe(t, uri)
	s := open(t, uri)
	defer s.Close()
	ctx := context.Background()
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for name, svc := range map[string]func() *mesh.Tree{
		"devices-0": func() *mesh.Tree { tr, _ := mesh.FromService(meshtest.Devices()); return tr },
		"alerts-0":  func() *mesh.Tree { tr, _ := mesh.FromService(meshtest.Alerts()); return tr },
	} {
		p := mesh.Pod{ID: mesh.PodID("prod", name, "u"), Namespace: "prod", Name: name, UID: "u", Address: "10.0.0.1:443", Source: "kubernetes"}
		if _, err := s.Report(ctx, p, at, svc()); err != nil {
			t.Fatal(err)
		}
	}

	rows := query(t, uri, `MATCH (a:Service)-[:DEPENDS_ON]->(b:Service) RETURN a.name, b.name`)
	if len(rows) != 1 || rows[0][0] != "alerts" || rows[0][1] != "devices" {
		t.Errorf("DEPENDS_ON rows %v", rows)
	}
	rows = query(t, uri, `MATCH (s:Service {name: 'devices'})-[:HAS_COMPONENT]->(:Component)-[:HAS_PART]->(p)
		RETURN labels(p)[0] AS kind ORDER BY kind`)
	var kinds []string
	for _, r := range rows {
		kinds = append(kinds, r[0].(string))
	}
	if !slices.Equal(kinds, []string{"Processor", "Sink", "Source", "View", "ViewSink", "ViewSource"}) {
		t.Errorf("part labels %v", kinds)
	}
	rows = query(t, uri, `MATCH (p:Processor {name: 'enricher'})-[r]->(t:Topic) RETURN type(r) AS rel ORDER BY rel`)
	var rels []string
	for _, r := range rows {
		rels = append(rels, r[0].(string))
	}
	if !slices.Equal(rels, []string{"JOINS", "LOOKS_UP", "PERSISTS_TO", "READS", "WRITES"}) {
		t.Errorf("processor relationships %v", rels)
	}
	rows = query(t, uri, `MATCH (:Processor {name: 'checker'})-[:REPORTED_BY]->(p:Pod) RETURN p.name, p.namespace`)
	if len(rows) != 1 || rows[0][0] != "alerts-0" || rows[0][1] != "prod" {
		t.Errorf("REPORTED_BY rows %v", rows)
	}
	rows = query(t, uri, `SHOW CONSTRAINTS YIELD labelsOrTypes, properties WHERE properties = ['id'] RETURN labelsOrTypes[0] AS l ORDER BY l`)
	if len(rows) != 10 {
		t.Errorf("%d id constraints, want 10: %v", len(rows), rows)
	}

	// Once alerts goes, so does the dependency.
	if _, err := s.Retain(ctx, []string{mesh.PodID("prod", "devices-0", "u")}); err != nil {
		t.Fatal(err)
	}
	if rows := query(t, uri, `MATCH ()-[d:DEPENDS_ON]->() RETURN count(d)`); rows[0][0].(int64) != 0 {
		t.Errorf("DEPENDS_ON left after alerts went: %v", rows)
	}
}
