package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	oteltrace "go.opentelemetry.io/otel/trace"
)

// sinkPart runs one registered sink: a consumer group over one topic that
// collects records into the user's batch and commits their offsets only
// after the Flush that covers them succeeded.
//
// Rebalances are blocked from each poll until the batch is flushed and
// committed (kgo.BlockRebalanceOnPoll), so a partition is never revoked
// while records of it are collected but not flushed: when a rebalance
// waits, the sink flushes at once instead of at the next size or interval
// trigger.
type sinkPart[M any] struct {
	svc   *Service
	spec  SinkSpec
	cfg   partConfig
	codec Codec[M]
	h     SinkHandler[M]
	log   *slog.Logger
	dlq   string
	m     sinkMetrics

	cl *kgo.Client

	// rebalanceWanted is set when a rebalance waits for the sink to
	// allow it; wakePoll then cancels the poll in progress.
	rebalanceWanted atomic.Bool
	errLog          rateLimit
	wakeMu          sync.Mutex
	wakePoll        context.CancelFunc

	batch sinkBatch

	prodMu  sync.Mutex
	prodErr error // first dead letter that failed
}

// sinkBatch is what was handled since the last flush.
type sinkBatch struct {
	handled   int       // records collected, skipped or dead-lettered
	collected int       // records handed to Collect successfully
	first     time.Time // when the first record of the batch was handled
	offsets   map[string]map[int32]kgo.EpochOffset
}

func (b *sinkBatch) add(r *kgo.Record, collected bool) {
	if b.handled == 0 {
		b.first = time.Now()
	}
	b.handled++
	if collected {
		b.collected++
	}
	if b.offsets == nil {
		b.offsets = map[string]map[int32]kgo.EpochOffset{}
	}
	ps := b.offsets[r.Topic]
	if ps == nil {
		ps = map[int32]kgo.EpochOffset{}
		b.offsets[r.Topic] = ps
	}
	ps[r.Partition] = kgo.EpochOffset{Epoch: r.LeaderEpoch, Offset: r.Offset + 1}
}

func (b *sinkBatch) reset() { *b = sinkBatch{} }

type sinkMetrics struct {
	records   prometheus.Counter
	batchSize prometheus.Observer
	flushTime prometheus.Observer
	errors    func(outcome string) prometheus.Counter
}

func newSinkPart[M any](s *Service, spec SinkSpec, cfg partConfig, c Codec[M], h SinkHandler[M]) part {
	sp := &sinkPart[M]{
		svc:   s,
		spec:  spec,
		cfg:   cfg,
		codec: c,
		h:     h,
		log:   s.log.With("sink", spec.Component+"/"+spec.Name, "group", spec.Group),
		dlq:   spec.Group + "-dlq",
	}
	sp.m = sinkMetrics{
		records:   s.metrics.sinkRecords.WithLabelValues(spec.Component, spec.Name),
		batchSize: s.metrics.sinkBatchSize.WithLabelValues(spec.Component, spec.Name),
		flushTime: s.metrics.sinkFlushSeconds.WithLabelValues(spec.Component, spec.Name),
		errors: func(outcome string) prometheus.Counter {
			return s.metrics.sinkErrors.WithLabelValues(spec.Component, spec.Name, outcome)
		},
	}
	return sp
}

func (sp *sinkPart[M]) kind() partKind    { return kindSink }
func (sp *sinkPart[M]) component() string { return sp.spec.Component }
func (sp *sinkPart[M]) name() string      { return sp.spec.Name }
func (sp *sinkPart[M]) describe() any     { return sp.spec }

func (sp *sinkPart[M]) uses() []topicUse {
	u := []topicUse{{ref: sp.spec.TopicRef, role: roleSink}}
	if sp.cfg.policy.final().action == actionDeadLetter {
		u = append(u, topicUse{ref: TopicRef{Topic: sp.dlq, Type: TopicRaw}, role: roleDeadLetter, owned: true})
	}
	return u
}

