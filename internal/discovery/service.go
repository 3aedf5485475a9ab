package discovery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"

	"github.com/kafmesh/kafmesh/internal/discovery/graph"
	"github.com/kafmesh/kafmesh/internal/discovery/lag"
	"github.com/kafmesh/kafmesh/internal/discovery/mesh"
	"github.com/kafmesh/kafmesh/internal/discovery/scrape"
	"github.com/kafmesh/kafmesh/internal/discovery/server"
	"github.com/kafmesh/kafmesh/internal/discovery/store"
	"github.com/kafmesh/kafmesh/internal/discovery/targets"
	"github.com/kafmesh/kafmesh/internal/discovery/topicsettings"
	"github.com/kafmesh/kafmesh/internal/discovery/watch"
)

// syncTimeout bounds how long Run waits for the pod informers' first list.
const syncTimeout = time.Minute

// Service is a running `kafmesh discover`: a scraper writing the store and
// a server reading it.
type Service struct {
	store    store.Store
	sources  []targets.Source
	starters []func(context.Context)
	syncs    []func(context.Context) error
	logger   *slog.Logger
	registry *prometheus.Registry

	lag        *lag.Monitor
	settings   *topicsettings.Monitor
	scrapeOpts []scrape.Option
	serverOpts []server.Option
	dialOpts   []grpc.DialOption
	maxAge     time.Duration

	storeTimeout time.Duration

	mu        sync.Mutex
	cached    *mesh.Graph
	cachedAt  time.Time
	last      *mesh.Graph // the last graph read, served while the store fails
	lastAt    time.Time
	failSince time.Time // start of the current store outage; zero when none
	failAt    time.Time // last failed read
	failErr   error
	rounds    int
	lastRound scrape.Round
	firstDone chan struct{}
	synced    chan struct{} // closed once every source listed its targets
}

// Option configures New.
type Option func(*Service)

// WithLogger sets the logger of every part.
func WithLogger(l *slog.Logger) Option { return func(s *Service) { s.logger = l } }

// WithSources adds target sources.
func WithSources(src ...targets.Source) Option {
	return func(s *Service) { s.sources = append(s.sources, src...) }
}

// WithKubernetes adds a Kubernetes pod source; its informers start with Run.
func WithKubernetes(k *targets.Kubernetes) Option {
	return func(s *Service) {
		s.sources = append(s.sources, k)
		s.starters = append(s.starters, k.Start)
		s.syncs = append(s.syncs, k.WaitSynced)
	}
}

// WithLag measures the processors' consumer group lag with m (refreshed
// while Run runs) and serves it in GraphQL. Unless WithTopicSettings gives
// a monitor, the topics' settings are read from the same cluster too, every
// topicsettings.DefaultInterval.
func WithLag(m *lag.Monitor) Option { return func(s *Service) { s.lag = m } }

// WithTopicSettings reads the settings of the mesh's topics with m
// (refreshed while Run runs) and serves them in GraphQL (Topic.settings,
// Query.kafka).
func WithTopicSettings(m *topicsettings.Monitor) Option { return func(s *Service) { s.settings = m } }

// WithScrapeOptions passes options to the scraper (interval, timeout,
// concurrency, …).
func WithScrapeOptions(opts ...scrape.Option) Option {
	return func(s *Service) { s.scrapeOpts = append(s.scrapeOpts, opts...) }
}

// WithTargetDialOptions adds gRPC dial options (TLS credentials, for
// targets that serve TLS) to every connection to a target: the scrapes and
// the live watch. The default is plaintext.
func WithTargetDialOptions(opts ...grpc.DialOption) Option {
	return func(s *Service) { s.dialOpts = append(s.dialOpts, opts...) }
}

// WithServerOptions passes options to the HTTP server (token, allowed
// origins, limits, and the web UI: server.WithUI or server.WithUIFS).
func WithServerOptions(opts ...server.Option) Option {
	return func(s *Service) { s.serverOpts = append(s.serverOpts, opts...) }
}

// WithSnapshotMaxAge bounds how long the API answers from a cached read of
// the store (default 10 s); the cache is also dropped after every scrape
// round. It matters when something else writes the store too (several
// discover replicas on one Neo4j).
func WithSnapshotMaxAge(d time.Duration) Option { return func(s *Service) { s.maxAge = d } }

