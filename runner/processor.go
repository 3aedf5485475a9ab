package runner

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	oteltrace "go.opentelemetry.io/otel/trace"
)

// Processor is a consumer group with typed inputs, joins, lookups, outputs
// and optional state. Generated code builds one with [NewProcessor], adds a
// handler per input with [HandleInput] and registers it with
// [Service.Register].
type Processor struct {
	spec     ProcessorSpec
	cfg      partConfig
	handlers []inputHandler // one per spec.Inputs, by index
	optErr   error
}

// inputHandler decodes one input value and calls the typed handler.
type inputHandler func(c *ProcessorContext, value []byte) (handleOutcome, error)

type handleOutcome uint8

const (
	outcomeHandled   handleOutcome = iota // the handler ran; err is its error
	outcomeUndecoded                      // the value could not be decoded
	outcomeTombstone                      // a tombstone the processor does not want
)

// NewProcessor starts the declaration of a processor.
func NewProcessor(spec ProcessorSpec, opts ...PartOption) *Processor {
	p := &Processor{spec: spec, handlers: make([]inputHandler, len(spec.Inputs))}
	p.optErr = applyPartOptions(kindProcessor, &p.cfg, opts)
	if p.cfg.commitInterval <= 0 {
		p.cfg.commitInterval = time.Second
		if p.cfg.exactlyOnce {
			p.cfg.commitInterval = 100 * time.Millisecond
		}
	}
	if p.optErr == nil {
		p.optErr = p.cfg.policy.validate()
	}
	return p
}

// Spec returns the processor's declaration.
func (p *Processor) Spec() ProcessorSpec { return p.spec }

// HandleInput sets the handler of input i (the index in ProcessorSpec.Inputs).
func HandleInput[M any](p *Processor, i int, codec Codec[M], fn func(*ProcessorContext, M) error) {
	// A raw input is handed over without a copy (see Raw); a tombstone
	// still goes through decodeValue.
	borrower, _ := any(codec).(interface{ borrow(src []byte) M })
	p.handlers[i] = func(c *ProcessorContext, value []byte) (handleOutcome, error) {
		var (
			m       M
			deleted bool
			err     error
		)
		if borrower != nil && value != nil {
			m = borrower.borrow(value)
		} else {
			m, deleted, err = decodeValue(c.t.svc.framer, c.rec.Topic, codec, value)
		}
		if err != nil {
			return outcomeUndecoded, err
		}
		if deleted && !p.cfg.tombstones {
			return outcomeTombstone, nil
		}
		if c.trace != nil {
			c.trace.input(p.spec.Inputs[i], func() []byte { return codec.JSON(m) })
		}
		return outcomeHandled, fn(c, m)
	}
}

// ProcessorContext is what a handler knows about the record it handles and
// how it reaches joins, lookups, state and outputs. It is valid only during
// the handler call: do not keep it.
//
// Reading a join, lookup or state that fails (a store error, an undecodable
// value) returns the zero value and fails the record after the handler
// returns, through the processor's error policy.
type ProcessorContext struct {
	ctx   context.Context
	t     *procTask
	rec   *kgo.Record
	err   error
	trace *trace
	span  oteltrace.Span // the record's span; nil when tracing is off

	// The record's own state change, applied only if the handler succeeds.
	stateTouched bool
	stateEntry   *cacheEntry // the key's cache entry, once State read it
	stateValue   []byte      // nil: delete; else a view of stateBuf
	stateBuf     []byte      // scratch reused for every record of the task
	outputs      []*kgo.Record
	outputIdx    []int // the output index of each of outputs
}

// Context is canceled when the processor stops.
func (c *ProcessorContext) Context() context.Context { return c.ctx }

// Key is the record key.
func (c *ProcessorContext) Key() string {
	if c.stateEntry != nil {
		// The state cache holds the key as a string already: a stateful
		// handler's Key costs no copy.
		return c.stateEntry.key
	}
	return string(c.rec.Key)
}

// KeyBytes is the record key without a copy; do not modify or keep it.
func (c *ProcessorContext) KeyBytes() []byte { return c.rec.Key }

// Timestamp is the record timestamp.
func (c *ProcessorContext) Timestamp() time.Time { return c.rec.Timestamp }

// Headers are the record headers.
func (c *ProcessorContext) Headers() []kgo.RecordHeader { return c.rec.Headers }

// Topic, Partition and Offset say where the record came from.
func (c *ProcessorContext) Topic() string    { return c.rec.Topic }
func (c *ProcessorContext) Partition() int32 { return c.rec.Partition }
func (c *ProcessorContext) Offset() int64    { return c.rec.Offset }

