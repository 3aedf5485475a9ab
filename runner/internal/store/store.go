// Package store holds the local key/value stores behind processor state,
// join tables and views.
//
// A store keeps the values of one table and, per Kafka partition, the
// checkpoint: the next changelog offset to read. Values and checkpoint
// change together in one atomic [Batch], so after a crash a store is always
// a consistent prefix of its changelog and restoring resumes from the
// checkpoint.
//
// Keys are either partitioned (state and join tables: each partition's keys
// live apart and a partition can be dropped alone) or global (views: one
// key space, so a key is found whichever partition it was written to).
package store

import (
	"encoding/binary"
	"errors"
)

// ErrStop may be returned by a scan callback to end the scan early; Scan
// then returns nil.
var ErrStop = errors.New("stop scan")

// Store is a local copy of a table. Implementations are safe for
// concurrent use.
type Store interface {
	// Get calls fn with the value of key in partition p (ignored by
	// global stores) and reports whether it exists. The value is only
	// valid during fn.
	Get(p int32, key []byte, fn func(value []byte)) (bool, error)
	// Apply writes the batch atomically.
	Apply(b *Batch) error
	// Checkpoint returns the next offset to read of partition p.
	Checkpoint(p int32) (offset int64, ok bool, err error)
	// Scan calls fn for every key and value of partition p (every
	// partition for global stores, in key order). Values are only valid
	// during fn.
	Scan(p int32, fn func(key, value []byte) error) error
	// Drop removes partition p's values and checkpoint (all values and
	// checkpoints for global stores).
	Drop(p int32) error
	// Close flushes and releases the store.
	Close() error
}

// Batch is a set of writes plus checkpoints, applied atomically.
type Batch struct {
	ops         []op
	checkpoints []checkpoint
}

type op struct {
	p          int32
	key, value []byte // value nil: delete
}

type checkpoint struct {
	p      int32
	offset int64
}

// Set records key=value in partition p. The batch keeps the slices: do not
// modify them until the batch is applied.
func (b *Batch) Set(p int32, key, value []byte) { b.ops = append(b.ops, op{p, key, value}) }

// Delete records the removal of key in partition p.
func (b *Batch) Delete(p int32, key []byte) { b.ops = append(b.ops, op{p, key, nil}) }

// SetCheckpoint records that partition p's changelog is applied up to (not
// including) offset.
func (b *Batch) SetCheckpoint(p int32, offset int64) {
	b.checkpoints = append(b.checkpoints, checkpoint{p, offset})
}

// Len is the number of writes in the batch.
func (b *Batch) Len() int { return len(b.ops) }

// Empty reports whether the batch has neither writes nor checkpoints.
func (b *Batch) Empty() bool { return len(b.ops) == 0 && len(b.checkpoints) == 0 }

// Reset empties the batch for reuse.
func (b *Batch) Reset() {
	clear(b.ops)
	b.ops = b.ops[:0]
	b.checkpoints = b.checkpoints[:0]
}

// Key layout shared by the implementations:
//
//	data, partitioned:  0x00 | partition (4 bytes BE) | key
//	data, global:       0x00 | key
//	checkpoint:         0x01 | partition (4 bytes BE)  -> offset (8 bytes BE)
const (
	prefixData       = 0x00
	prefixCheckpoint = 0x01
)

func appendDataKey(dst []byte, partitioned bool, p int32, key []byte) []byte {
	dst = append(dst, prefixData)
	if partitioned {
		dst = binary.BigEndian.AppendUint32(dst, uint32(p))
	}
	return append(dst, key...)
}

func checkpointKey(p int32) []byte {
	return binary.BigEndian.AppendUint32([]byte{prefixCheckpoint}, uint32(p))
}
