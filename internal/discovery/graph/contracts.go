package graph

import (
	"context"
	"encoding/base64"
)

// DescriptorSet is the service's serialized FileDescriptorSet in standard
// base64, or nil when the service reported none.
func (s *Service) DescriptorSet() *string {
	if len(s.n.Descriptors) == 0 {
		return nil
	}
	out := base64.StdEncoding.EncodeToString(s.n.Descriptors)
	return &out
}

// SchemaConflict is a GraphQL SchemaConflict.
type SchemaConflict struct {
	Category string
	Rule     string
	Message  string
	Writer   *Service
	Reader   *Service
}

// SchemaConflicts are the topic's schema conflicts in the request's
// snapshot.
func (t *Topic) SchemaConflicts(ctx context.Context) ([]*SchemaConflict, error) {
	g := snapshot(ctx)
	out := []*SchemaConflict{}
	for _, c := range g.SchemaConflicts(t.n.ID) {
		w, r := g.Node(c.Writer), g.Node(c.Reader)
		if w == nil || r == nil {
			continue
		}
		out = append(out, &SchemaConflict{Category: c.Category, Rule: c.Rule, Message: c.Message,
			Writer: &Service{node{w}}, Reader: &Service{node{r}}})
	}
	return out, nil
}
