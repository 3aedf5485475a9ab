package graph

import (
	"context"
	"fmt"
	"log/slog"
	"slices"

	"github.com/kafmesh/kafmesh/internal/discovery/lag"
	"github.com/kafmesh/kafmesh/internal/discovery/mesh"
)

// Resolver answers the schema from the snapshot of the mesh that the
// handler put in the request's context (one snapshot per operation), and
// opens watches through its watcher.
type Resolver struct {
	watch    WatchFunc
	lag      LagSource
	settings TopicSettingsSource
	status   func() MeshStatus
	records  RecordSource
	// mutations allows the Mutation fields (discover runs with --token);
	// logger receives their audit lines.
	mutations bool
	logger    *slog.Logger
	// legacy maps the 2021 discovery's numeric ids (nil: none).
	legacy *LegacyIDs
	// replays remembers the dead letters replayed, so each is sent once.
	replays replayLedger
}

// LagSource answers the measured lag of consumer groups and the write rate
// of topics (lag.Monitor).
type LagSource interface {
	Group(name string) (lag.Group, bool)
	TopicRate(topic string) (float64, bool)
}

var _ ResolverRoot = (*Resolver)(nil)

type graphKey struct{}

func withGraph(ctx context.Context, g *mesh.Graph) context.Context {
	return context.WithValue(ctx, graphKey{}, g)
}

// snapshot returns the operation's mesh snapshot (an empty mesh if the
// handler put none, so a resolver never dereferences nil).
func snapshot(ctx context.Context) *mesh.Graph {
	if g, ok := ctx.Value(graphKey{}).(*mesh.Graph); ok && g != nil {
		return g
	}
	return mesh.NewGraph(nil, nil, nil, nil)
}

func (r *Resolver) Component() ComponentResolver             { return componentResolver{} }
func (r *Resolver) MessageSchema() MessageSchemaResolver     { return messageSchemaResolver{} }
func (r *Resolver) Pod() PodResolver                         { return podResolver{} }
func (r *Resolver) Processor() ProcessorResolver             { return processorResolver{r} }
func (r *Resolver) ProcessorInput() ProcessorInputResolver   { return edgeResolver[*ProcessorInput]{} }
func (r *Resolver) ProcessorJoin() ProcessorJoinResolver     { return edgeResolver[*ProcessorJoin]{} }
func (r *Resolver) ProcessorLookup() ProcessorLookupResolver { return edgeResolver[*ProcessorLookup]{} }
func (r *Resolver) ProcessorOutput() ProcessorOutputResolver { return edgeResolver[*ProcessorOutput]{} }
func (r *Resolver) Query() QueryResolver                     { return queryResolver{r} }
func (r *Resolver) Service() ServiceResolver                 { return serviceResolver{} }
func (r *Resolver) Sink() SinkResolver                       { return partResolver[*Sink]{} }
func (r *Resolver) Source() SourceResolver                   { return partResolver[*Source]{} }
func (r *Resolver) Subscription() SubscriptionResolver       { return subscriptionResolver{r} }
func (r *Resolver) Topic() TopicResolver                     { return topicResolver{r} }
func (r *Resolver) View() ViewResolver                       { return partResolver[*View]{} }
func (r *Resolver) ViewSink() ViewSinkResolver               { return partResolver[*ViewSink]{} }
func (r *Resolver) ViewSource() ViewSourceResolver           { return partResolver[*ViewSource]{} }

// byID returns the node with id as T when it is of T's kind, else nil.
func byID[T any](ctx context.Context, id string) T {
	return one[T](snapshot(ctx).Node(id))
}

type queryResolver struct{ r *Resolver }

func (queryResolver) Services(ctx context.Context, first *int, after *string) ([]*Service, error) {
	return page(wrap[*Service](snapshot(ctx).Nodes(mesh.KindService)), (*Service).ID, first, after)
}

func (queryResolver) Pods(ctx context.Context, first *int, after *string) ([]*Pod, error) {
	return page(pods(snapshot(ctx).Pods()), (*Pod).ID, first, after)
}

func (queryResolver) Topics(ctx context.Context, first *int, after *string) ([]*Topic, error) {
	return page(wrap[*Topic](snapshot(ctx).Nodes(mesh.KindTopic)), (*Topic).ID, first, after)
}

