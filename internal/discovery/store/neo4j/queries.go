package neo4j

import (
	"fmt"
	"strings"

	"github.com/kafmesh/kafmesh/internal/discovery/mesh"
)

// Cypher takes neither labels nor relationship types as parameters, and
// every query text the server has not seen costs a plan. So the queries of
// a scrape are built once, from the mesh's fixed kinds and edge shapes, as
// a few constant texts with one block per label or shape, each fed by its
// own (possibly empty) list parameter. A scrape is then a handful of round
// trips whatever it reports, and no reported name ever reaches query text.

// edgeShape is the labels and type of a kind of edge.
type edgeShape struct {
	from mesh.Kind
	rel  mesh.Rel
	to   mesh.Kind
}

// edgeShapes lists every edge a mesh.Tree can hold.
var edgeShapes = func() []edgeShape {
	out := []edgeShape{{mesh.KindService, mesh.RelHasComponent, mesh.KindComponent}}
	for _, k := range mesh.PartKinds {
		out = append(out, edgeShape{mesh.KindComponent, mesh.RelHasPart, k})
	}
	for _, r := range []mesh.Rel{mesh.RelReads, mesh.RelJoins, mesh.RelLooksUp, mesh.RelWrites, mesh.RelPersistsTo} {
		out = append(out, edgeShape{mesh.KindProcessor, r, mesh.KindTopic})
	}
	out = append(out,
		edgeShape{mesh.KindSource, mesh.RelWrites, mesh.KindTopic},
		edgeShape{mesh.KindSink, mesh.RelReads, mesh.KindTopic},
		edgeShape{mesh.KindView, mesh.RelReads, mesh.KindTopic},
		edgeShape{mesh.KindViewSource, mesh.RelWrites, mesh.KindTopic},
		edgeShape{mesh.KindViewSink, mesh.RelReads, mesh.KindTopic},
	)
	return out
}()

func shapeIndex(e mesh.Edge) (int, bool) {
	from, to := mesh.KindOf(e.From), mesh.KindOf(e.To)
	for i, s := range edgeShapes {
		if s.from == from && s.rel == e.Rel && s.to == to {
			return i, true
		}
	}
	return 0, false
}

func kindIndex(k mesh.Kind) (int, bool) {
	for i, x := range mesh.NodeKinds {
		if x == k {
			return i, true
		}
	}
	return 0, false
}

// unionOverKinds builds "CALL { <block for kind 0> UNION … } RETURN …".
func unionOverKinds(block func(i int, k mesh.Kind) string, tail string) string {
	var parts []string
	for i, k := range mesh.NodeKinds {
		parts = append(parts, block(i, k))
	}
	return "CALL {\n" + strings.Join(parts, "\nUNION ALL\n") + "\n}\n" + tail
}

func unionOverShapes(block func(i int, s edgeShape) string, tail string) string {
	var parts []string
	for i, s := range edgeShapes {
		parts = append(parts, block(i, s))
	}
	return "CALL {\n" + strings.Join(parts, "\nUNION ALL\n") + "\n}\n" + tail
}

var (
	// qExistingNodes returns the tree's nodes that exist ($k0..$k8: ids).
	qExistingNodes = unionOverKinds(func(i int, k mesh.Kind) string {
		return fmt.Sprintf("UNWIND $k%d AS id MATCH (n:%s {id: id}) RETURN n", i, k)
	}, "RETURN n")

	// qWriteNodes writes the properties of $k0..$k8 (rows) and links the
	// nodes of $l0..$l8 (ids) to the pod $pod.
	qWriteNodes = func() string {
		var b strings.Builder
		b.WriteString("MATCH (p:Pod {id: $pod})\n")
		for i, k := range mesh.NodeKinds {
			fmt.Fprintf(&b, "CALL { UNWIND $k%d AS row MERGE (n:%s {id: row.id}) SET n += row }\n", i, k)
		}
		for i, k := range mesh.NodeKinds {
			fmt.Fprintf(&b, "CALL { WITH p UNWIND $l%d AS id MATCH (n:%s {id: id}) MERGE (n)-[:REPORTED_BY]->(p) }\n", i, k)
		}
		b.WriteString("RETURN count(*)")
		return b.String()
	}()

	// qWriteEdges merges the edges of $e0..$e16 (rows), adds $pod to each
	// one's pods, and returns how many it created and how many existed
	// with another description.
	qWriteEdges = unionOverShapes(func(i int, s edgeShape) string {
		return fmt.Sprintf(`UNWIND $e%d AS row
	MATCH (a:%s {id: row.from}) MATCH (b:%s {id: row.to})
	MERGE (a)-[r:%s]->(b)
	WITH row, r, r.pods IS NULL AS created, coalesce(r.description, '') <> row.description AS changed
	SET r.description = row.description,
		r.pods = CASE WHEN $pod IN coalesce(r.pods, []) THEN r.pods ELSE coalesce(r.pods, []) + $pod END
	RETURN created, changed`, i, s.from, s.to, s.rel)
	}, "RETURN sum(CASE WHEN created THEN 1 ELSE 0 END), sum(CASE WHEN changed AND NOT created THEN 1 ELSE 0 END)")

	// qDropEdges takes $pod off the edges of $e0..$e16 and deletes those no
	// pod reports any more, returning how many it deleted.
	qDropEdges = unionOverShapes(func(i int, s edgeShape) string {
		return fmt.Sprintf(`UNWIND $e%d AS row
	MATCH (:%s {id: row.from})-[r:%s]->(:%s {id: row.to})
	SET r.pods = [x IN r.pods WHERE x <> $pod]
	WITH r WHERE size(r.pods) = 0
	DELETE r RETURN 1 AS deleted`, i, s.from, s.rel, s.to)
	}, "RETURN count(deleted)")
)

// dropNodes unlinks the nodes $ids from the pod $pod and deletes those no
// pod reports any more, returning how many it deleted.
const qDropNodes = `MATCH (n)-[rb:REPORTED_BY]->(:Pod {id: $pod}) WHERE n.id IN $ids
DELETE rb
WITH DISTINCT n
WHERE NOT (n)-[:REPORTED_BY]->()
DETACH DELETE n
RETURN count(*)`

// byKindParams spreads rows over the $<prefix>0..n parameters of their
// kinds, every parameter present (empty when no row has its kind).
func byKindParams(prefix string, rows map[mesh.Kind][]any, params map[string]any) {
	for i, k := range mesh.NodeKinds {
		r := rows[k]
		if r == nil {
			r = []any{}
		}
		params[fmt.Sprintf("%s%d", prefix, i)] = r
	}
}

// byShapeParams spreads edges over the $e0..n parameters of their shapes.
// An edge of no known shape is an error: the tree was not built by
// mesh.FromService.
func byShapeParams(edges []mesh.Edge, params map[string]any) error {
	rows := make([][]any, len(edgeShapes))
	for i := range rows {
		rows[i] = []any{}
	}
	for _, e := range edges {
		i, ok := shapeIndex(e)
		if !ok {
			return fmt.Errorf("edge %s has no known shape", e.Key())
		}
		rows[i] = append(rows[i], map[string]any{"key": e.Key(), "from": e.From, "to": e.To, "description": e.Description})
	}
	for i, r := range rows {
		params[fmt.Sprintf("e%d", i)] = r
	}
	return nil
}
