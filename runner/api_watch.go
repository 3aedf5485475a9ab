package runner

import (
	"errors"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	watchv1 "github.com/kafmesh/kafmesh/api/watch/v1"
)

// defaultWatchBuffer is how many operations a Watch stream may fall behind
// before it is dropped, unless WithWatchBuffer says otherwise.
const defaultWatchBuffer = 1024

// watchAPI serves kafmesh.watch.v1.WatchAPI.
type watchAPI struct {
	watchv1.UnimplementedWatchAPIServer
	a *apiState
}

// Processor streams every operation of one processor for one key until the
// client goes away, the service stops, or the client falls so far behind
// that the processor drops it (then the stream ends with ResourceExhausted;
// processing never waits for a watcher). The guard (api_security.go) has
// admitted the caller before it runs. Once the watch is in place the
// stream's headers are sent (kafmesh-watch: started), so a client knows it
// is watching before the first operation; the start and the end of every
// watch are logged with the caller.
func (w watchAPI) Processor(req *watchv1.ProcessorRequest, stream grpc.ServerStreamingServer[watchv1.ProcessorResponse]) error {
	s := w.a.svc
	c := callerFrom(stream.Context())
	log := s.log.With("caller", c.id, "auth", c.method, "peer", c.peer, "component", req.GetComponent(), "processor", req.GetProcessor(), "key", req.GetKey())
	if c.cert != "" {
		log = log.With("client_cert", c.cert)
	}
	buffer := s.cfg.watchBuffer
	if buffer <= 0 {
		buffer = defaultWatchBuffer
	}
	watcher, err := s.Watch(req.GetComponent(), req.GetProcessor(), req.GetKey(), buffer)
	if errors.Is(err, ErrUnknownProcessor) {
		return status.Errorf(codes.NotFound, "service %s has no processor %q in component %q", s.def.Name, req.GetProcessor(), req.GetComponent())
	}
	if err != nil {
		return status.Error(codes.Internal, err.Error())
	}
	defer watcher.Stop()
	log.Info("watch started")
	started, sent := time.Now(), 0
	defer func() {
		log.Info("watch ended", "operations", sent, "duration", time.Since(started).Round(time.Millisecond))
	}()
	if err := stream.SendHeader(metadata.Pairs("kafmesh-watch", "started")); err != nil {
		return err
	}
	s.metrics.watchersConnected.Inc()
	defer s.metrics.watchersConnected.Dec()

	ctx := stream.Context()
	for {
		select {
		case op, ok := <-watcher.Operations():
			if !ok {
				if watcher.Dropped() {
					return status.Errorf(codes.ResourceExhausted,
						"watcher dropped: it fell %d operations behind processor %s/%s, which never waits for watchers; watch again to resume",
						buffer, req.GetComponent(), req.GetProcessor())
				}
				return status.Error(codes.Unavailable, "the watch ended: the service is stopping")
			}
			if err := stream.Send(&watchv1.ProcessorResponse{Operation: operationProto(op)}); err != nil {
				return err
			}
			sent++
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		case <-w.a.stopping:
			return status.Error(codes.Unavailable, "the watch ended: the service is stopping")
		}
	}
}

// watchOff serves WatchAPI when WithoutWatch turned it off.
type watchOff struct {
	watchv1.UnimplementedWatchAPIServer
	a *apiState
}

func (w watchOff) Processor(*watchv1.ProcessorRequest, grpc.ServerStreamingServer[watchv1.ProcessorResponse]) error {
	return status.Errorf(codes.Unimplemented, "Watch is turned off in service %s (runner.WithoutWatch)", w.a.svc.def.Name)
}

// operationProto converts an operation to its wire form.
func operationProto(op *Operation) *watchv1.Operation {
	out := &watchv1.Operation{
		StartTime: timestamppb.New(op.Start),
		EndTime:   timestamppb.New(op.End),
		Input: &watchv1.Input{Topic: op.Input.Topic, Message: op.Input.Message, Value: op.Input.Value,
			Partition: op.Partition, Offset: op.Offset, Timestamp: timestamppb.New(op.Timestamp)},
		Actions: make([]*watchv1.Action, 0, len(op.Actions)),
	}
	for _, h := range op.Headers {
		out.Input.Headers = append(out.Input.Headers, &watchv1.Header{Key: h.Key, Value: h.Value})
	}
	for _, a := range op.Actions {
		if wa := actionProto(a); wa != nil {
			out.Actions = append(out.Actions, wa)
		}
	}
	return out
}

func actionProto(a Action) *watchv1.Action {
	switch a.Kind {
	case ActionJoin:
		return &watchv1.Action{Action: &watchv1.Action_ActionJoin{ActionJoin: &watchv1.Join{Topic: a.Topic, Message: a.Message, Value: a.Value}}}
	case ActionLookup:
		return &watchv1.Action{Action: &watchv1.Action_ActionLookup{ActionLookup: &watchv1.Lookup{Topic: a.Topic, Message: a.Message, Key: a.Key, Value: a.Value}}}
	case ActionGetState:
		return &watchv1.Action{Action: &watchv1.Action_ActionGetState{ActionGetState: &watchv1.GetState{Topic: a.Topic, Message: a.Message, Value: a.Value}}}
	case ActionSetState:
		return &watchv1.Action{Action: &watchv1.Action_ActionSetState{ActionSetState: &watchv1.SetState{Topic: a.Topic, Message: a.Message, Value: a.Value}}}
	case ActionOutput:
		return &watchv1.Action{Action: &watchv1.Action_ActionOutput{ActionOutput: &watchv1.Output{Topic: a.Topic, Message: a.Message, Key: a.Key, Value: a.Value}}}
	}
	// ActionInput is the operation's input, not an action; other kinds
	// have no wire form.
	return nil
}
