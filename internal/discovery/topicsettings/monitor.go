package topicsettings

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// DefaultInterval is how often Run reads every topic's settings again:
// topic settings change rarely.
const DefaultInterval = 30 * time.Second

// DefaultNewTopicCheck is how often Run looks for topics it has not asked
// about yet (a service started reporting a new one), so they do not wait a
// whole interval.
const DefaultNewTopicCheck = 2 * time.Second

// Status is how the last reads went.
type Status struct {
	// ReadAt is when a read last reached the cluster; zero before the
	// first.
	ReadAt time.Time
	// Err says why the last read failed (in whole or for some topics);
	// empty when it succeeded.
	Err string
}

// Monitor keeps the latest settings of a set of topics.
type Monitor struct {
	adm      *kadm.Client
	interval time.Duration
	check    time.Duration
	names    []string
	logger   *slog.Logger

	mu     sync.Mutex
	topics map[string]Settings
	asked  map[string]bool // the topics of the last read attempt
	status Status
}

// Option configures New.
type Option func(*Monitor)

// WithInterval sets how often Run reads every topic again (default 30 s).
func WithInterval(d time.Duration) Option { return func(m *Monitor) { m.interval = d } }

// WithNewTopicCheck sets how often Run looks for topics it has not read
// yet (default 2 s).
func WithNewTopicCheck(d time.Duration) Option { return func(m *Monitor) { m.check = d } }

// WithConfigNames sets the configs to keep beside those set on the topic
// (default DefaultConfigNames), in the order they are reported.
func WithConfigNames(names ...string) Option {
	return func(m *Monitor) { m.names = append([]string(nil), names...) }
}

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(m *Monitor) { m.logger = l } }

// New returns a monitor asking the cluster adm talks to.
func New(adm *kadm.Client, opts ...Option) *Monitor {
	m := &Monitor{
		adm: adm, interval: DefaultInterval, check: DefaultNewTopicCheck, names: DefaultConfigNames,
		logger: slog.New(slog.DiscardHandler), topics: map[string]Settings{}, asked: map[string]bool{},
	}
	for _, o := range opts {
		o(m)
	}
	if m.check <= 0 || m.check > m.interval {
		m.check = m.interval
	}
	return m
}

// Run reads the settings of the topics topics returns (the mesh's topics)
// until ctx ends: at once, then every interval, and within the new-topic
// check of a topic appearing that the last read did not ask about. A
// failed read is logged and kept in Status (the settings read before stay);
// it is tried again after the interval. Run returns ctx's error.
func (m *Monitor) Run(ctx context.Context, topics func(context.Context) ([]string, error)) error {
	t := time.NewTicker(m.check)
	defer t.Stop()
	var last time.Time
	for {
		names, err := topics(ctx)
		switch {
		case err != nil:
			if ctx.Err() == nil {
				m.logger.Warn("listing the topics whose settings to read failed", "error", err)
			}
		case last.IsZero() || time.Since(last) >= m.interval || m.hasNew(names):
			if err := m.Refresh(ctx, names); err != nil && ctx.Err() == nil {
				m.logger.Warn("reading topic settings failed", "error", err)
			}
			last = time.Now()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

func (m *Monitor) hasNew(topics []string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, t := range topics {
		if !m.asked[t] {
			return true
		}
	}
	return false
}

// Refresh reads the settings of topics now. Topics not in the list, or no
// longer in the cluster, are forgotten. When the read fails as a whole, the
// settings read before are kept and the error is returned (and kept in
// Status); a topic whose own read failed keeps its last good settings with
// Err set.
func (m *Monitor) Refresh(ctx context.Context, topics []string) error {
	asked := make(map[string]bool, len(topics))
	for _, t := range topics {
		asked[t] = true
	}
	if len(topics) == 0 { // nothing to ask the cluster
		m.mu.Lock()
		defer m.mu.Unlock()
		m.asked, m.topics = asked, map[string]Settings{}
		return nil
	}
	read, err := Read(ctx, m.adm, topics, m.names)

	m.mu.Lock()
	defer m.mu.Unlock()
	m.asked = asked
	if err != nil {
		m.status.Err = err.Error()
		return err
	}
	m.status = Status{ReadAt: time.Now()}
	for _, name := range slices.Sorted(maps.Keys(read)) {
		s := read[name]
		if s.Err == "" {
			continue
		}
		if m.status.Err == "" {
			m.status.Err = name + ": " + s.Err
		}
		if prev, ok := m.topics[name]; ok {
			read[name] = keepKnown(s, prev)
		}
	}
	m.topics = read
	return nil
}

// keepKnown fills what a partly failed read s lacks from the topic's
// previous settings.
func keepKnown(s, prev Settings) Settings {
	if s.Partitions == 0 {
		s.Partitions, s.ReplicationFactor = prev.Partitions, prev.ReplicationFactor
	}
	if s.Configs == nil {
		s.Configs = prev.Configs
		s.ReadAt = prev.ReadAt
	}
	return s
}

// Topic returns the latest settings of a topic; false when the topic has
// not been read, or the cluster does not have it.
func (m *Monitor) Topic(name string) (Settings, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.topics[name]
	return s, ok
}

// Status reports how the last reads went.
func (m *Monitor) Status() Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.status
}
