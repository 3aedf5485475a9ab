// Package scrape runs discovery's scrape loop: every interval each target
// is called (Ping, then GetServiceInfo under either WIRE.md name) with
// bounded concurrency and a deadline per call, and what it answers replaces
// what it answered before in the store. A target that hangs, refuses or
// answers garbage is recorded as failing and never holds up or crashes the
// others; targets that disappear are removed with everything only they
// reported.
package scrape

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	discoverv1 "github.com/kafmesh/kafmesh/api/discover/v1"
	discoveryv1 "github.com/kafmesh/kafmesh/api/discovery/v1"
	pingv1 "github.com/kafmesh/kafmesh/api/ping/v1"
	"github.com/kafmesh/kafmesh/internal/discovery/mesh"
	"github.com/kafmesh/kafmesh/internal/discovery/store"
	"github.com/kafmesh/kafmesh/internal/discovery/targets"
)

// Defaults of New.
const (
	DefaultInterval     = time.Minute
	DefaultTimeout      = 10 * time.Second
	DefaultConcurrency  = 32
	DefaultStoreTimeout = 30 * time.Second
)

// Scraper scrapes targets into a store.
type Scraper struct {
	store        store.Store
	sources      []targets.Source
	interval     time.Duration
	timeout      time.Duration
	storeTimeout time.Duration
	concurrency  int
	logger       *slog.Logger
	metrics      *metrics
	dialOpts     []grpc.DialOption
	hooks        []func(Round)
	now          func() time.Time

	mu    sync.Mutex
	conns map[string]*grpc.ClientConn // address → connection, reused across rounds
	known map[string]bool             // target ids of the last round
	// failing is each failing target's last logged reason: a target is
	// logged when it starts failing, when its reason changes, and when it
	// answers again, not every round.
	failing map[string]string
}

// Option configures New.
type Option func(*Scraper)

// WithInterval sets the time between the starts of two rounds (default 1m).
func WithInterval(d time.Duration) Option { return func(s *Scraper) { s.interval = d } }

// WithTimeout sets the deadline of each call to a target (default 10s).
func WithTimeout(d time.Duration) Option { return func(s *Scraper) { s.timeout = d } }

// WithStoreTimeout sets the deadline of each store write (default 30s).
func WithStoreTimeout(d time.Duration) Option { return func(s *Scraper) { s.storeTimeout = d } }

// WithConcurrency sets how many targets are scraped at once (default 32).
func WithConcurrency(n int) Option { return func(s *Scraper) { s.concurrency = n } }

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(s *Scraper) { s.logger = l } }

// WithRegisterer registers the scraper's metrics on r.
func WithRegisterer(r prometheus.Registerer) Option {
	return func(s *Scraper) { s.metrics = newMetrics(r) }
}

// WithDialOptions adds gRPC dial options (e.g. TLS credentials; the
// default is plaintext).
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(s *Scraper) { s.dialOpts = append(s.dialOpts, opts...) }
}

// OnRound calls f after every round, with its outcome.
func OnRound(f func(Round)) Option { return func(s *Scraper) { s.hooks = append(s.hooks, f) } }

// WithClock replaces time.Now (for tests).
func WithClock(now func() time.Time) Option { return func(s *Scraper) { s.now = now } }

// New returns a scraper of sources into st.
func New(st store.Store, sources []targets.Source, opts ...Option) *Scraper {
	s := &Scraper{
		store: st, sources: sources,
		interval: DefaultInterval, timeout: DefaultTimeout, storeTimeout: DefaultStoreTimeout, concurrency: DefaultConcurrency,
		logger: slog.New(slog.DiscardHandler), now: time.Now,
		conns: map[string]*grpc.ClientConn{}, known: map[string]bool{},
	}
	for _, o := range opts {
		o(s)
	}
	if s.metrics == nil {
		s.metrics = newMetrics(nil)
	}
	if s.concurrency < 1 {
		s.concurrency = 1
	}
	return s
}

// Round is the outcome of scraping every target once.
type Round struct {
	Started  time.Time
	Duration time.Duration
	// Results has one entry per target, sorted by target id.
	Results []Result
	// Complete is false when a source failed; then no pod was removed.
	Complete bool
	// SourceErrors are the failures of sources.
	SourceErrors []error
	// Removed is what removing vanished pods changed.
	Removed store.Change
	// RemoveErr is the store's error when removing failed.
	RemoveErr error
}

// Failed counts the results with an error.
func (r Round) Failed() int {
	n := 0
	for _, x := range r.Results {
		if x.Err != nil {
			n++
		}
	}
	return n
}

// Changed reports whether the round changed the stored mesh.
func (r Round) Changed() bool {
	if !r.Removed.Empty() {
		return true
	}
	for _, x := range r.Results {
		if !x.Change.Empty() {
			return true
		}
	}
	return false
}

