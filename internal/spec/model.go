package spec

import (
	"time"
)

// Service is a loaded, resolved definition: the service file and all its
// components, with every name the generated code and the runtime need
// already derived. It is complete and consistent only when [Load] reported
// no error.
type Service struct {
	// Name and Description are as written.
	Name        string
	Description string
	// TopicPrefix is the service name in lowerCamel ("kafmesh"). It prefixes
	// the topics of two-fragment message refs and the default processor
	// group names.
	TopicPrefix string
	// File is the absolute path of the definition file.
	File string
	// ModuleRoot is the absolute directory of the nearest go.mod above the
	// definition file.
	ModuleRoot string
	// Output is where the generated code goes.
	Output Output
	// ProtoDirs are the absolute messages.protobuf directories, in the order
	// written: the import roots of the .proto files.
	ProtoDirs []string
	// Defaults are the topic defaults with built-in defaults applied.
	Defaults Defaults
	// Framing is the service's framing: key ("plain", "confluent",
	// "kafmesh2021", "auto"; "" when not written): how it writes protobuf
	// values to topics without their own.
	Framing string
	// Components are in the order their files were found (globs in the
	// order written, the files of one glob sorted by path).
	Components []*Component
	// Topics are all topics any part of the service uses, sorted by name.
	Topics []*Topic
	Pos    Position
}

// OwnedTopics returns the topics this service creates, sorted by name.
func (s *Service) OwnedTopics() []*Topic {
	var out []*Topic
	for _, t := range s.Topics {
		if t.Owned {
			out = append(out, t)
		}
	}
	return out
}

// Topic returns the topic of that name, or nil when no part uses it.
func (s *Service) Topic(name string) *Topic {
	for _, t := range s.Topics {
		if t.Name == name {
			return t
		}
	}
	return nil
}

// Output says where and as what the generated Go code is written.
type Output struct {
	// Package is the Go package name of the generated service package.
	Package string
	// Path is output.path as written (slash-separated, relative to the
	// module root).
	Path string
	// Module is output.module, or the module path from go.mod when it is
	// not set.
	Module string
	// Dir is the absolute output directory (ModuleRoot joined with Path).
	Dir string
	// ImportPath is the Go import path of the output package
	// (Module + "/" + Path, cleaned).
	ImportPath string
	// Compat is output.compat: "kafmesh2021" generates, beside the API,
	// the 2021 kafmesh names as deprecated wrappers; "" generates none.
	Compat string
}

// CompatKafmesh2021 is the output.compat value of the 2021 kafmesh names.
const CompatKafmesh2021 = "kafmesh2021"

// Defaults are the service-wide topic settings.
type Defaults struct {
	// Partitions is defaults.partition; 0 leaves it to the broker.
	Partitions int32
	// Replicas is defaults.replication; 0 leaves it to the broker.
	Replicas int16
	// Type is defaults.type, TypeProtobuf when not set.
	Type TopicType
	// Retention and Segment are retention.ms and segment.ms; 0 leaves them
	// to the broker.
	Retention time.Duration
	Segment   time.Duration
}

// TopicType tells how the values of a topic are encoded.
type TopicType string

const (
	// TypeProtobuf values are protobuf messages.
	TypeProtobuf TopicType = "protobuf"
	// TypeRaw values are bytes kafmesh does not interpret.
	TypeRaw TopicType = "raw"
)

// Role says how a part uses a topic.
type Role string

// The roles of a topic entry. Sources, outputs, state and view sources
// write (and own) their topic; the others read theirs.
const (
	RoleSource     Role = "source"
	RoleInput      Role = "input"
	RoleJoin       Role = "join"
	RoleLookup     Role = "lookup"
	RoleOutput     Role = "output"
	RoleState      Role = "state"
	RoleSink       Role = "sink"
	RoleView       Role = "view"
	RoleViewSource Role = "viewSource"
	RoleViewSink   Role = "viewSink"
)

// Owns reports whether a part in this role creates and writes its topic.
func (r Role) Owns() bool {
	switch r {
	case RoleSource, RoleOutput, RoleState, RoleViewSource:
		return true
	}
	return false
}

// ReadsTable reports whether a part in this role reads its topic as a table
// (latest value per key), so the topic should be compacted.
func (r Role) ReadsTable() bool {
	switch r {
	case RoleJoin, RoleLookup, RoleView, RoleViewSink, RoleViewSource, RoleState:
		return true
	}
	return false
}

// Entry is one topic a part uses: an entry under sources, inputs, joins,
// lookups, outputs, persistence, sinks, views, viewSources or viewSinks,
// resolved.
type Entry struct {
	Role Role
	// Ref is the message ref as written ("deviceId.heartbeat").
	Ref string
	// Topic is the Kafka topic: the entry's topic override, else the ref's
	// full name ("kafmesh.deviceId.heartbeat"). For persistence it is
	// always the processor's state topic "<group>-table".
	Topic string
	// Message is the full protobuf message name
	// ("kafmesh.deviceId.Heartbeat"). For raw entries it is what the ref
	// would name; it is not looked up.
	Message string
	// ProtoPackage ("kafmesh.deviceId") and ProtoName ("Heartbeat") are
	// the two halves of Message.
	ProtoPackage string
	ProtoName    string
	// GoName is the Go name derived from the ref ("DeviceIDHeartbeat"),
	// used for generated methods and types of this entry.
	GoName string
	// Type is the entry's type, else the service default.
	Type TopicType
	// Description is set for outputs, sinks, view sources and view sinks.
	Description string
	// Settings are the creation settings of Topic as this service declares
	// it (merged over every part that owns it, defaults applied). Nil when
	// this service does not own the topic (it belongs to another service).
	Settings *TopicSettings
	Pos      Position
}

