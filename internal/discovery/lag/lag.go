// Package lag measures, from the Kafka brokers, how far each processor's
// consumer group is behind (lag per topic, from committed and end offsets)
// and how fast it consumes and its topics grow (records per second, from
// the change of committed and end offsets between two refreshes).
package lag

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
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
	// Partitions has one entry per partition the group has committed
	// offsets in, sorted by topic and partition, with the member that owns
	// it (none when the group is Empty).
	Partitions []Partition
	// Members is how many members the group has.
	Members int
	// History is the group's total lag over the last hour, oldest first:
	// one point per minute (the last measure taken in that minute), at
	// most 60. Filled by Group and Groups.
	History []LagPoint
}

// LagPoint is a group's total lag at a time.
type LagPoint struct {
	At  time.Time
	Lag int64
}

// History keeps this much lag history per group, one point per
// historyStep.
const (
	historySpan = time.Hour
	historyStep = time.Minute
)

// Partition is a group's position on one partition.
type Partition struct {
	Topic     string
	Partition int32
	// Committed is the group's committed offset (the next record it will
	// read); -1 when it has none.
	Committed int64
	// End is the partition's end offset; -1 when it could not be listed.
	End int64
	// Lag is End - Committed; -1 when either is unknown.
	Lag int64
	// MemberID, ClientID and Host name the member that owns the partition;
	// empty when no member does.
	MemberID, ClientID, Host string
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
	dlq     map[string]int64 // dead-letter topic ("<group>-dlq") → records in it
	dlqRate map[string]float64
	dlqAt   time.Time
	history map[string][]LagPoint // group → lag per minute, oldest first
	notMesh map[string]time.Time  // group → when it was last found reading no mesh topic
	topicsK string                // the mesh topics notMesh was found against
	client  *kgo.Client           // WithClient

}

// maxExtraGroups bounds how many groups of the cluster beyond the asked
// ones a refresh looks at (RunMesh). A group found reading no mesh topic is
// not looked at again for recheckNotMesh (or until the mesh topics
// change), so on a cluster with more groups the refreshes work through
// them all.
const (
	maxExtraGroups = 1000
	recheckNotMesh = 10 * time.Minute
)

// Option configures New.
type Option func(*Monitor)

// WithInterval sets how often Run refreshes (default 5 s).
func WithInterval(d time.Duration) Option { return func(m *Monitor) { m.interval = d } }

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(m *Monitor) { m.logger = l } }

// WithClient gives the Kafka client adm wraps, so that operator actions
// (reading and replaying dead letters) can open clients of their own with
// the same connection settings (kgo.Client.Opts). Without it they are
// refused.
func WithClient(cl *kgo.Client) Option { return func(m *Monitor) { m.client = cl } }

// New returns a monitor asking the cluster adm talks to.
func New(adm *kadm.Client, opts ...Option) *Monitor {
	m := &Monitor{
		adm: adm, interval: DefaultInterval, logger: slog.New(slog.DiscardHandler),
		groups: map[string]Group{}, commits: map[string]map[string]int64{}, ends: map[string]int64{},
		produce: map[string]float64{}, prevAt: map[string]time.Time{}, dlq: map[string]int64{},
		dlqRate: map[string]float64{}, history: map[string][]LagPoint{}, notMesh: map[string]time.Time{},
	}
	for _, o := range opts {
		o(m)
	}
	return m
}

// Client is the client given with WithClient, or nil.
func (m *Monitor) Client() *kgo.Client { return m.client }

// Admin is the client the monitor asks the cluster with (discovery reads
// the topics' settings through the same one).
func (m *Monitor) Admin() *kadm.Client { return m.adm }

// Run refreshes every interval until ctx ends; groups returns the groups
// to measure (the processors' groups of the current mesh). A failed refresh
// is logged and kept in the groups' Err; Run goes on.
func (m *Monitor) Run(ctx context.Context, groups func(context.Context) ([]string, error)) error {
	return m.RunMesh(ctx, groups, nil)
}