func (c *ProcessorContext) fail(err error) {
	if c.err == nil {
		c.err = err
	}
}

// Join returns the value of join table i for the current key, or the zero
// value when the table has none.
func Join[M any](c *ProcessorContext, i int, codec Codec[M]) M {
	var zero M
	raw, ok, err := c.t.joinGet(i, c.rec.Key)
	if err != nil {
		c.fail(fmt.Errorf("join %s: %w", c.t.p.spec.Joins[i].Topic, err))
		return zero
	}
	var m M
	if ok {
		if m, _, err = decodeValue(c.t.svc.framer, c.t.p.spec.Joins[i].Topic, codec, raw); err != nil {
			c.fail(fmt.Errorf("join %s: %w", c.t.p.spec.Joins[i].Topic, err))
			return zero
		}
	}
	if c.trace != nil {
		c.trace.join(c.t.p.spec.Joins[i], ok, func() []byte { return codec.JSON(m) })
	}
	if c.span != nil {
		c.spanEvent("join", c.t.p.spec.Joins[i].Topic, c.Key(), ok)
	}
	return m
}

// Lookup returns the value of lookup table i for key, or the zero value.
func Lookup[M any](c *ProcessorContext, i int, codec Codec[M], key string) M {
	var zero M
	raw, ok, err := c.t.lookupGet(i, key)
	if err != nil {
		c.fail(fmt.Errorf("lookup %s: %w", c.t.p.spec.Lookups[i].Topic, err))
		return zero
	}
	var m M
	if ok {
		if m, _, err = decodeValue(c.t.svc.framer, c.t.p.spec.Lookups[i].Topic, codec, raw); err != nil {
			c.fail(fmt.Errorf("lookup %s: %w", c.t.p.spec.Lookups[i].Topic, err))
			return zero
		}
	}
	if c.trace != nil {
		c.trace.lookup(c.t.p.spec.Lookups[i], key, ok, func() []byte { return codec.JSON(m) })
	}
	if c.span != nil {
		c.spanEvent("lookup", c.t.p.spec.Lookups[i].Topic, key, ok)
	}
	return m
}

// Output writes m with key to output i. It is produced only if the handler
// succeeds.
func Output[M any](c *ProcessorContext, i int, codec Codec[M], key string, m M) {
	spec := c.t.p.spec.Outputs[i]
	out, err := c.t.newOutput(spec.Topic, key, func(dst []byte) ([]byte, error) {
		return appendValue(c.t.svc, dst, spec.Topic, codec, m)
	})
	if err != nil {
		c.fail(fmt.Errorf("output %s: %w", spec.Topic, err))
		return
	}
	// Like Kafka Streams, an output carries the timestamp of the input
	// that caused it (event time flows through the mesh).
	out.Timestamp = c.rec.Timestamp
	c.outputs = append(c.outputs, out)
	c.outputIdx = append(c.outputIdx, i)
	if c.trace != nil {
		c.trace.output(spec.TopicRef, key, func() []byte { return codec.JSON(m) })
	}
}

// State returns the processor's state for the current key.
func State[M any](c *ProcessorContext, codec Codec[M]) (M, bool) {
	var zero M
	raw, ok := c.stateValue, c.stateTouched && c.stateValue != nil
	if !c.stateTouched {
		var err error
		raw, ok, err = c.stateGet()
		if err != nil {
			c.fail(fmt.Errorf("state: %w", err))
			return zero, false
		}
	}
	var m M
	if ok {
		var err error
		if m, _, err = decodeValue(c.t.svc.framer, c.t.p.spec.State.Topic, codec, raw); err != nil {
			c.fail(fmt.Errorf("state: %w", err))
			return zero, false
		}
	}
	if c.trace != nil {
		c.trace.getState(*c.t.p.spec.State, ok, func() []byte { return codec.JSON(m) })
	}
	return m, ok
}

// SaveState replaces the state of the current key.
func SaveState[M any](c *ProcessorContext, codec Codec[M], m M) {
	value, err := appendValue(c.t.svc, c.stateBuf[:0], c.t.p.spec.State.Topic, codec, m)
	if err != nil {
		c.fail(fmt.Errorf("save state: %w", err))
		return
	}
	c.stateBuf = value
	c.stateTouched, c.stateValue = true, value
	if c.trace != nil {
		c.trace.setState(*c.t.p.spec.State, func() []byte { return codec.JSON(m) })
	}
}

// DeleteState removes the state of the current key (a tombstone in the
// changelog).
func DeleteState(c *ProcessorContext) {
	c.stateTouched, c.stateValue = true, nil
	if c.trace != nil {
		c.trace.setState(*c.t.p.spec.State, func() []byte { return []byte("null") })
	}
}
