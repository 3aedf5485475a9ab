// Package server is discovery's HTTP side: the GraphQL API at /query (POST
// and websockets), /healthz, /readyz and /metrics, and an optional web UI at
// /. The API is read-only unless it requires a bearer token (WithToken):
// only then are its mutations (resetGroupOffsets) enabled. It answers pages
// of other origins only when they are configured (CORS).
package server

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/kafmesh/kafmesh/internal/discovery/graph"
	"github.com/kafmesh/kafmesh/internal/discovery/mesh"
	"github.com/kafmesh/kafmesh/internal/export"
)

// Server serves discovery over HTTP.
type Server struct {
	snapshot       func(context.Context) (*mesh.Graph, error)
	watch          graph.WatchFunc
	lag            graph.LagSource
	settings       graph.TopicSettingsSource
	records        graph.RecordSource
	token          string
	allowedOrigins []string
	maxDepth       int
	maxComplexity  int
	ui             http.Handler
	gatherer       prometheus.Gatherer
	ready          func(context.Context) error
	logger         *slog.Logger
	status         func() graph.MeshStatus
	limits         Limits
	allowedHosts   []string
	tlsCert        string
	tlsKey         string
	wsPerClient    *clientCounter
	legacyIDs      *graph.LegacyIDs
}

// Limits bound what one client can make the server do. A zero field keeps
// its default.
type Limits struct {
	// MaxBodyBytes caps a request body (default 1 MiB); a larger one gets
	// 413 before it is read.
	MaxBodyBytes int64
	// ReadHeaderTimeout (default 10 s) and ReadTimeout (default 30 s) bound
	// reading a request's headers and the whole request; a client that
	// sends slowly is cut off.
	ReadHeaderTimeout, ReadTimeout time.Duration
	// WriteTimeout bounds a non-streaming answer (default 30 s); websockets
	// are exempt.
	WriteTimeout time.Duration
	// IdleTimeout closes keep-alive connections idle that long (default
	// 120 s).
	IdleTimeout time.Duration
	// QueryTimeout is the deadline of one GraphQL query (default 10 s).
	QueryTimeout time.Duration
	// MaxResponseBytes caps one GraphQL answer (default 32 MiB).
	MaxResponseBytes int
	// InitTimeout closes websockets that send no connection_init in time
	// (default 10 s).
	InitTimeout time.Duration
	// MaxWebsocketsPerClient caps the websockets one client IP has open
	// (default 10).
	MaxWebsocketsPerClient int
	// MaxSubscriptionsPerConn and MaxSubscriptions cap open subscriptions
	// per websocket and in all (defaults 20 and 200).
	MaxSubscriptionsPerConn, MaxSubscriptions int
}

// Defaults of Limits.
const (
	DefaultMaxBodyBytes           = 1 << 20
	DefaultReadHeaderTimeout      = 10 * time.Second
	DefaultReadTimeout            = 30 * time.Second
	DefaultWriteTimeout           = 30 * time.Second
	DefaultIdleTimeout            = 120 * time.Second
	DefaultMaxWebsocketsPerClient = 10
)

func (l *Limits) defaults() {
	if l.MaxBodyBytes <= 0 {
		l.MaxBodyBytes = DefaultMaxBodyBytes
	}
	for _, d := range []struct {
		v *time.Duration
		d time.Duration
	}{{&l.ReadHeaderTimeout, DefaultReadHeaderTimeout}, {&l.ReadTimeout, DefaultReadTimeout}, {&l.WriteTimeout, DefaultWriteTimeout}, {&l.IdleTimeout, DefaultIdleTimeout}} {
		if *d.v <= 0 {
			*d.v = d.d
		}
	}
	if l.MaxWebsocketsPerClient <= 0 {
		l.MaxWebsocketsPerClient = DefaultMaxWebsocketsPerClient
	}
}

// WithHTTPLimits sets the request, time and websocket limits (zero fields
// keep their defaults).
func WithHTTPLimits(l Limits) Option { return func(s *Server) { s.limits = l } }

// WithAllowedHosts adds host names (path.Match patterns, without port)
// the server answers as, besides loopback names (localhost, *.localhost)
// and IP addresses, which it always answers. A request whose Host is
// anything else gets 403: a page whose DNS name was rebound to this
// server's address cannot read it.
func WithAllowedHosts(patterns ...string) Option {
	return func(s *Server) { s.allowedHosts = append(s.allowedHosts, patterns...) }
}

// WithTLS serves HTTPS with the certificate and key in these PEM files.
func WithTLS(certFile, keyFile string) Option {
	return func(s *Server) { s.tlsCert, s.tlsKey = certFile, keyFile }
}

// WithStatus answers Query.meshStatus from f.
func WithStatus(f func() graph.MeshStatus) Option { return func(s *Server) { s.status = f } }

// Option configures New.
type Option func(*Server)

// WithWatch enables the watchProcessor subscription.
func WithWatch(w graph.WatchFunc) Option { return func(s *Server) { s.watch = w } }

