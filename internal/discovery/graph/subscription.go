package graph

import (
	"context"
	"encoding/base64"
	"errors"
	"sync"
	"unicode/utf8"

	watchv1 "github.com/kafmesh/kafmesh/api/watch/v1"
	"github.com/kafmesh/kafmesh/internal/discovery/mesh"
	"github.com/kafmesh/kafmesh/internal/discovery/watch"
)

// WatchFunc opens a merged watch of a processor for a key (watch.Watcher's
// Watch).
type WatchFunc func(ctx context.Context, g *mesh.Graph, processorID, key string) (<-chan watch.Event, error)

type subscriptionResolver struct{ r *Resolver }

// WatchProcessor streams the processor's operations for the key. A pod's
// failure is sent as an error in the stream: gqlgen's subscription channel
// carries only values, so the error goes into the operation's mailbox and a
// nil takes its place on the channel; the handler's response middleware
// (streamErrors) turns that response into the pod's error.
func (s subscriptionResolver) WatchProcessor(ctx context.Context, options *WatchProcessorInput) (<-chan *Operation, error) {
	if options == nil {
		return nil, errors.New("watchProcessor needs options: { processorId, key }")
	}
	if s.r.watch == nil {
		return nil, errors.New("watching processors is not enabled on this server")
	}
	events, err := s.r.watch(ctx, snapshot(ctx), options.ProcessorID, options.Key)
	if err != nil {
		return nil, err
	}
	mb := mailboxOf(ctx)
	out := make(chan *Operation)
	go func() {
		defer close(out)
		for e := range events {
			var op *Operation
			if e.Err != nil {
				if mb == nil {
					continue
				}
				mb.push(e.Err)
			} else {
				op = operation(e)
			}
			select {
			case out <- op:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

func operation(e watch.Event) *Operation {
	o := e.Operation
	op := &Operation{
		Input:     watchedInput(o.GetInput()),
		StartTime: int(o.GetStartTime().AsTime().UnixMilli()),
		EndTime:   int(o.GetEndTime().AsTime().UnixMilli()),
		Actions:   []Action{},
		Pod:       newPod(e.Pod),
	}
	for _, a := range o.GetActions() {
		switch x := a.GetAction().(type) {
		case *watchv1.Action_ActionJoin:
			op.Actions = append(op.Actions, &Join{Topic: x.ActionJoin.GetTopic(), Message: x.ActionJoin.GetMessage(), Value: x.ActionJoin.GetValue()})
		case *watchv1.Action_ActionLookup:
			l := x.ActionLookup
			op.Actions = append(op.Actions, &Lookup{Topic: l.GetTopic(), Message: l.GetMessage(), Key: l.GetKey(), Value: l.GetValue()})
		case *watchv1.Action_ActionGetState:
			op.Actions = append(op.Actions, &GetState{Topic: x.ActionGetState.GetTopic(), Message: x.ActionGetState.GetMessage(), Value: x.ActionGetState.GetValue()})
		case *watchv1.Action_ActionSetState:
			op.Actions = append(op.Actions, &SetState{Topic: x.ActionSetState.GetTopic(), Message: x.ActionSetState.GetMessage(), Value: x.ActionSetState.GetValue()})
		case *watchv1.Action_ActionOutput:
			out := x.ActionOutput
			op.Actions = append(op.Actions, &Output{Topic: out.GetTopic(), Message: out.GetMessage(), Key: out.GetKey(), Value: out.GetValue()})
		}
	}
	return op
}

// watchedInput converts the watched input record. Where it was read from
// is known only when the pod sent a timestamp (kafmesh 2); a 2021 pod's
// input has null partition, offset and timestamp rather than zeros that
// would look like partition 0, offset 0.
func watchedInput(in *watchv1.Input) *Input {
	out := &Input{Topic: in.GetTopic(), Message: in.GetMessage(), Value: in.GetValue(), Headers: []*RecordHeader{}}
	if in.GetTimestamp() != nil {
		p, off, ts := int(in.GetPartition()), in.GetOffset(), in.GetTimestamp().AsTime().UnixMilli()
		out.Partition, out.Offset, out.Timestamp = &p, &off, &ts
	}
	for _, h := range in.GetHeaders() {
		rh := &RecordHeader{Key: h.GetKey(), Base64: base64.StdEncoding.EncodeToString(h.GetValue())}
		if utf8.Valid(h.GetValue()) {
			v := string(h.GetValue())
			rh.Value = &v
		}
		out.Headers = append(out.Headers, rh)
	}
	return out
}

// mailbox carries stream errors from a subscription resolver to the
// response middleware of the same operation, in order.
type mailbox struct {
	mu   sync.Mutex
	errs []error
}

func (m *mailbox) push(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.errs = append(m.errs, err)
}

func (m *mailbox) pop() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.errs) == 0 {
		return nil
	}
	err := m.errs[0]
	m.errs = m.errs[1:]
	return err
}

type mailboxKey struct{}

func mailboxOf(ctx context.Context) *mailbox {
	m, _ := ctx.Value(mailboxKey{}).(*mailbox)
	return m
}
