package mesh

import (
	"sort"
	"strings"
	"sync"
	"time"
)

// Pod is a scrape target: a Kubernetes pod or a static address. Its
// timestamps are kept by the store across restarts of discovery.
type Pod struct {
	ID        string
	Namespace string
	Name      string
	UID       string
	// Address is host:port of the pod's gRPC server.
	Address string
	// Source is where the target came from: "kubernetes" or "static".
	Source string
	// FirstSeen is when discovery first scraped (or tried to scrape) the pod.
	FirstSeen time.Time
	// LastSeen is the last time the pod answered a scrape; zero if it never did.
	LastSeen time.Time
	// LastScrape is the last time a scrape of the pod was attempted.
	LastScrape time.Time
	// LastError is why the last scrape failed; empty when it succeeded.
	LastError string
}

// Healthy reports whether the last scrape of the pod succeeded.
func (p *Pod) Healthy() bool { return p.LastError == "" && !p.LastSeen.IsZero() }

// Graph is the whole mesh at one moment: every node some pod reports, the
// edges between them, the pods, and which pod reported which node. Build it
// with NewGraph; a Graph is read-only and safe for concurrent use.
type Graph struct {
	nodes  map[string]*Node
	edges  []Edge
	pods   map[string]*Pod
	byKind map[Kind][]*Node
	out    map[string][]Edge
	in     map[string][]Edge
	// nodePods: node id → pods reporting it; podNodes: pod id → node ids.
	nodePods map[string][]*Pod
	podNodes map[string][]string

	schemasOnce sync.Once
	schemas     *schemaIndex

	conflictsOnce sync.Once
	conflicts     map[string][]SchemaConflict
}

// NewGraph indexes nodes, edges, pods and reports (pod id → ids of the
// nodes it reported). Edges whose ends are not among nodes, and reports of
// unknown pods or nodes, are dropped.
func NewGraph(nodes []Node, edges []Edge, pods []Pod, reports map[string][]string) *Graph {
	g := &Graph{
		nodes: make(map[string]*Node, len(nodes)), pods: make(map[string]*Pod, len(pods)),
		byKind: map[Kind][]*Node{}, out: map[string][]Edge{}, in: map[string][]Edge{},
		nodePods: map[string][]*Pod{}, podNodes: map[string][]string{},
	}
	for i := range nodes {
		n := nodes[i]
		g.nodes[n.ID] = &n
		g.byKind[n.Kind] = append(g.byKind[n.Kind], &n)
	}
	for k := range g.byKind {
		sortNodes(g.byKind[k])
	}
	for _, e := range edges {
		if g.nodes[e.From] == nil || g.nodes[e.To] == nil {
			continue
		}
		g.edges = append(g.edges, e)
		g.out[e.From] = append(g.out[e.From], e)
		g.in[e.To] = append(g.in[e.To], e)
	}
	for i := range pods {
		p := pods[i]
		g.pods[p.ID] = &p
	}
	for podID, ids := range reports {
		p := g.pods[podID]
		if p == nil {
			continue
		}
		for _, id := range ids {
			if g.nodes[id] == nil {
				continue
			}
			g.nodePods[id] = append(g.nodePods[id], p)
			g.podNodes[podID] = append(g.podNodes[podID], id)
		}
	}
	for id := range g.nodePods {
		sortPods(g.nodePods[id])
	}
	return g
}

func sortNodes(ns []*Node) {
	sort.Slice(ns, func(i, j int) bool {
		if ns[i].Name != ns[j].Name {
			return ns[i].Name < ns[j].Name
		}
		return ns[i].ID < ns[j].ID
	})
}

func sortPods(ps []*Pod) {
	sort.Slice(ps, func(i, j int) bool { return ps[i].ID < ps[j].ID })
}

// Node returns the node with id, or nil.
func (g *Graph) Node(id string) *Node { return g.nodes[id] }

// Nodes returns the nodes of kind, sorted by name.
func (g *Graph) Nodes(kind Kind) []*Node { return g.byKind[kind] }

// Edges returns every edge.
func (g *Graph) Edges() []Edge { return g.edges }

// Pod returns the pod with id, or nil.
func (g *Graph) Pod(id string) *Pod { return g.pods[id] }

// Pods returns every pod, sorted by id.
func (g *Graph) Pods() []*Pod {
	ps := make([]*Pod, 0, len(g.pods))
	for _, p := range g.pods {
		ps = append(ps, p)
	}
	sortPods(ps)
	return ps
}

// Out returns the edges leaving id, of the given types (all when none).
func (g *Graph) Out(id string, rels ...Rel) []Edge { return filterEdges(g.out[id], rels) }

// In returns the edges entering id, of the given types (all when none).
func (g *Graph) In(id string, rels ...Rel) []Edge { return filterEdges(g.in[id], rels) }

