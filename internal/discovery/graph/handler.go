package graph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql/handler/lru"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	coderws "github.com/coder/websocket"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/kafmesh/kafmesh/internal/discovery/mesh"
)

// Defaults of the query limits.
const (
	DefaultMaxDepth = 15
	// DefaultMaxComplexity is the largest estimated answer, in fields (see
	// the cost model in cost.go), an operation may ask for.
	DefaultMaxComplexity = 200_000
	// DefaultMaxResponseBytes caps the JSON of one answer.
	DefaultMaxResponseBytes = 32 << 20
	// DefaultQueryTimeout is the deadline of one query operation.
	DefaultQueryTimeout = 10 * time.Second
	// DefaultMaxTokens caps the tokens of one operation's text (the UI's
	// largest query has a few hundred).
	DefaultMaxTokens = 10_000
	// DefaultInitTimeout is how long a websocket may take to send
	// connection_init.
	DefaultInitTimeout = 10 * time.Second
	// DefaultMaxSubscriptionsPerConn caps the subscriptions one websocket
	// has open at once.
	DefaultMaxSubscriptionsPerConn = 20
	// DefaultMaxSubscriptions caps the subscriptions open at once in all.
	DefaultMaxSubscriptions = 200
)

// HandlerConfig configures NewHandler.
type HandlerConfig struct {
	// Snapshot returns the mesh to answer an operation from; it is called
	// once per operation. Required.
	Snapshot func(ctx context.Context) (*mesh.Graph, error)
	// Status answers Query.meshStatus (whether Snapshot served the last
	// known graph because the store failed); nil reports current.
	Status func() MeshStatus
	// Watch opens processor watches; nil disables watchProcessor.
	Watch WatchFunc
	// Lag answers Processor.lag and Topic.recordsPerSecond; nil leaves them
	// null.
	Lag LagSource
	// TopicSettings answers Topic.settings and Query.kafka; nil leaves
	// them null.
	TopicSettings TopicSettingsSource
	// Records reads topics for Query.topicRecords (a records.Reader); nil
	// makes it fail (discover runs without --brokers).
	Records RecordSource
	// MaxDepth rejects operations nested deeper (default 15; fragments
	// count as their fields). MaxComplexity rejects operations whose
	// estimated answer has more fields (default 200,000): a list field
	// multiplies the cost of its selection by the longest that list is in
	// the snapshot (or by `first`), so the estimate bounds the answer. It
	// is also the most fields a query may resolve.
	MaxDepth, MaxComplexity int
	// MaxResponseBytes caps the JSON of one answer (default 32 MiB); a
	// larger answer is replaced by an error naming the limit.
	MaxResponseBytes int
	// QueryTimeout is the deadline of a query operation (default 10 s);
	// subscriptions have none.
	QueryTimeout time.Duration
	// MaxTokens caps the tokens of an operation's text (default 10,000),
	// which bounds parsing and validation (10,000 aliases are refused
	// before they are validated).
	MaxTokens int
	// InitTimeout closes websockets that send no connection_init in time
	// (default 10 s).
	InitTimeout time.Duration
	// MaxSubscriptionsPerConn and MaxSubscriptions cap the subscriptions
	// open at once on one websocket and in all (defaults 20 and 200); one
	// more gets an error naming the limit.
	MaxSubscriptionsPerConn, MaxSubscriptions int
	// AllowedOrigins are host patterns (path.Match syntax, e.g.
	// "ui.example.com" or "*.example.com") of other origins whose pages may
	// open a websocket. Default: same origin only.
	AllowedOrigins []string
	// InitFunc checks the websocket connection_init payload (for example a
	// bearer token); nil accepts every connection.
	InitFunc transport.WebsocketInitFunc
	// Logger logs panics in resolvers and the audit lines of mutations.
	Logger *slog.Logger
	// AllowMutations enables the Mutation fields (resetGroupOffsets). Set
	// it only when every request is authenticated (discover's --token);
	// without it they fail.
	AllowMutations bool
	// LegacyIDs maps the numeric ids of the 2021 discovery for serviceById
	// and componentById; nil answers such ids with an error that explains
	// today's ids.
	LegacyIDs *LegacyIDs
}

