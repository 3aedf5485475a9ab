package graph

import (
	"context"
	"math"
	"sync"
	"sync/atomic"

	"github.com/99designs/gqlgen/graphql"

	"github.com/kafmesh/kafmesh/internal/discovery/mesh"
)

// The cost model: an operation costs the number of fields its answer can
// hold at most, on the snapshot it will be answered from. A list field
// multiplies the cost of its selection by the longest the list can be in
// that snapshot (listBounds), so `{ pods { sources { pods { … } } } }`
// costs what it would return, not one per field as written. The cost is
// computed before any resolver runs; an operation over the limit gets an
// error naming the limit and its value.

// Bounds of lists whose length the mesh graph does not tell.
const (
	boundLagTopics    = 100 // ConsumerGroupLag.topics: topics a group commits to
	boundTopicConfigs = 100 // TopicSettings.configs: Kafka has fewer topic configs
	boundSchemaFields = 500 // MessageSchema.fields
	boundActions      = 100 // Operation.actions, per operation
	boundSearch       = 500 // Query.search's largest limit
)

// listBounds are upper bounds of the lengths of the lists of one snapshot.
type listBounds struct {
	// count is the number of objects of each GraphQL type in the snapshot.
	count map[string]int
	// fan is the most relations any one node or pod has: edges in and
	// out, pods reporting a node, nodes of one kind a pod reports.
	fan int
}

// boundsOf measures g once; the result is cached per graph.
func boundsOf(g *mesh.Graph) *listBounds {
	b := &listBounds{count: map[string]int{}}
	parts := 0
	for _, k := range []mesh.Kind{mesh.KindService, mesh.KindComponent, mesh.KindProcessor, mesh.KindSource,
		mesh.KindSink, mesh.KindView, mesh.KindViewSource, mesh.KindViewSink, mesh.KindTopic} {
		ns := g.Nodes(k)
		b.count[string(k)] = len(ns)
		switch k {
		case mesh.KindService, mesh.KindComponent, mesh.KindTopic:
		default:
			parts += len(ns)
		}
		for _, n := range ns {
			b.fan = max(b.fan, len(g.Out(n.ID))+len(g.In(n.ID)), len(g.PodsOf(n.ID)))
		}
	}
	b.count["Part"] = parts
	pods := g.Pods()
	b.count["Pod"] = len(pods)
	for _, p := range pods {
		for _, k := range []mesh.Kind{mesh.KindProcessor, mesh.KindSource, mesh.KindSink, mesh.KindView, mesh.KindViewSource, mesh.KindViewSink} {
			b.fan = max(b.fan, len(g.NodesOfPod(p.ID, k)))
		}
	}
	edges := len(g.Edges())
	for _, t := range []string{"ProcessorInput", "ProcessorJoin", "ProcessorLookup", "ProcessorOutput"} {
		b.count[t] = edges
	}
	return b
}

// length bounds the list field parent.field of element type elem.
func (b *listBounds) length(parent, field, elem string, args map[string]any) int {
	n := 0
	switch {
	case parent == "Query" && field == "search":
		n = 50
		if v, ok := intArg(args, "limit"); ok && v > 0 && v <= boundSearch {
			n = v
		} else if ok {
			n = boundSearch
		}
	case parent == "Query":
		n = b.count[elem]
		if v, ok := intArg(args, "first"); ok && v >= 0 && v < n {
			n = v
		}
	case field == "dependsOn" || field == "dependents" || field == "producerServices" || field == "consumerServices":
		// Two hops away (through topics): any of them.
		n = b.count[elem]
	case parent == "ConsumerGroupLag":
		n = boundLagTopics
	case parent == "TopicSettings":
		n = boundTopicConfigs
	case parent == "MessageSchema":
		n = boundSchemaFields
	case parent == "Operation":
		n = boundActions
	default:
		n = min(b.count[elem], b.fan)
		if _, known := b.count[elem]; !known {
			n = b.fan
		}
	}
	return max(n, 1)
}

func intArg(args map[string]any, name string) (int, bool) {
	switch v := args[name].(type) {
	case int:
		return v, true
	case int64:
		return int(v), true
	case float64:
		return int(v), true
	}
	return 0, false
}

type boundsKey struct{}

// costedSchema is the executable schema with the cost model: it answers
// Complexity for list fields from the bounds in the context (introspection
// and other fields keep gqlgen's 1 + children).
type costedSchema struct{ graphql.ExecutableSchema }

func (c costedSchema) Complexity(ctx context.Context, typeName, field string, child int, args map[string]any) (int, bool) {
	b, _ := ctx.Value(boundsKey{}).(*listBounds)
	def := c.Schema().Types[typeName]
	if b == nil || def == nil || def.BuiltIn {
		return 0, false
	}
	f := def.Fields.ForName(field)
	if f == nil || f.Type.Elem == nil {
		return 0, false
	}
	n := b.length(typeName, field, f.Type.Elem.Name(), args)
	return satAdd(1, satMul(n, max(child, 1))), true
}

func satAdd(a, b int) int {
	if a > math.MaxInt-b {
		return math.MaxInt
	}
	return a + b
}

func satMul(a, b int) int {
	if a != 0 && b > math.MaxInt/a {
		return math.MaxInt
	}
	return a * b
}

// boundsCache keeps the bounds of the last snapshot measured.
type boundsCache struct {
	mu sync.Mutex
	g  *mesh.Graph
	b  *listBounds
}

func (c *boundsCache) of(g *mesh.Graph) *listBounds {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.g != g {
		c.g, c.b = g, boundsOf(g)
	}
	return c.b
}

// guard bounds the execution of one query operation: the fields it
// resolves and its deadline. It is the backstop of the cost model; once
// tripped, every later field fails at once and the response carries only
// the reason.
type guard struct {
	fields    atomic.Int64
	maxFields int64
	tripped   atomic.Pointer[string]
}

type guardKey struct{}

func (g *guard) trip(msg string) {
	g.tripped.CompareAndSwap(nil, &msg)
}

// aroundField counts a field and fails it once the guard tripped, the
// field limit passed, or the operation's deadline passed.
func aroundField(ctx context.Context, next graphql.Resolver) (any, error) {
	g, _ := ctx.Value(guardKey{}).(*guard)
	if g == nil {
		return next(ctx)
	}
	if m := g.tripped.Load(); m != nil {
		return nil, errTripped
	}
	if g.fields.Add(1) > g.maxFields {
		g.trip(limitMessage("the answer has more than %d fields, the limit (--max-query-complexity)", g.maxFields))
		return nil, errTripped
	}
	if err := ctx.Err(); err != nil {
		g.trip(deadlineMessage(ctx))
		return nil, errTripped
	}
	return next(ctx)
}

type trippedError struct{}

func (trippedError) Error() string { return "operation stopped" }

var errTripped error = trippedError{}

// replaceTripped makes the response of a tripped operation carry only the
// reason (not one error per field stopped).
func replaceTripped(ctx context.Context, resp *graphql.Response) *graphql.Response {
	g, _ := ctx.Value(guardKey{}).(*guard)
	if g == nil || resp == nil {
		return resp
	}
	if ctx.Err() != nil {
		g.trip(deadlineMessage(ctx)) // answered, but too late
	}
	if m := g.tripped.Load(); m != nil {
		return limitResponse(*m)
	}
	return resp
}