// RunMesh is Run that also measures every consumer group of the cluster (up
// to 1000 beyond the asked ones) with committed offsets on one of the
// topics meshTopics returns: sinks, views and outside consumers of mesh
// topics. meshTopics nil measures only groups.
func (m *Monitor) RunMesh(ctx context.Context, groups, meshTopics func(context.Context) ([]string, error)) error {
	t := time.NewTicker(m.interval)
	defer t.Stop()
	for {
		gs, err := groups(ctx)
		if err != nil {
			m.logger.Warn("listing consumer groups to measure failed", "error", err)
		} else if err := m.refresh(ctx, gs, m.extraGroups(ctx, gs, meshTopics)); err != nil && ctx.Err() == nil {
			m.logger.Warn("measuring consumer group lag failed", "error", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// extraGroups lists the cluster's groups other than asked and the mesh
// topics they may read (nil without meshTopics or on error, logged).
func (m *Monitor) extraGroups(ctx context.Context, asked []string, meshTopics func(context.Context) ([]string, error)) *extra {
	if meshTopics == nil {
		return nil
	}
	topics, err := meshTopics(ctx)
	if err != nil {
		m.logger.Warn("listing the mesh topics failed", "error", err)
		return nil
	}
	listed, err := m.adm.ListGroups(ctx)
	if err != nil {
		m.logger.Warn("listing the cluster's consumer groups failed", "error", err)
		return nil
	}
	x := &extra{topics: map[string]bool{}}
	for _, t := range topics {
		x.topics[t] = true
	}
	now := time.Now()
	sorted := slices.Sorted(maps.Keys(x.topics))
	key := strings.Join(sorted, "\x00")
	m.mu.Lock()
	defer m.mu.Unlock()
	if key != m.topicsK {
		// Other topics: a group that read none of the old may read one.
		clear(m.notMesh)
		m.topicsK = key
	}
	for _, g := range listed.Sorted() {
		if at, ok := m.notMesh[g.Group]; ok && now.Sub(at) < recheckNotMesh {
			continue
		}
		if len(x.groups) < maxExtraGroups && !slices.Contains(asked, g.Group) && (g.ProtocolType == "consumer" || g.ProtocolType == "") {
			x.groups = append(x.groups, g.Group)
		}
	}
	for g, at := range m.notMesh {
		if now.Sub(at) >= recheckNotMesh {
			delete(m.notMesh, g)
		}
	}
	return x
}

// extra is the groups a refresh measures beyond the asked ones, kept only
// when they committed offsets on one of topics.
type extra struct {
	groups []string
	topics map[string]bool
}

// Refresh measures groups now. Groups not in the list are forgotten.
func (m *Monitor) Refresh(ctx context.Context, groups []string) error {
	return m.refresh(ctx, groups, nil)
}

func (m *Monitor) refresh(ctx context.Context, asked []string, x *extra) error {
	now := time.Now()
	groups := asked
	if x != nil {
		groups = append(slices.Clip(asked), x.groups...)
	}
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
	dlq := m.deadLetters(ctx, asked)

	m.mu.Lock()
	defer m.mu.Unlock()
	if dlq != nil {
		if !m.dlqAt.IsZero() {
			if dt := now.Sub(m.dlqAt).Seconds(); dt > 0 {
				rates := map[string]float64{}
				for t, n := range dlq {
					if before, ok := m.dlq[t]; ok && n >= before {
						rates[t] = float64(n-before) / dt
					}
				}
				m.dlqRate = rates
			}
		}
		m.dlq, m.dlqAt = dlq, now
	}
	next := map[string]Group{}
	ends := map[string]int64{}
	for _, g := range groups {
		dl, ok := lags[g]
		if !ok && x != nil && !slices.Contains(asked, g) {
			continue // an extra group that went away
		}
		if !ok {
			next[g] = Group{Name: g, UpdatedAt: now, Err: "not reported by the cluster"}
			continue
		}
		if x != nil && !slices.Contains(asked, g) && !readsAny(dl.Lag, x.topics) {
			m.notMesh[g] = now
			continue
		}
		out := Group{Name: g, State: dl.State, UpdatedAt: now, Members: len(dl.Members)}
		if e := dl.Error(); e != nil {
			out.Err = e.Error()
		}
		for _, p := range dl.Lag.Sorted() {
			part := Partition{Topic: p.Topic, Partition: p.Partition, Committed: p.Commit.At, End: -1, Lag: p.Lag}
			if p.End.Err == nil {
				part.End = p.End.Offset
			}
			if p.Member != nil {
				part.MemberID, part.ClientID, part.Host = p.Member.MemberID, p.Member.ClientID, p.Member.ClientHost
			}
			out.Partitions = append(out.Partitions, part)
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
	m.record(now)
	return nil
}

// record adds the groups' current lag to their history (replacing the
// point of the same minute) and forgets points older than historySpan and
// groups no longer measured.
func (m *Monitor) record(now time.Time) {
	for name, g := range m.groups {
		h := m.history[name]
		if len(h) > 0 && h[len(h)-1].At.Truncate(historyStep).Equal(now.Truncate(historyStep)) {
			h[len(h)-1] = LagPoint{At: now, Lag: g.Lag}
		} else {
			h = append(h, LagPoint{At: now, Lag: g.Lag})
		}
		cut := 0
		for cut < len(h) && now.Sub(h[cut].At) > historySpan {
			cut++
		}
		m.history[name] = slices.Clip(h[cut:])
	}
	for name := range m.history {
		if _, ok := m.groups[name]; !ok {
			delete(m.history, name)
		}
	}
}

// readsAny reports whether lag has a partition of one of topics.
func readsAny(lag kadm.GroupLag, topics map[string]bool) bool {
	for t := range lag {
		if topics[t] {
			return true
		}
	}
	return false
}

// deadLetters counts the records of the dead-letter topics ("<group>-dlq")
// of groups that exist; nil when they could not be listed (logged).
func (m *Monitor) deadLetters(ctx context.Context, groups []string) map[string]int64 {
	topics := make([]string, 0, len(groups))
	for _, g := range groups {
		topics = append(topics, g+"-dlq")
	}
	out := map[string]int64{}
	if len(topics) == 0 {
		return out
	}
	ends, err := m.adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		m.logger.Warn("listing the dead-letter topics' end offsets failed", "error", err)
		return nil
	}
	starts, err := m.adm.ListStartOffsets(ctx, topics...)
	if err != nil {
		m.logger.Warn("listing the dead-letter topics' start offsets failed", "error", err)
		return nil
	}
	ends.Each(func(e kadm.ListedOffset) {
		if e.Err != nil {
			return
		}
		n := out[e.Topic]
		if s, ok := starts.Lookup(e.Topic, e.Partition); ok && s.Err == nil && e.Offset > s.Offset {
			n += e.Offset - s.Offset
		}
		out[e.Topic] = n
	})
	return out
}

// DeadLetters returns the dead-letter topic of group and how many records
// it holds (end minus start offsets; commit markers of transactions
// count), as of the last refresh; ok is false when the topic does not
// exist or group is not measured.
func (m *Monitor) DeadLetters(group string) (topic string, records int64, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	topic = group + "-dlq"
	records, ok = m.dlq[topic]
	return topic, records, ok
}

// DeadLetterRate returns how many records per second were written to
// group's dead-letter topic between the last two refreshes.
func (m *Monitor) DeadLetterRate(group string) (float64, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.dlqRate[group+"-dlq"]
	return r, ok
}

// Groups returns the latest measure of every measured group, by name.
func (m *Monitor) Groups() []Group {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Group, 0, len(m.groups))
	for _, g := range m.groups {
		g.History = slices.Clone(m.history[g.Name])
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Group returns the latest measure of a group.
func (m *Monitor) Group(name string) (Group, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	g, ok := m.groups[name]
	if ok {
		g.History = slices.Clone(m.history[name])
	}
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