func (cfg *HandlerConfig) defaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&cfg.MaxDepth, DefaultMaxDepth)
	def(&cfg.MaxComplexity, DefaultMaxComplexity)
	def(&cfg.MaxResponseBytes, DefaultMaxResponseBytes)
	def(&cfg.MaxTokens, DefaultMaxTokens)
	def(&cfg.MaxSubscriptionsPerConn, DefaultMaxSubscriptionsPerConn)
	def(&cfg.MaxSubscriptions, DefaultMaxSubscriptions)
	if cfg.QueryTimeout <= 0 {
		cfg.QueryTimeout = DefaultQueryTimeout
	}
	if cfg.InitTimeout <= 0 {
		cfg.InitTimeout = DefaultInitTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
}

// NewHandler returns the GraphQL endpoint: POST (application/json) and
// websockets (graphql-transport-ws and the older graphql-ws protocol), with
// the depth, cost, size, time and subscription limits, parsed queries
// cached (LRU of 1000, and automatic persisted queries), introspection on,
// and mutations only with cfg.AllowMutations.
func NewHandler(cfg HandlerConfig) http.Handler {
	cfg.defaults()
	es := NewExecutableSchema(Config{Resolvers: &Resolver{watch: cfg.Watch, lag: cfg.Lag, settings: cfg.TopicSettings, status: cfg.Status,
		records: cfg.Records, mutations: cfg.AllowMutations, logger: cfg.Logger, legacy: cfg.LegacyIDs}})
	srv := handler.New(es)
	srv.AddTransport(transport.Websocket{
		KeepAlivePingInterval: 15 * time.Second,
		InitTimeout:           cfg.InitTimeout,
		Implementation: transport.CoderWebsocketImplementation{
			AcceptOptions: coderws.AcceptOptions{OriginPatterns: cfg.AllowedOrigins},
		},
		InitFunc: cfg.InitFunc,
	})
	srv.AddTransport(transport.POST{})
	srv.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	srv.SetParserTokenLimit(cfg.MaxTokens)
	srv.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](100)})
	srv.Use(extension.Introspection{})
	srv.Use(depthLimit{max: cfg.MaxDepth})
	srv.SetRecoverFunc(func(ctx context.Context, p any) error {
		cfg.Logger.Error("panic in a GraphQL resolver", "panic", p)
		return gqlerror.Errorf("internal error")
	})

	subs := &subscriptions{perConn: cfg.MaxSubscriptionsPerConn, max: cfg.MaxSubscriptions}
	var bounds boundsCache
	if cfg.Records != nil {
		bounds.records = cfg.Records.Limits().MaxRecords
	}
	srv.AroundOperations(func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		g, err := cfg.Snapshot(ctx)
		if err != nil {
			cfg.Logger.Error("reading the mesh failed", "error", err)
			return graphql.OneShot(graphql.ErrorResponse(ctx, "reading the mesh failed: %v", err))
		}
		oc := graphql.GetOperationContext(ctx)
		if cost := estimate(bounds.of(g), oc.Operation, oc.Variables); cost > cfg.MaxComplexity {
			return graphql.OneShot(limitResponse(limitMessage(
				"operation would answer up to %d fields, more than the limit of %d (--max-query-complexity); select fewer fields or page lists with first", cost, cfg.MaxComplexity)))
		}
		ctx = withGraph(ctx, g)
		ctx = context.WithValue(ctx, mailboxKey{}, &mailbox{})
		if oc.Operation.Operation == ast.Subscription {
			release, err := subs.acquire(ctx)
			if err != nil {
				return graphql.OneShot(limitResponse(err.Error()))
			}
			resp := next(ctx)
			return func(ctx context.Context) *graphql.Response {
				r := resp(ctx)
				if r == nil {
					release()
				}
				return r
			}
		}
		ctx, cancel := context.WithTimeoutCause(ctx, cfg.QueryTimeout, errQueryTimeout{cfg.QueryTimeout})
		ctx = context.WithValue(ctx, guardKey{}, &guard{maxFields: int64(cfg.MaxComplexity)})
		resp := next(ctx)
		return func(ctx context.Context) *graphql.Response {
			defer cancel()
			return resp(ctx)
		}
	})
	srv.AroundFields(aroundField)
	srv.AroundResponses(func(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
		resp := replaceTripped(ctx, streamErrors(ctx, next))
		if resp != nil && len(resp.Data) > cfg.MaxResponseBytes {
			return limitResponse(limitMessage("the answer has %d bytes, more than the limit of %d bytes (--max-response-bytes); select fewer fields or page lists with first", len(resp.Data), cfg.MaxResponseBytes))
		}
		return resp
	})
	return withConnection(srv)
}

