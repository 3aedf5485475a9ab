package graph

import (
	"context"
	"log/slog"
	"time"

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
	DefaultMaxDepth      = 15
	DefaultMaxComplexity = 5000
)

// HandlerConfig configures NewHandler.
type HandlerConfig struct {
	// Snapshot returns the mesh to answer an operation from; it is called
	// once per operation. Required.
	Snapshot func(ctx context.Context) (*mesh.Graph, error)
	// Watch opens processor watches; nil disables watchProcessor.
	Watch WatchFunc
	// Lag answers Processor.lag and Topic.recordsPerSecond; nil leaves them
	// null.
	Lag LagSource
	// TopicSettings answers Topic.settings and Query.kafka; nil leaves
	// them null.
	TopicSettings TopicSettingsSource
	// MaxDepth rejects operations nested deeper (default 15; fragments
	// count as their fields). MaxComplexity rejects operations whose
	// complexity (one per field) is higher (default 5000).
	MaxDepth, MaxComplexity int
	// AllowedOrigins are host patterns (path.Match syntax, e.g.
	// "ui.example.com" or "*.example.com") of other origins whose pages may
	// open a websocket. Default: same origin only.
	AllowedOrigins []string
	// InitFunc checks the websocket connection_init payload (for example a
	// bearer token); nil accepts every connection.
	InitFunc transport.WebsocketInitFunc
	// Logger logs panics in resolvers.
	Logger *slog.Logger
}

// NewHandler returns the GraphQL endpoint: POST (application/json) and
// websockets (graphql-transport-ws and the older graphql-ws protocol), with
// the depth and complexity limits, introspection on, and no mutations (the
// schema has none).
func NewHandler(cfg HandlerConfig) *handler.Server {
	if cfg.MaxDepth <= 0 {
		cfg.MaxDepth = DefaultMaxDepth
	}
	if cfg.MaxComplexity <= 0 {
		cfg.MaxComplexity = DefaultMaxComplexity
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	es := NewExecutableSchema(Config{Resolvers: &Resolver{watch: cfg.Watch, lag: cfg.Lag, settings: cfg.TopicSettings}})
	srv := handler.New(es)
	srv.AddTransport(transport.Websocket{
		KeepAlivePingInterval: 15 * time.Second,
		Implementation: transport.CoderWebsocketImplementation{
			AcceptOptions: coderws.AcceptOptions{OriginPatterns: cfg.AllowedOrigins},
		},
		InitFunc: cfg.InitFunc,
	})
	srv.AddTransport(transport.POST{})
	srv.Use(extension.Introspection{})
	srv.Use(extension.FixedComplexityLimit(cfg.MaxComplexity))
	srv.Use(depthLimit{max: cfg.MaxDepth})
	srv.SetRecoverFunc(func(ctx context.Context, p any) error {
		cfg.Logger.Error("panic in a GraphQL resolver", "panic", p)
		return gqlerror.Errorf("internal error")
	})

	srv.AroundOperations(func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		g, err := cfg.Snapshot(ctx)
		if err != nil {
			cfg.Logger.Error("reading the mesh failed", "error", err)
			return graphql.OneShot(graphql.ErrorResponse(ctx, "reading the mesh failed: %v", err))
		}
		ctx = withGraph(ctx, g)
		ctx = context.WithValue(ctx, mailboxKey{}, &mailbox{})
		return next(ctx)
	})
	srv.AroundResponses(streamErrors)
	return srv
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
