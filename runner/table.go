package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/kafmesh/kafmesh/runner/internal/store"
)

var errStopScan = store.ErrStop

// tableSet holds the whole-topic tables of a service: the topics of its
// views, processor lookups and view sinks. Each topic is copied once, by
// one follower, however many parts read it.
type tableSet struct {
	svc *Service

	mu     sync.Mutex
	tables map[string]*table
}

// table is a local copy of every partition of one topic.
type table struct {
	ref    TopicRef
	memory bool

	store    store.Store
	startErr error
	started  chan struct{} // closed once store and followers exist (or startErr)
	parts    []*followed
	follow   *follower
}

// lag is how many records the table is behind the high watermarks last
// seen, summed over partitions.
func (t *table) lag() int64 {
	select {
	case <-t.started:
	default:
		return 0
	}
	if t.follow == nil {
		return 0
	}
	t.follow.mu.Lock()
	defer t.follow.mu.Unlock()
	var lag int64
	for _, p := range t.parts {
		lag += max(max(p.hwm, p.target)-p.pos, 0)
	}
	return lag
}

func (ts *tableSet) get(ref TopicRef, memory bool) *table {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.tables == nil {
		ts.tables = map[string]*table{}
	}
	t := ts.tables[ref.Topic]
	if t == nil {
		t = &table{ref: ref, memory: memory, started: make(chan struct{})}
		ts.tables[ref.Topic] = t
	}
	// Pebble wins when any reader wants persistence.
	t.memory = t.memory && memory
	if ts.svc.mem != nil && t.store == nil {
		// A MemoryCluster fills the table as records are produced.
		t.store = store.NewMemory(false)
		close(t.started)
	}
	return t
}

// start opens every table's store and starts following its topic. Tables
// become ready in the background.
func (ts *tableSet) start(ctx context.Context, fail func(error), wg *sync.WaitGroup) error {
	ts.mu.Lock()
	tables := make([]*table, 0, len(ts.tables))
	for _, t := range ts.tables {
		tables = append(tables, t)
	}
	ts.mu.Unlock()
	if len(tables) == 0 {
		return nil
	}
	f, err := newFollower(ts.svc, "tables")
	if err != nil {
		return err
	}
	adm := kadm.NewClient(f.cl)
	closeAll := func(err error) error {
		for _, t := range tables {
			if t.store != nil {
				t.store.Close()
			}
			if t.startErr == nil {
				t.startErr = err
			}
			select {
			case <-t.started:
			default:
				close(t.started)
			}
		}
		f.cl.Close()
		return err
	}
	for _, t := range tables {
		if t.memory {
			t.store = store.NewMemory(false)
		} else {
			dir := filepath.Join(ts.svc.cfg.stateDir, "tables", t.ref.Topic)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return closeAll(err)
			}
			st, err := store.OpenPebble(dir, false)
			if err != nil {
				return closeAll(err)
			}
			t.store = store.NewCached(st, false, readCacheLimit)
		}
		partitions, err := topicPartitions(ctx, adm, t.ref.Topic)
		if err != nil {
			return closeAll(err)
		}
		if t.parts, err = f.add(ctx, t.ref.Topic, partitions, t.store, true, false); err != nil {
			return closeAll(err)
		}
		t.follow = f
		close(t.started)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		err := f.run(ctx)
		for _, t := range tables {
			if cerr := t.store.Close(); err == nil && cerr != nil {
				err = cerr
			}
		}
		if err != nil {
			fail(fmt.Errorf("tables: %w", err))
		}
	}()
	return nil
}

// topicPartitions lists the partitions of topic, or fails naming it.
func topicPartitions(ctx context.Context, adm *kadm.Client, topic string) ([]int32, error) {
	md, err := adm.Metadata(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("metadata of %s: %w", topic, err)
	}
	td, ok := md.Topics[topic]
	if !ok || td.Err != nil {
		if ok && td.Err != nil {
			return nil, fmt.Errorf("topic %s: %w", topic, td.Err)
		}
		return nil, fmt.Errorf("topic %s does not exist", topic)
	}
	ps := td.Partitions.Numbers()
	slices.Sort(ps)
	return ps, nil
}

var errNotStarted = errors.New("the service is not running: views fill once Run starts")

func (t *table) ready() bool {
	select {
	case <-t.started:
	default:
		return false
	}
	if t.startErr != nil {
		return false
	}
	if t.follow != nil && t.follow.failingFor() > followerFailingLimit {
		// Brokers unreachable (or refusing) for a while: the copy is
		// going stale.
		return false
	}
	for _, p := range t.parts {
		if !p.caughtUp() {
			return false
		}
	}
	return true
}

func (t *table) waitReady(ctx context.Context) error {
	select {
	case <-t.started:
	case <-ctx.Done():
		return ctx.Err()
	}
	if t.startErr != nil {
		return t.startErr
	}
	for _, p := range t.parts {
		select {
		case <-p.caught:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func (t *table) opened() error {
	select {
	case <-t.started:
		return t.startErr
	default:
		return errNotStarted
	}
}

func (t *table) get(key string) ([]byte, bool, error) {
	if err := t.opened(); err != nil {
		return nil, false, err
	}
	var out []byte
	ok, err := t.store.Get(0, []byte(key), func(v []byte) { out = slices.Clone(v) })
	return out, ok, err
}

// getInto is get without the copy: fn sees the value only during the call.
func (t *table) getInto(key string, fn func([]byte)) (bool, error) {
	if err := t.opened(); err != nil {
		return false, err
	}
	return t.store.Get(0, []byte(key), fn)
}

func (t *table) scan(fn func(key, value []byte) error) error {
	if err := t.opened(); err != nil {
		return err
	}
	return t.store.Scan(0, fn)
}
