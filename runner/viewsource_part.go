package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/attribute"
)

// viewSourcePart runs one registered view source: a sync at start (once
// its table is caught up) and then every interval.
//
// The table is followed asynchronously, so right after a sync it may not
// show that sync's writes yet. The part therefore remembers its recent
// writes (recent) and compares reported values with them before the
// table: a key written in one sync and reported again in the next is not
// written twice, and a key deleted in one sync and reported again in the
// next is written again even if the table has not applied the delete yet.
// A remembered write is forgotten once the table shows it, or after
// recentTTL (in case another writer changed the key since: the view source
// should be the topic's only writer).
type viewSourcePart[M any] struct {
	svc   *Service
	spec  ViewSourceSpec
	cfg   partConfig
	codec Codec[M]
	h     ViewSourceHandler[M]
	table *table
	log   *slog.Logger

	syncs   map[string]prometheus.Counter // by result
	updates prometheus.Counter
	deletes prometheus.Counter

	mu     sync.Mutex
	recent map[string]*recentWrite // writes the table may not show yet
}

// recentTTL is how long a write is remembered when the table does not
// show it.
const recentTTL = 5 * time.Minute

type recentWrite struct {
	value []byte // nil: a tombstone
	at    time.Time
}

func newViewSourcePart[M any](s *Service, spec ViewSourceSpec, cfg partConfig, c Codec[M], h ViewSourceHandler[M]) part {
	label := spec.Component + "/" + spec.Name
	p := &viewSourcePart[M]{
		svc:     s,
		spec:    spec,
		cfg:     cfg,
		codec:   c,
		h:       h,
		table:   s.tables.get(spec.TopicRef, s.cfg.memoryState),
		log:     s.log.With("view_source", label, "topic", spec.Topic),
		syncs:   map[string]prometheus.Counter{},
		updates: s.metrics.viewSourceWrites.WithLabelValues(spec.Component, spec.Name, "update"),
		deletes: s.metrics.viewSourceWrites.WithLabelValues(spec.Component, spec.Name, "delete"),
		recent:  map[string]*recentWrite{},
	}
	for _, r := range []string{syncOK, syncError, syncTimeout} {
		p.syncs[r] = s.metrics.viewSourceSyncs.WithLabelValues(spec.Component, spec.Name, r)
	}
	return p
}

// Sync results, as metrics label them.
const (
	syncOK      = "ok"
	syncError   = "error"
	syncTimeout = "timeout"
)

func (p *viewSourcePart[M]) kind() partKind    { return kindViewSource }
func (p *viewSourcePart[M]) component() string { return p.spec.Component }
func (p *viewSourcePart[M]) name() string      { return p.spec.Name }
func (p *viewSourcePart[M]) describe() any     { return p.spec }
func (p *viewSourcePart[M]) uses() []topicUse {
	return []topicUse{{ref: p.spec.TopicRef, role: roleViewSource, owned: true, table: true}}
}

// run syncs until ctx is done. A failed or timed-out sync is logged and
// counted, and the next one runs at the next interval: an outside data set
// that is briefly unavailable does not stop the service.
func (p *viewSourcePart[M]) run(ctx context.Context) error {
	if err := p.table.waitReady(ctx); err != nil {
		return err
	}
	cl, err := p.svc.sharedProducer()
	if err != nil {
		return err
	}
	for {
		start := time.Now()
		result, err := p.sync(ctx, cl)
		if ctx.Err() != nil {
			return nil
		}
		p.syncs[result].Inc()
		if err != nil {
			p.log.Warn("view source sync failed; nothing was deleted", "result", result, "error", err, "took", time.Since(start))
		} else {
			p.log.Debug("view source synced", "took", time.Since(start))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Until(start.Add(p.cfg.interval))):
		}
	}
}

// syncMemory runs one sync on a MemoryCluster.
func (p *viewSourcePart[M]) syncMemory(ctx context.Context) error {
	result, err := p.sync(ctx, p.svc.mem)
	p.syncs[result].Inc()
	return err
}

