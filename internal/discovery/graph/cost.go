package graph

import (
	"context"
	"math"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/kafmesh/kafmesh/internal/discovery/mesh"
	"github.com/kafmesh/kafmesh/internal/discovery/records"
)

// The cost model: an operation costs the number of fields its answer can
// hold at most, on the snapshot it will be answered from. The estimate
// walks the operation level by level and keeps, for each level, how many
// objects it can hold at most: a list field multiplies its parent level's
// count by the longest that list is on any one object of the snapshot,
// and, when the parent level holds distinct objects (a top-level list, or
// lists where every child has one parent, such as Service.components),
// by no more than the relations that exist between the two types in all.
// So `{ pods { sources { pods { … } } } }` costs what it would return, and
// `{ topics { producerServices { name } } }` costs the topics plus their
// producers, not every topic times the busiest topic's producers. The
// cost is computed before any resolver runs; an operation over the limit
// gets an error naming the limit and its value.

// Bounds of lists whose length the mesh graph does not tell.
const (
	boundLagTopicsMin = 10  // ConsumerGroupLag.topics: at least this, else a processor's topics
	boundTopicConfigs = 100 // TopicSettings.configs: Kafka has fewer topic configs
	boundSchemaFields = 500 // MessageSchema.fields
	boundActions      = 100 // Operation.actions, per operation
	boundSearch       = 500 // Query.search's largest limit
	boundIntrospect   = 64  // any list of the introspection types
	boundHeaders      = 16  // TopicRecord.headers, per record (the size cap bounds more)
)

// listBounds are upper bounds of the lengths of the lists of one snapshot.
type listBounds struct {
	// records is the most records one topic browser read answers
	// (TopicRecordPage.records, TopicRecordBatch.records): the reader's
	// configured limit.
	records int
	// count is the number of objects of each GraphQL type in the snapshot.
	count map[string]int
	// fan[parent][elem] is the most objects of type elem any one object of
	// type parent is related to (by an edge, as a pod reporting the node,
	// or as a node a pod reports): a list of them on one object is never
	// longer. pairs[parent][elem] is the number of such relations in all:
	// the lists of distinct parents never hold more together.
	fan, pairs map[string]map[string]int
}

// partKinds are the kinds the union Part holds.
var partKinds = map[mesh.Kind]bool{mesh.KindProcessor: true, mesh.KindSource: true, mesh.KindSink: true,
	mesh.KindView: true, mesh.KindViewSource: true, mesh.KindViewSink: true}

// edgeTypes are the GraphQL types of a processor's edges, by relation.
var edgeTypes = map[mesh.Rel]string{mesh.RelReads: "ProcessorInput", mesh.RelJoins: "ProcessorJoin",
	mesh.RelLooksUp: "ProcessorLookup", mesh.RelWrites: "ProcessorOutput"}

// uniqueParent are the list fields whose elements each belong to one
// object of the parent type: distinct parents give distinct children.
var uniqueParent = map[string]bool{
	"Service.components": true, "Service.pods": true,
	"Component.processors": true, "Component.sinks": true, "Component.sources": true,
	"Component.viewSinks": true, "Component.viewSources": true, "Component.views": true,
	"Processor.inputs": true, "Processor.joins": true, "Processor.lookups": true, "Processor.outputs": true,
	"Topic.processorInputs": true, "Topic.processorJoins": true, "Topic.processorLookups": true, "Topic.processorOutputs": true,
}

// boundsOf measures g; the result is cached per graph (boundsCache).
func boundsOf(g *mesh.Graph) *listBounds {
	b := &listBounds{records: records.DefaultMaxRecords, count: map[string]int{}, fan: map[string]map[string]int{}, pairs: map[string]map[string]int{}}
	add := func(parent, elem string, n int) {
		if b.fan[parent] == nil {
			b.fan[parent], b.pairs[parent] = map[string]int{}, map[string]int{}
		}
		b.fan[parent][elem] = max(b.fan[parent][elem], n)
		b.pairs[parent][elem] += n
	}
	for _, k := range mesh.NodeKinds {
		ns := g.Nodes(k)
		b.count[string(k)] = len(ns)
		if partKinds[k] {
			b.count["Part"] += len(ns)
		}
		for _, n := range ns {
			per := map[string]int{}
			for _, e := range append(g.Out(n.ID), g.In(n.ID)...) {
				other := e.To
				if other == n.ID {
					other = e.From
				}
				ok := mesh.KindOf(other)
				per[string(ok)]++
				if partKinds[ok] {
					per["Part"]++
				}
				if t, isEdge := edgeTypes[e.Rel]; isEdge && mesh.KindOf(e.From) == mesh.KindProcessor {
					per[t]++
				}
			}
			for t, c := range per {
				add(string(k), t, c)
			}
			add(string(k), "Pod", len(g.PodsOf(n.ID)))
		}
	}
	pods := g.Pods()
	b.count["Pod"] = len(pods)
	for _, p := range pods {
		for _, k := range mesh.NodeKinds {
			add("Pod", string(k), len(g.NodesOfPod(p.ID, k)))
		}
	}
	for _, e := range g.Edges() {
		if t, isEdge := edgeTypes[e.Rel]; isEdge && mesh.KindOf(e.From) == mesh.KindProcessor {
			b.count[t]++
		}
	}
	return b
}

