package mesh

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"

	discoveryv1 "github.com/kafmesh/kafmesh/api/discovery/v1"
)

// Node is one vertex of the mesh: a service, component, part or topic. Which
// fields are set depends on Kind.
type Node struct {
	ID   string
	Kind Kind
	// Name is the service, component, part or topic name. Sources and views
	// have no name of their own and carry their topic's name.
	Name        string
	Description string
	// GroupName is a processor's Kafka consumer group.
	GroupName string
	// Message is a topic's full protobuf message name.
	Message string
	// TopicType is a topic's value encoding: "PROTOBUF", "RAW" or "INVALID".
	TopicType string
	// Descriptors is a service's serialized google.protobuf.FileDescriptorSet
	// (GetServiceInfo's file_descriptor_set); empty for 2021 services.
	Descriptors []byte
}

// Edge is a directed edge of the mesh. Description is set on WRITES edges
// of processor outputs (the output's description).
type Edge struct {
	From, To    string
	Rel         Rel
	Description string
}

// Key identifies an edge: two edges with the same key are the same edge.
func (e Edge) Key() string { return EdgeID(e) }

// Tree is what one pod reported: one service and everything in it, as nodes
// and edges with stable ids. Nodes and Edges are sorted by id and hold no
// duplicates.
type Tree struct {
	// Service is the id of the service node.
	Service string
	Nodes   []Node
	Edges   []Edge
}

// FromService converts a GetServiceInfo answer into a Tree. It fails, with
// an error that names the place, when a name or topic the tree needs is
// missing; a malformed answer is never half-recorded.
func FromService(svc *discoveryv1.Service) (*Tree, error) {
	if svc == nil {
		return nil, fmt.Errorf("answer has no service")
	}
	if svc.GetName() == "" {
		return nil, fmt.Errorf("service has no name")
	}
	if err := ValidateDescriptors(svc.GetFileDescriptorSet()); err != nil {
		return nil, fmt.Errorf("service %q: %w", svc.GetName(), err)
	}
	b := &treeBuilder{nodes: map[string]Node{}, edges: map[string]Edge{}}
	sName := svc.GetName()
	sID := ServiceID(sName)
	b.node(Node{ID: sID, Kind: KindService, Name: sName, Description: svc.GetDescription(), Descriptors: svc.GetFileDescriptorSet()})

	for ci, c := range svc.GetComponents() {
		if c.GetName() == "" {
			return nil, fmt.Errorf("service %q: component #%d has no name", sName, ci+1)
		}
		cName := c.GetName()
		cID := ComponentID(sName, cName)
		b.node(Node{ID: cID, Kind: KindComponent, Name: cName, Description: c.GetDescription()})
		b.edge(Edge{From: sID, To: cID, Rel: RelHasComponent})
		where := func(kind string, i int, name string) string {
			if name != "" {
				return fmt.Sprintf("service %q, component %q, %s %q", sName, cName, kind, name)
			}
			return fmt.Sprintf("service %q, component %q, %s #%d", sName, cName, kind, i+1)
		}
		part := func(kind Kind, name, desc string) string {
			id := PartID(kind, sName, cName, name)
			b.node(Node{ID: id, Kind: kind, Name: name, Description: desc})
			b.edge(Edge{From: cID, To: id, Rel: RelHasPart})
			return id
		}

		for i, s := range c.GetSources() {
			t, err := b.topic(s.GetTopic(), where("source", i, ""))
			if err != nil {
				return nil, err
			}
			b.edge(Edge{From: part(KindSource, s.GetTopic().GetTopic(), ""), To: t, Rel: RelWrites})
		}
		for i, v := range c.GetViews() {
			t, err := b.topic(v.GetTopic(), where("view", i, ""))
			if err != nil {
				return nil, err
			}
			b.edge(Edge{From: part(KindView, v.GetTopic().GetTopic(), ""), To: t, Rel: RelReads})
		}
		for i, s := range c.GetSinks() {
			if s.GetName() == "" {
				return nil, fmt.Errorf("%s has no name", where("sink", i, ""))
			}
			t, err := b.topic(s.GetTopic(), where("sink", i, s.GetName()))
			if err != nil {
				return nil, err
			}
			b.edge(Edge{From: part(KindSink, s.GetName(), s.GetDescription()), To: t, Rel: RelReads})
		}
		for i, s := range c.GetViewSources() {
			if s.GetName() == "" {
				return nil, fmt.Errorf("%s has no name", where("view source", i, ""))
			}
			t, err := b.topic(s.GetTopic(), where("view source", i, s.GetName()))
			if err != nil {
				return nil, err
			}
			b.edge(Edge{From: part(KindViewSource, s.GetName(), s.GetDescription()), To: t, Rel: RelWrites})
		}
		for i, s := range c.GetViewSinks() {
			if s.GetName() == "" {
				return nil, fmt.Errorf("%s has no name", where("view sink", i, ""))
			}
			t, err := b.topic(s.GetTopic(), where("view sink", i, s.GetName()))
			if err != nil {
				return nil, err
			}
			b.edge(Edge{From: part(KindViewSink, s.GetName(), s.GetDescription()), To: t, Rel: RelReads})
		}
		for i, p := range c.GetProcessors() {
			if p.GetName() == "" {
				return nil, fmt.Errorf("%s has no name", where("processor", i, ""))
			}
			pw := where("processor", i, p.GetName())
			pID := PartID(KindProcessor, sName, cName, p.GetName())
			b.node(Node{ID: pID, Kind: KindProcessor, Name: p.GetName(), Description: p.GetDescription(), GroupName: p.GetGroupName()})
			b.edge(Edge{From: cID, To: pID, Rel: RelHasPart})
			link := func(td *discoveryv1.TopicDefinition, rel Rel, what string, j int, desc string) error {
				t, err := b.topic(td, fmt.Sprintf("%s, %s #%d", pw, what, j+1))
				if err != nil {
					return err
				}
				b.edge(Edge{From: pID, To: t, Rel: rel, Description: desc})
				return nil
			}
			for j, x := range p.GetInputs() {
				if err := link(x.GetTopic(), RelReads, "input", j, ""); err != nil {
					return nil, err
				}
			}
			for j, x := range p.GetJoins() {
				if err := link(x.GetTopic(), RelJoins, "join", j, ""); err != nil {
					return nil, err
				}
			}
			for j, x := range p.GetLookups() {
				if err := link(x.GetTopic(), RelLooksUp, "lookup", j, ""); err != nil {
					return nil, err
				}
			}
			for j, x := range p.GetOutputs() {
				if err := link(x.GetTopic(), RelWrites, "output", j, x.GetDescription()); err != nil {
					return nil, err
				}
			}
			if p.GetPersistence() != nil {
				if err := link(p.GetPersistence().GetTopic(), RelPersistsTo, "persistence", 0, ""); err != nil {
					return nil, err
				}
			}
		}
	}
	return b.tree(sID), nil
}