// WithStoreTimeout bounds each read of the store for the API (default
// 3 s). When a read fails, the API answers from the last graph read,
// marked stale (Query.meshStatus), and tries the store again at most once
// a second meanwhile.
func WithStoreTimeout(d time.Duration) Option { return func(s *Service) { s.storeTimeout = d } }

// New returns a service on st. The store is the caller's: Run does not
// close it.
func New(st store.Store, opts ...Option) *Service {
	s := &Service{store: st, logger: slog.New(slog.DiscardHandler), registry: prometheus.NewRegistry(), maxAge: 10 * time.Second, storeTimeout: 3 * time.Second, firstDone: make(chan struct{}), synced: make(chan struct{})}
	for _, o := range opts {
		o(s)
	}
	if s.settings == nil && s.lag != nil {
		s.settings = topicsettings.New(s.lag.Admin(), topicsettings.WithLogger(s.logger.With("part", "topicsettings")))
	}
	s.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// Every store operation (scrape writes, API reads, readiness pings)
	// is timed on the service's registry.
	s.store = store.Instrument(s.store, s.registry)
	return s
}

// Registry is the service's own Prometheus registry, served at /metrics.
func (s *Service) Registry() *prometheus.Registry { return s.registry }

// Snapshot returns the mesh as stored, read at most maxAge ago and not
// before the last scrape round ended. A read of the store that fails or
// takes longer than the store timeout is not an error when a graph was
// read before: that last graph is returned and Status reports it stale.
func (s *Service) Snapshot(ctx context.Context) (*mesh.Graph, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cached != nil && time.Since(s.cachedAt) < s.maxAge {
		return s.cached, nil
	}
	if s.failErr != nil && s.last != nil && time.Since(s.failAt) < time.Second {
		return s.last, nil // in an outage: don't make every request wait
	}
	rctx, cancel := context.WithTimeout(ctx, s.storeTimeout)
	defer cancel()
	g, err := s.store.Graph(rctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if rctx.Err() != nil {
			err = fmt.Errorf("store read timed out after %s: %w", s.storeTimeout, err)
		}
		if s.failErr == nil {
			s.failSince = time.Now()
			s.logger.Warn("reading the store failed; serving the last graph read, marked stale", "error", err, "have_graph", s.last != nil)
		}
		s.failErr, s.failAt = err, time.Now()
		if s.last != nil {
			return s.last, nil
		}
		return nil, err
	}
	if s.failErr != nil {
		s.logger.Info("the store answers again", "outage", time.Since(s.failSince).Round(time.Millisecond))
	}
	s.failErr, s.failSince = nil, time.Time{}
	s.cached, s.cachedAt = g, time.Now()
	s.last, s.lastAt = g, s.cachedAt
	return g, nil
}

// Status says whether Snapshot answers from a current read of the store.
func (s *Service) Status() graph.MeshStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	var st graph.MeshStatus
	if !s.lastAt.IsZero() {
		at := s.lastAt.UTC()
		st.ReadAt = &at
	}
	if s.failErr != nil {
		since, msg := s.failSince.UTC(), s.failErr.Error()
		st.Stale, st.Since, st.Error = true, &since, &msg
	}
	return st
}

func (s *Service) onRound(r scrape.Round) {
	s.mu.Lock()
	s.cached = nil
	s.rounds++
	s.lastRound = r
	first := s.rounds == 1
	s.mu.Unlock()
	if first {
		close(s.firstDone)
	}
	s.logger.Info("scrape round done", "targets", len(r.Results), "failed", r.Failed(), "duration", r.Duration.Round(time.Millisecond), "changed", r.Changed())
}

// Ready reports whether the service answers the truth: every target
// source listed its targets (the Kubernetes informers synced), a first
// scrape round is done, and the store answers.
func (s *Service) Ready(ctx context.Context) error {
	select {
	case <-s.synced:
	default:
		return errors.New("kubernetes pod informer not synced yet")
	}
	select {
	case <-s.firstDone:
	default:
		return errors.New("first scrape round not done")
	}
	if err := s.store.Ping(ctx); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}

// FirstRound is closed when the first scrape round has ended.
func (s *Service) FirstRound() <-chan struct{} { return s.firstDone }

