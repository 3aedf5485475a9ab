package neo4j

import (
	"context"
	"fmt"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/kafmesh/kafmesh/internal/discovery/mesh"
	"github.com/kafmesh/kafmesh/internal/discovery/store"
)

func nodeRow(n mesh.Node) map[string]any {
	row := map[string]any{"id": n.ID, "name": n.Name, "description": n.Description}
	switch n.Kind {
	case mesh.KindProcessor:
		row["groupName"] = n.GroupName
	case mesh.KindTopic:
		row["message"] = n.Message
		row["topicType"] = n.TopicType
	case mesh.KindService:
		row["descriptors"] = n.Descriptors
	}
	return row
}

// Report implements store.Store.
func (s *Store) Report(ctx context.Context, p mesh.Pod, at time.Time, tree *mesh.Tree) (store.Change, error) {
	var c store.Change
	err := s.write(ctx, func(tx neo4j.ManagedTransaction) error {
		var err error
		c, err = report(ctx, tx, p, at, tree)
		return err
	})
	if err != nil {
		return store.Change{}, fmt.Errorf("neo4j store: report %s: %w", p.ID, err)
	}
	return c, nil
}

func report(ctx context.Context, tx neo4j.ManagedTransaction, p mesh.Pod, at time.Time, tree *mesh.Tree) (store.Change, error) {
	var c store.Change
	fp := tree.Fingerprint()
	recs, err := run(ctx, tx, `OPTIONAL MATCH (known:Pod {id: $pod.id})
		WITH known IS NULL AS fresh
		MERGE (p:Pod {id: $pod.id})
		ON CREATE SET p.firstSeen = $at, p.fingerprint = ''
		WITH p, p.fingerprint AS old, fresh
		SET p += $pod, p.lastScrape = $at, p.lastSeen = $at, p.lastError = '', p.fingerprint = $fp
		RETURN old, fresh`, map[string]any{"pod": podProps(p), "at": at.UTC(), "fp": fp})
	if err != nil {
		return c, err
	}
	if old, _ := recs[0].Values[0].(string); old == fp {
		c.Unchanged = true
		return c, nil
	}
	// A pod new to the store reported nothing before.
	fresh, _ := recs[0].Values[1].(bool)
	pod := map[string]any{"pod": p.ID}

	// What exists: the tree's nodes (whoever reported them), and what this
	// pod reported before.
	ids := map[mesh.Kind][]any{}
	for _, n := range tree.Nodes {
		if _, ok := kindIndex(n.Kind); !ok {
			return c, fmt.Errorf("node %s has unknown kind %q", n.ID, n.Kind)
		}
		ids[n.Kind] = append(ids[n.Kind], n.ID)
	}
	params := map[string]any{}
	byKindParams("k", ids, params)
	recs, err = run(ctx, tx, qExistingNodes, params)
	if err != nil {
		return c, err
	}
	existing := map[string]mesh.Node{}
	for _, r := range recs {
		if n, ok := toNode(r.Values[0]); ok {
			existing[n.ID] = n
		}
	}
	mine := map[string]bool{}
	myEdges := map[string]mesh.Edge{}
	if !fresh {
		recs, err = run(ctx, tx, `MATCH (n)-[:REPORTED_BY]->(:Pod {id: $pod}) RETURN n.id`, pod)
		if err != nil {
			return c, err
		}
		for _, r := range recs {
			id, _ := r.Values[0].(string)
			mine[id] = true
		}
		recs, err = run(ctx, tx, `MATCH (n)-[:REPORTED_BY]->(:Pod {id: $pod})
			MATCH (n)-[r]->(m) WHERE $pod IN coalesce(r.pods, [])
			RETURN n.id, type(r), m.id, coalesce(r.description, '')`, pod)
		if err != nil {
			return c, err
		}
		for _, r := range recs {
			e := mesh.Edge{From: r.Values[0].(string), Rel: mesh.Rel(r.Values[1].(string)), To: r.Values[2].(string), Description: r.Values[3].(string)}
			myEdges[e.Key()] = e
		}
	}
	// Nodes: write the new and the changed, link the newly reported.
	rows, links := map[mesh.Kind][]any{}, map[mesh.Kind][]any{}
	inTree := map[string]bool{}
	for _, n := range tree.Nodes {
		inTree[n.ID] = true
		cur, ok := existing[n.ID]
		switch {
		case !ok:
			c.NodesAdded++
			rows[n.Kind] = append(rows[n.Kind], nodeRow(n))
		case !store.SameNode(cur, n):
			c.NodesUpdated++
			rows[n.Kind] = append(rows[n.Kind], nodeRow(n))
		}
		if !mine[n.ID] {
			links[n.Kind] = append(links[n.Kind], n.ID)
		}
	}
	if len(rows)+len(links) > 0 {
		params := map[string]any{"pod": p.ID}
		byKindParams("k", rows, params)
		byKindParams("l", links, params)
		if _, err := run(ctx, tx, qWriteNodes, params); err != nil {
			return c, err
		}
	}

	// Edges: MERGE those new to this pod or changed, adding this pod to
	// their pods; the MERGE tells created from existing ones.
	var write []mesh.Edge
	want := map[string]bool{}
	for _, e := range tree.Edges {
		want[e.Key()] = true
		if mineE, ok := myEdges[e.Key()]; !ok || mineE.Description != e.Description {
			write = append(write, e)
		}
	}
	if len(write) > 0 {
		params := map[string]any{"pod": p.ID}
		if err := byShapeParams(write, params); err != nil {
			return c, err
		}
		recs, err := run(ctx, tx, qWriteEdges, params)
		if err != nil {
			return c, err
		}
		added, _ := recs[0].Values[0].(int64)
		updated, _ := recs[0].Values[1].(int64)
		c.EdgesAdded += int(added)
		c.EdgesUpdated += int(updated)
	}

	// Edges this pod dropped: take the pod off them, delete the unreported.
	var dropped []mesh.Edge
	for key, e := range myEdges {
		if !want[key] {
			dropped = append(dropped, e)
		}
	}
	if len(dropped) > 0 {
		params := map[string]any{"pod": p.ID}
		if err := byShapeParams(dropped, params); err != nil {
			return c, err
		}
		n, err := count(ctx, tx, qDropEdges, params)
		if err != nil {
			return c, err
		}
		c.EdgesRemoved += n
	}

	// Nodes this pod dropped: unlink, then delete those nobody reports.
	var gone []string
	for id := range mine {
		if !inTree[id] {
			gone = append(gone, id)
		}
	}
	if len(gone) > 0 {
		n, err := count(ctx, tx, qDropNodes, map[string]any{"pod": p.ID, "ids": gone})
		if err != nil {
			return c, err
		}
		c.NodesRemoved += n
	}

	if !c.Empty() {
		// The reported service, and a service the pod reported before (a pod
		// that now runs another service) whose parts may have gone with it.
		services := []string{tree.Service}
		for id := range mine {
			if mesh.KindOf(id) == mesh.KindService && id != tree.Service {
				services = append(services, id)
			}
		}
		for _, svc := range services {
			if err := recomputeServiceDependencies(ctx, tx, svc); err != nil {
				return c, err
			}
		}
	}
	return c, nil
}

