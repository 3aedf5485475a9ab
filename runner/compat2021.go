package runner

import "time"

// MessageContext is where a record a sink collects came from, in the shape
// the kafmesh 2021 runner gave it to sinks (Collect(ctx MessageContext,
// key, msg)). The sinks that output.compat: kafmesh2021 generates pass it,
// so 2021 sink code compiles unchanged.
//
// Deprecated: kafmesh 2021 shape; new sinks get a [SinkContext].
type MessageContext struct {
	Partition int32
	Topic     string
	Offset    int64
	Timestamp time.Time
}

// MessageContextOf is the MessageContext of the record c describes.
//
// Deprecated: for the code output.compat: kafmesh2021 generates.
func MessageContextOf(c SinkContext) MessageContext {
	return MessageContext{Partition: c.Partition(), Topic: c.Topic(), Offset: c.Offset(), Timestamp: c.Timestamp()}
}
