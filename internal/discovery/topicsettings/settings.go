// Package topicsettings reads, from the Kafka brokers, the settings of the
// mesh's topics: partition count, replication factor and the topic configs
// that matter to a stream mesh (cleanup policy, retention, segment roll,
// min in-sync replicas, maximum message size, …), each with where its value
// comes from, so a reader tells a value set on the topic from a default.
//
// Read asks the cluster once: one Metadata request and one
// DescribeConfigs request for all the topics, whatever their number.
// Monitor keeps the latest read and refreshes it (Run).
package topicsettings

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// DefaultConfigNames are the topic configs Read keeps, in the order they
// are reported: those that decide how a stream or a table topic behaves.
// Every other config is kept only when it is set on the topic itself.
var DefaultConfigNames = []string{
	"cleanup.policy",
	"retention.ms",
	"retention.bytes",
	"segment.ms",
	"segment.bytes",
	"min.insync.replicas",
	"max.message.bytes",
	"compression.type",
	"message.timestamp.type",
	"delete.retention.ms",
	"min.compaction.lag.ms",
	"max.compaction.lag.ms",
	"min.cleanable.dirty.ratio",
	"unclean.leader.election.enable",
}

// Source says where a config's value comes from.
type Source string

// The sources of a topic config's value, from the most to the least
// specific. Only SourceTopic is a value set for this topic; the others are
// what the topic inherits.
const (
	// SourceTopic: set on the topic itself (created with it, or altered).
	SourceTopic Source = "TOPIC"
	// SourceBroker: a dynamic config of the broker that answered.
	SourceBroker Source = "BROKER"
	// SourceCluster: a dynamic default of every broker of the cluster.
	SourceCluster Source = "CLUSTER"
	// SourceStaticBroker: the broker's configuration file.
	SourceStaticBroker Source = "STATIC_BROKER"
	// SourceDefault: Kafka's built-in default.
	SourceDefault Source = "DEFAULT"
	// SourceUnknown: the broker reported no (or an unknown) source.
	SourceUnknown Source = "UNKNOWN"
)

func sourceOf(s kmsg.ConfigSource) Source {
	switch s {
	case kmsg.ConfigSourceDynamicTopicConfig:
		return SourceTopic
	case kmsg.ConfigSourceDynamicBrokerConfig:
		return SourceBroker
	case kmsg.ConfigSourceDynamicDefaultBrokerConfig:
		return SourceCluster
	case kmsg.ConfigSourceStaticBrokerConfig:
		return SourceStaticBroker
	case kmsg.ConfigSourceDefaultConfig:
		return SourceDefault
	}
	return SourceUnknown
}

// Config is one topic config.
type Config struct {
	Name string
	// Value is nil when the broker hides it (Sensitive) or it has none.
	Value     *string
	Source    Source
	Sensitive bool
}

// IsDefault reports whether the topic inherits the value (from a broker,
// the cluster or Kafka's default) rather than setting it itself.
func (c Config) IsDefault() bool { return c.Source != SourceTopic }

// Settings are one topic's settings as the cluster reported them.
type Settings struct {
	Topic string
	// Partitions is the topic's partition count.
	Partitions int
	// ReplicationFactor is how many replicas each partition has (of the
	// first partition, as Kafka's tools report it; during a reassignment it
	// may count the replicas being added).
	ReplicationFactor int
	// Configs are the configs named by the reader (DefaultConfigNames) in
	// that order, then every other config set on the topic itself, by
	// name. A name the broker does not know is left out.
	Configs []Config
	// Err says why the configs (or the topic's metadata) could not be read
	// this time; empty when they were. The other fields then keep what the
	// last good read said, if there was one.
	Err string
	// ReadAt is when the settings were read.
	ReadAt time.Time
}

// Read asks the cluster adm talks to for the settings of topics, with one
// Metadata and one DescribeConfigs request. The result has an entry for
// every topic that exists; a topic the cluster does not know is left out.
// names are the configs to keep (in that order) beside the ones set on the
// topic; nil means DefaultConfigNames.
//
// The error is not nil when a request failed as a whole (the cluster does
// not answer, the client may not describe topics); then the result is nil.
// A topic whose own metadata or configs failed is in the result with Err.
func Read(ctx context.Context, adm *kadm.Client, topics []string, names []string) (map[string]Settings, error) {
	if len(topics) == 0 {
		return map[string]Settings{}, nil // Metadata of no topic would list them all
	}
	if names == nil {
		names = DefaultConfigNames
	}
	now := time.Now()
	md, err := adm.Metadata(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("reading topic metadata: %w", err)
	}
	out := make(map[string]Settings, len(topics))
	var exist []string
	for _, t := range topics {
		td, ok := md.Topics[t]
		if !ok || errors.Is(td.Err, kerr.UnknownTopicOrPartition) {
			continue
		}
		s := Settings{Topic: t, ReadAt: now}
		if td.Err != nil {
			s.Err = "metadata: " + td.Err.Error()
			out[t] = s
			continue
		}
		s.Partitions, s.ReplicationFactor = len(td.Partitions), td.Partitions.NumReplicas()
		out[t] = s
		exist = append(exist, t)
	}
	if len(exist) == 0 {
		return out, nil
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, exist...)
	if err != nil && len(rcs) == 0 {
		return nil, fmt.Errorf("describing topic configs: %w", err)
	}
	described := make(map[string]bool, len(rcs))
	for _, rc := range rcs {
		s, ok := out[rc.Name]
		if !ok {
			continue
		}
		described[rc.Name] = true
		if rc.Err != nil {
			s.Err = "configs: " + rc.Err.Error()
			if rc.ErrMessage != "" {
				s.Err += " (" + rc.ErrMessage + ")"
			}
		} else {
			s.Configs = pick(rc.Configs, names)
		}
		out[rc.Name] = s
	}
	for _, t := range exist {
		if !described[t] {
			s := out[t]
			s.Err = "configs: not reported by the cluster"
			if err != nil {
				s.Err = "configs: " + err.Error()
			}
			out[t] = s
		}
	}
	return out, nil
}

// pick returns the configs named in names, in that order, then the other
// configs set on the topic, by name.
func pick(all []kadm.Config, names []string) []Config {
	byName := make(map[string]kadm.Config, len(all))
	for _, c := range all {
		byName[c.Key] = c
	}
	out := make([]Config, 0, len(names))
	wanted := make(map[string]bool, len(names))
	for _, n := range names {
		wanted[n] = true
		if c, ok := byName[n]; ok {
			out = append(out, convert(c))
		}
	}
	var extra []Config
	for _, c := range all {
		if !wanted[c.Key] && sourceOf(c.Source) == SourceTopic {
			extra = append(extra, convert(c))
		}
	}
	slices.SortFunc(extra, func(a, b Config) int { return strings.Compare(a.Name, b.Name) })
	return append(out, extra...)
}

func convert(c kadm.Config) Config {
	out := Config{Name: c.Key, Source: sourceOf(c.Source), Sensitive: c.Sensitive}
	if c.Value != nil && !c.Sensitive {
		v := *c.Value
		out.Value = &v
	}
	return out
}
