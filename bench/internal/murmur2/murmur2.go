// Package murmur2 gives the key hash of Kafka's Java client (the default
// partitioner: toPositive(murmur2(key)) % partitions), kafmesh's
// runner.Murmur2, as a hash.Hash32, so that libraries that take a hasher
// (goka, sarama) place keys where Java, franz-go's StickyKeyPartitioner(nil)
// and kafmesh do.
package murmur2

import (
	"hash"

	"github.com/kafmesh/kafmesh/runner"
)

// Sum is murmur2 of b with the Java client's seed: kafmesh's own
// implementation, which its partitioner uses.
func Sum(b []byte) uint32 { return runner.Murmur2(b) }

// Partition is the partition the Java client picks for key.
func Partition(key []byte, partitions int32) int32 {
	return runner.KeyPartition(key, int(partitions))
}

// New32 returns a hash.Hash32 whose Sum32 is the positive murmur2 of
// everything written (Sum(b) & 0x7fffffff). A hash partitioner that takes
// |int32(Sum32())| % partitions (sarama's, hence goka's) then agrees with
// [Partition].
func New32() hash.Hash32 { return &hasher{} }

type hasher struct{ buf []byte }

func (h *hasher) Write(p []byte) (int, error) { h.buf = append(h.buf, p...); return len(p), nil }
func (h *hasher) Sum(b []byte) []byte {
	s := h.Sum32()
	return append(b, byte(s>>24), byte(s>>16), byte(s>>8), byte(s))
}
func (h *hasher) Reset()         { h.buf = h.buf[:0] }
func (h *hasher) Size() int      { return 4 }
func (h *hasher) BlockSize() int { return 4 }
func (h *hasher) Sum32() uint32  { return Sum(h.buf) & 0x7fffffff }