// Owns reports whether this entry creates and writes its topic.
func (e *Entry) Owns() bool { return e.Role.Owns() }

// IsRaw reports whether the values are uninterpreted bytes.
func (e *Entry) IsRaw() bool { return e.Type == TypeRaw }

// TopicSettings are how a topic is created.
type TopicSettings struct {
	// Partitions is the partition count; 0 leaves it to the broker.
	Partitions int32
	// Replicas is the replication factor; 0 leaves it to the broker.
	Replicas int16
	// Compact selects cleanup.policy=compact over delete.
	Compact bool
	// Retention is retention.ms (0: broker default, -1ms: keep forever).
	Retention time.Duration
	// Segment is segment.ms (0: broker default).
	Segment time.Duration
}

// Topic is a Kafka topic used by the service.
type Topic struct {
	Name string
	// Owned is true when a source, output, persistence or view source of
	// this service writes the topic; the service then creates it with
	// Settings.
	Owned    bool
	Settings TopicSettings
	// Framing is the framing: key of the entries naming the topic ("" when
	// none has one); it overrides the service's.
	Framing string
	// Uses are every entry naming the topic, in definition order.
	Uses []*Entry
}

// Component is one component file.
type Component struct {
	// Name and Description are as written.
	Name        string
	Description string
	// Package is the Go package (and directory) of the component's
	// generated code: the name as written.
	Package string
	// GoName is the name in UpperCamel ("Heartbeats").
	GoName string
	// File is the absolute path of the component file.
	File string

	Sources     []*Source
	Processors  []*Processor
	Sinks       []*Sink
	Views       []*View
	ViewSources []*ViewSource
	ViewSinks   []*ViewSink
	Pos         Position
}

// Source is a typed producer into a topic the service owns.
type Source struct {
	// GoName is the message-based name ("DeviceIDHeartbeat").
	GoName string
	Entry  *Entry
}

// Processor consumes its inputs in one consumer group, with joins, lookups,
// outputs and optional persisted state.
type Processor struct {
	// Name and Description are as written.
	Name        string
	Description string
	// GoName is the name in UpperCamel ("HeartbeatEnricher").
	GoName string
	// Group is the consumer group: groupName as written, else
	// "<service prefix>.<component>.<processor>" in lowerCamel
	// ("kafmesh.heartbeats.heartbeatEnricher").
	Group string
	// StateTopic is Group+"-table" (compacted) when the processor has
	// persistence, else "".
	StateTopic string
	// DeadLetterTopic is Group+"-dlq", where the dead-letter error policy
	// writes records it gives up on.
	DeadLetterTopic string
	Inputs          []*Entry
	Joins           []*Entry
	Lookups         []*Entry
	Outputs         []*Entry
	// Persistence is the state entry (Role RoleState, Topic StateTopic), or
	// nil for a stateless processor.
	Persistence *Entry
	Pos         Position
}

// Entries returns every entry of the processor: inputs, joins, lookups,
// outputs, then persistence.
func (p *Processor) Entries() []*Entry {
	var out []*Entry
	out = append(out, p.Inputs...)
	out = append(out, p.Joins...)
	out = append(out, p.Lookups...)
	out = append(out, p.Outputs...)
	if p.Persistence != nil {
		out = append(out, p.Persistence)
	}
	return out
}

// Sink is a batching consumer that writes a topic to an outside store.
type Sink struct {
	// Name and Description are as written.
	Name        string
	Description string
	// GoName is the name in UpperCamel ("EnrichedHeartbeatWarehouseSink").
	GoName string
	// Group is the consumer group, by the 2021 rule:
	// "<service name>.<component name>.<GoName lower-cased>-sink".
	Group string
	Entry *Entry
}

// View is a local key/value copy of a table topic.
type View struct {
	// GoName is the message-based name ("CustomerIDDetails").
	GoName string
	Entry  *Entry
}

// ViewSource keeps a compacted topic in sync with an outside data set.
type ViewSource struct {
	// Name and Description are as written.
	Name        string
	Description string
	// GoName is the name in UpperCamel, or the message-based name when the
	// view source has no name.
	GoName string
	Entry  *Entry
}

// ViewSink keeps an outside store in sync with a table topic.
type ViewSink struct {
	// Name and Description are as written.
	Name        string
	Description string
	// GoName is the name in UpperCamel, or the message-based name when the
	// view sink has no name.
	GoName string
	Entry  *Entry
}

// Entries returns every entry of the component in definition order:
// sources, processors (inputs, joins, lookups, outputs, persistence),
// sinks, views, view sources, view sinks.
func (c *Component) Entries() []*Entry {
	return componentEntries(c)
}
