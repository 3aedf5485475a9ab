// Package runner runs kafmesh services against Kafka.
//
// Generated code (see `kafmesh gen`) declares the parts of a service —
// sources, processors, views, sinks, view sources and view sinks — and
// registers them on a [Service]. The Service owns one set of Kafka clients,
// the local state directory, the gRPC APIs every kafmesh service serves
// (Ping, Discovery and Watch) and a Prometheus registry of its own.
//
// # Delivery semantics
//
// Producers use acks=all and are idempotent. Processors are at-least-once
// by default: outputs and state changes are produced, and the input offsets
// are committed only once every one of them is acknowledged. With
// [ExactlyOnce], outputs, state changes and input offsets are written in one
// Kafka transaction, so a read-committed consumer sees each input's effects
// exactly once, even across crashes.
//
// # State
//
// A processor with persistence keeps its state in a compacted changelog
// topic named "<group>-table" and in a local store per partition (Pebble by
// default, in memory with [WithMemoryState]). When a partition is assigned,
// its local store is brought up to date from the changelog before any input
// of that partition is processed.
//
// # Co-partitioning
//
// Partition i of every input, join and state topic of a processor is owned
// by exactly one member of its consumer group. Partition counts are checked
// when the service starts; a mismatch is an error, not silent corruption.
package runner
