package neo4j

import (
	"context"
	"fmt"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j/dbtype"

	"github.com/kafmesh/kafmesh/internal/discovery/mesh"
)

func kindOfLabels(v any) mesh.Kind {
	labels, _ := v.([]any)
	for _, l := range labels {
		if s, ok := l.(string); ok && mesh.Kind(s).Valid() {
			return mesh.Kind(s)
		}
	}
	return ""
}

func str(props map[string]any, key string) string {
	s, _ := props[key].(string)
	return s
}

func toNode(v any) (mesh.Node, bool) {
	n, ok := v.(dbtype.Node)
	if !ok {
		return mesh.Node{}, false
	}
	var kind mesh.Kind
	for _, l := range n.Labels {
		if k := mesh.Kind(l); k.Valid() && k != mesh.KindPod {
			kind = k
		}
	}
	if kind == "" {
		return mesh.Node{}, false
	}
	d, _ := n.Props["descriptors"].([]byte)
	return mesh.Node{
		ID: str(n.Props, "id"), Kind: kind, Name: str(n.Props, "name"), Description: str(n.Props, "description"),
		GroupName: str(n.Props, "groupName"), Message: str(n.Props, "message"), TopicType: str(n.Props, "topicType"),
		Descriptors: d,
	}, true
}

func timeProp(props map[string]any, key string) time.Time {
	switch t := props[key].(type) {
	case time.Time:
		return t.UTC()
	case dbtype.LocalDateTime:
		return t.Time().UTC()
	}
	return time.Time{}
}

// Graph implements store.Store.
func (s *Store) Graph(ctx context.Context) (*mesh.Graph, error) {
	var (
		nodes   []mesh.Node
		edges   []mesh.Edge
		pods    []mesh.Pod
		reports = map[string][]string{}
	)
	rels := make([]string, len(mesh.Rels))
	for i, r := range mesh.Rels {
		rels[i] = string(r)
	}
	err := s.read(ctx, func(tx neo4j.ManagedTransaction) error {
		nodes, edges, pods, reports = nil, nil, nil, map[string][]string{}
		recs, err := run(ctx, tx, `MATCH (n) WHERE any(l IN labels(n) WHERE l IN $kinds) RETURN n`, map[string]any{"kinds": kindNames()})
		if err != nil {
			return err
		}
		for _, r := range recs {
			if n, ok := toNode(r.Values[0]); ok {
				nodes = append(nodes, n)
			}
		}
		recs, err = run(ctx, tx, `MATCH (a)-[r]->(b) WHERE type(r) IN $rels
			RETURN a.id, type(r), b.id, coalesce(r.description, '')`, map[string]any{"rels": rels})
		if err != nil {
			return err
		}
		for _, r := range recs {
			edges = append(edges, mesh.Edge{From: r.Values[0].(string), Rel: mesh.Rel(r.Values[1].(string)), To: r.Values[2].(string), Description: r.Values[3].(string)})
		}
		recs, err = run(ctx, tx, `MATCH (p:Pod) RETURN p`, nil)
		if err != nil {
			return err
		}
		for _, r := range recs {
			n, ok := r.Values[0].(dbtype.Node)
			if !ok {
				continue
			}
			pods = append(pods, mesh.Pod{
				ID: str(n.Props, "id"), Namespace: str(n.Props, "namespace"), Name: str(n.Props, "name"), UID: str(n.Props, "uid"),
				Address: str(n.Props, "address"), Source: str(n.Props, "source"),
				FirstSeen: timeProp(n.Props, "firstSeen"), LastSeen: timeProp(n.Props, "lastSeen"), LastScrape: timeProp(n.Props, "lastScrape"),
				LastError: str(n.Props, "lastError"),
			})
		}
		recs, err = run(ctx, tx, `MATCH (n)-[:REPORTED_BY]->(p:Pod) RETURN p.id, n.id`, nil)
		if err != nil {
			return err
		}
		for _, r := range recs {
			pod, node := r.Values[0].(string), r.Values[1].(string)
			reports[pod] = append(reports[pod], node)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("neo4j store: read graph: %w", err)
	}
	return mesh.NewGraph(nodes, edges, pods, reports), nil
}