func (x queryResolver) MeshStatus(context.Context) (*MeshStatus, error) {
	if x.r.status == nil {
		return &MeshStatus{}, nil
	}
	st := x.r.status()
	return &st, nil
}

// page returns the items of list after the one whose id is after (from the
// start when after is nil), at most first of them (all when first is nil).
// An unknown after id or a negative first is an error: a client paging
// through a list that changed under it learns so instead of skipping items.
func page[T any](list []T, id func(T) string, first *int, after *string) ([]T, error) {
	if after != nil {
		i := slices.IndexFunc(list, func(x T) bool { return id(x) == *after })
		if i < 0 {
			return nil, fmt.Errorf("after: no item with id %q (it may have left the mesh; start again without after)", *after)
		}
		list = list[i+1:]
	}
	if first != nil {
		if *first < 0 {
			return nil, fmt.Errorf("first must be 0 or more, not %d", *first)
		}
		if *first < len(list) {
			list = list[:*first]
		}
	}
	return list, nil
}

func (x queryResolver) ServiceByID(ctx context.Context, id string) (*Service, error) {
	return legacyByID[*Service](ctx, x.r, mesh.KindService, id)
}

func (x queryResolver) ComponentByID(ctx context.Context, id string) (*Component, error) {
	return legacyByID[*Component](ctx, x.r, mesh.KindComponent, id)
}

func (queryResolver) ProcessorByID(ctx context.Context, id string) (*Processor, error) {
	return byID[*Processor](ctx, id), nil
}

func (queryResolver) TopicByID(ctx context.Context, id string) (*Topic, error) {
	return byID[*Topic](ctx, id), nil
}

func (queryResolver) PodByID(ctx context.Context, id string) (*Pod, error) {
	return newPod(snapshot(ctx).Pod(id)), nil
}

func (queryResolver) Search(ctx context.Context, text string, limit *int) ([]SearchResult, error) {
	n := 50
	if limit != nil {
		n = *limit
	}
	if n <= 0 || n > 500 {
		n = 500
	}
	var out []SearchResult
	for _, h := range snapshot(ctx).Search(text, n) {
		if h.Pod != nil {
			out = append(out, &Pod{h.Pod})
			continue
		}
		if o, ok := object(h.Node).(SearchResult); ok {
			out = append(out, o)
		}
	}
	return out, nil
}

func (queryResolver) MessageSchema(ctx context.Context, name string) (*MessageSchema, error) {
	if s := snapshot(ctx).MessageSchema(name); s != nil {
		return &MessageSchema{s}, nil
	}
	return nil, nil
}

type serviceResolver struct{}

func (serviceResolver) Components(ctx context.Context, s *Service) ([]*Component, error) {
	return wrap[*Component](snapshot(ctx).Children(s.n.ID, mesh.RelHasComponent, mesh.KindComponent)), nil
}

func (serviceResolver) DependsOn(ctx context.Context, s *Service) ([]*Service, error) {
	return wrap[*Service](snapshot(ctx).DependsOn(s.n.ID)), nil
}

func (serviceResolver) Dependents(ctx context.Context, s *Service) ([]*Service, error) {
	return wrap[*Service](snapshot(ctx).Dependents(s.n.ID)), nil
}

func (serviceResolver) Pods(ctx context.Context, s *Service) ([]*Pod, error) {
	return pods(snapshot(ctx).PodsOf(s.n.ID)), nil
}

type componentResolver struct{}

func parts[T any](ctx context.Context, c *Component, kind mesh.Kind) []T {
	return wrap[T](snapshot(ctx).Children(c.n.ID, mesh.RelHasPart, kind))
}

func (componentResolver) Service(ctx context.Context, c *Component) (*Service, error) {
	return one[*Service](snapshot(ctx).Parent(c.n.ID, mesh.RelHasComponent)), nil
}

func (componentResolver) Processors(ctx context.Context, c *Component) ([]*Processor, error) {
	return parts[*Processor](ctx, c, mesh.KindProcessor), nil
}

func (componentResolver) Sinks(ctx context.Context, c *Component) ([]*Sink, error) {
	return parts[*Sink](ctx, c, mesh.KindSink), nil
}

