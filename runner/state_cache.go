package runner

import (
	"slices"
	"unsafe"

	"github.com/kafmesh/kafmesh/runner/internal/store"
)

// stateCache is a task's write-back cache in front of its partition of the
// local state store.
//
// Reads of keys seen recently never touch the store. Writes stay in the
// cache until the task commits: then each key changed since the last
// commit is produced to the changelog once (with its latest value) and,
// once the changelog has it, written to the store with the new checkpoint.
// Values are never modified in place: a write replaces the slice.
type stateCache struct {
	st    store.Store
	p     int32
	limit int

	entries map[string]*cacheEntry
	dirty   []*cacheEntry // changed since the last prepare
	flushed []*cacheEntry // produced by prepare, awaiting committed/aborted
}

type cacheEntry struct {
	key      string
	value    []byte // nil: the key has no state
	dirty    bool   // changed since the last prepare
	inFlight bool   // prepared, not yet committed to the store
}

func newStateCache(st store.Store, p int32, limit int) *stateCache {
	return &stateCache{st: st, p: p, limit: limit, entries: make(map[string]*cacheEntry)}
}

// entry returns the cache entry of key, reading the store on a miss. Its
// value must not be modified.
func (c *stateCache) entry(key []byte) (*cacheEntry, error) {
	if e, ok := c.entries[string(key)]; ok {
		return e, nil
	}
	var value []byte
	_, err := c.st.Get(c.p, key, func(v []byte) { value = slices.Clone(v) })
	if err != nil {
		return nil, err
	}
	c.evict()
	e := &cacheEntry{key: string(key), value: value}
	c.entries[e.key] = e
	return e, nil
}

// get returns the state of key. The returned slice must not be modified.
func (c *stateCache) get(key []byte) ([]byte, bool, error) {
	e, err := c.entry(key)
	if err != nil {
		return nil, false, err
	}
	return e.value, e.value != nil, nil
}

// set records the new state of key (nil deletes it). value is copied.
func (c *stateCache) set(key []byte, value []byte) {
	e, ok := c.entries[string(key)]
	if !ok {
		c.evict()
		e = &cacheEntry{key: string(key)}
		c.entries[e.key] = e
	}
	c.setEntry(e, value)
}

// setEntry is set for an entry of this cache that get or entry returned
// and no eviction dropped since (nothing evicts while a record is handled).
// The entry reuses its own buffer unless a commit in flight still holds it.
func (c *stateCache) setEntry(e *cacheEntry, value []byte) {
	switch {
	case value == nil:
		e.value = nil
	case e.inFlight || e.value == nil || cap(e.value) < len(value):
		e.value = append(make([]byte, 0, len(value)), value...)
	default:
		e.value = append(e.value[:0], value...)
	}
	if !e.dirty {
		e.dirty = true
		c.dirty = append(c.dirty, e)
	}
}

// evict drops clean entries (in map order, i.e. at random) once the cache
// is full. Dirty entries are never dropped.
func (c *stateCache) evict() {
	if len(c.entries) < c.limit {
		return
	}
	target := c.limit * 3 / 4
	for k, e := range c.entries {
		if len(c.entries) <= target {
			return
		}
		if !e.dirty && !e.inFlight {
			delete(c.entries, k)
		}
	}
}

// pending reports whether any state changed since the last prepare.
func (c *stateCache) pending() bool { return len(c.dirty) > 0 }

// changed is how many keys changed since the last prepare: how many
// records the next prepare emits.
func (c *stateCache) changed() int { return len(c.dirty) }

// prepare hands each changed key to emit (which produces the changelog
// record) and records the store writes in b. It returns how many keys
// changed.
func (c *stateCache) prepare(b *store.Batch, emit func(key, value []byte)) int {
	n := len(c.dirty)
	for _, e := range c.dirty {
		// A view of the entry's key, not a copy (one allocation per
		// changed key and commit less): the changelog record, the batch
		// and the stores only read it, and a string never changes.
		key := unsafe.Slice(unsafe.StringData(e.key), len(e.key))
		emit(key, e.value)
		if e.value == nil {
			b.Delete(c.p, key)
		} else {
			b.Set(c.p, key, e.value)
		}
		e.dirty, e.inFlight = false, true
		c.flushed = append(c.flushed, e)
	}
	clear(c.dirty)
	c.dirty = c.dirty[:0]
	return n
}

// committed is called once the prepared changes are in the changelog and
// the store.
func (c *stateCache) committed() {
	for _, e := range c.flushed {
		e.inFlight = false
	}
	clear(c.flushed)
	c.flushed = c.flushed[:0]
}

// aborted forgets every change since the last commit: prepared ones (their
// transaction was aborted) and unprepared ones. The next read of those
// keys goes to the store again.
func (c *stateCache) aborted() {
	for _, e := range c.flushed {
		delete(c.entries, e.key)
	}
	for _, e := range c.dirty {
		delete(c.entries, e.key)
	}
	c.committed()
	clear(c.dirty)
	c.dirty = c.dirty[:0]
}
