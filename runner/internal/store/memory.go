package store

import (
	"slices"
	"sync"
)

// Memory is a store held in memory. It starts empty at every start, so its
// table is restored from the changelog's beginning.
type Memory struct {
	partitioned bool

	mu          sync.RWMutex
	data        map[int32]map[string][]byte // global stores use partition 0
	checkpoints map[int32]int64
}

// NewMemory returns an empty in-memory store.
func NewMemory(partitioned bool) *Memory {
	return &Memory{partitioned: partitioned, data: map[int32]map[string][]byte{}, checkpoints: map[int32]int64{}}
}

func (m *Memory) part(p int32) int32 {
	if m.partitioned {
		return p
	}
	return 0
}

// Get implements Store.
func (m *Memory) Get(p int32, key []byte, fn func([]byte)) (bool, error) {
	m.mu.RLock()
	v, ok := m.data[m.part(p)][string(key)]
	m.mu.RUnlock()
	if ok {
		fn(v)
	}
	return ok, nil
}

// Apply implements Store.
func (m *Memory) Apply(b *Batch) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, o := range b.ops {
		part := m.data[m.part(o.p)]
		if part == nil {
			part = map[string][]byte{}
			m.data[m.part(o.p)] = part
		}
		if o.value == nil {
			delete(part, string(o.key))
		} else {
			part[string(o.key)] = slices.Clone(o.value)
		}
	}
	for _, c := range b.checkpoints {
		m.checkpoints[c.p] = c.offset
	}
	return nil
}

// Checkpoint implements Store.
func (m *Memory) Checkpoint(p int32) (int64, bool, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	o, ok := m.checkpoints[p]
	return o, ok, nil
}

// Scan implements Store. It copies the keys of the partition first, so fn
// may run while writers continue.
func (m *Memory) Scan(p int32, fn func(key, value []byte) error) error {
	m.mu.RLock()
	part := m.data[m.part(p)]
	keys := make([]string, 0, len(part))
	for k := range part {
		keys = append(keys, k)
	}
	m.mu.RUnlock()
	slices.Sort(keys)
	for _, k := range keys {
		m.mu.RLock()
		v, ok := m.data[m.part(p)][k]
		m.mu.RUnlock()
		if !ok {
			continue
		}
		if err := fn([]byte(k), v); err != nil {
			if err == ErrStop {
				return nil
			}
			return err
		}
	}
	return nil
}

// Drop implements Store.
func (m *Memory) Drop(p int32) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.partitioned {
		delete(m.data, p)
		delete(m.checkpoints, p)
		return nil
	}
	clear(m.data)
	clear(m.checkpoints)
	return nil
}

// Close implements Store.
func (m *Memory) Close() error { return nil }