func (componentResolver) Sources(ctx context.Context, c *Component) ([]*Source, error) {
	return parts[*Source](ctx, c, mesh.KindSource), nil
}

func (componentResolver) ViewSinks(ctx context.Context, c *Component) ([]*ViewSink, error) {
	return parts[*ViewSink](ctx, c, mesh.KindViewSink), nil
}

func (componentResolver) ViewSources(ctx context.Context, c *Component) ([]*ViewSource, error) {
	return parts[*ViewSource](ctx, c, mesh.KindViewSource), nil
}

func (componentResolver) Views(ctx context.Context, c *Component) ([]*View, error) {
	return parts[*View](ctx, c, mesh.KindView), nil
}

func (componentResolver) DependsOn(ctx context.Context, c *Component) ([]*Component, error) {
	return wrap[*Component](snapshot(ctx).DependsOn(c.n.ID)), nil
}

func (componentResolver) Dependents(ctx context.Context, c *Component) ([]*Component, error) {
	return wrap[*Component](snapshot(ctx).Dependents(c.n.ID)), nil
}

// nodeOf is implemented by every node-backed GraphQL type.
type nodeOf interface{ meshNode() *mesh.Node }

func (x node) meshNode() *mesh.Node { return x.n }

// partResolver resolves the fields every part with one topic shares
// (sources, sinks, views, view sources, view sinks).
type partResolver[T nodeOf] struct{}

func (partResolver[T]) Component(ctx context.Context, p T) (*Component, error) {
	return one[*Component](snapshot(ctx).Parent(p.meshNode().ID, mesh.RelHasPart)), nil
}

func (partResolver[T]) Topic(ctx context.Context, p T) (*Topic, error) {
	g := snapshot(ctx)
	for _, e := range g.Out(p.meshNode().ID) {
		if e.Rel.Consumes() || e.Rel.Produces() {
			return one[*Topic](g.Node(e.To)), nil
		}
	}
	return nil, nil
}

func (partResolver[T]) Pods(ctx context.Context, p T) ([]*Pod, error) {
	return pods(snapshot(ctx).PodsOf(p.meshNode().ID)), nil
}

type processorResolver struct{ r *Resolver }

func (processorResolver) Component(ctx context.Context, p *Processor) (*Component, error) {
	return one[*Component](snapshot(ctx).Parent(p.n.ID, mesh.RelHasPart)), nil
}

func (processorResolver) Persistence(ctx context.Context, p *Processor) (*Topic, error) {
	g := snapshot(ctx)
	for _, e := range g.Out(p.n.ID, mesh.RelPersistsTo) {
		return one[*Topic](g.Node(e.To)), nil
	}
	return nil, nil
}

func (processorResolver) Pods(ctx context.Context, p *Processor) ([]*Pod, error) {
	return pods(snapshot(ctx).PodsOf(p.n.ID)), nil
}

func edges[T any](es []mesh.Edge, conv func(mesh.Edge) T) []T {
	out := make([]T, 0, len(es))
	for _, e := range es {
		out = append(out, conv(e))
	}
	return out
}

func (processorResolver) Inputs(ctx context.Context, p *Processor) ([]*ProcessorInput, error) {
	return edges(snapshot(ctx).Out(p.n.ID, mesh.RelReads), func(e mesh.Edge) *ProcessorInput { return &ProcessorInput{edge{e}} }), nil
}

func (processorResolver) Joins(ctx context.Context, p *Processor) ([]*ProcessorJoin, error) {
	return edges(snapshot(ctx).Out(p.n.ID, mesh.RelJoins), func(e mesh.Edge) *ProcessorJoin { return &ProcessorJoin{edge{e}} }), nil
}

func (processorResolver) Lookups(ctx context.Context, p *Processor) ([]*ProcessorLookup, error) {
	return edges(snapshot(ctx).Out(p.n.ID, mesh.RelLooksUp), func(e mesh.Edge) *ProcessorLookup { return &ProcessorLookup{edge{e}} }), nil
}

func (processorResolver) Outputs(ctx context.Context, p *Processor) ([]*ProcessorOutput, error) {
	return edges(snapshot(ctx).Out(p.n.ID, mesh.RelWrites), func(e mesh.Edge) *ProcessorOutput { return &ProcessorOutput{edge{e}} }), nil
}

