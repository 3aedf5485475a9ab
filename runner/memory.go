package runner

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafmesh/kafmesh/runner/internal/store"
)

// MemoryCluster stands in for Kafka in unit tests: services created with
// [MemoryCluster.NewService] register their generated parts as usual, and
// every record produced to a topic — by a test, a source or a processor —
// is delivered at once, in the producing goroutine, to every part that
// reads the topic: processors handle it (with their state, joins and
// lookups), tables behind views, lookups and joins take it in. Outputs
// are delivered the same way before Produce returns, so when a test's
// Produce returns, everything it caused has happened.
//
// Topics have the cluster's partition count; keys are partitioned with the
// Java client's murmur2, so a processor sees each key on the partition it
// would in Kafka. State is kept in memory and each record's state change is
// committed (and written to the changelog topic) as soon as it is handled.
//
// It is safe for concurrent use; deliveries are serialized. A handler must
// not produce through a source (that would wait for itself): use outputs.
type MemoryCluster struct {
	partitions int

	mu       sync.Mutex
	topics   map[string]*memoryTopic
	services []*Service
	queue    []*kgo.Record // produced during a delivery, delivered next
}

type memoryTopic struct {
	partitions [][]*kgo.Record
	all        []*kgo.Record // in the order produced
}

// memoryConsumer is a part that takes records from a MemoryCluster.
type memoryConsumer interface {
	consumeMemory(ctx context.Context, r *kgo.Record) error
}

// NewMemoryCluster returns an empty cluster whose topics have the given
// number of partitions (at least 1).
func NewMemoryCluster(partitions int) *MemoryCluster {
	return &MemoryCluster{partitions: max(partitions, 1), topics: map[string]*memoryTopic{}}
}

// NewService creates a service whose parts run on m. Its Run returns an
// error: nothing needs to run, records flow when they are produced.
func (m *MemoryCluster) NewService(def Definition, opts ...Option) (*Service, error) {
	opts = append([]Option{WithBrokers("memory"), WithMemoryState()}, opts...)
	s, err := NewService(def, opts...)
	if err != nil {
		return nil, err
	}
	s.mem = m
	for _, t := range s.tables.tables { // tables created before mem was set
		if t.store == nil {
			t.store = store.NewMemory(false)
			close(t.started)
		}
	}
	m.mu.Lock()
	m.services = append(m.services, s)
	m.mu.Unlock()
	return s, nil
}

// Produce appends r to its topic and delivers it, and everything that
// follows from it, before calling promise. The promise's error joins every
// failure of a part that handled the records (a handler error under
// FailOnError, an undecodable value), after the records were written.
func (m *MemoryCluster) Produce(ctx context.Context, r *kgo.Record, promise func(*kgo.Record, error)) {
	m.mu.Lock()
	m.append(r, false)
	err := m.drain(ctx, r)
	m.mu.Unlock()
	if promise != nil {
		promise(r, err)
	}
}

// ProduceSync is Produce, waiting for the result.
func (m *MemoryCluster) ProduceSync(ctx context.Context, r *kgo.Record) error {
	var err error
	m.Produce(ctx, r, func(_ *kgo.Record, e error) { err = e })
	return err
}

// emit is Produce for parts that produce while a delivery runs: the record
// is appended now and delivered after the current one. With manual, r goes
// to the partition it names (state changelogs) instead of its key's.
func (m *MemoryCluster) emit(r *kgo.Record, manual bool, promise func(*kgo.Record, error)) {
	m.append(r, manual)
	m.queue = append(m.queue, r)
	promise(r, nil)
}

func (m *MemoryCluster) append(r *kgo.Record, manual bool) {
	t := m.topics[r.Topic]
	if t == nil {
		t = &memoryTopic{partitions: make([][]*kgo.Record, m.partitions)}
		m.topics[r.Topic] = t
	}
	if !manual {
		r.Partition = KeyPartition(r.Key, m.partitions)
	}
	r.Partition = min(max(r.Partition, 0), int32(m.partitions-1))
	if r.Timestamp.IsZero() {
		r.Timestamp = time.Now()
	}
	r.Offset = int64(len(t.partitions[r.Partition]))
	t.partitions[r.Partition] = append(t.partitions[r.Partition], r)
	t.all = append(t.all, r)
}

