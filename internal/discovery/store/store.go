// Package store defines where discovery keeps the mesh: one small interface
// with two implementations, store/sqlite (embedded, the default) and
// store/neo4j, that pass the same contract suite (store/storetest).
//
// The model kept is exactly what pods reported: per pod, its identity,
// timestamps and the last tree it answered with; nodes and edges exist
// while at least one pod reports them. Everything derived (dependencies,
// producers and consumers) is computed from the Graph a store returns.
package store

import (
	"context"
	"time"

	"github.com/kafmesh/kafmesh/internal/discovery/mesh"
)

// Store keeps the mesh. Implementations are safe for concurrent use; every
// method is atomic (a failure leaves the store as it was).
type Store interface {
	// Report records a successful scrape of pod at time at: tree replaces
	// whatever the pod reported before. Only what changed is written: when
	// the tree equals the pod's previous one, only the pod's timestamps are,
	// and Change.Unchanged is true. Nodes and edges the pod no longer
	// reports, and that no other pod reports, are removed. Sets the pod's
	// LastSeen and LastScrape to at, its FirstSeen to at if it is new, and
	// clears LastError. Identity fields (namespace, name, uid, address,
	// source) are taken from pod; its timestamps are ignored.
	Report(ctx context.Context, pod mesh.Pod, at time.Time, tree *mesh.Tree) (Change, error)

	// Fail records a failed scrape of pod at time at: LastScrape = at,
	// LastError = reason. What the pod reported before is kept (it is the
	// last known truth) and LastSeen is left as it was; a pod never scraped
	// successfully is recorded with no tree.
	Fail(ctx context.Context, pod mesh.Pod, at time.Time, reason string) error

	// Retain removes every pod whose id is not in keep, and every node and
	// edge that no remaining pod reports.
	Retain(ctx context.Context, keep []string) (Change, error)

	// Graph reads the whole mesh.
	Graph(ctx context.Context) (*mesh.Graph, error)

	// Ping checks that the store answers.
	Ping(ctx context.Context) error

	// Close releases the store's resources.
	Close() error
}

// Change counts what a write changed.
type Change struct {
	// Unchanged is set by Report when the pod's tree was the same as before.
	Unchanged bool

	NodesAdded, NodesUpdated, NodesRemoved int
	EdgesAdded, EdgesUpdated, EdgesRemoved int
	PodsRemoved                            int
}

// Empty reports whether nothing but timestamps changed.
func (c Change) Empty() bool {
	return c.NodesAdded+c.NodesUpdated+c.NodesRemoved+c.EdgesAdded+c.EdgesUpdated+c.EdgesRemoved+c.PodsRemoved == 0
}

// Add sums two changes.
func (c Change) Add(o Change) Change {
	return Change{
		Unchanged:  c.Unchanged && o.Unchanged,
		NodesAdded: c.NodesAdded + o.NodesAdded, NodesUpdated: c.NodesUpdated + o.NodesUpdated, NodesRemoved: c.NodesRemoved + o.NodesRemoved,
		EdgesAdded: c.EdgesAdded + o.EdgesAdded, EdgesUpdated: c.EdgesUpdated + o.EdgesUpdated, EdgesRemoved: c.EdgesRemoved + o.EdgesRemoved,
		PodsRemoved: c.PodsRemoved + o.PodsRemoved,
	}
}

// SameNode reports whether two nodes carry the same properties (so a store
// need not rewrite one with the other).
func SameNode(a, b mesh.Node) bool {
	return a.ID == b.ID && a.Kind == b.Kind && a.Name == b.Name && a.Description == b.Description &&
		a.GroupName == b.GroupName && a.Message == b.Message && a.TopicType == b.TopicType &&
		string(a.Descriptors) == string(b.Descriptors)
}