// edgeOf is implemented by the processor edge types.
type edgeOf interface{ meshEdge() mesh.Edge }

func (x edge) meshEdge() mesh.Edge { return x.e }

type edgeResolver[T edgeOf] struct{}

func (edgeResolver[T]) Processor(ctx context.Context, x T) (*Processor, error) {
	return byID[*Processor](ctx, x.meshEdge().From), nil
}

func (edgeResolver[T]) Topic(ctx context.Context, x T) (*Topic, error) {
	return byID[*Topic](ctx, x.meshEdge().To), nil
}

type topicResolver struct{ r *Resolver }

// topicEdges returns the edges into t of rel whose source is of kind.
func topicEdges(ctx context.Context, t *Topic, rel mesh.Rel, kind mesh.Kind) []mesh.Edge {
	var out []mesh.Edge
	for _, e := range snapshot(ctx).In(t.n.ID, rel) {
		if mesh.KindOf(e.From) == kind {
			out = append(out, e)
		}
	}
	return out
}

// topicParts returns the parts of kind with an edge of rel into t.
func topicParts[T any](ctx context.Context, t *Topic, rel mesh.Rel, kind mesh.Kind) []T {
	g := snapshot(ctx)
	var ns []*mesh.Node
	for _, e := range topicEdges(ctx, t, rel, kind) {
		ns = append(ns, g.Node(e.From))
	}
	return wrap[T](ns)
}

func (topicResolver) MessageSchema(ctx context.Context, t *Topic) (*MessageSchema, error) {
	if s := snapshot(ctx).MessageSchema(t.n.Message); s != nil {
		return &MessageSchema{s}, nil
	}
	return nil, nil
}

func (topicResolver) ProcessorInputs(ctx context.Context, t *Topic) ([]*ProcessorInput, error) {
	return edges(topicEdges(ctx, t, mesh.RelReads, mesh.KindProcessor), func(e mesh.Edge) *ProcessorInput { return &ProcessorInput{edge{e}} }), nil
}

func (topicResolver) ProcessorJoins(ctx context.Context, t *Topic) ([]*ProcessorJoin, error) {
	return edges(topicEdges(ctx, t, mesh.RelJoins, mesh.KindProcessor), func(e mesh.Edge) *ProcessorJoin { return &ProcessorJoin{edge{e}} }), nil
}

func (topicResolver) ProcessorLookups(ctx context.Context, t *Topic) ([]*ProcessorLookup, error) {
	return edges(topicEdges(ctx, t, mesh.RelLooksUp, mesh.KindProcessor), func(e mesh.Edge) *ProcessorLookup { return &ProcessorLookup{edge{e}} }), nil
}

func (topicResolver) ProcessorOutputs(ctx context.Context, t *Topic) ([]*ProcessorOutput, error) {
	return edges(topicEdges(ctx, t, mesh.RelWrites, mesh.KindProcessor), func(e mesh.Edge) *ProcessorOutput { return &ProcessorOutput{edge{e}} }), nil
}

func (topicResolver) ProcessorPersistences(ctx context.Context, t *Topic) ([]*Processor, error) {
	return topicParts[*Processor](ctx, t, mesh.RelPersistsTo, mesh.KindProcessor), nil
}

func (topicResolver) Sinks(ctx context.Context, t *Topic) ([]*Sink, error) {
	return topicParts[*Sink](ctx, t, mesh.RelReads, mesh.KindSink), nil
}

func (topicResolver) Sources(ctx context.Context, t *Topic) ([]*Source, error) {
	return topicParts[*Source](ctx, t, mesh.RelWrites, mesh.KindSource), nil
}

func (topicResolver) ViewSinks(ctx context.Context, t *Topic) ([]*ViewSink, error) {
	return topicParts[*ViewSink](ctx, t, mesh.RelReads, mesh.KindViewSink), nil
}

func (topicResolver) ViewSources(ctx context.Context, t *Topic) ([]*ViewSource, error) {
	return topicParts[*ViewSource](ctx, t, mesh.RelWrites, mesh.KindViewSource), nil
}

