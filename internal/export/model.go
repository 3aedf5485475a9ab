// Package export renders a kafmesh mesh in the formats other tools read:
// AsyncAPI 3.0 documents (one per service), a Backstage software catalog
// and OpenLineage run events.
//
// The mesh comes from a service definition ([FromSpec], for `kafmesh
// export`) or from discovery's graph ([FromGraph], for discover's
// /export/<format>); both build the same [Mesh], so every format is
// produced the same way from either. Output is deterministic: the same mesh
// gives the same bytes (OpenLineage event times and run ids come from the
// caller), which the golden tests rely on.
package export

import (
	"cmp"
	"slices"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/kafmesh/kafmesh/internal/discovery/mesh"
	"github.com/kafmesh/kafmesh/internal/protoc"
	"github.com/kafmesh/kafmesh/internal/spec"
)

// Mesh is one or more services and the topics they use.
type Mesh struct {
	Services []*Service
	// Topics by name.
	Topics map[string]*Topic
}

// Service is a kafmesh service.
type Service struct {
	Name        string
	Description string
	Components  []*Component
	// Messages resolves the service's protobuf messages; nil when it has
	// no descriptors (then message schemas are left out).
	Messages Resolver
	// Pods are the pods that run the service (from discovery), sorted.
	Pods []string
}

// Resolver finds message descriptors by full name.
type Resolver interface {
	FindDescriptorByName(protoreflect.FullName) (protoreflect.Descriptor, error)
}

// Component is a component of a service.
type Component struct {
	Name        string
	Description string
	Parts       []*Part
}

// Part kinds, as the definition names them.
const (
	KindSource     = "source"
	KindProcessor  = "processor"
	KindSink       = "sink"
	KindView       = "view"
	KindViewSource = "viewSource"
	KindViewSink   = "viewSink"
)

// Part is a source, processor, sink, view, view source or view sink.
type Part struct {
	Kind string
	// Name is the part's name; sources and views, which have none, carry
	// their topic's name.
	Name        string
	Description string
	// Group is the Kafka consumer group, when the part has one.
	Group string
	Uses  []Use
}

// Use is one topic a part uses.
type Use struct {
	// Role is input, join, lookup, output, state, source, sink, view,
	// viewSource or viewSink.
	Role   string
	Topic  string
	Writes bool
}

// Topic is a Kafka topic of the mesh.
type Topic struct {
	Name string
	// Message is the full protobuf name of the values.
	Message string
	Raw     bool
	// Partitions and Replicas are 0 when unknown (left to the broker).
	Partitions int32
	Replicas   int16
	Compact    bool
}

// Writers returns the services with a part writing topic, by name.
func (m *Mesh) Writers(topic string) []string { return m.users(topic, true) }

// Readers returns the services with a part reading topic, by name.
func (m *Mesh) Readers(topic string) []string { return m.users(topic, false) }

func (m *Mesh) users(topic string, writes bool) []string {
	var out []string
	for _, s := range m.Services {
		if s.uses(topic, writes) {
			out = append(out, s.Name)
		}
	}
	return out
}

func (s *Service) uses(topic string, writes bool) bool {
	for _, c := range s.Components {
		for _, p := range c.Parts {
			for _, u := range p.Uses {
				if u.Topic == topic && u.Writes == writes {
					return true
				}
			}
		}
	}
	return false
}

