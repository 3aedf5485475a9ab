package store

import (
	"hash/maphash"
	"slices"
	"sync"
)

// Cached is a read cache in front of another store, for tables that are
// read far more often than they change: join tables and the tables behind
// lookups and views. A read of a key seen recently (also one found absent)
// costs a map lookup instead of a search of the store; every write goes to
// the store first and then drops the cached keys it touched.
//
// The cache holds about limit keys per partition (a partitioned store) or
// in all (a global one); when it is full an arbitrary key leaves it. A
// write drops its keys from the cache before it reaches the store, and a
// read that misses fills the cache only if no write touched the shard
// since the read began, so the cache never answers with a value older than
// one the store has already given out.
type Cached struct {
	Store
	partitioned bool
	perShard    int
	seed        maphash.Seed

	mu     sync.RWMutex
	shards map[int32]*cacheShard // partitioned: by partition
	global [globalShards]cacheShard
}

// globalShards spreads the keys of a global store (read by every task of a
// processor) over locks.
const globalShards = 16

type cacheShard struct {
	mu      sync.Mutex
	gen     uint64 // counts writes begun, see Get
	writing int    // writes in progress
	values  map[string]cachedValue
}

type cachedValue struct {
	value   []byte // never modified
	present bool
}

// NewCached puts a read cache of about limit keys in front of st;
// partitioned is st's key layout.
func NewCached(st Store, partitioned bool, limit int) *Cached {
	c := &Cached{Store: st, partitioned: partitioned, perShard: max(limit/globalShards, 1), seed: maphash.MakeSeed()}
	if partitioned {
		c.perShard = max(limit, 1)
		c.shards = map[int32]*cacheShard{}
	}
	return c
}

func (c *Cached) shard(p int32, key []byte) *cacheShard {
	if !c.partitioned {
		return &c.global[maphash.Bytes(c.seed, key)%globalShards]
	}
	c.mu.RLock()
	s := c.shards[p]
	c.mu.RUnlock()
	if s != nil {
		return s
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if s = c.shards[p]; s == nil {
		s = &cacheShard{}
		c.shards[p] = s
	}
	return s
}

// Get implements Store.
func (c *Cached) Get(p int32, key []byte, fn func(value []byte)) (bool, error) {
	s := c.shard(p, key)
	s.mu.Lock()
	v, hit := s.values[string(key)]
	gen, fill := s.gen, s.writing == 0
	s.mu.Unlock()
	if hit {
		if v.present {
			fn(v.value)
		}
		return v.present, nil
	}
	var value []byte
	present, err := c.Store.Get(p, key, func(b []byte) { value = slices.Clone(b) })
	if err != nil {
		return false, err
	}
	if fill {
		s.fill(string(key), cachedValue{value: value, present: present}, gen, c.perShard)
	}
	if present {
		fn(value)
	}
	return present, nil
}

// fill caches v for key unless a write began since gen was read; a full
// shard drops an arbitrary key first.
func (s *cacheShard) fill(key string, v cachedValue, gen uint64, limit int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gen != gen {
		return
	}
	if s.values == nil {
		s.values = make(map[string]cachedValue)
	}
	if len(s.values) >= limit {
		for k := range s.values {
			delete(s.values, k)
			break
		}
	}
	s.values[key] = v
}

// Apply implements Store: the batch's keys leave the cache, then the batch
// is written.
func (c *Cached) Apply(b *Batch) error {
	c.writes(b, 1)
	defer c.writes(b, -1)
	return c.Store.Apply(b)
}

// writes marks the start (delta 1) or end (-1) of a write of b in each
// shard it touches, dropping its keys at the start.
func (c *Cached) writes(b *Batch, delta int) {
	for _, o := range b.ops {
		s := c.shard(o.p, o.key)
		s.mu.Lock()
		if delta > 0 {
			delete(s.values, string(o.key))
			s.gen++
		}
		s.writing += delta
		s.mu.Unlock()
	}
}

// Drop implements Store.
func (c *Cached) Drop(p int32) error {
	var shards []*cacheShard
	if c.partitioned {
		shards = []*cacheShard{c.shard(p, nil)}
	} else {
		for i := range c.global {
			shards = append(shards, &c.global[i])
		}
	}
	for _, s := range shards {
		s.mu.Lock()
		clear(s.values)
		s.gen++
		s.writing++
		s.mu.Unlock()
	}
	defer func() {
		for _, s := range shards {
			s.mu.Lock()
			s.writing--
			s.mu.Unlock()
		}
	}()
	return c.Store.Drop(p)
}
