package graph

import (
	"time"

	"github.com/kafmesh/kafmesh/internal/discovery/mesh"
)

// The GraphQL object types of the mesh are thin views of mesh nodes, pods
// and edges; their relations are resolved against the request's snapshot
// (see resolvers.go).

// node holds the mesh node behind a GraphQL object.
type node struct{ n *mesh.Node }

// ID is the node's stable id.
func (x node) ID() string { return x.n.ID }

// Name is the node's name.
func (x node) Name() string { return x.n.Name }

// Description is the node's description.
func (x node) Description() string { return x.n.Description }

// Service is a GraphQL Service.
type Service struct{ node }

// Component is a GraphQL Component.
type Component struct{ node }

// Processor is a GraphQL Processor.
type Processor struct{ node }

// GroupName is the processor's consumer group.
func (p *Processor) GroupName() string { return p.n.GroupName }

// Source is a GraphQL Source.
type Source struct{ node }

// Sink is a GraphQL Sink.
type Sink struct{ node }

// View is a GraphQL View.
type View struct{ node }

// ViewSource is a GraphQL ViewSource.
type ViewSource struct{ node }

// ViewSink is a GraphQL ViewSink.
type ViewSink struct{ node }

// Topic is a GraphQL Topic.
type Topic struct{ node }

// Message is the topic's message type.
func (t *Topic) Message() string { return t.n.Message }

// Type is the topic's value encoding.
func (t *Topic) Type() string { return t.n.TopicType }

func (*Service) IsSearchResult()    {}
func (*Component) IsSearchResult()  {}
func (*Processor) IsSearchResult()  {}
func (*Source) IsSearchResult()     {}
func (*Sink) IsSearchResult()       {}
func (*View) IsSearchResult()       {}
func (*ViewSource) IsSearchResult() {}
func (*ViewSink) IsSearchResult()   {}
func (*Topic) IsSearchResult()      {}
func (*Pod) IsSearchResult()        {}

func (*Processor) IsPart()  {}
func (*Source) IsPart()     {}
func (*Sink) IsPart()       {}
func (*View) IsPart()       {}
func (*ViewSource) IsPart() {}
func (*ViewSink) IsPart()   {}

// object wraps a node in the GraphQL type of its kind.
func object(n *mesh.Node) any {
	if n == nil {
		return nil
	}
	b := node{n}
	switch n.Kind {
	case mesh.KindService:
		return &Service{b}
	case mesh.KindComponent:
		return &Component{b}
	case mesh.KindProcessor:
		return &Processor{b}
	case mesh.KindSource:
		return &Source{b}
	case mesh.KindSink:
		return &Sink{b}
	case mesh.KindView:
		return &View{b}
	case mesh.KindViewSource:
		return &ViewSource{b}
	case mesh.KindViewSink:
		return &ViewSink{b}
	case mesh.KindTopic:
		return &Topic{b}
	}
	return nil
}

// wrap converts nodes to their GraphQL type T, skipping any of another kind.
func wrap[T any](ns []*mesh.Node) []T {
	out := make([]T, 0, len(ns))
	for _, n := range ns {
		if o, ok := object(n).(T); ok {
			out = append(out, o)
		}
	}
	return out
}

// one converts a node to its GraphQL type T, or the zero T.
func one[T any](n *mesh.Node) T {
	o, _ := object(n).(T)
	return o
}

// Pod is a GraphQL Pod.
type Pod struct{ p *mesh.Pod }

func newPod(p *mesh.Pod) *Pod {
	if p == nil {
		return nil
	}
	return &Pod{p}
}

func pods(ps []*mesh.Pod) []*Pod {
	out := make([]*Pod, 0, len(ps))
	for _, p := range ps {
		out = append(out, &Pod{p})
	}
	return out
}

func (p *Pod) ID() string           { return p.p.ID }
func (p *Pod) Name() string         { return p.p.Name }
func (p *Pod) Namespace() string    { return p.p.Namespace }
func (p *Pod) UID() string          { return p.p.UID }
func (p *Pod) Address() string      { return p.p.Address }
func (p *Pod) Source() string       { return p.p.Source }
func (p *Pod) Healthy() bool        { return p.p.Healthy() }
func (p *Pod) FirstSeen() time.Time { return p.p.FirstSeen }
func (p *Pod) LastSeen() *time.Time { return optTime(p.p.LastSeen) }

// LastScrape is the last scrape attempt, or nil.
func (p *Pod) LastScrape() *time.Time { return optTime(p.p.LastScrape) }

// LastError is why the last scrape failed, or nil.
func (p *Pod) LastError() *string {
	if p.p.LastError == "" {
		return nil
	}
	s := p.p.LastError
	return &s
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// edge is a processor's edge to a topic.
type edge struct{ e mesh.Edge }

// ID is the edge's stable id.
func (x edge) ID() string { return mesh.EdgeID(x.e) }

// ProcessorInput is a GraphQL ProcessorInput.
type ProcessorInput struct{ edge }

// ProcessorJoin is a GraphQL ProcessorJoin.
type ProcessorJoin struct{ edge }

// ProcessorLookup is a GraphQL ProcessorLookup.
type ProcessorLookup struct{ edge }

// ProcessorOutput is a GraphQL ProcessorOutput.
type ProcessorOutput struct{ edge }

// Description is the output's description.
func (o *ProcessorOutput) Description() string { return o.e.Description }

// MessageSchema is a GraphQL MessageSchema.
type MessageSchema struct{ s *mesh.MessageSchema }

func (m *MessageSchema) Name() string { return m.s.Name }
func (m *MessageSchema) File() string { return m.s.File }

// Fields are the message's fields, in declaration order.
func (m *MessageSchema) Fields() []*MessageField {
	out := make([]*MessageField, len(m.s.Fields))
	for i := range m.s.Fields {
		out[i] = &MessageField{m.s.Fields[i]}
	}
	return out
}

// MessageField is a GraphQL MessageField.
type MessageField struct{ f mesh.FieldSchema }

func (f *MessageField) Name() string     { return f.f.Name }
func (f *MessageField) JSONName() string { return f.f.JSONName }
func (f *MessageField) Number() int      { return f.f.Number }
func (f *MessageField) Type() string     { return f.f.Type }
func (f *MessageField) Label() string    { return f.f.Label }
func (f *MessageField) KeyType() *string { return optString(f.f.KeyType) }
func (f *MessageField) Oneof() *string   { return optString(f.f.Oneof) }

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// MeshStatus says whether the graph served is a current read of the store
// (Query.meshStatus).
type MeshStatus struct {
	// Stale is true when the last read of the store failed and the answers
	// come from the last graph read.
	Stale bool `json:"stale"`
	// Since is when the store first failed in the current outage.
	Since *time.Time `json:"since,omitempty"`
	// Error is why the store could not be read.
	Error *string `json:"error,omitempty"`
	// ReadAt is when the graph served was read from the store.
	ReadAt *time.Time `json:"readAt,omitempty"`
}