func (sp *sinkPart[M]) run(ctx context.Context) error {
	if sp.spec.Group == "" {
		return errors.New("sink has no consumer group")
	}
	cl, err := kgo.NewClient(sp.svc.clientOpts(append(producerOpts(),
		kgo.ConsumerGroup(sp.spec.Group),
		kgo.ConsumeTopics(sp.spec.Topic),
		kgo.Balancers(sinkBalancers()...),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.OnPartitionsCallbackBlocked(sp.rebalanceBlocked),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			sp.log.Info("partitions assigned", "partitions", m[sp.spec.Topic])
		}),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			sp.log.Info("partitions revoked", "partitions", m[sp.spec.Topic])
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			sp.log.Warn("partitions lost", "partitions", m[sp.spec.Topic])
		}),
	)...)...)
	if err != nil {
		return err
	}
	sp.cl = cl
	err = sp.loop(ctx)
	// Leaving the group runs the revoke callback, which waits until
	// rebalances are allowed; nothing is pending any more.
	cl.AllowRebalance()
	closeBounded(cl.Close, sp.svc.shutdownTimeout(), sp.log)
	return err
}

// rebalanceBlocked runs (in its own goroutine) when a rebalance waits for
// the sink: the sink flushes its batch and then lets it proceed.
func (sp *sinkPart[M]) rebalanceBlocked(context.Context, *kgo.Client) {
	sp.rebalanceWanted.Store(true)
	sp.wakeMu.Lock()
	if sp.wakePoll != nil {
		sp.wakePoll()
	}
	sp.wakeMu.Unlock()
}

// pollContext bounds a poll: by the batch's flush deadline when records
// wait, and by a waiting rebalance either way.
func (sp *sinkPart[M]) pollContext(ctx context.Context) (context.Context, context.CancelFunc) {
	var pollCtx context.Context
	var cancel context.CancelFunc
	if sp.batch.handled > 0 {
		pollCtx, cancel = context.WithDeadline(ctx, sp.batch.first.Add(sp.cfg.interval))
	} else {
		pollCtx, cancel = context.WithCancel(ctx)
	}
	sp.wakeMu.Lock()
	sp.wakePoll = cancel
	sp.wakeMu.Unlock()
	if sp.rebalanceWanted.Load() && sp.batch.handled > 0 {
		cancel()
	}
	return pollCtx, func() {
		sp.wakeMu.Lock()
		sp.wakePoll = nil
		sp.wakeMu.Unlock()
		cancel()
	}
}

// loop polls, collects and flushes until ctx is done or a record or flush
// fails. On cancel it flushes and commits what it collected.
func (sp *sinkPart[M]) loop(ctx context.Context) error {
	for ctx.Err() == nil {
		pollCtx, cancel := sp.pollContext(ctx)
		fetches := sp.cl.PollRecords(pollCtx, sp.cfg.batchSize-sp.batch.handled)
		cancel()
		if ctx.Err() != nil {
			// Records of this poll are not collected; their offsets are
			// not committed, so the group reads them again.
			break
		}
		if err := fetchError(fetches); err != nil && fatalKafkaError(err) {
			return err
		} else if err != nil && sp.errLog.allow() {
			// franz-go retries what heals (brokers restarting, a lost
			// group session) by itself.
			sp.log.Warn("kafka error; retrying", "error", err)
		}
		var err error
		fetches.EachPartition(func(ftp kgo.FetchTopicPartition) {
			for _, r := range ftp.Records {
				if err != nil || ctx.Err() != nil {
					return
				}
				err = sp.handle(ctx, r)
			}
		})
		if err != nil {
			if ctx.Err() != nil {
				break // shutting down; what was collected is flushed below
			}
			// Nothing collected is flushed or committed: a restart
			// collects it again.
			return err
		}
		due := sp.batch.handled >= sp.cfg.batchSize ||
			(sp.batch.handled > 0 && time.Since(sp.batch.first) >= sp.cfg.interval) ||
			sp.rebalanceWanted.Load()
		if due && sp.batch.handled > 0 {
			// A flush that started finishes even if shutdown begins
			// meanwhile (within the shutdown timeout).
			flushCtx, cancel := graceContext(ctx, sp.svc.shutdownTimeout())
			err := sp.flush(flushCtx)
			cancel()
			if err != nil {
				return err
			}
		}
		if sp.batch.handled == 0 {
			sp.rebalanceWanted.Store(false)
			sp.cl.AllowRebalance()
		}
	}
	if sp.batch.handled == 0 {
		return nil
	}
	flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), sp.svc.shutdownTimeout())
	defer cancel()
	if err := sp.flush(flushCtx); err != nil {
		return fmt.Errorf("final flush: %w", err)
	}
	return nil
}