// level is what the estimate knows of the objects at one level of an
// answer: at most n of them, and whether they are distinct.
type level struct {
	n        int
	distinct bool
}

// estimate is the most fields the answer to op can hold on the snapshot
// b measured.
func estimate(b *listBounds, op *ast.OperationDefinition, vars map[string]any) int {
	return b.set(op.SelectionSet, level{n: 1, distinct: true}, vars)
}

func (b *listBounds) set(ss ast.SelectionSet, lv level, vars map[string]any) int {
	total := 0
	for _, sel := range ss {
		switch s := sel.(type) {
		case *ast.Field:
			total = satAdd(total, b.field(s, lv, vars))
		case *ast.InlineFragment:
			// Type conditions split a level; counting each against the
			// whole level only overestimates.
			total = satAdd(total, b.set(s.SelectionSet, lv, vars))
		case *ast.FragmentSpread:
			if s.Definition != nil {
				total = satAdd(total, b.set(s.Definition.SelectionSet, lv, vars))
			}
		}
	}
	return total
}

func (b *listBounds) field(f *ast.Field, lv level, vars map[string]any) int {
	here := lv.n // the field itself, once per object of the level
	if f.Definition == nil || f.ObjectDefinition == nil {
		return here
	}
	child := level{n: lv.n}
	if f.Definition.Type.Elem != nil {
		child = b.list(f.ObjectDefinition.Name, f.Name, f.Definition.Type.Name(), f.ArgumentMap(vars), lv)
	}
	if len(f.SelectionSet) == 0 {
		if f.Definition.Type.Elem != nil {
			return satAdd(here, child.n) // a list of scalars: its elements
		}
		return here
	}
	return satAdd(here, b.set(f.SelectionSet, child, vars))
}

// list is the level a list field parent.field of element type elem makes
// under lv.
func (b *listBounds) list(parent, field, elem string, args map[string]any, lv level) level {
	per, distinct := 0, false
	pairs := -1 // no bound on the level's total
	switch {
	case strings.HasPrefix(parent, "__") || strings.HasPrefix(elem, "__"):
		per = boundIntrospect
	case parent == "Query" && field == "search":
		per = 50
		if v, ok := intArg(args, "limit"); ok && v > 0 && v <= boundSearch {
			per = v
		} else if ok {
			per = boundSearch
		}
	case (parent == "Query" && field == "groups") || (parent == "Group" && field == "partitions") ||
		(parent == "Topic" && field == "consumerGroups"):
		// Measured from the brokers, not in the mesh graph: bounded by
		// their `first` argument (its default when not given).
		per = maxGroupsFirst
		if v, ok := intArg(args, "first"); ok && v >= 0 && v < per {
			per = v
		}
	case (parent == "TopicRecordPage" || parent == "TopicRecordBatch") && field == "records":
		per = b.records
	case parent == "TopicRecord" && field == "headers":
		per = boundHeaders
	case parent == "DeadLetters" && field == "letters":
		per = 50
		if v, ok := intArg(args, "first"); ok && v >= 0 && v <= maxDeadLettersFirst {
			per = v
		} else if ok {
			per = maxDeadLettersFirst
		}
	case parent == "DeadLetter" && field == "headers":
		per = maxDeadLetterHeaders
	case parent == "DeadLetterReplay":
		per = maxReplay
	case parent == "Group" && field == "lagHistory":
		per = boundLagHistory
	case parent == "Query":
		per, distinct = b.count[elem], true
		if v, ok := intArg(args, "first"); ok && v >= 0 && v < per {
			per = v
		}
	case field == "dependsOn" || field == "dependents":
		per = b.count[elem] // two hops away, through topics: any of them
	case field == "producerServices" || field == "consumerServices":
		// One service per producing or consuming part, at most.
		per, pairs = min(b.count[elem], b.fan[parent]["Part"]), b.pairs[parent]["Part"]
	case parent == "ConsumerGroupLag":
		per = max(boundLagTopicsMin, b.fan["Processor"]["Topic"])
	case parent == "TopicSettings":
		per = boundTopicConfigs
	case parent == "MessageSchema":
		per = boundSchemaFields
	case parent == "Operation":
		per = boundActions
	case b.fan[parent] != nil:
		per, pairs = min(b.count[elem], b.fan[parent][elem]), b.pairs[parent][elem]
		distinct = uniqueParent[parent+"."+field]
	default:
		per = b.count[elem]
	}
	n := satMul(lv.n, max(per, 1))
	if lv.distinct && pairs >= 0 {
		n = min(n, max(pairs, 1))
	}
	return level{n: n, distinct: distinct && lv.distinct}
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

// boundsCache keeps the bounds of the last snapshot measured. records,
// when above 0, is the records reader's MaxRecords.
type boundsCache struct {
	mu      sync.Mutex
	g       *mesh.Graph
	b       *listBounds
	records int
}

func (c *boundsCache) of(g *mesh.Graph) *listBounds {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.g != g {
		c.g, c.b = g, boundsOf(g)
		if c.records > 0 {
			c.b.records = c.records
		}
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