// sync runs one Sync, bounded by the timeout, and deletes the keys it did
// not report only if Sync returned nil in time and every write was
// acknowledged in time.
func (p *viewSourcePart[M]) sync(ctx context.Context, cl recordProducer) (result string, err error) {
	var writes, deletes atomic.Int64
	ctx, span := p.svc.obs.startSyncSpan(ctx, "view_source", p.spec.Component, p.spec.Name, p.spec.Topic)
	defer func() {
		endSyncSpan(span, result, err, attribute.Int64("kafmesh.sync.updates", writes.Load()), attribute.Int64("kafmesh.sync.deletes", deletes.Load()))
	}()
	syncCtx, cancel := context.WithTimeout(ctx, p.cfg.timeout)
	defer cancel()
	p.beginRun()
	u := &viewUpdater[M]{p: p, ctx: syncCtx, cl: cl, seen: map[string]struct{}{}, traced: span != nil, updates: &writes, deletes: &deletes}
	err = p.h.Sync(syncCtx, u)
	if werr := u.wait(); err == nil {
		err = werr
	}
	switch {
	case syncCtx.Err() != nil:
		return syncTimeout, fmt.Errorf("sync did not complete within %s: %w", p.cfg.timeout, errors.Join(err, syncCtx.Err()))
	case err != nil:
		return syncError, err
	}

	stale, err := p.unreported(u.seen)
	if err != nil {
		return syncError, fmt.Errorf("list keys to delete: %w", err)
	}
	d := &viewUpdater[M]{p: p, ctx: syncCtx, cl: cl, traced: span != nil, updates: &writes, deletes: &deletes}
	for _, key := range stale {
		d.write(key, nil)
	}
	if err := d.wait(); err != nil {
		if syncCtx.Err() != nil {
			return syncTimeout, fmt.Errorf("deletes did not complete within %s: %w", p.cfg.timeout, err)
		}
		return syncError, err
	}
	return syncOK, nil
}

// beginRun forgets remembered writes that the table shows by now or that
// are too old.
func (p *viewSourcePart[M]) beginRun() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for key, w := range p.recent {
		cur, found, err := p.table.get(key)
		if err != nil {
			continue
		}
		shown := (w.value == nil && !found) || (w.value != nil && found && samePayload(p.codec.Type(), cur, w.value))
		if shown || time.Since(w.at) > recentTTL {
			delete(p.recent, key)
		}
	}
}

// current is the value key has as far as this part knows: its own recent
// write, else the table's. Call with p.mu held.
func (p *viewSourcePart[M]) current(key string) ([]byte, bool, error) {
	if w, ok := p.recent[key]; ok {
		return w.value, w.value != nil, nil
	}
	return p.table.get(key)
}

// unreported lists the keys that exist (in the table or by a recent write)
// but were not reported in this sync.
func (p *viewSourcePart[M]) unreported(seen map[string]struct{}) ([]string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var keys []string
	err := p.table.scan(func(key, _ []byte) error {
		k := string(key)
		if _, ok := seen[k]; ok {
			return nil
		}
		if w, ok := p.recent[k]; ok && w.value == nil {
			return nil // deleted already; the table has not applied it yet
		}
		keys = append(keys, k)
		return nil
	})
	if err != nil {
		return nil, err
	}
	for k, w := range p.recent {
		if _, ok := seen[k]; ok || w.value == nil {
			continue
		}
		if _, found, err := p.table.get(k); err == nil && !found {
			keys = append(keys, k) // written recently, not in the table yet
		}
	}
	return keys, nil
}

// samePayload reports whether two stored values hold the same message,
// ignoring framing (a value written with a schema registry header equals
// the same message written plain).
func samePayload(t TopicType, a, b []byte) bool {
	if t == TopicProtobuf {
		pa, _, errA := Unframe(a)
		pb, _, errB := Unframe(b)
		if errA == nil && errB == nil {
			return bytes.Equal(pa, pb)
		}
	}
	return bytes.Equal(a, b)
}