// graceContext returns a context with ctx's values that is canceled grace
// after ctx is, so work under way when ctx ends may finish.
func graceContext(ctx context.Context, grace time.Duration) (context.Context, context.CancelFunc) {
	gctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(grace, cancel) })
	return gctx, func() {
		stop()
		cancel()
	}
}

// handle collects one record, applying the error policy to a failure.
func (sp *sinkPart[M]) handle(ctx context.Context, r *kgo.Record) error {
	policy := sp.cfg.policy
	m, _, err := decodeValue(sp.svc.framer, r.Topic, sp.codec, r.Value)
	if err != nil {
		sp.m.errors("undecodable").Inc()
		return sp.onFailure(r, fmt.Errorf("undecodable value: %w", err), policy.final())
	}
	if sp.svc.obs.tracer != nil { // see tracing.go
		var span oteltrace.Span
		ctx, span = sp.svc.obs.startConsumeSpan(ctx, "sink", sp.spec.Component, sp.spec.Name, r)
		defer span.End()
	}
	sc := &sinkContext{ctx: ctx, r: r}
	for attempt := 0; ; attempt++ {
		err := sp.h.Collect(sc, string(r.Key), m)
		if err == nil {
			sp.batch.add(r, true)
			sp.m.records.Inc()
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if policy.action == actionRetry && attempt < policy.attempts {
			sp.m.errors("retried").Inc()
			sp.svc.warnRecord(ctx, sp.log, sp.spec.Group, "collect failed; retrying", r,
				"attempt", attempt+1, "of", policy.attempts, "error", err)
			select {
			case <-time.After(policy.retryDelay(attempt + 1)):
			case <-ctx.Done():
				return ctx.Err()
			}
			continue
		}
		return sp.onFailure(r, err, policy.final())
	}
}

// onFailure applies a final (non-retry) policy to a record that failed.
// Skipped and dead-lettered records count as handled: their offsets are
// committed with the next flush.
func (sp *sinkPart[M]) onFailure(r *kgo.Record, err error, policy ErrorPolicy) error {
	switch policy.action {
	case actionSkip:
		sp.m.errors("skipped").Inc()
		sp.svc.warnRecord(context.Background(), sp.log, sp.spec.Group, "skipping record that failed", r, "error", err)
		sp.batch.add(r, false)
		return nil
	case actionDeadLetter:
		sp.m.errors("dead_lettered").Inc()
		sp.svc.warnRecord(context.Background(), sp.log, sp.spec.Group, "dead-lettering record that failed", r, "dlq", sp.dlq, "error", err)
		sp.produce(deadLetter(r, sp.dlq, sp.spec.Group, err), func(dl *kgo.Record, err error) {
			if err != nil {
				sp.prodMu.Lock()
				if sp.prodErr == nil {
					sp.prodErr = fmt.Errorf("produce dead letter to %s: %w", dl.Topic, err)
				}
				sp.prodMu.Unlock()
			}
		})
		sp.batch.add(r, false)
		return nil
	}
	sp.m.errors("failed").Inc()
	return fmt.Errorf("%s[%d] offset %d: %w", r.Topic, r.Partition, r.Offset, err)
}

// produce writes a dead letter through the sink's client, or the memory
// cluster.
func (sp *sinkPart[M]) produce(r *kgo.Record, promise func(*kgo.Record, error)) {
	if sp.svc.mem != nil {
		sp.svc.mem.emit(r, false, promise)
		return
	}
	sp.cl.Produce(context.Background(), r, promise)
}

// consumeMemory collects r and flushes at once: on a MemoryCluster every
// record is its own batch.
func (sp *sinkPart[M]) consumeMemory(ctx context.Context, r *kgo.Record) error {
	if r.Topic != sp.spec.Topic {
		return nil
	}
	defer sp.batch.reset()
	if err := sp.handle(ctx, r); err != nil {
		return err
	}
	if sp.batch.collected == 0 {
		return nil
	}
	start := time.Now()
	if err := sp.h.Flush(ctx); err != nil {
		sp.m.errors("flush_failed").Inc()
		return fmt.Errorf("flush: %w", err)
	}
	sp.m.flushTime.Observe(time.Since(start).Seconds())
	sp.m.batchSize.Observe(float64(sp.batch.collected))
	return nil
}

// deadLetter is r unchanged, for topic dlq, with the error headers the
// processors write too.
func deadLetter(r *kgo.Record, dlq, group string, err error) *kgo.Record {
	headers := append(slices.Clip(r.Headers),
		kgo.RecordHeader{Key: "kafmesh-error", Value: []byte(err.Error())},
		kgo.RecordHeader{Key: "kafmesh-topic", Value: []byte(r.Topic)},
		kgo.RecordHeader{Key: "kafmesh-partition", Value: strconv.AppendInt(nil, int64(r.Partition), 10)},
		kgo.RecordHeader{Key: "kafmesh-offset", Value: strconv.AppendInt(nil, r.Offset, 10)},
		kgo.RecordHeader{Key: "kafmesh-group", Value: []byte(group)},
	)
	return &kgo.Record{Topic: dlq, Key: r.Key, Value: r.Value, Headers: headers, Timestamp: r.Timestamp}
}

// flush calls the user's Flush (retrying per the policy), waits for the
// batch's dead letters, and commits exactly the offsets of the batch.
func (sp *sinkPart[M]) flush(ctx context.Context) error {
	if sp.batch.collected > 0 {
		policy := sp.cfg.policy
		for attempt := 0; ; attempt++ {
			start := time.Now()
			err := sp.h.Flush(ctx)
			if err == nil {
				sp.m.flushTime.Observe(time.Since(start).Seconds())
				sp.m.batchSize.Observe(float64(sp.batch.collected))
				break
			}
			if ctx.Err() == nil && policy.action == actionRetry && attempt < policy.attempts {
				sp.m.errors("flush_retried").Inc()
				sp.log.Warn("flush failed; retrying", "records", sp.batch.collected, "attempt", attempt+1, "of", policy.attempts, "error", err)
				select {
				case <-time.After(policy.retryDelay(attempt + 1)):
					continue
				case <-ctx.Done():
				}
			}
			sp.m.errors("flush_failed").Inc()
			return fmt.Errorf("flush %d records: %w", sp.batch.collected, err)
		}
	}
	if err := sp.cl.Flush(ctx); err != nil {
		return fmt.Errorf("wait for dead letters: %w", err)
	}
	sp.prodMu.Lock()
	err := sp.prodErr
	sp.prodMu.Unlock()
	if err != nil {
		return err
	}
	if err := sp.commit(ctx, sp.batch.offsets); err != nil {
		return err
	}
	sp.batch.reset()
	return nil
}

// commit commits offsets. A commit refused because this member lost the
// partitions (its session expired) is only logged: the batch is flushed,
// and the new owner reads those records again, which at-least-once allows.
func (sp *sinkPart[M]) commit(ctx context.Context, offsets map[string]map[int32]kgo.EpochOffset) error {
	var commitErr error
	sp.cl.CommitOffsetsSync(ctx, offsets, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			commitErr = err
			return
		}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if err := kerr.ErrorForCode(p.ErrorCode); err != nil && commitErr == nil {
					commitErr = fmt.Errorf("%s[%d]: %w", t.Topic, p.Partition, err)
				}
			}
		}
	})
	switch {
	case commitErr == nil:
		return nil
	case errors.Is(commitErr, kerr.IllegalGeneration), errors.Is(commitErr, kerr.UnknownMemberID),
		errors.Is(commitErr, kerr.RebalanceInProgress), errors.Is(commitErr, kerr.FencedInstanceID):
		sp.m.errors("commit_refused").Inc()
		sp.log.Warn("commit refused after the flush: this member lost its partitions; their new owner reads the records again",
			"error", commitErr)
		return nil
	}
	return fmt.Errorf("commit offsets: %w", commitErr)
}

// sinkContext is the SinkContext of one record.
type sinkContext struct {
	ctx context.Context
	r   *kgo.Record
}

func (c *sinkContext) Context() context.Context    { return c.ctx }
func (c *sinkContext) Timestamp() time.Time        { return c.r.Timestamp }
func (c *sinkContext) Headers() []kgo.RecordHeader { return c.r.Headers }
func (c *sinkContext) Topic() string               { return c.r.Topic }
func (c *sinkContext) Partition() int32            { return c.r.Partition }
func (c *sinkContext) Offset() int64               { return c.r.Offset }