// errQueryTimeout is the cause of a query's context when its deadline
// passes.
type errQueryTimeout struct{ d time.Duration }

func (e errQueryTimeout) Error() string {
	return fmt.Sprintf("query timed out after %s (the per-query deadline, --query-timeout)", e.d)
}

func deadlineMessage(ctx context.Context) string {
	var e errQueryTimeout
	if errors.As(context.Cause(ctx), &e) {
		return e.Error()
	}
	return "query stopped: " + context.Cause(ctx).Error()
}

// limitMessage formats the message of a refused or stopped operation.
func limitMessage(format string, args ...any) string { return fmt.Sprintf(format, args...) }

// limitResponse is the answer of an operation refused or stopped by a
// limit: no data, one error with the limit's name and value, and the
// extension code LIMIT so clients can tell it from a failure.
func limitResponse(msg string) *graphql.Response {
	return &graphql.Response{Errors: gqlerror.List{{Message: msg, Extensions: map[string]any{"code": "LIMIT"}}}}
}

// connKey holds the per-websocket state of a request's context.
type connKey struct{}

// conn counts one websocket's open subscriptions.
type conn struct{ subs atomic.Int64 }

// withConnection gives every websocket request its own subscription
// counter.
func withConnection(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			r = r.WithContext(context.WithValue(r.Context(), connKey{}, &conn{}))
		}
		h.ServeHTTP(w, r)
	})
}

// subscriptions caps open subscriptions per websocket and in all.
type subscriptions struct {
	perConn, max int
	open         atomic.Int64
}

// acquire counts a new subscription, or says which cap refuses it. The
// release it returns runs once, at the subscription's end or when its
// context ends, whichever comes first.
func (s *subscriptions) acquire(ctx context.Context) (func(), error) {
	c, _ := ctx.Value(connKey{}).(*conn)
	if c != nil && c.subs.Add(1) > int64(s.perConn) {
		c.subs.Add(-1)
		return nil, fmt.Errorf("too many subscriptions on this connection: the limit is %d (--max-subscriptions-per-connection)", s.perConn)
	}
	if s.open.Add(1) > int64(s.max) {
		s.open.Add(-1)
		if c != nil {
			c.subs.Add(-1)
		}
		return nil, fmt.Errorf("too many subscriptions open on this server: the limit is %d (--max-subscriptions)", s.max)
	}
	var once sync.Once
	release := func() {
		once.Do(func() {
			s.open.Add(-1)
			if c != nil {
				c.subs.Add(-1)
			}
		})
	}
	context.AfterFunc(ctx, release)
	return release, nil
}

// streamErrors replaces a subscription response that carried a nil
// operation with the error its resolver left in the mailbox.
func streamErrors(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	if resp == nil {
		return nil
	}
	oc := graphql.GetOperationContext(ctx)
	if oc == nil || oc.Operation == nil || oc.Operation.Operation != ast.Subscription {
		return resp
	}
	if mb := mailboxOf(ctx); mb != nil {
		if err := mb.pop(); err != nil {
			resp.Data = []byte("null")
			resp.Errors = gqlerror.List{{Message: err.Error(), Path: ast.Path{ast.PathName("watchProcessor")}}}
		}
	}
	return resp
}

// depthLimit rejects operations whose selections nest deeper than max.
type depthLimit struct{ max int }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = depthLimit{}

func (depthLimit) ExtensionName() string                   { return "DepthLimit" }
func (depthLimit) Validate(graphql.ExecutableSchema) error { return nil }
func (d depthLimit) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	if depth := selectionDepth(oc.Operation.SelectionSet, 0, d.max); depth > d.max {
		return gqlerror.Errorf("operation is nested %d levels deep or more, more than the limit of %d", depth, d.max)
	}
	return nil
}

// selectionDepth returns the depth of set (fields nested in fields),
// stopping once it passes limit so a hostile fragment cycle costs nothing.
func selectionDepth(set ast.SelectionSet, depth, limit int) int {
	if depth > limit {
		return depth
	}
	max := depth
	for _, s := range set {
		var d int
		switch s := s.(type) {
		case *ast.Field:
			d = selectionDepth(s.SelectionSet, depth+1, limit)
		case *ast.InlineFragment:
			d = selectionDepth(s.SelectionSet, depth, limit)
		case *ast.FragmentSpread:
			if s.Definition != nil {
				d = selectionDepth(s.Definition.SelectionSet, depth, limit)
			}
		}
		if d > max {
			max = d
		}
	}
	return max
}
