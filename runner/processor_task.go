package runner

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// procTask processes one partition number of a processor: partition i of
// each input, with partition i of each join table and of the state.
type procTask struct {
	svc       *Service
	p         *Processor
	pp        *processorPart
	partition int32

	state  *stateCache // nil for stateless processors
	ready  chan struct{}
	err    error // restore failure, set before ready closes
	cancel context.CancelFunc

	c ProcessorContext // reused for every record

	// last is the last handled record of each input (by input index)
	// since the last commit: what at-least-once commits.
	last []*kgo.Record
}

func (t *procTask) isReady() bool {
	select {
	case <-t.ready:
		return true
	default:
		return false
	}
}

func (t *procTask) joinGet(i int, key []byte) ([]byte, bool, error) {
	var out []byte
	ok, err := t.pp.joinStores[i].Get(t.partition, key, func(v []byte) { out = slices.Clone(v) })
	return out, ok, err
}

func (t *procTask) lookupGet(i int, key string) ([]byte, bool, error) {
	return t.pp.lookups[i].get(key)
}

func (t *procTask) stateGet(key []byte) ([]byte, bool, error) {
	if t.state == nil {
		return nil, false, fmt.Errorf("processor %s has no persistence", t.p.spec.Name)
	}
	return t.state.get(key)
}

func (t *procTask) newRecord(topic, key string, value []byte) *kgo.Record {
	return &kgo.Record{Topic: topic, Key: []byte(key), Value: value}
}

// process handles the records of one poll for this task, in offset order
// per input partition.
func (t *procTask) process(ctx context.Context, parts []kgo.FetchTopicPartition) error {
	for i := range parts {
		for _, r := range parts[i].Records {
			if err := t.handle(ctx, r); err != nil {
				return err
			}
			t.last[t.pp.inputIndex[r.Topic]] = r
		}
	}
	return nil
}

// handle runs the input handler for r and applies the error policy.
func (t *procTask) handle(ctx context.Context, r *kgo.Record) error {
	pp := t.pp
	idx, ok := pp.inputIndex[r.Topic]
	if !ok {
		return fmt.Errorf("record from unexpected topic %s", r.Topic)
	}
	h := t.p.handlers[idx]
	c := &t.c
	policy := t.p.cfg.policy
	for attempt := 0; ; attempt++ {
		c.reset(ctx, t, r)
		watched := pp.watch.active() && pp.watch.watching(r.Key)
		if watched {
			c.trace = newTrace()
		}
		start := time.Now()
		outcome, err := h(c, r.Value)
		if err == nil {
			err = c.err
		}
		pp.m.latency.Observe(time.Since(start).Seconds())
		switch {
		case outcome == outcomeTombstone:
			return nil
		case err == nil:
			t.apply(c)
			pp.m.in[idx].Inc()
			if watched {
				pp.watch.publish(r.Key, c.trace.finish(start))
			}
			return nil
		case outcome == outcomeUndecoded:
			pp.m.errUndecodable.Inc()
			return t.onFailure(r, fmt.Errorf("undecodable value: %w", err), policy.final())
		case policy.action == actionRetry && attempt < policy.attempts:
			pp.m.errRetried.Inc()
			pp.log.Warn("handler failed; retrying", "topic", r.Topic, "partition", r.Partition, "offset", r.Offset,
				"attempt", attempt+1, "of", policy.attempts, "error", err)
			select {
			case <-time.After(policy.retryDelay(attempt + 1)):
			case <-ctx.Done():
				return ctx.Err()
			}
		default:
			return t.onFailure(r, err, policy.final())
		}
	}
}

// apply makes a successful handler call's effects real: its state change
// goes to the cache and its outputs to the producer.
func (t *procTask) apply(c *ProcessorContext) {
	if c.stateTouched && t.state != nil {
		t.state.set(c.rec.Key, c.stateValue)
	}
	for _, out := range c.outputs {
		t.pp.produceOutput(out)
	}
}

// onFailure applies a final (non-retry) policy to a failed record.
func (t *procTask) onFailure(r *kgo.Record, err error, policy ErrorPolicy) error {
	pp := t.pp
	switch policy.action {
	case actionSkip:
		pp.m.errSkipped.Inc()
		pp.log.Warn("skipping record that failed", "topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "error", err)
		return nil
	case actionDeadLetter:
		pp.m.errDeadLettered.Inc()
		pp.log.Warn("dead-lettering record that failed", "topic", r.Topic, "partition", r.Partition, "offset", r.Offset,
			"dlq", pp.dlqTopic, "error", err)
		headers := append(slices.Clip(r.Headers),
			kgo.RecordHeader{Key: "kafmesh-error", Value: []byte(err.Error())},
			kgo.RecordHeader{Key: "kafmesh-topic", Value: []byte(r.Topic)},
			kgo.RecordHeader{Key: "kafmesh-partition", Value: strconv.AppendInt(nil, int64(r.Partition), 10)},
			kgo.RecordHeader{Key: "kafmesh-offset", Value: strconv.AppendInt(nil, r.Offset, 10)},
			kgo.RecordHeader{Key: "kafmesh-group", Value: []byte(t.p.spec.Group)},
		)
		pp.produceOutput(&kgo.Record{Topic: pp.dlqTopic, Key: r.Key, Value: r.Value, Headers: headers, Timestamp: r.Timestamp})
		return nil
	}
	pp.m.errFailed.Inc()
	return fmt.Errorf("%s[%d] offset %d: %w", r.Topic, r.Partition, r.Offset, err)
}

func (c *ProcessorContext) reset(ctx context.Context, t *procTask, r *kgo.Record) {
	clear(c.outputs)
	*c = ProcessorContext{ctx: ctx, t: t, rec: r, outputs: c.outputs[:0]}
}