func (topicResolver) Views(ctx context.Context, t *Topic) ([]*View, error) {
	return topicParts[*View](ctx, t, mesh.RelReads, mesh.KindView), nil
}

func (topicResolver) Producers(ctx context.Context, t *Topic) ([]Part, error) {
	return wrap[Part](snapshot(ctx).Producers(t.n.ID)), nil
}

func (topicResolver) Consumers(ctx context.Context, t *Topic) ([]Part, error) {
	return wrap[Part](snapshot(ctx).Consumers(t.n.ID)), nil
}

func servicesOf(g *mesh.Graph, parts []*mesh.Node) []*Service {
	seen := map[string]bool{}
	var ns []*mesh.Node
	for _, p := range parts {
		if s := g.ServiceOf(p.ID); s != nil && !seen[s.ID] {
			seen[s.ID] = true
			ns = append(ns, s)
		}
	}
	return wrap[*Service](ns)
}

func (topicResolver) ProducerServices(ctx context.Context, t *Topic) ([]*Service, error) {
	g := snapshot(ctx)
	return servicesOf(g, g.Producers(t.n.ID)), nil
}

func (topicResolver) ConsumerServices(ctx context.Context, t *Topic) ([]*Service, error) {
	g := snapshot(ctx)
	return servicesOf(g, g.Consumers(t.n.ID)), nil
}

type podResolver struct{}

func podParts[T any](ctx context.Context, p *Pod, kind mesh.Kind) []T {
	return wrap[T](snapshot(ctx).NodesOfPod(p.p.ID, kind))
}

func (podResolver) Service(ctx context.Context, p *Pod) (*Service, error) {
	for _, s := range podParts[*Service](ctx, p, mesh.KindService) {
		return s, nil
	}
	return nil, nil
}

func (podResolver) Processors(ctx context.Context, p *Pod) ([]*Processor, error) {
	return podParts[*Processor](ctx, p, mesh.KindProcessor), nil
}

func (podResolver) Sinks(ctx context.Context, p *Pod) ([]*Sink, error) {
	return podParts[*Sink](ctx, p, mesh.KindSink), nil
}

func (podResolver) Sources(ctx context.Context, p *Pod) ([]*Source, error) {
	return podParts[*Source](ctx, p, mesh.KindSource), nil
}

func (podResolver) ViewSinks(ctx context.Context, p *Pod) ([]*ViewSink, error) {
	return podParts[*ViewSink](ctx, p, mesh.KindViewSink), nil
}

func (podResolver) ViewSources(ctx context.Context, p *Pod) ([]*ViewSource, error) {
	return podParts[*ViewSource](ctx, p, mesh.KindViewSource), nil
}

func (podResolver) Views(ctx context.Context, p *Pod) ([]*View, error) {
	return podParts[*View](ctx, p, mesh.KindView), nil
}

type messageSchemaResolver struct{}

func (messageSchemaResolver) Service(ctx context.Context, m *MessageSchema) (*Service, error) {
	return byID[*Service](ctx, m.s.Service), nil
}

func (x processorResolver) Lag(ctx context.Context, p *Processor) (*ConsumerGroupLag, error) {
	if x.r.lag == nil || p.n.GroupName == "" {
		return nil, nil
	}
	g, ok := x.r.lag.Group(p.n.GroupName)
	if !ok {
		return nil, nil
	}
	out := &ConsumerGroupLag{Group: g.Name, State: g.State, Total: g.Lag, UpdatedAt: g.UpdatedAt, Error: optString(g.Err), Topics: []*ConsumerTopicLag{}}
	for _, t := range g.Topics {
		out.Topics = append(out.Topics, &ConsumerTopicLag{
			Name: t.Topic, Topic: byID[*Topic](ctx, mesh.TopicID(t.Topic)), Lag: t.Lag, RecordsPerSecond: t.RecordsPerSecond,
		})
	}
	return out, nil
}

func (x topicResolver) RecordsPerSecond(ctx context.Context, t *Topic) (*float64, error) {
	if x.r.lag == nil {
		return nil, nil
	}
	if r, ok := x.r.lag.TopicRate(t.n.Name); ok {
		return &r, nil
	}
	return nil, nil
}
