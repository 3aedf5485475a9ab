package runner

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	oteltrace "go.opentelemetry.io/otel/trace"
)

// procTask processes one partition number of a processor: partition i of
// each input, with partition i of each join table and of the state.
type procTask struct {
	svc       *Service
	p         *Processor
	pp        *processorPart
	partition int32

	state      *stateCache // nil for stateless processors
	ready      chan struct{}
	err        error // restore failure, set before ready closes
	cancel     context.CancelFunc
	restoreCtx context.Context // canceled when the partition is revoked
	fenced     chan struct{}   // the session's producer fenced its predecessor

	c ProcessorContext // reused for every record

	// last is the last handled record of each input (by input index)
	// since the last commit: what at-least-once commits.
	last []*kgo.Record
	// first is the first handled record of each input since the last
	// commit: the position the commit cycle started from.
	first []*kgo.Record
	// outCounts counts outputs by output index until the end of a batch.
	outCounts []int
	// outSlab holds the output records not handed out yet (see newOutput).
	outSlab []outputRecord
	// clock is when the last handler call ended (or the batch began),
	// as time.Since(pp.clockBase): the next record's timing starts there,
	// one clock read per record instead of two.
	clock time.Duration
	// tally counts handler durations until the end of the batch.
	tally handlerTally
	// unacked counts the outputs produced in this poll, for the commit
	// epoch (processor_commit.go).
	unacked int64
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

// stateGet reads the state of the record's key and remembers its cache
// entry for the write that usually follows.
func (c *ProcessorContext) stateGet() ([]byte, bool, error) {
	if c.t.state == nil {
		return nil, false, fmt.Errorf("processor %s has no persistence", c.t.p.spec.Name)
	}
	e, err := c.t.state.entry(c.rec.Key)
	if err != nil {
		return nil, false, err
	}
	c.stateEntry = e
	return e.value, e.value != nil, nil
}

// process handles the records of one poll for this task, in offset order
// per input partition.
func (t *procTask) process(ctx context.Context, parts []kgo.FetchTopicPartition) error {
	for i := range parts {
		idx, ok := t.pp.inputIndex[parts[i].Topic]
		if !ok {
			return fmt.Errorf("records from unexpected topic %s", parts[i].Topic)
		}
		handled := 0
		t.clock = time.Since(t.pp.clockBase)
		for _, r := range parts[i].Records {
			if err := t.handle(ctx, idx, r); err != nil {
				t.pp.m.in[idx].Add(float64(handled))
				t.endPoll()
				return err
			}
			if t.first[idx] == nil {
				t.first[idx] = r
			}
			t.last[idx] = r
			handled++
		}
		t.pp.m.in[idx].Add(float64(handled))
	}
	t.endPoll()
	for i, n := range t.outCounts {
		if n > 0 {
			t.pp.m.out[i].Add(float64(n))
			t.outCounts[i] = 0
		}
	}
	return nil
}

// endPoll adds what the task counted during a poll's records to the
// shared counts: handler durations to the histogram and outputs to the
// commit epoch (before the loop can cut the epoch: process returns first).
func (t *procTask) endPoll() {
	t.pp.m.latency.add(&t.tally)
	if t.unacked > 0 {
		t.pp.epoch.add(t.unacked)
		t.unacked = 0
	}
}

// handle runs the handler of input idx for r and applies the error policy.
func (t *procTask) handle(ctx context.Context, idx int, r *kgo.Record) (err error) {
	pp := t.pp
	h := t.p.handlers[idx]
	c := &t.c
	policy := t.p.cfg.policy
	var span oteltrace.Span // see tracing.go
	if pp.svc.obs.tracer != nil {
		ctx, span = pp.startProcessSpan(ctx, r)
		defer func() { endSpan(span, err) }()
	}
	for attempt := 0; ; attempt++ {
		c.reset(ctx, t, r)
		c.span = span
		watched := pp.watch.active() && pp.watch.watching(r.Key)
		if watched {
			c.trace = newTrace(r)
		}
		// Every record is timed, with one monotonic clock read (a
		// time.Since of a fixed base; time.Now reads the wall clock
		// too): from the end of the previous handler call, except for a
		// retry (which waited) and a watched record (its trace shows
		// the handler alone).
		start := t.clock
		if attempt > 0 || watched {
			start = time.Since(pp.clockBase)
		}
		outcome, err := h(c, r.Value)
		if err == nil {
			err = c.err
		}
		t.clock = time.Since(pp.clockBase)
		t.tally.observe(t.clock - start) // every record: see handlerBuckets
		switch {
		case outcome == outcomeTombstone:
			return nil
		case err == nil:
			t.apply(c)
			if watched {
				pp.watch.publish(r.Key, c.trace.finish(pp.clockBase.Add(start)))
			}
			return nil
		case outcome == outcomeUndecoded:
			pp.m.errUndecodable.Inc()
			return t.onFailure(r, fmt.Errorf("undecodable value: %w", err), policy.final())
		case policy.action == actionRetry && attempt < policy.attempts:
			pp.m.errRetried.Inc()
			pp.svc.warnRecord(ctx, pp.log, t.p.spec.Group, "handler failed; retrying", r,
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
		if c.stateEntry != nil {
			t.state.setEntry(c.stateEntry, c.stateValue)
		} else {
			t.state.set(c.rec.Key, c.stateValue)
		}
	}
	for j, out := range c.outputs {
		if c.span != nil {
			injectTrace(c.ctx, out)
		}
		t.produceOutput(out)
		t.outCounts[c.outputIdx[j]]++
	}
}

// onFailure applies a final (non-retry) policy to a failed record.
func (t *procTask) onFailure(r *kgo.Record, err error, policy ErrorPolicy) error {
	pp := t.pp
	switch policy.action {
	case actionSkip:
		pp.m.errSkipped.Inc()
		pp.svc.warnRecord(t.c.ctx, pp.log, t.p.spec.Group, "skipping record that failed", r, "error", err)
		return nil
	case actionDeadLetter:
		pp.m.errDeadLettered.Inc()
		pp.svc.warnRecord(t.c.ctx, pp.log, t.p.spec.Group, "dead-lettering record that failed", r, "dlq", pp.dlqTopic, "error", err)
		headers := append(slices.Clip(r.Headers),
			kgo.RecordHeader{Key: "kafmesh-error", Value: []byte(err.Error())},
			kgo.RecordHeader{Key: "kafmesh-topic", Value: []byte(r.Topic)},
			kgo.RecordHeader{Key: "kafmesh-partition", Value: strconv.AppendInt(nil, int64(r.Partition), 10)},
			kgo.RecordHeader{Key: "kafmesh-offset", Value: strconv.AppendInt(nil, r.Offset, 10)},
			kgo.RecordHeader{Key: "kafmesh-group", Value: []byte(t.p.spec.Group)},
		)
		pp.outputs[pp.dlqTopic].Inc()
		t.produceOutput(&kgo.Record{Topic: pp.dlqTopic, Key: r.Key, Value: r.Value, Headers: headers, Timestamp: r.Timestamp})
		return nil
	}
	pp.m.errFailed.Inc()
	return &PoisonError{Group: t.p.spec.Group, Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Err: err}
}

// reset prepares the task's context for the next record. It clears the
// fields one by one, and pointers only when set: a whole-struct assignment,
// done for every record, writes every pointer word with a write barrier
// while the GC marks. A field added to ProcessorContext must be reset here
// (TestProcessorContextResetCoversEveryField counts them).
func (c *ProcessorContext) reset(ctx context.Context, t *procTask, r *kgo.Record) {
	clear(c.outputs)
	c.ctx, c.t, c.rec = ctx, t, r
	if c.err != nil {
		c.err = nil
	}
	if c.trace != nil {
		c.trace = nil
	}
	if c.span != nil {
		c.span = nil
	}
	c.stateTouched = false
	if c.stateEntry != nil {
		c.stateEntry = nil
	}
	if c.stateValue != nil {
		c.stateValue = nil
	}
	c.outputs, c.outputIdx = c.outputs[:0], c.outputIdx[:0]
}

// outputRecord is an output record with room for a small key and value in
// the same allocation.
type outputRecord struct {
	kgo.Record
	small [48]byte
}

// outputSlab is how many output records a task allocates at once: one
// allocation per outputSlab outputs instead of one each. A slab is freed
// once none of its records is referenced (the producer lets go of a record
// when it is acknowledged; records are never reused).
const outputSlab = 32

// newOutput builds an output record for topic; its key and value share one
// buffer, which lives in the record itself when they fit. (Records cannot
// be pooled: the producer may still refer to a record after its promise
// ran.)
func (t *procTask) newOutput(topic, key string, encode func(dst []byte) ([]byte, error)) (*kgo.Record, error) {
	if len(t.outSlab) == 0 {
		t.outSlab = make([]outputRecord, outputSlab)
	}
	o := &t.outSlab[0]
	buf := o.small[:0]
	if len(key) > len(o.small)/2 {
		buf = make([]byte, 0, len(key)+64)
	}
	buf = append(buf, key...)
	buf, err := encode(buf)
	if err != nil {
		return nil, err
	}
	o.Record = kgo.Record{Topic: topic, Key: buf[:len(key):len(key)], Value: buf[len(key):]}
	t.outSlab = t.outSlab[1:] // taken only on success: a failed encode leaves the slot unused
	return &o.Record, nil
}

// PoisonError is a record that failed under the [FailOnError] policy: the
// processor stops, and a restart fails on the same record again, because
// its offset was never committed. The way out is to fix the handler, to
// register the processor with another policy (skip or dead-letter), or to
// move the group past the record with
//
//	kafmesh offsets skip --group G --topic T --partition P --offset O
//
// while the group is stopped (see "A poison record stopped my processor" in
// docs/runtime.md).
type PoisonError struct {
	Group     string
	Topic     string
	Partition int32
	Offset    int64
	Err       error
}

func (e *PoisonError) Error() string {
	return fmt.Sprintf("%s[%d] offset %d: %v (the processor stops on every restart until this record is handled: fix the handler, use OnError(SkipOnError()/DeadLetterOnError()), "+
		"or stop the group and run `kafmesh offsets skip --group %s --topic %s --partition %d --offset %d`; see docs/runtime.md, \"A poison record stopped my processor\")",
		e.Topic, e.Partition, e.Offset, e.Err, e.Group, e.Topic, e.Partition, e.Offset)
}

func (e *PoisonError) Unwrap() error { return e.Err }
