// Package lag measures, from the Kafka brokers, how far each processor's
// consumer group is behind (lag per topic, from committed and end offsets)
// and how fast it consumes and its topics grow (records per second, from
// the change of committed and end offsets between two refreshes).
package lag

import (
	"context"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// DefaultInterval is how often Run refreshes.
const DefaultInterval = 5 * time.Second

// Group is the measured state of one consumer group.
type Group struct {
	Name string
	// State is the group's state as the coordinator reports it (Stable,
	// Empty, PreparingRebalance, Dead, …).
	State string
	// Lag is the sum of the partitions' lag whose lag is known.
	Lag int64
	// Topics has one entry per topic the group has committed offsets in,
	// sorted by topic.
	Topics []Topic
	// UpdatedAt is when the measure was taken.
	UpdatedAt time.Time
	// Err says why the group could not be measured (or partly); empty when
	// it was.
	Err string
}

// Topic is a group's lag and consumption rate on one topic.
type Topic struct {
	Topic string
	Lag   int64
	// RecordsPerSecond is how fast the group's committed offsets advanced
	// since the previous refresh (0 on the first).
	RecordsPerSecond float64
}

// Monitor keeps the latest measure of a set of groups.
type Monitor struct {
	adm      *kadm.Client
	interval time.Duration
	logger   *slog.Logger

	mu      sync.Mutex
	groups  map[string]Group
	commits map[string]map[string]int64 // group → topic → sum of committed offsets
	ends    map[string]int64            // topic → sum of end offsets
	produce map[string]float64          // topic → records per second written
	prevAt  map[string]time.Time        // group → when its commits were summed
	endsAt  time.Time
}

// Option configures New.
type Option func(*Monitor)

// WithInterval sets how often Run refreshes (default 5 s).
func WithInterval(d time.Duration) Option { return func(m *Monitor) { m.interval = d } }

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(m *Monitor) { m.logger = l } }

// New returns a monitor asking the cluster adm talks to.
func New(adm *kadm.Client, opts ...Option) *Monitor {
	m := &Monitor{
		adm: adm, interval: DefaultInterval, logger: slog.New(slog.DiscardHandler),
		groups: map[string]Group{}, commits: map[string]map[string]int64{}, ends: map[string]int64{},
		produce: map[string]float64{}, prevAt: map[string]time.Time{},
	}
	for _, o := range opts {
		o(m)
	}
	return m
}

// Admin is the client the monitor asks the cluster with (discovery reads
// the topics' settings through the same one).
func (m *Monitor) Admin() *kadm.Client { return m.adm }

// Run refreshes every interval until ctx ends; groups returns the groups
// to measure (the processors' groups of the current mesh). A failed refresh
// is logged and kept in the groups' Err; Run goes on.
func (m *Monitor) Run(ctx context.Context, groups func(context.Context) ([]string, error)) error {
	t := time.NewTicker(m.interval)
	defer t.Stop()
	for {
		gs, err := groups(ctx)
		if err != nil {
			m.logger.Warn("listing consumer groups to measure failed", "error", err)
		} else if err := m.Refresh(ctx, gs); err != nil && ctx.Err() == nil {
			m.logger.Warn("measuring consumer group lag failed", "error", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Refresh measures groups now. Groups not in the list are forgotten.
func (m *Monitor) Refresh(ctx context.Context, groups []string) error {
	now := time.Now()
	if len(groups) == 0 {
		m.mu.Lock()
		m.groups = map[string]Group{}
		m.mu.Unlock()
		return nil
	}
	lags, err := m.adm.Lag(ctx, groups...)
	if err != nil {
		m.mu.Lock()
		defer m.mu.Unlock()
		for _, g := range groups {
			prev := m.groups[g]
			prev.Name, prev.Err, prev.UpdatedAt = g, err.Error(), now
			m.groups[g] = prev
		}
		return err
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	next := map[string]Group{}
	ends := map[string]int64{}
	for _, g := range groups {
		dl, ok := lags[g]
		if !ok {
			next[g] = Group{Name: g, UpdatedAt: now, Err: "not reported by the cluster"}
			continue
		}
		out := Group{Name: g, State: dl.State, UpdatedAt: now}
		if e := dl.Error(); e != nil {
			out.Err = e.Error()
		}
		commits := map[string]int64{}
		perTopic := map[string]*Topic{}
		for topic, parts := range dl.Lag {
			tl := &Topic{Topic: topic}
			perTopic[topic] = tl
			var endSum int64
			endKnown := true
			for _, p := range parts {
				if p.Lag >= 0 {
					tl.Lag += p.Lag
					out.Lag += p.Lag
				}
				if p.Commit.At >= 0 {
					commits[topic] += p.Commit.At
				}
				if p.End.Err == nil && p.End.Offset >= 0 {
					endSum += p.End.Offset
				} else {
					endKnown = false
				}
			}
			if endKnown {
				ends[topic] = endSum
			}
		}
		if prev, ok := m.commits[g]; ok {
			if dt := now.Sub(m.prevAt[g]).Seconds(); dt > 0 {
				for topic, sum := range commits {
					if before, ok := prev[topic]; ok && sum >= before {
						perTopic[topic].RecordsPerSecond = float64(sum-before) / dt
					}
				}
			}
		}
		m.commits[g], m.prevAt[g] = commits, now
		for _, tl := range perTopic {
			out.Topics = append(out.Topics, *tl)
		}
		sort.Slice(out.Topics, func(i, j int) bool { return out.Topics[i].Topic < out.Topics[j].Topic })
		next[g] = out
	}
	for g := range m.commits {
		if _, ok := next[g]; !ok {
			delete(m.commits, g)
			delete(m.prevAt, g)
		}
	}
	if !m.endsAt.IsZero() {
		if dt := now.Sub(m.endsAt).Seconds(); dt > 0 {
			for topic, sum := range ends {
				if before, ok := m.ends[topic]; ok && sum >= before {
					m.produce[topic] = float64(sum-before) / dt
				}
			}
		}
	}
	for topic := range m.produce {
		if _, ok := ends[topic]; !ok {
			delete(m.produce, topic)
		}
	}
	m.ends, m.endsAt = ends, now
	m.groups = next
	return nil
}

// Group returns the latest measure of a group.
func (m *Monitor) Group(name string) (Group, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	g, ok := m.groups[name]
	return g, ok
}

// TopicRate returns how many records per second were written to topic
// between the last two refreshes (known only for topics some measured
// group consumes, and from the second refresh on).
func (m *Monitor) TopicRate(topic string) (float64, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.produce[topic]
	return r, ok
}