// WithLag answers Processor.lag and Topic.recordsPerSecond from src (a
// lag.Monitor).
func WithLag(src graph.LagSource) Option { return func(s *Server) { s.lag = src } }

// WithTopicSettings answers Topic.settings and Query.kafka from src (a
// topicsettings.Monitor).
func WithTopicSettings(src graph.TopicSettingsSource) Option {
	return func(s *Server) { s.settings = src }
}

// WithRecords answers Query.topicRecords (the topic browser) from src (a
// records.Reader). Record values are the mesh's data: give discover a
// token (WithToken) wherever the page is reachable by people who should
// not read them; every query, this one included, then needs it.
func WithRecords(src graph.RecordSource) Option { return func(s *Server) { s.records = src } }

// WithToken requires "Authorization: Bearer <token>" on /query. Browsers
// cannot set headers on websockets, so a websocket may instead send the
// token in its connection_init payload as {"Authorization": "Bearer
// <token>"} (or {"authToken": "<token>"}). /healthz, /readyz, /metrics and
// the UI's static files stay open.
func WithToken(token string) Option { return func(s *Server) { s.token = token } }

// WithAllowedOrigins lets pages of these other origins call /query (CORS
// for POST, origin check for websockets). Patterns match the origin's
// host[:port] with path.Match syntax ("ui.example.com",
// "*.example.com"). Without it only same-origin pages may call.
func WithAllowedOrigins(patterns ...string) Option {
	return func(s *Server) { s.allowedOrigins = append(s.allowedOrigins, patterns...) }
}

// WithLegacyIDs lets serviceById and componentById answer the numeric ids
// of the 2021 discovery, mapped by ids (graph.ReadLegacyIDs).
func WithLegacyIDs(ids *graph.LegacyIDs) Option { return func(s *Server) { s.legacyIDs = ids } }

// WithLimits sets the GraphQL depth and complexity limits (0 keeps a
// default).
func WithLimits(maxDepth, maxComplexity int) Option {
	return func(s *Server) { s.maxDepth, s.maxComplexity = maxDepth, maxComplexity }
}

// WithUI serves h at / (every path the API does not use).
func WithUI(h http.Handler) Option { return func(s *Server) { s.ui = h } }

// WithUIFS serves the files of fsys at /, a single-page app: a path that
// names no file and has no extension gets index.html.
func WithUIFS(fsys fs.FS) Option { return WithUI(spa(fsys)) }

// WithMetrics serves g at /metrics.
func WithMetrics(g prometheus.Gatherer) Option { return func(s *Server) { s.gatherer = g } }

// WithReadiness makes /readyz answer 503 while f returns an error.
func WithReadiness(f func(context.Context) error) Option { return func(s *Server) { s.ready = f } }

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(s *Server) { s.logger = l } }

// New returns a server answering GraphQL from snapshot.
func New(snapshot func(context.Context) (*mesh.Graph, error), opts ...Option) *Server {
	s := &Server{snapshot: snapshot, logger: slog.New(slog.DiscardHandler), wsPerClient: &clientCounter{open: map[string]int{}}}
	for _, o := range opts {
		o(s)
	}
	s.limits.defaults()
	return s
}

// Handler returns the HTTP handler of every endpoint.
func (s *Server) Handler() http.Handler {
	gql := graph.NewHandler(graph.HandlerConfig{
		Snapshot: s.snapshot, Watch: s.watch, Lag: s.lag, TopicSettings: s.settings,
		Status: s.status, Records: s.records,
		MaxDepth: s.maxDepth, MaxComplexity: s.maxComplexity,
		MaxResponseBytes: s.limits.MaxResponseBytes, QueryTimeout: s.limits.QueryTimeout,
		InitTimeout:             s.limits.InitTimeout,
		MaxSubscriptionsPerConn: s.limits.MaxSubscriptionsPerConn, MaxSubscriptions: s.limits.MaxSubscriptions,
		AllowedOrigins: s.allowedOrigins,
		InitFunc:       s.initFunc(),
		Logger:         s.logger,
		AllowMutations: s.token != "",
		LegacyIDs:      s.legacyIDs,
	})
	mux := http.NewServeMux()
	mux.Handle("/query", s.bodyLimit(s.websockets(s.cors(s.auth(gql)))))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /export/{format}", s.auth(export.Handler(export.GraphSource{Snapshot: s.snapshot, Partitions: s.partitions}, export.Options{})))
	if s.gatherer != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(s.gatherer, promhttp.HandlerOpts{}))
	}
	if s.ui != nil {
		mux.Handle("/", s.ui)
	} else {
		mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			_, _ = w.Write([]byte("kafmesh discover: GraphQL at /query (POST, websocket); /healthz, /readyz, /metrics\n"))
		})
	}
	return s.hostCheck(secureHeaders(mux))
}