// waitSynced waits for every source's first listing, logging every 10 s
// while it waits; after syncTimeout it goes on with what is known (the
// informers keep trying, and /readyz waits for them). It reports false
// when ctx ended.
func (s *Service) waitSynced(ctx context.Context) bool {
	start := time.Now()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, wait := range s.syncs {
			if wait(ctx) != nil {
				return
			}
		}
		close(s.synced)
		if len(s.syncs) > 0 {
			s.logger.Info("target sources synced", "after", time.Since(start).Round(time.Millisecond))
		}
	}()
	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
	deadline := time.After(syncTimeout)
	for {
		select {
		case <-done:
			return ctx.Err() == nil
		case <-ctx.Done():
			return false
		case <-tick.C:
			s.logger.Warn("waiting for the kubernetes pod informer to list pods (is the API server reachable, and may discover's service account list pods?)", "waited", time.Since(start).Round(time.Second))
		case <-deadline:
			s.logger.Warn("kubernetes pod informer not synced yet; scraping what is known and retrying every round; /readyz stays not ready until it syncs", "after", syncTimeout)
			deadline = nil
			return true
		}
	}
}

// processorGroups lists the consumer groups of the mesh's processors.
func (s *Service) processorGroups(ctx context.Context) ([]string, error) {
	g, err := s.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	for _, p := range g.Nodes(mesh.KindProcessor) {
		if p.GroupName != "" && !seen[p.GroupName] {
			seen[p.GroupName] = true
			out = append(out, p.GroupName)
		}
	}
	return out, nil
}

// meshTopics lists the names of the mesh's topics.
func (s *Service) meshTopics(ctx context.Context) ([]string, error) {
	g, err := s.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, t := range g.Nodes(mesh.KindTopic) {
		out = append(out, t.Name)
	}
	return out, nil
}

// Run scrapes and serves on addr until ctx ends. listening, if not nil,
// receives the bound address. A failure of either half stops both.
func (s *Service) Run(ctx context.Context, addr string, listening func(net.Addr)) error {
	if len(s.sources) == 0 {
		return errors.New("no target source: give --target, --targets-file or --kubernetes")
	}
	for _, start := range s.starters {
		start(ctx)
	}
	scraper := scrape.New(s.store, s.sources, append([]scrape.Option{
		scrape.WithLogger(s.logger.With("part", "scrape")),
		scrape.WithRegisterer(s.registry),
		scrape.OnRound(s.onRound),
		scrape.WithDialOptions(s.dialOpts...),
	}, s.scrapeOpts...)...)
	base := []server.Option{
		server.WithWatch(watch.New(watch.WithLogger(s.logger.With("part", "watch")), watch.WithDialOptions(s.dialOpts...), watch.WithFollow(s.Snapshot, 5*time.Second)).Watch),
		server.WithMetrics(s.registry),
		server.WithReadiness(s.Ready),
		server.WithStatus(s.Status),
		server.WithLogger(s.logger.With("part", "http")),
	}
	if s.lag != nil {
		base = append(base, server.WithLag(s.lag))
	}
	if s.settings != nil {
		base = append(base, server.WithTopicSettings(s.settings))
	}
	srv := server.New(s.Snapshot, append(base, s.serverOpts...)...)

	g, gctx := errgroup.WithContext(ctx)
	if s.lag != nil {
		g.Go(func() error {
			_ = s.lag.RunMesh(gctx, s.processorGroups, s.meshTopics)
			return nil
		})
	}
	if s.settings != nil {
		g.Go(func() error {
			_ = s.settings.Run(gctx, s.meshTopics)
			return nil
		})
	}
	g.Go(func() error {
		// The server (and /healthz) is up already; let the pod informers
		// list the cluster before the first round, so it scrapes every pod
		// instead of none. /readyz says not ready until they have.
		if !s.waitSynced(gctx) {
			return nil
		}
		err := scraper.Run(gctx)
		if errors.Is(err, context.Canceled) {
			return nil
		}
		return err
	})
	g.Go(func() error {
		err := srv.Serve(gctx, addr, listening)
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http %s: %w", addr, err)
		}
		// The server stopped: stop scraping too.
		return context.Canceled
	})
	err := g.Wait()
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