// errSyncOver is returned by Update after Sync returned.
var errSyncOver = errors.New("view source: Update called after Sync returned")

// viewUpdater is the Updater of one sync. It is safe for concurrent use.
type viewUpdater[M any] struct {
	p   *viewSourcePart[M]
	ctx context.Context
	cl  recordProducer

	mu       sync.Mutex
	seen     map[string]struct{}
	over     bool
	inFlight sync.WaitGroup
	err      error // first write that failed

	// traced: the sync has a span (ctx carries it); each write carries its
	// trace context in the record's headers and is counted in updates or
	// deletes, the span's attributes.
	traced           bool
	updates, deletes *atomic.Int64
}

// Update reports the current value of key; it is produced only when it
// differs from the table. It returns an error once the sync's time is up
// or when an earlier write of this sync failed, so Sync can stop early.
func (u *viewUpdater[M]) Update(key string, m M) error {
	if err := u.ctx.Err(); err != nil {
		return fmt.Errorf("view source %s/%s: update %q: %w", u.p.spec.Component, u.p.spec.Name, key, err)
	}
	value, err := encodeValue(u.p.svc, u.p.spec.Topic, u.p.codec, m)
	if err != nil {
		return fmt.Errorf("view source %s/%s: update %q: %w", u.p.spec.Component, u.p.spec.Name, key, err)
	}
	u.mu.Lock()
	if u.over {
		u.mu.Unlock()
		return errSyncOver
	}
	u.seen[key] = struct{}{}
	err = u.err
	u.mu.Unlock()
	if err != nil {
		return err
	}
	u.p.mu.Lock()
	cur, found, err := u.p.current(key)
	u.p.mu.Unlock()
	if err != nil {
		return fmt.Errorf("view source %s/%s: read %q from the table: %w", u.p.spec.Component, u.p.spec.Name, key, err)
	}
	if found && samePayload(u.p.codec.Type(), cur, value) {
		return nil
	}
	if !u.write(key, value) {
		return errSyncOver
	}
	return nil
}

// write produces value (nil: a tombstone) for key within the sync's time.
// It returns false, writing nothing, once the updater ended.
func (u *viewUpdater[M]) write(key string, value []byte) bool {
	u.mu.Lock()
	if u.over {
		u.mu.Unlock()
		return false
	}
	u.inFlight.Add(1)
	u.mu.Unlock()
	p := u.p
	w := &recentWrite{value: value, at: time.Now()}
	p.mu.Lock()
	p.recent[key] = w
	p.mu.Unlock()
	rec := &kgo.Record{Topic: p.spec.Topic, Key: []byte(key), Value: value}
	if u.traced {
		injectTrace(u.ctx, rec)
		if value == nil {
			u.deletes.Add(1)
		} else {
			u.updates.Add(1)
		}
	}
	u.cl.Produce(u.ctx, rec, func(r *kgo.Record, err error) {
		defer u.inFlight.Done()
		if err != nil {
			// The write may or may not have landed: trust the table.
			p.mu.Lock()
			if p.recent[key] == w {
				delete(p.recent, key)
			}
			p.mu.Unlock()
			u.mu.Lock()
			if u.err == nil {
				u.err = fmt.Errorf("write %q to %s: %w", key, p.spec.Topic, err)
			}
			u.mu.Unlock()
			return
		}
		if value == nil {
			p.deletes.Inc()
		} else {
			p.updates.Inc()
		}
	})
	return true
}

// end makes further Update calls fail.
func (u *viewUpdater[M]) end() {
	u.mu.Lock()
	u.over = true
	u.mu.Unlock()
}

// wait ends the updater and waits for every write to be acknowledged or
// failed, or for the sync's time to be up: then it returns the context's
// error, and writes still in flight may or may not land.
func (u *viewUpdater[M]) wait() error {
	u.end()
	done := make(chan struct{})
	go func() {
		u.inFlight.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-u.ctx.Done():
		select {
		case <-done:
		default:
			return fmt.Errorf("writes not acknowledged in time: %w", u.ctx.Err())
		}
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.err
}