func filterEdges(es []Edge, rels []Rel) []Edge {
	if len(rels) == 0 {
		return es
	}
	var out []Edge
	for _, e := range es {
		for _, r := range rels {
			if e.Rel == r {
				out = append(out, e)
				break
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key() < out[j].Key() })
	return out
}

// Children returns the nodes of kind that id points to through rel, sorted
// by name (for example a component's processors: HAS_PART, KindProcessor).
func (g *Graph) Children(id string, rel Rel, kind Kind) []*Node {
	var out []*Node
	for _, e := range g.out[id] {
		if n := g.nodes[e.To]; e.Rel == rel && n != nil && (kind == "" || n.Kind == kind) {
			out = append(out, n)
		}
	}
	sortNodes(out)
	return out
}

// Parent returns the node that points to id through rel (a part's
// component, a component's service), or nil.
func (g *Graph) Parent(id string, rel Rel) *Node {
	for _, e := range g.in[id] {
		if e.Rel == rel {
			return g.nodes[e.From]
		}
	}
	return nil
}

// ServiceOf returns the service a component or part belongs to, or nil.
func (g *Graph) ServiceOf(id string) *Node {
	n := g.nodes[id]
	if n == nil {
		return nil
	}
	if n.Kind.IsPart() {
		n = g.Parent(id, RelHasPart)
		if n == nil {
			return nil
		}
	}
	if n.Kind == KindComponent {
		return g.Parent(n.ID, RelHasComponent)
	}
	if n.Kind == KindService {
		return n
	}
	return nil
}

// PodsOf returns the pods that report node id, sorted by id.
func (g *Graph) PodsOf(id string) []*Pod { return g.nodePods[id] }

// NodesOfPod returns the nodes pod reports, of kind (all when kind is "").
func (g *Graph) NodesOfPod(podID string, kind Kind) []*Node {
	var out []*Node
	for _, id := range g.podNodes[podID] {
		if n := g.nodes[id]; kind == "" || n.Kind == kind {
			out = append(out, n)
		}
	}
	sortNodes(out)
	return out
}

// Producers returns the parts that write topic (WRITES and PERSISTS_TO).
func (g *Graph) Producers(topicID string) []*Node { return g.topicParts(topicID, Rel.Produces) }

// Consumers returns the parts that read topic (READS, JOINS and LOOKS_UP).
func (g *Graph) Consumers(topicID string) []*Node { return g.topicParts(topicID, Rel.Consumes) }

func (g *Graph) topicParts(topicID string, keep func(Rel) bool) []*Node {
	seen := map[string]bool{}
	var out []*Node
	for _, e := range g.in[topicID] {
		if keep(e.Rel) && !seen[e.From] {
			seen[e.From] = true
			out = append(out, g.nodes[e.From])
		}
	}
	sortNodes(out)
	return out
}

// DependsOn returns the services (for a service id) or components (for a
// component id) that id depends on: A depends on B when a part of A reads a
// topic that a part of B writes, and A is not B.
func (g *Graph) DependsOn(id string) []*Node { return g.dependencies(id, true) }

// Dependents returns the services or components that depend on id.
func (g *Graph) Dependents(id string) []*Node { return g.dependencies(id, false) }

func (g *Graph) dependencies(id string, upstream bool) []*Node {
	n := g.nodes[id]
	if n == nil || (n.Kind != KindService && n.Kind != KindComponent) {
		return nil
	}
	owner := func(partID string) *Node {
		if n.Kind == KindComponent {
			return g.Parent(partID, RelHasPart)
		}
		return g.ServiceOf(partID)
	}
	mine, theirs := Rel.Consumes, Rel.Produces
	if !upstream {
		mine, theirs = Rel.Produces, Rel.Consumes
	}
	seen := map[string]bool{id: true}
	var out []*Node
	for _, part := range g.partsUnder(n) {
		for _, e := range g.out[part.ID] {
			if !mine(e.Rel) {
				continue
			}
			for _, back := range g.in[e.To] {
				if !theirs(back.Rel) {
					continue
				}
				if o := owner(back.From); o != nil && !seen[o.ID] {
					seen[o.ID] = true
					out = append(out, o)
				}
			}
		}
	}
	sortNodes(out)
	return out
}

// partsUnder returns the parts of a component, or of every component of a
// service.
func (g *Graph) partsUnder(n *Node) []*Node {
	comps := []*Node{n}
	if n.Kind == KindService {
		comps = g.Children(n.ID, RelHasComponent, KindComponent)
	}
	var parts []*Node
	for _, c := range comps {
		parts = append(parts, g.Children(c.ID, RelHasPart, "")...)
	}
	return parts
}

// Search returns the nodes and pods whose name contains text (case
// insensitive), services first, then components, parts, topics and pods,
// each sorted by name; at most limit results (all when limit <= 0).
func (g *Graph) Search(text string, limit int) []SearchHit {
	text = strings.ToLower(strings.TrimSpace(text))
	if text == "" {
		return nil
	}
	var hits []SearchHit
	full := func() bool { return limit > 0 && len(hits) >= limit }
	for _, kind := range NodeKinds {
		for _, n := range g.byKind[kind] {
			if full() {
				return hits
			}
			if strings.Contains(strings.ToLower(n.Name), text) || (n.Kind == KindTopic && strings.Contains(strings.ToLower(n.Message), text)) {
				hits = append(hits, SearchHit{Node: n})
			}
		}
	}
	for _, p := range g.Pods() {
		if full() {
			return hits
		}
		if strings.Contains(strings.ToLower(p.Name), text) || strings.Contains(strings.ToLower(p.Namespace+"/"+p.Name), text) {
			hits = append(hits, SearchHit{Pod: p})
		}
	}
	return hits
}

// SearchHit is one Search result: a node or a pod.
type SearchHit struct {
	Node *Node
	Pod  *Pod
}
