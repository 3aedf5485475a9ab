package graph

import (
	"fmt"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2"

	"github.com/kafmesh/kafmesh/internal/discovery/mesh"
	"github.com/kafmesh/kafmesh/internal/discovery/records"
)

// bigMesh is 100 services of 2 components with 3 processors, a source and
// a sink each; every processor reads its own topic and one topic all 600
// share; two pods run each service.
func bigMesh() *mesh.Graph {
	var nodes []mesh.Node
	var edges []mesh.Edge
	var pods []mesh.Pod
	reports := map[string][]string{}
	shared := mesh.TopicID("shared")
	nodes = append(nodes, mesh.Node{ID: shared, Kind: mesh.KindTopic, Name: "shared"})
	for s := range 100 {
		svc := fmt.Sprintf("svc%d", s)
		sid := mesh.ServiceID(svc)
		own := []string{sid}
		nodes = append(nodes, mesh.Node{ID: sid, Kind: mesh.KindService, Name: svc})
		for c := range 2 {
			comp := fmt.Sprintf("c%d", c)
			cid := mesh.ComponentID(svc, comp)
			nodes = append(nodes, mesh.Node{ID: cid, Kind: mesh.KindComponent, Name: comp})
			edges = append(edges, mesh.Edge{From: sid, To: cid, Rel: mesh.RelHasComponent})
			own = append(own, cid)
			for p := range 3 {
				name := fmt.Sprintf("p%d", p)
				pid := mesh.PartID(mesh.KindProcessor, svc, comp, name)
				in := mesh.TopicID(svc + "." + comp + "." + name + ".in")
				out := mesh.TopicID(svc + "." + comp + "." + name + ".out")
				nodes = append(nodes, mesh.Node{ID: pid, Kind: mesh.KindProcessor, Name: name},
					mesh.Node{ID: in, Kind: mesh.KindTopic}, mesh.Node{ID: out, Kind: mesh.KindTopic})
				edges = append(edges, mesh.Edge{From: cid, To: pid, Rel: mesh.RelHasPart},
					mesh.Edge{From: pid, To: in, Rel: mesh.RelReads}, mesh.Edge{From: pid, To: shared, Rel: mesh.RelReads},
					mesh.Edge{From: pid, To: out, Rel: mesh.RelWrites})
				own = append(own, pid, in, out)
			}
			src := mesh.PartID(mesh.KindSource, svc, comp, "src")
			nodes = append(nodes, mesh.Node{ID: src, Kind: mesh.KindSource})
			edges = append(edges, mesh.Edge{From: cid, To: src, Rel: mesh.RelHasPart}, mesh.Edge{From: src, To: shared, Rel: mesh.RelWrites})
			own = append(own, src)
		}
		for i := range 2 {
			p := mesh.Pod{ID: mesh.PodID("prod", fmt.Sprintf("%s-%d", svc, i), "u"), Name: svc}
			pods = append(pods, p)
			reports[p.ID] = own
		}
	}
	return mesh.NewGraph(nodes, edges, pods, reports)
}

func cost(t *testing.T, g *mesh.Graph, query string) int {
	t.Helper()
	es := NewExecutableSchema(Config{Resolvers: &Resolver{}})
	doc, errs := gqlparser.LoadQuery(es.Schema(), query)
	if errs != nil {
		t.Fatalf("%s: %v", query, errs)
	}
	return estimate(boundsOf(g), doc.Operations[0], map[string]any{"id": "x"})
}

// The UI's queries (internal/discovery/web/src/queries.ts) stay well under
// the default limit on a mesh of 100 services, 600 processors and 600
// pods' worth of relations, while the list-multiplication attack is far
// over it.
func TestUIQueriesFitTheDefaultLimitOnABigMesh(t *testing.T) {
	g := bigMesh()
	ui := map[string]string{
		"map":    `{ services { id name description dependsOn { id } pods { id name namespace healthy } components { id processors { id } } } pods { id name namespace healthy lastError } }`,
		"flow":   `{ services { id components { processors { id name groupName lag { state total updatedAt error topics { name lag recordsPerSecond } } } } } }`,
		"topics": `{ topics { id name message type producerServices { id name } consumerServices { id name } } }`,
		"pods":   `{ pods { id name namespace uid address source healthy firstSeen lastSeen lastScrape lastError service { id name } } }`,
		"service": `query($id: ID!) { serviceById(id: $id) { id name description dependsOn { id name } dependents { id name } pods { id name namespace address healthy lastScrape lastError }
			components { id name description processors { id name } sources { id topic { id name } } sinks { id name } views { id topic { id name } } viewSources { id name } viewSinks { id name }
			dependsOn { id name service { id name } } dependents { id name service { id name } } } } }`,
		"topic": `query($id: ID!) { topicById(id: $id) { id name message type messageSchema { name file service { id name } fields { name jsonName number type label keyType oneof } }
			producers { ... on Processor { id name component { id name service { id name } } } ... on Source { id component { id name service { id name } } } }
			consumers { ... on Processor { id name component { id name service { id name } } } ... on Sink { id name component { id name service { id name } } } }
			processorInputs { processor { id } } processorOutputs { processor { id } } processorPersistences { id }
			settings { partitions replicationFactor readAt error configs { name value isDefault source } } } kafka { topicSettingsReadAt topicSettingsError } }`,
		"records": `query { topicRecords(topic: "t") { topic message type undecoded scanned stopped partitions { partition startOffset endOffset nextOffset }
			records { partition offset timestamp json framing schemaId decodeError decodeWarning key { size text printable hex base64 } value { size text printable hex base64 } headers { key value base64 } } } }`,
	}
	for name, q := range ui {
		c := cost(t, g, q)
		t.Logf("%-8s %7d", name, c)
		if c > DefaultMaxComplexity/2 {
			t.Errorf("the UI's %s query costs %d on a big mesh, too close to the limit of %d", name, c, DefaultMaxComplexity)
		}
	}
	attack := "{ " + strings.Repeat("pods { sources { ", 7) + "id" + strings.Repeat(" } }", 7) + " }"
	if c := cost(t, g, attack); c <= DefaultMaxComplexity {
		t.Errorf("the list-multiplication attack costs only %d", c)
	}
}

// A topic browser page costs the reader's record limit: its default, or
// the configured one when discover has a reader.
func TestRecordPageCostFollowsTheReaderLimit(t *testing.T) {
	es := NewExecutableSchema(Config{Resolvers: &Resolver{}})
	doc, errs := gqlparser.LoadQuery(es.Schema(), `{ topicRecords(topic: "t") { records { partition } } }`)
	if errs != nil {
		t.Fatal(errs)
	}
	g := mesh.NewGraph(nil, nil, nil, nil)
	def := estimate(boundsOf(g), doc.Operations[0], nil)
	c := boundsCache{records: 5000}
	raised := estimate(c.of(g), doc.Operations[0], nil)
	if def < records.DefaultMaxRecords || def >= 2*records.DefaultMaxRecords || raised < 5000 || raised >= 5000+records.DefaultMaxRecords {
		t.Errorf("cost %d with the default limit, %d with 5000 records", def, raised)
	}
}