// TopicNames returns the topics the service uses, sorted.
func (s *Service) TopicNames() []string {
	seen := map[string]bool{}
	var out []string
	for _, c := range s.Components {
		for _, p := range c.Parts {
			for _, u := range p.Uses {
				if !seen[u.Topic] {
					seen[u.Topic] = true
					out = append(out, u.Topic)
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

func (s *Service) message(name string) protoreflect.MessageDescriptor {
	if s.Messages == nil || name == "" {
		return nil
	}
	d, err := s.Messages.FindDescriptorByName(protoreflect.FullName(name))
	if err != nil {
		return nil
	}
	md, _ := d.(protoreflect.MessageDescriptor)
	return md
}

// FromSpec builds the mesh of one loaded definition; set (the compiled
// .proto files) may be nil.
func FromSpec(svc *spec.Service, set *protoc.Set) *Mesh {
	m := &Mesh{Topics: map[string]*Topic{}}
	s := &Service{Name: svc.Name, Description: strings.TrimSpace(svc.Description)}
	if set != nil {
		s.Messages = setResolver{set}
	}
	for _, t := range svc.Topics {
		topic := &Topic{Name: t.Name, Partitions: t.Settings.Partitions, Replicas: t.Settings.Replicas, Compact: t.Settings.Compact}
		if len(t.Uses) > 0 {
			topic.Message, topic.Raw = t.Uses[0].Message, t.Uses[0].IsRaw()
		}
		if !t.Owned {
			topic.Partitions, topic.Replicas, topic.Compact = 0, 0, false
		}
		m.Topics[t.Name] = topic
	}
	uses := func(entries ...*spec.Entry) []Use {
		var out []Use
		for _, e := range entries {
			out = append(out, Use{Role: string(e.Role), Topic: e.Topic, Writes: e.Owns()})
		}
		return out
	}
	for _, c := range svc.Components {
		comp := &Component{Name: c.Name, Description: strings.TrimSpace(c.Description)}
		for _, x := range c.Sources {
			comp.Parts = append(comp.Parts, &Part{Kind: KindSource, Name: x.Entry.Topic, Uses: uses(x.Entry)})
		}
		for _, x := range c.Processors {
			comp.Parts = append(comp.Parts, &Part{Kind: KindProcessor, Name: x.Name, Description: strings.TrimSpace(x.Description), Group: x.Group, Uses: uses(x.Entries()...)})
		}
		for _, x := range c.Sinks {
			comp.Parts = append(comp.Parts, &Part{Kind: KindSink, Name: x.Name, Description: strings.TrimSpace(x.Description), Group: x.Group, Uses: uses(x.Entry)})
		}
		for _, x := range c.Views {
			comp.Parts = append(comp.Parts, &Part{Kind: KindView, Name: x.Entry.Topic, Uses: uses(x.Entry)})
		}
		for _, x := range c.ViewSources {
			comp.Parts = append(comp.Parts, &Part{Kind: KindViewSource, Name: cmp.Or(x.Name, x.Entry.Topic), Description: strings.TrimSpace(x.Description), Uses: uses(x.Entry)})
		}
		for _, x := range c.ViewSinks {
			comp.Parts = append(comp.Parts, &Part{Kind: KindViewSink, Name: cmp.Or(x.Name, x.Entry.Topic), Description: strings.TrimSpace(x.Description), Uses: uses(x.Entry)})
		}
		s.Components = append(s.Components, comp)
	}
	m.Services = []*Service{s}
	return m
}

type setResolver struct{ set *protoc.Set }

func (r setResolver) FindDescriptorByName(name protoreflect.FullName) (protoreflect.Descriptor, error) {
	md, ok := r.set.Message(string(name))
	if !ok {
		return nil, errNotFound(name)
	}
	return md, nil
}

type errNotFound protoreflect.FullName

func (e errNotFound) Error() string { return "message " + string(e) + " not found" }

// FromGraph builds the mesh discovery knows. partitions, when not nil,
// tells a topic's partition count as the brokers report it (0: unknown).
func FromGraph(g *mesh.Graph, partitions func(topic string) int32) *Mesh {
	m := &Mesh{Topics: map[string]*Topic{}}
	for _, t := range g.Nodes(mesh.KindTopic) {
		topic := &Topic{Name: t.Name, Message: t.Message, Raw: t.TopicType == "RAW"}
		if partitions != nil {
			topic.Partitions = partitions(t.Name)
		}
		m.Topics[t.Name] = topic
	}
	roles := map[mesh.Rel]string{
		mesh.RelReads: "input", mesh.RelJoins: "join", mesh.RelLooksUp: "lookup",
		mesh.RelWrites: "output", mesh.RelPersistsTo: "state",
	}
	kinds := map[mesh.Kind]string{
		mesh.KindSource: KindSource, mesh.KindProcessor: KindProcessor, mesh.KindSink: KindSink,
		mesh.KindView: KindView, mesh.KindViewSource: KindViewSource, mesh.KindViewSink: KindViewSink,
	}
	for _, sn := range g.Nodes(mesh.KindService) {
		s := &Service{Name: sn.Name, Description: strings.TrimSpace(sn.Description)}
		if len(sn.Descriptors) > 0 {
			if files, err := parseSet(sn.Descriptors); err == nil {
				s.Messages = files
			}
		}
		for _, p := range g.PodsOf(sn.ID) {
			s.Pods = append(s.Pods, podName(p))
		}
		slices.Sort(s.Pods)
		for _, cn := range g.Children(sn.ID, mesh.RelHasComponent, mesh.KindComponent) {
			comp := &Component{Name: cn.Name, Description: strings.TrimSpace(cn.Description)}
			for _, kind := range mesh.PartKinds {
				for _, pn := range g.Children(cn.ID, mesh.RelHasPart, kind) {
					part := &Part{Kind: kinds[kind], Name: pn.Name, Description: strings.TrimSpace(pn.Description), Group: pn.GroupName}
					for _, e := range g.Out(pn.ID) {
						if !e.Rel.Consumes() && !e.Rel.Produces() {
							continue
						}
						t := g.Node(e.To)
						if t == nil {
							continue
						}
						role := roles[e.Rel]
						switch kind {
						case mesh.KindSource, mesh.KindSink, mesh.KindView, mesh.KindViewSource, mesh.KindViewSink:
							role = part.Kind
						}
						part.Uses = append(part.Uses, Use{Role: role, Topic: t.Name, Writes: e.Rel.Produces()})
					}
					slices.SortFunc(part.Uses, func(a, b Use) int {
						return cmp.Or(strings.Compare(a.Role, b.Role), strings.Compare(a.Topic, b.Topic))
					})
					comp.Parts = append(comp.Parts, part)
				}
			}
			s.Components = append(s.Components, comp)
		}
		m.Services = append(m.Services, s)
	}
	return m
}

func podName(p *mesh.Pod) string {
	if p.Namespace != "" {
		return p.Namespace + "/" + p.Name
	}
	return p.Name
}