// Retain implements store.Store.
func (s *Store) Retain(ctx context.Context, keep []string) (store.Change, error) {
	var c store.Change
	if keep == nil {
		keep = []string{}
	}
	err := s.write(ctx, func(tx neo4j.ManagedTransaction) error {
		c = store.Change{}
		recs, err := run(ctx, tx, `MATCH (p:Pod) WHERE NOT p.id IN $keep RETURN collect(p.id)`, map[string]any{"keep": keep})
		if err != nil {
			return err
		}
		gone, _ := recs[0].Values[0].([]any)
		if len(gone) == 0 {
			return nil
		}
		params := map[string]any{"gone": gone, "kinds": kindNames()}
		if c.EdgesRemoved, err = count(ctx, tx, `MATCH (p:Pod) WHERE p.id IN $gone
			MATCH (n)-[:REPORTED_BY]->(p)
			MATCH (n)-[r]->() WHERE any(x IN coalesce(r.pods, []) WHERE x IN $gone)
			WITH DISTINCT r
			SET r.pods = [x IN r.pods WHERE NOT x IN $gone]
			WITH r WHERE size(r.pods) = 0
			DELETE r RETURN count(*)`, params); err != nil {
			return err
		}
		if c.PodsRemoved, err = count(ctx, tx, `MATCH (p:Pod) WHERE p.id IN $gone DETACH DELETE p RETURN count(*)`, params); err != nil {
			return err
		}
		if c.NodesRemoved, err = count(ctx, tx, `MATCH (n) WHERE any(l IN labels(n) WHERE l IN $kinds) AND NOT (n)-[:REPORTED_BY]->()
			DETACH DELETE n RETURN count(*)`, params); err != nil {
			return err
		}
		// A removed pod may have been the one whose properties a shared node
		// carries: compare every remaining pod's next report row by row.
		if _, err := run(ctx, tx, `MATCH (p:Pod) SET p.fingerprint = ''`, nil); err != nil {
			return err
		}
		return recomputeDependencies(ctx, tx)
	})
	if err != nil {
		return store.Change{}, fmt.Errorf("neo4j store: retain: %w", err)
	}
	return c, nil
}

func kindNames() []string {
	out := make([]string, len(mesh.NodeKinds))
	for i, k := range mesh.NodeKinds {
		out[i] = string(k)
	}
	return out
}