// Serve listens on addr and serves until ctx ends, then shuts down,
// giving open requests up to 10 s. ready, if not nil, receives the bound
// address once listening (useful with port 0).
func (s *Server) Serve(ctx context.Context, addr string, ready func(net.Addr)) error {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: s.limits.ReadHeaderTimeout,
		ReadTimeout:       s.limits.ReadTimeout,
		WriteTimeout:      s.limits.WriteTimeout,
		IdleTimeout:       s.limits.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelDebug),
	}
	if s.tlsCert != "" || s.tlsKey != "" {
		cert, err := tls.LoadX509KeyPair(s.tlsCert, s.tlsKey)
		if err != nil {
			_ = lis.Close()
			return fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
		lis = tls.NewListener(lis, srv.TLSConfig)
	}
	if ready != nil {
		ready(lis.Addr())
	}
	s.logger.Info("serving", "address", lis.Addr().String(), "tls", srv.TLSConfig != nil)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(lis) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if s.ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		if err := s.ready(ctx); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("not ready: " + err.Error() + "\n"))
			return
		}
	}
	_, _ = w.Write([]byte("ready\n"))
}

func secureHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "same-origin")
		h.ServeHTTP(w, r)
	})
}

// tokenOK compares a presented credential ("Bearer x" or "x") with the
// token in constant time.
func (s *Server) tokenOK(presented string) bool {
	presented = strings.TrimSpace(presented)
	if len(presented) > 7 && strings.EqualFold(presented[:7], "bearer ") {
		presented = strings.TrimSpace(presented[7:])
	}
	return subtle.ConstantTimeCompare([]byte(presented), []byte(s.token)) == 1
}

func isWebsocket(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

// auth checks the bearer token on /query. A websocket upgrade without the
// header is let through: its connection_init must carry the token.
func (s *Server) auth(next http.Handler) http.Handler {
	if s.token == "" {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions {
			next.ServeHTTP(w, r)
			return
		}
		h := r.Header.Get("Authorization")
		if h == "" && isWebsocket(r) {
			next.ServeHTTP(w, r)
			return
		}
		if !s.tokenOK(h) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="kafmesh discover"`)
			http.Error(w, "missing or wrong bearer token", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r.WithContext(withAuthorized(r.Context())))
	})
}

type authorizedKey struct{}

func withAuthorized(ctx context.Context) context.Context {
	return context.WithValue(ctx, authorizedKey{}, true)
}

// initFunc checks a websocket's connection_init payload when a token is
// required and the upgrade request did not carry it.
func (s *Server) initFunc() transport.WebsocketInitFunc {
	if s.token == "" {
		return nil
	}
	return func(ctx context.Context, p transport.InitPayload) (context.Context, *transport.InitPayload, error) {
		if ok, _ := ctx.Value(authorizedKey{}).(bool); ok {
			return ctx, nil, nil
		}
		for _, key := range []string{"Authorization", "authorization", "authToken"} {
			if v, ok := p[key].(string); ok && s.tokenOK(v) {
				return ctx, nil, nil
			}
		}
		return ctx, nil, errors.New("missing or wrong bearer token")
	}
}

// cors lets pages of the allowed other origins call /query (answering
// their preflight and setting Access-Control-Allow-Origin); every other
// request goes through Go's cross-origin protection, which refuses
// cross-origin POSTs (by Sec-Fetch-Site, or Origin against Host).
// Websocket upgrades are GETs: the websocket transport checks their Origin.
func (s *Server) cors(next http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "cross-origin request not allowed (add the page's host to --allowed-origins)", http.StatusForbidden)
	}))
	protected := cop.Handler(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" || isWebsocket(r) || sameOrigin(origin, r.Host) {
			protected.ServeHTTP(w, r)
			return
		}
		if !s.originAllowed(origin) {
			http.Error(w, "cross-origin request not allowed (add the page's host to --allowed-origins)", http.StatusForbidden)
			return
		}
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", origin)
		h.Add("Vary", "Origin")
		if r.Method == http.MethodOptions {
			h.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func originHost(origin string) string {
	u, err := url.Parse(origin)
	if err != nil {
		return ""
	}
	return u.Host
}

func sameOrigin(origin, host string) bool { return strings.EqualFold(originHost(origin), host) }

func (s *Server) originAllowed(origin string) bool {
	host := strings.ToLower(originHost(origin))
	if host == "" {
		return false
	}
	for _, p := range s.allowedOrigins {
		if ok, _ := path.Match(strings.ToLower(p), host); ok {
			return true
		}
	}
	return false
}

// spa serves fsys as a single-page app.
func spa(fsys fs.FS) http.Handler {
	files := http.FileServerFS(fsys)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(path.Clean(r.URL.Path), "/")
		if name == "" {
			name = "."
		}
		if _, err := fs.Stat(fsys, name); err != nil && path.Ext(name) == "" {
			r2 := r.Clone(r.Context())
			r2.URL.Path = "/"
			files.ServeHTTP(w, r2)
			return
		}
		files.ServeHTTP(w, r)
	})
}

// partitions is a topic's partition count as the brokers last reported it
// (0 without --brokers or before the first read), for /export.
func (s *Server) partitions(topic string) int32 {
	if s.settings == nil {
		return 0
	}
	if st, ok := s.settings.Topic(topic); ok {
		return int32(st.Partitions)
	}
	return 0
}