// drain delivers r and then every record produced meanwhile, in order.
func (m *MemoryCluster) drain(ctx context.Context, r *kgo.Record) error {
	var errs []error
	m.queue = append(m.queue, r)
	for len(m.queue) > 0 {
		next := m.queue[0]
		m.queue = m.queue[1:]
		for _, s := range m.services {
			if err := s.consumeMemory(ctx, next); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// memorySyncer is a view source or view sink run on demand.
type memorySyncer interface {
	part
	syncMemory(ctx context.Context) error
}

// SyncViewSources runs one sync of every view source (at the timeout each
// is registered with) and returns their errors. Their writes are delivered
// before it returns.
func (m *MemoryCluster) SyncViewSources(ctx context.Context) error {
	return m.sync(ctx, kindViewSource)
}

// SyncViewSinks runs one sync of every view sink.
func (m *MemoryCluster) SyncViewSinks(ctx context.Context) error {
	return m.sync(ctx, kindViewSink)
}

func (m *MemoryCluster) sync(ctx context.Context, kind partKind) error {
	m.mu.Lock()
	services := slices.Clone(m.services)
	m.mu.Unlock()
	var errs []error
	for _, s := range services {
		for _, p := range s.registered() {
			if ms, ok := p.(memorySyncer); ok && p.kind() == kind {
				if err := ms.syncMemory(ctx); err != nil {
					errs = append(errs, fmt.Errorf("%s %s/%s: %w", p.kind(), p.component(), p.name(), err))
				}
			}
		}
	}
	return errors.Join(errs...)
}

// Records returns the records of topic in the order they were produced.
func (m *MemoryCluster) Records(topic string) []*kgo.Record {
	m.mu.Lock()
	defer m.mu.Unlock()
	if t := m.topics[topic]; t != nil {
		return slices.Clone(t.all)
	}
	return nil
}

// Topics lists the topics that have records.
func (m *MemoryCluster) Topics() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var names []string
	for n := range m.topics {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// consumeMemory delivers r to the service's tables and parts.
func (s *Service) consumeMemory(ctx context.Context, r *kgo.Record) error {
	s.tables.mu.Lock()
	t := s.tables.tables[r.Topic]
	s.tables.mu.Unlock()
	if t != nil {
		var b store.Batch
		if r.Value == nil {
			b.Delete(r.Partition, r.Key)
		} else {
			b.Set(r.Partition, r.Key, r.Value)
		}
		if err := t.store.Apply(&b); err != nil {
			return err
		}
	}
	var errs []error
	for _, p := range s.registered() {
		if mc, ok := p.(memoryConsumer); ok {
			if err := mc.consumeMemory(ctx, r); err != nil {
				errs = append(errs, fmt.Errorf("%s %s/%s: %w", p.kind(), p.component(), p.name(), err))
			}
		}
	}
	return errors.Join(errs...)
}

// consumeMemory handles r if it is an input and applies it if it is a join.
func (pp *processorPart) consumeMemory(ctx context.Context, r *kgo.Record) error {
	spec := pp.p.spec
	for j, jt := range spec.Joins {
		if jt.Topic == r.Topic {
			pp.openMemory()
			var b store.Batch
			if r.Value == nil {
				b.Delete(r.Partition, r.Key)
			} else {
				b.Set(r.Partition, r.Key, r.Value)
			}
			if err := pp.joinStores[j].Apply(&b); err != nil {
				return err
			}
		}
	}
	if _, ok := pp.inputIndex[r.Topic]; !ok {
		return nil
	}
	t := pp.memoryTask(r.Partition)
	err := t.process(ctx, []kgo.FetchTopicPartition{{Topic: r.Topic, FetchPartition: kgo.FetchPartition{Partition: r.Partition, Records: []*kgo.Record{r}}}})
	if err != nil {
		if t.state != nil {
			t.state.aborted()
		}
		return err
	}
	if t.state == nil || !t.state.pending() {
		return nil
	}
	pp.batch.Reset()
	t.state.prepare(&pp.batch, func(key, value []byte) {
		pp.produce(&kgo.Record{Topic: pp.stateTopic, Partition: t.partition, Key: key, Value: value}, pp.changelogAck)
	})
	if err := pp.stateStore.Apply(&pp.batch); err != nil {
		return err
	}
	t.state.committed()
	pp.m.commits.Inc()
	return nil
}

// openMemory creates the processor's in-memory stores once.
func (pp *processorPart) openMemory() {
	if pp.memOpened {
		return
	}
	pp.memOpened = true
	if pp.p.spec.State != nil {
		pp.stateStore = store.NewMemory(true)
	}
	for range pp.p.spec.Joins {
		pp.joinStores = append(pp.joinStores, store.NewMemory(true))
	}
	pp.changelogLast = map[int32]int64{}
}

// memoryTask returns the ready task of partition p.
func (pp *processorPart) memoryTask(p int32) *procTask {
	pp.openMemory()
	pp.mu.Lock()
	defer pp.mu.Unlock()
	t := pp.tasks[p]
	if t == nil {
		t = &procTask{svc: pp.svc, p: pp.p, pp: pp, partition: p, ready: make(chan struct{}), cancel: func() {},
			last: make([]*kgo.Record, len(pp.p.spec.Inputs)), first: make([]*kgo.Record, len(pp.p.spec.Inputs)),
			outCounts: make([]int, len(pp.p.spec.Outputs))}
		if pp.stateStore != nil {
			t.state = newStateCache(pp.stateStore, p, stateCacheLimit)
		}
		close(t.ready)
		pp.tasks[p] = t
	}
	return t
}
