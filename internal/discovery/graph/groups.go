package graph

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/kafmesh/kafmesh/internal/discovery/lag"
	"github.com/kafmesh/kafmesh/internal/discovery/mesh"
)

// Bounds of the group lists (their `first` arguments).
const (
	maxGroupsFirst  = 1000 // Query.groups, Group.partitions, Topic.consumerGroups
	boundLagHistory = 61   // Group.lagHistory: one point per minute of an hour
)

// GroupSource answers every measured consumer group and the dead-letter
// topics' counts (lag.Monitor). A LagSource that is not one leaves
// Query.groups empty and the group fields null.
type GroupSource interface {
	Groups() []lag.Group
	DeadLetters(group string) (topic string, records int64, ok bool)
	DeadLetterRate(group string) (float64, bool)
}

// Group is a GraphQL Group.
type Group struct {
	Name      string
	State     string
	Members   int
	Lag       int64
	UpdatedAt time.Time
	Error     *string

	parts   []lag.Partition
	history []lag.LagPoint
}

func newGroup(g lag.Group) *Group {
	return &Group{Name: g.Name, State: g.State, Members: g.Members, Lag: g.Lag, UpdatedAt: g.UpdatedAt, Error: optString(g.Err), parts: g.Partitions,
		history: g.History}
}

func (r *Resolver) groups() GroupSource {
	gs, _ := r.lag.(GroupSource)
	return gs
}

// first checks a `first` argument against maxGroupsFirst.
func first(name string, v *int) (int, error) {
	if v == nil {
		return maxGroupsFirst, nil
	}
	if *v < 0 || *v > maxGroupsFirst {
		return 0, fmt.Errorf("%s: first must be 0 to %d, got %d", name, maxGroupsFirst, *v)
	}
	return *v, nil
}

func (q queryResolver) Groups(ctx context.Context, firstArg *int, after *string) ([]*Group, error) {
	n, err := first("groups", firstArg)
	if err != nil {
		return nil, err
	}
	out := []*Group{}
	gs := q.r.groups()
	if gs == nil {
		return out, nil
	}
	for _, g := range gs.Groups() {
		if after != nil && g.Name <= *after {
			continue
		}
		if len(out) >= n {
			break
		}
		out = append(out, newGroup(g))
	}
	return out, nil
}

func (q queryResolver) Group(ctx context.Context, name string) (*Group, error) {
	if q.r.lag == nil {
		return nil, nil
	}
	if g, ok := q.r.lag.Group(name); ok {
		return newGroup(g), nil
	}
	return nil, nil
}

func (x processorResolver) Group(ctx context.Context, p *Processor) (*Group, error) {
	if x.r.lag == nil || p.n.GroupName == "" {
		return nil, nil
	}
	if g, ok := x.r.lag.Group(p.n.GroupName); ok {
		return newGroup(g), nil
	}
	return nil, nil
}

func (x processorResolver) DeadLetters(ctx context.Context, p *Processor) (*DeadLetters, error) {
	gs := x.r.groups()
	if gs == nil || p.n.GroupName == "" {
		return nil, nil
	}
	topic, n, ok := gs.DeadLetters(p.n.GroupName)
	if !ok {
		return nil, nil
	}
	out := &DeadLetters{Topic: topic, Records: n}
	if r, ok := gs.DeadLetterRate(p.n.GroupName); ok {
		out.RecordsPerSecond = &r
	}
	return out, nil
}

func (x topicResolver) ConsumerGroups(ctx context.Context, t *Topic, firstArg *int) ([]*Group, error) {
	n, err := first("consumerGroups", firstArg)
	if err != nil {
		return nil, err
	}
	out := []*Group{}
	gs := x.r.groups()
	if gs == nil {
		return out, nil
	}
	for _, g := range gs.Groups() {
		if len(out) >= n {
			break
		}
		if slices.ContainsFunc(g.Partitions, func(p lag.Partition) bool { return p.Topic == t.n.Name }) {
			out = append(out, newGroup(g))
		}
	}
	return out, nil
}

type groupResolver struct{}

func (r *Resolver) Group() GroupResolver { return groupResolver{} }

func (groupResolver) Partitions(ctx context.Context, g *Group, firstArg *int) ([]*GroupPartition, error) {
	n, err := first("partitions", firstArg)
	if err != nil {
		return nil, err
	}
	out := make([]*GroupPartition, 0, min(n, len(g.parts)))
	for _, p := range g.parts[:min(n, len(g.parts))] {
		gp := &GroupPartition{TopicName: p.Topic, Topic: byID[*Topic](ctx, mesh.TopicID(p.Topic)), Partition: int(p.Partition),
			MemberID: optString(p.MemberID), ClientID: optString(p.ClientID), Host: optString(p.Host)}
		if p.Committed >= 0 {
			gp.CommittedOffset = &p.Committed
		}
		if p.End >= 0 {
			gp.EndOffset = &p.End
		}
		if p.Lag >= 0 {
			gp.Lag = &p.Lag
		}
		out = append(out, gp)
	}
	return out, nil
}

func (groupResolver) Processor(ctx context.Context, g *Group) (*Processor, error) {
	for _, n := range snapshot(ctx).Nodes(mesh.KindProcessor) {
		if n.GroupName == g.Name {
			return &Processor{node{n}}, nil
		}
	}
	return nil, nil
}

func (groupResolver) LagHistory(ctx context.Context, g *Group) ([]*LagPoint, error) {
	out := make([]*LagPoint, 0, len(g.history))
	for _, p := range g.history {
		out = append(out, &LagPoint{At: p.At, Lag: p.Lag})
	}
	return out, nil
}
