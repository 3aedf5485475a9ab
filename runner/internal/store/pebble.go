package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/cockroachdb/pebble/v2"
)

// Pebble is a store in a Pebble database on local disk.
//
// The write-ahead log is disabled: the changelog topic is the durable copy.
// After a crash the database holds a consistent earlier prefix of the
// changelog (values and checkpoints are written in the same atomic
// batches), and restoring continues from its checkpoint.
type Pebble struct {
	partitioned bool
	db          *pebble.DB

	mu    sync.Mutex
	batch *pebble.Batch // reused by Apply under mu
}

// OpenPebble opens (creating if needed) the store in dir.
func OpenPebble(dir string, partitioned bool) (*Pebble, error) {
	opts := &pebble.Options{
		DisableWAL:   true,
		MemTableSize: 32 << 20,
		Logger:       quietLogger{},
	}
	db, err := pebble.Open(dir, opts)
	if err != nil {
		return nil, fmt.Errorf("open state store %s: %w", dir, err)
	}
	return &Pebble{partitioned: partitioned, db: db}, nil
}

// Get implements Store.
func (s *Pebble) Get(p int32, key []byte, fn func([]byte)) (bool, error) {
	var buf [64]byte
	k := appendDataKey(buf[:0], s.partitioned, p, key)
	v, closer, err := s.db.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	fn(v)
	return true, closer.Close()
}

// Apply implements Store.
func (s *Pebble) Apply(b *Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.batch == nil {
		s.batch = s.db.NewBatch()
	}
	wb := s.batch
	defer wb.Reset()
	var kbuf []byte
	for _, o := range b.ops {
		kbuf = appendDataKey(kbuf[:0], s.partitioned, o.p, o.key)
		var err error
		if o.value == nil {
			err = wb.Delete(kbuf, nil)
		} else {
			err = wb.Set(kbuf, o.value, nil)
		}
		if err != nil {
			return err
		}
	}
	for _, c := range b.checkpoints {
		if err := wb.Set(checkpointKey(c.p), binary.BigEndian.AppendUint64(nil, uint64(c.offset)), nil); err != nil {
			return err
		}
	}
	return wb.Commit(pebble.NoSync)
}

// Checkpoint implements Store.
func (s *Pebble) Checkpoint(p int32) (int64, bool, error) {
	v, closer, err := s.db.Get(checkpointKey(p))
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	defer closer.Close()
	if len(v) != 8 {
		return 0, false, fmt.Errorf("corrupt checkpoint of partition %d", p)
	}
	return int64(binary.BigEndian.Uint64(v)), true, nil
}

func (s *Pebble) bounds(p int32) (lo, hi []byte) {
	if s.partitioned {
		lo = appendDataKey(nil, true, p, nil)
		hi = appendDataKey(nil, true, p+1, nil)
		if p == -1>>1 { // max int32: the range ends at the data prefix end
			hi = []byte{prefixData + 1}
		}
		return lo, hi
	}
	return []byte{prefixData}, []byte{prefixData + 1}
}

// Scan implements Store. It reads a consistent snapshot.
func (s *Pebble) Scan(p int32, fn func(key, value []byte) error) error {
	lo, hi := s.bounds(p)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return err
	}
	skip := len(lo)
	for it.First(); it.Valid(); it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			it.Close()
			return err
		}
		if err := fn(it.Key()[skip:], v); err != nil {
			it.Close()
			if err == ErrStop {
				return nil
			}
			return err
		}
	}
	return it.Close()
}

// Drop implements Store.
func (s *Pebble) Drop(p int32) error {
	lo, hi := s.bounds(p)
	if err := s.db.DeleteRange(lo, hi, pebble.NoSync); err != nil {
		return err
	}
	if s.partitioned {
		return s.db.Delete(checkpointKey(p), pebble.NoSync)
	}
	return s.db.DeleteRange([]byte{prefixCheckpoint}, []byte{prefixCheckpoint + 1}, pebble.NoSync)
}

// Close flushes the memtable (there is no WAL) and closes the database.
func (s *Pebble) Close() error {
	ferr := s.db.Flush()
	cerr := s.db.Close()
	return errors.Join(ferr, cerr)
}

type quietLogger struct{}

func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Errorf(string, ...any) {}
func (quietLogger) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf(format, args...))
}