type treeBuilder struct {
	nodes map[string]Node
	edges map[string]Edge
}

// node adds n; a later node with the same id replaces an earlier one.
func (b *treeBuilder) node(n Node) { b.nodes[n.ID] = n }

func (b *treeBuilder) edge(e Edge) { b.edges[e.Key()] = e }

// topic adds the topic of td and returns its id.
func (b *treeBuilder) topic(td *discoveryv1.TopicDefinition, where string) (string, error) {
	if td == nil {
		return "", fmt.Errorf("%s has no topic", where)
	}
	if td.GetTopic() == "" {
		return "", fmt.Errorf("%s: topic has no name", where)
	}
	id := TopicID(td.GetTopic())
	typ := strings.TrimPrefix(td.GetType().String(), "TOPIC_TYPE_")
	b.node(Node{ID: id, Kind: KindTopic, Name: td.GetTopic(), Message: td.GetMessage(), TopicType: typ})
	return id, nil
}

func (b *treeBuilder) tree(service string) *Tree {
	t := &Tree{Service: service, Nodes: make([]Node, 0, len(b.nodes)), Edges: make([]Edge, 0, len(b.edges))}
	for _, n := range b.nodes {
		t.Nodes = append(t.Nodes, n)
	}
	for _, e := range b.edges {
		t.Edges = append(t.Edges, e)
	}
	sort.Slice(t.Nodes, func(i, j int) bool { return t.Nodes[i].ID < t.Nodes[j].ID })
	sort.Slice(t.Edges, func(i, j int) bool { return t.Edges[i].Key() < t.Edges[j].Key() })
	return t
}

// Fingerprint is a hash of everything in the tree. Two trees with the same
// fingerprint hold the same nodes, properties and edges, so a store can skip
// rewriting a pod whose report did not change.
func (t *Tree) Fingerprint() string {
	h := sha256.New()
	str := func(s string) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	str(t.Service)
	for _, n := range t.Nodes {
		str(n.ID)
		str(string(n.Kind))
		str(n.Name)
		str(n.Description)
		str(n.GroupName)
		str(n.Message)
		str(n.TopicType)
		str(string(n.Descriptors))
	}
	for _, e := range t.Edges {
		str(e.Key())
		str(e.Description)
	}
	return hex.EncodeToString(h.Sum(nil))
}
