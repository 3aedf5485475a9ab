package runner

import (
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// TopicType tells how the values of a topic are encoded.
type TopicType int

const (
	// TopicProtobuf values are protobuf messages (plain, or in Confluent or
	// older kafmesh framing).
	TopicProtobuf TopicType = 1
	// TopicRaw values are bytes the runtime does not interpret.
	TopicRaw TopicType = 2
)

// String returns "protobuf" or "raw", the words used in definitions.
func (t TopicType) String() string {
	switch t {
	case TopicProtobuf:
		return "protobuf"
	case TopicRaw:
		return "raw"
	}
	return "invalid"
}

// TopicRef names a topic a part reads or writes and the message its values
// hold.
type TopicRef struct {
	// Topic is the Kafka topic name.
	Topic string
	// Message is the full protobuf message name, e.g.
	// "kafmesh.deviceId.Heartbeat"; empty for raw topics.
	Message string
	// Type is how the values are encoded.
	Type TopicType
}

// TopicConfig is how a topic is created by the service that owns it, as
// declared in the definition (with the service defaults applied).
type TopicConfig struct {
	Name string
	// Partitions is the partition count; 0 means the broker default.
	Partitions int32
	// Replicas is the replication factor; 0 means the broker default.
	Replicas int16
	// Compact selects cleanup.policy=compact (tables) over delete.
	Compact bool
	// Retention is retention.ms; 0 leaves the broker default.
	Retention time.Duration
	// Segment is segment.ms; 0 leaves the broker default.
	Segment time.Duration
}

// ComponentInfo describes one component of a service.
type ComponentInfo struct {
	Name        string
	Description string
}

// Definition is the generated description of a whole service: what the
// YAML definition declared. It feeds topic configuration and the discovery
// API.
type Definition struct {
	Name        string
	Description string
	Components  []ComponentInfo
	// Topics are the topics this service owns (writes as a source, output,
	// state or view source), with their creation settings.
	Topics []TopicConfig
	// Files are the protobuf files of every message the service uses. Their
	// dependencies are included transitively when the service reports its
	// descriptors, so tools can decode any value.
	Files []protoreflect.FileDescriptor
}

// ProcessorSpec declares a processor: the generated code fills it from the
// definition.
type ProcessorSpec struct {
	Component   string
	Name        string
	Description string
	// Group is the consumer group; its state topic is Group+"-table".
	Group   string
	Inputs  []TopicRef
	Joins   []TopicRef
	Lookups []TopicRef
	Outputs []OutputRef
	// State is the persistence topic, nil when the processor is stateless.
	State *TopicRef
}

// OutputRef is a processor output.
type OutputRef struct {
	TopicRef
	Description string
}

// SourceSpec declares a source: a typed producer into a topic.
type SourceSpec struct {
	Component string
	TopicRef
}

// ViewSpec declares a view: a local copy of a table topic.
type ViewSpec struct {
	Component string
	TopicRef
}

// SinkSpec declares a sink: a batching consumer that writes a topic to an
// outside store.
type SinkSpec struct {
	Component   string
	Name        string
	Description string
	// Group is the sink's consumer group.
	Group string
	TopicRef
}

// ViewSourceSpec declares a view source: it keeps a table topic equal to an
// outside data set.
type ViewSourceSpec struct {
	Component   string
	Name        string
	Description string
	TopicRef
}

// ViewSinkSpec declares a view sink: it keeps an outside store equal to a
// table topic.
type ViewSinkSpec struct {
	Component   string
	Name        string
	Description string
	TopicRef
}
