package runner

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// SinkHandler is implemented by the user of a sink.
//
// Collect is called for each record in offset order per partition; msg is
// the zero value (nil) for a tombstone, which means the key was deleted.
// Flush is called once per batch, by size and by interval, before
// partitions are revoked and at shutdown; offsets are committed only after
// the Flush that covers them succeeds.
//
// Delivery is at-least-once: after a crash or a failed Flush, records are
// collected and flushed again. Flush must therefore be idempotent, e.g. an
// upsert keyed by the record key rather than an insert.
//
// Flush writes everything collected since the last Flush that succeeded.
// When it returns an error it must keep that batch: with [RetryOnError]
// the runtime calls Flush again, without collecting the records again.
//
// Errors: a Collect error or an undecodable value goes through the sink's
// [ErrorPolicy] like a processor's record (retry, then fail, skip or
// dead-letter to "<group>-dlq"); skipped and dead-lettered records are
// committed with the next flush. A Flush that still fails after the
// policy's retries stops the sink and Run returns the error, whatever the
// final policy: skip and dead-letter apply to single records, and a failed
// batch usually means the outside store is down, so dropping it would lose
// data. Nothing of a failed batch is committed.
type SinkHandler[M any] interface {
	Collect(ctx SinkContext, key string, msg M) error
	Flush(ctx context.Context) error
}

// SinkContext tells a sink about the record being collected.
type SinkContext interface {
	Context() context.Context
	Timestamp() time.Time
	Headers() []kgo.RecordHeader
	Topic() string
	Partition() int32
	Offset() int64
}

// NewSink registers a sink.
func NewSink[M any](svc *Service, spec SinkSpec, codec Codec[M], h SinkHandler[M], opts ...PartOption) error {
	if any(h) == nil {
		return ErrNilHandler
	}
	cfg := partConfig{interval: 5 * time.Second, batchSize: 1000}
	if err := applyPartOptions(kindSink, &cfg, opts); err != nil {
		return err
	}
	if err := cfg.policy.validate(); err != nil {
		return err
	}
	return svc.add(newSinkPart(svc, spec, cfg, codec, h))
}