// Result is the outcome of scraping one target.
type Result struct {
	Target   targets.Target
	Err      error
	Stage    string // where it failed: ping, get_service_info, invalid, store, panic
	Change   store.Change
	Duration time.Duration
}

// Run scrapes at once, then every interval, until ctx ends; it returns
// ctx's error. Rounds never overlap: a round longer than the interval
// delays the next.
func (s *Scraper) Run(ctx context.Context) error {
	defer s.closeConns()
	for {
		start := time.Now()
		s.Round(ctx)
		wait := s.interval - time.Since(start)
		if wait < 0 {
			wait = 0
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// Round scrapes every target once, removes the pods that are gone (when
// every source answered), and returns the outcome.
func (s *Scraper) Round(ctx context.Context) Round {
	r := Round{Started: s.now()}
	start := time.Now()
	all, complete, errs := targets.Collect(ctx, s.sources)
	r.Complete, r.SourceErrors = complete, errs
	for _, err := range errs {
		if errors.Is(err, targets.ErrNotSynced) {
			s.logger.Info("target source not ready; pods are not removed this round", "error", err)
		} else {
			s.logger.Warn("target source failed; pods are not removed this round", "error", err)
		}
	}
	s.metrics.targets.Set(float64(len(all)))

	r.Results = make([]Result, len(all))
	sem := make(chan struct{}, s.concurrency)
	var wg sync.WaitGroup
	for i, t := range all {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			r.Results[i] = Result{Target: t, Err: ctx.Err(), Stage: "cancelled"}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			r.Results[i] = s.scrapeOne(ctx, t)
		}()
	}
	wg.Wait()

	if complete && ctx.Err() == nil {
		keep := make([]string, len(all))
		for i, t := range all {
			keep[i] = t.ID
		}
		sctx, cancel := context.WithTimeout(ctx, s.storeTimeout)
		r.Removed, r.RemoveErr = s.store.Retain(sctx, keep)
		cancel()
		if r.RemoveErr != nil {
			s.metrics.storeErrs.Inc()
			s.logger.Error("removing vanished pods failed; retrying next round", "error", r.RemoveErr)
		} else if r.Removed.PodsRemoved > 0 {
			s.logger.Info("removed vanished pods", "pods", r.Removed.PodsRemoved, "nodes", r.Removed.NodesRemoved, "edges", r.Removed.EdgesRemoved)
		}
		s.forgetGone(all)
	}

	r.Duration = time.Since(start)
	s.metrics.rounds.Observe(r.Duration.Seconds())
	s.metrics.lastRound.Set(float64(time.Now().Unix()))
	s.logger.Debug("round done", "targets", len(all), "failed", r.Failed(), "duration", r.Duration)
	for _, h := range s.hooks {
		h(r)
	}
	return r
}

// forgetGone closes connections and drops metrics of targets not in all.
func (s *Scraper) forgetGone(all []targets.Target) {
	now := map[string]bool{}
	addrs := map[string]bool{}
	for _, t := range all {
		now[t.ID] = true
		addrs[t.Address] = true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for id := range s.known {
		if !now[id] {
			s.metrics.forget(id)
		}
	}
	s.known = now
	for id := range s.failing {
		if !now[id] {
			delete(s.failing, id)
		}
	}
	for addr, c := range s.conns {
		if !addrs[addr] {
			_ = c.Close()
			delete(s.conns, addr)
		}
	}
}

func (s *Scraper) closeConns() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for addr, c := range s.conns {
		_ = c.Close()
		delete(s.conns, addr)
	}
}

func (s *Scraper) conn(addr string) (*grpc.ClientConn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.conns[addr]; ok {
		return c, nil
	}
	opts := append([]grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64 << 20)),
	}, s.dialOpts...)
	c, err := grpc.NewClient("passthrough:///"+addr, opts...)
	if err != nil {
		return nil, err
	}
	s.conns[addr] = c
	return c, nil
}

// stageError is an error tagged with the stage that failed.
type stageError struct {
	stage string
	err   error
}

func (e *stageError) Error() string { return e.stage + ": " + e.err.Error() }
func (e *stageError) Unwrap() error { return e.err }

