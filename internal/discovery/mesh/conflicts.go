package mesh

import (
	"github.com/kafmesh/kafmesh/internal/contracts"
)

// maxConflictsPerTopic bounds the conflicts kept for one topic.
const maxConflictsPerTopic = 100

// SchemaConflict is a breaking difference between the schema a service
// writes a topic with and the schema another service reads it with, as
// the contracts engine finds it (docs/contracts.md lists the rules).
type SchemaConflict struct {
	// Category is WIRE, WIRE_JSON or TOPIC; Rule the rule id.
	Category string
	Rule     string
	// Message says what differs, field by field.
	Message string
	// Writer and Reader are the ids of the two services.
	Writer, Reader string
}

// SchemaConflicts returns the conflicts on the topic with this id between
// every service that writes it and every other service that reads it, both
// with descriptors; computed once per graph (so once per scrape round that
// changes the mesh), at most 100 per topic.
func (g *Graph) SchemaConflicts(topicID string) []SchemaConflict {
	g.conflictsOnce.Do(g.computeConflicts)
	return g.conflicts[topicID]
}

func (g *Graph) computeConflicts() {
	g.conflicts = map[string][]SchemaConflict{}
	idx := g.schemaIndex()
	services := func(parts []*Node) []*Node {
		seen := map[string]bool{}
		var out []*Node
		for _, p := range parts {
			if s := g.ServiceOf(p.ID); s != nil && !seen[s.ID] && idx.files[s.ID] != nil {
				seen[s.ID] = true
				out = append(out, s)
			}
		}
		return out
	}
	for _, t := range g.byKind[KindTopic] {
		if t.TopicType == "RAW" || t.Message == "" {
			continue
		}
		for _, w := range services(g.Producers(t.ID)) {
			for _, r := range services(g.Consumers(t.ID)) {
				if w.ID == r.ID {
					continue
				}
				writer := &contracts.Contract{Name: "service " + w.Name, Service: w.Name, Descriptors: idx.files[w.ID],
					Topics: map[string]*contracts.TopicUse{t.Name: {Topic: t.Name, Message: t.Message, Writes: true}}}
				reader := &contracts.Contract{Name: "service " + r.Name, Service: r.Name, Descriptors: idx.files[r.ID],
					Topics: map[string]*contracts.TopicUse{t.Name: {Topic: t.Name, Message: t.Message, Reads: true}}}
				for _, f := range contracts.Compare(writer, reader) {
					if len(g.conflicts[t.ID]) >= maxConflictsPerTopic {
						break
					}
					g.conflicts[t.ID] = append(g.conflicts[t.ID], SchemaConflict{
						Category: string(f.Category), Rule: f.Rule, Message: f.Message, Writer: w.ID, Reader: r.ID,
					})
				}
			}
		}
	}
}
