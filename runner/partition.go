package runner

import (
	"encoding/binary"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Murmur2 is the 32-bit murmur2 hash exactly as the Java client computes
// it for record keys (seed 0x9747b28c): KeyPartition takes it modulo the
// partition count, so a key lands on the partition the Java client picks.
func Murmur2(data []byte) uint32 {
	const (
		seed = 0x9747b28c
		m    = 0x5bd1e995
		r    = 24
	)
	n := len(data)
	h := uint32(seed) ^ uint32(n)
	for len(data) >= 4 {
		k := binary.LittleEndian.Uint32(data)
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
		data = data[4:]
	}
	switch len(data) {
	case 3:
		h ^= uint32(data[2]) << 16
		fallthrough
	case 2:
		h ^= uint32(data[1]) << 8
		fallthrough
	case 1:
		h ^= uint32(data[0])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return h
}

// KeyPartition returns the partition the Java client's default partitioner
// picks for key among n partitions.
func KeyPartition(key []byte, n int) int32 {
	return int32(int(Murmur2(key)&0x7fffffff) % n)
}

// partitioner sends records of the topics in manual to the partition set
// on the record (changelogs: a state change belongs to its task's
// partition), and every other record by the murmur2 hash of its key.
func partitioner(manual map[string]bool) kgo.Partitioner {
	byKey := func(r *kgo.Record, n int) int { return int(KeyPartition(r.Key, n)) }
	byRecord := func(r *kgo.Record, _ int) int { return int(r.Partition) }
	return kgo.BasicConsistentPartitioner(func(topic string) func(*kgo.Record, int) int {
		if manual[topic] {
			return byRecord
		}
		return byKey
	})
}