// scrapeOne scrapes t and records the outcome. It never panics: a panic
// while handling a target's answer is recorded as that target's failure.
func (s *Scraper) scrapeOne(ctx context.Context, t targets.Target) (res Result) {
	start := time.Now()
	at := s.now()
	res.Target = t
	defer func() {
		if p := recover(); p != nil {
			res.Err, res.Stage = fmt.Errorf("panic while scraping: %v", p), "panic"
			s.logger.Error("panic while scraping; recorded as a failed scrape", "target", t.ID, "panic", p, "stack", string(debug.Stack()))
			s.recordFailure(ctx, t, at, res.Err)
		}
		res.Duration = time.Since(start)
		s.metrics.duration.WithLabelValues(t.ID).Observe(res.Duration.Seconds())
		result := "ok"
		up := 1.0
		if res.Err != nil {
			result, up = "error", 0
			s.metrics.failures.WithLabelValues(t.ID, res.Stage).Inc()
		}
		s.metrics.scrapes.WithLabelValues(t.ID, result).Inc()
		s.metrics.up.WithLabelValues(t.ID).Set(up)
		s.logState(t, res.Err)
	}()

	tree, err := s.fetch(ctx, t)
	if err != nil {
		var se *stageError
		res.Stage = "invalid"
		if errors.As(err, &se) {
			res.Stage = se.stage
		}
		res.Err = err
		s.logger.Debug("scrape failed", "target", t.ID, "address", t.Address, "error", err)
		if ferr := s.recordFailure(ctx, t, at, err); ferr != nil {
			res.Stage = "store"
		}
		return res
	}
	sctx, cancel := context.WithTimeout(ctx, s.storeTimeout)
	defer cancel()
	res.Change, err = s.store.Report(sctx, t.Pod(), at, tree)
	if err != nil {
		res.Err, res.Stage = err, "store"
		s.metrics.storeErrs.Inc()
		s.logger.Error("store write failed; the pod keeps its previous data", "target", t.ID, "error", err)
		return res
	}
	if !res.Change.Unchanged {
		s.logger.Info("pod reported a changed service", "target", t.ID, "service", tree.Service,
			"nodes_added", res.Change.NodesAdded, "nodes_updated", res.Change.NodesUpdated, "nodes_removed", res.Change.NodesRemoved,
			"edges_added", res.Change.EdgesAdded, "edges_removed", res.Change.EdgesRemoved)
	}
	return res
}

// logState logs a target's failure at warn level when it starts or its
// reason changes, and its recovery at info level; nothing while it stays
// the same.
func (s *Scraper) logState(t targets.Target, err error) {
	reason := ""
	if err != nil {
		reason = err.Error()
	}
	s.mu.Lock()
	prev, was := s.failing[t.ID]
	if reason == "" {
		delete(s.failing, t.ID)
	} else {
		if s.failing == nil {
			s.failing = map[string]string{}
		}
		s.failing[t.ID] = reason
	}
	s.mu.Unlock()
	switch {
	case reason != "" && prev != reason:
		s.logger.Warn("target failing", "target", t.ID, "address", t.Address, "reason", reason)
	case reason == "" && was:
		s.logger.Info("target answers again", "target", t.ID, "address", t.Address)
	}
}

// callError names a call that ran out of its deadline as a timeout (a
// hanging target otherwise surfaces as whatever the cancelled connection
// reported, such as "use of closed network connection").
func (s *Scraper) callError(ctx context.Context, err error) error {
	if err != nil && (errors.Is(ctx.Err(), context.DeadlineExceeded) || status.Code(err) == codes.DeadlineExceeded) {
		return fmt.Errorf("timed out after %s", s.timeout)
	}
	return err
}

func (s *Scraper) recordFailure(ctx context.Context, t targets.Target, at time.Time, cause error) error {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.storeTimeout)
	defer cancel()
	if err := s.store.Fail(sctx, t.Pod(), at, cause.Error()); err != nil {
		s.metrics.storeErrs.Inc()
		s.logger.Error("store write failed", "target", t.ID, "error", err)
		return err
	}
	return nil
}

// fetch calls Ping then GetServiceInfo (kafmesh.discovery.v1.DiscoveryAPI,
// falling back to kafmesh.discover.v1.Discover when the target does not
// implement it), each under its own deadline, and converts the answer.
func (s *Scraper) fetch(ctx context.Context, t targets.Target) (*mesh.Tree, error) {
	conn, err := s.conn(t.Address)
	if err != nil {
		return nil, &stageError{"dial", err}
	}
	pctx, cancel := context.WithTimeout(ctx, s.timeout)
	_, err = pingv1.NewPingAPIClient(conn).Ping(pctx, &pingv1.PingRequest{})
	err = s.callError(pctx, err)
	cancel()
	// A service without Ping still answers gRPC; only a call that did not
	// get through fails the scrape.
	if err != nil && status.Code(err) != codes.Unimplemented {
		return nil, &stageError{"ping", err}
	}
	gctx, cancel := context.WithTimeout(ctx, s.timeout)
	resp, err := discoveryv1.NewDiscoveryAPIClient(conn).GetServiceInfo(gctx, &discoveryv1.GetServiceInfoRequest{})
	err = s.callError(gctx, err)
	cancel()
	if status.Code(err) == codes.Unimplemented {
		gctx, cancel := context.WithTimeout(ctx, s.timeout)
		resp, err = discoverv1.NewDiscoverClient(conn).GetServiceInfo(gctx, &discoveryv1.GetServiceInfoRequest{})
		err = s.callError(gctx, err)
		cancel()
	}
	if err != nil {
		return nil, &stageError{"get_service_info", err}
	}
	tree, err := mesh.FromService(resp.GetService())
	if err != nil {
		return nil, &stageError{"invalid", err}
	}
	return tree, nil
}
