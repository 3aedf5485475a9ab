package cli

import (
	"fmt"

	"github.com/kafmesh/kafmesh/internal/spec"
)

// mesh is the declared graph of one service: parts grouped by component,
// topics, and edges in the direction data flows.
type mesh struct {
	service    string
	components []meshComponent
	topics     []meshNode
	edges      []meshEdge
}

type meshComponent struct {
	name  string
	parts []meshNode
}

type meshNode struct {
	id    string
	label string
}

type meshEdge struct {
	from, to string
	label    string
}

// meshOf derives the graph from a validated service. Node ids are stable
// for a given definition: t<i> for topics in name order, c<i>_<kind><j>
// for parts.
func meshOf(svc *spec.Service) mesh {
	m := mesh{service: svc.Name}
	topicID := map[string]string{}
	for i, t := range svc.Topics {
		id := fmt.Sprintf("t%d", i)
		topicID[t.Name] = id
		m.topics = append(m.topics, meshNode{id: id, label: t.Name})
	}
	for ci, c := range svc.Components {
		mc := meshComponent{name: c.Name}
		part := func(kind string, j int, name string, entries ...*spec.Entry) {
			id := fmt.Sprintf("c%d_%s%d", ci, kind, j)
			mc.parts = append(mc.parts, meshNode{id: id, label: kind + ": " + name})
			for _, e := range entries {
				edge := meshEdge{from: topicID[e.Topic], to: id, label: string(e.Role)}
				if e.Owns() {
					edge.from, edge.to = id, topicID[e.Topic]
				}
				m.edges = append(m.edges, edge)
			}
		}
		for j, s := range c.Sources {
			part("source", j, s.Entry.Ref, s.Entry)
		}
		for j, p := range c.Processors {
			part("processor", j, p.Name, p.Entries()...)
		}
		for j, s := range c.Sinks {
			part("sink", j, s.Name, s.Entry)
		}
		for j, v := range c.Views {
			part("view", j, v.Entry.Ref, v.Entry)
		}
		for j, v := range c.ViewSources {
			part("viewSource", j, nameOrRef(v.Name, v.Entry), v.Entry)
		}
		for j, v := range c.ViewSinks {
			part("viewSink", j, nameOrRef(v.Name, v.Entry), v.Entry)
		}
		m.components = append(m.components, mc)
	}
	return m
}

func nameOrRef(name string, e *spec.Entry) string {
	if name != "" {
		return name
	}
	return e.Ref
}
