package kafmesh2021test

import (
	"context"
	"log/slog"
	"strconv"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/kafmesh/kafmesh/runner"
)

var (
	stringCodec = runner.Proto[wrapperspb.StringValue]()
	int64Codec  = runner.Proto[wrapperspb.Int64Value]()
)

// newCounter is the same counter on the new runtime, configured to share
// the topics with 2021 members: framing auto (it writes the 0x02 framing
// the topics hold, with the 2021 schema ids) and the same group, state
// topic and partitioning.
func newCounter(brokers []string, c counterTopics, instance, stateDir string, log *slog.Logger) (*runner.Service, error) {
	svc, err := runner.NewService(runner.Definition{Name: "kafmesh2021test"},
		runner.WithBrokers(brokers...),
		runner.WithStateDir(stateDir),
		runner.WithLogger(log),
		runner.WithInstanceID(instance),
		runner.WithFraming(runner.FramingAuto),
		runner.WithKafmesh2021Registry(runner.StaticSchemaIDs(map[protoreflect.FullName]uint32{
			"google.protobuf.StringValue": idString,
			"google.protobuf.Int64Value":  idInt64,
		})),
	)
	if err != nil {
		return nil, err
	}
	p := runner.NewProcessor(runner.ProcessorSpec{
		Component: "counting",
		Name:      "counter",
		Group:     c.group,
		Inputs:    []runner.TopicRef{{Topic: c.in, Message: "google.protobuf.StringValue", Type: runner.TopicProtobuf}},
		Outputs:   []runner.OutputRef{{TopicRef: runner.TopicRef{Topic: c.out, Message: "google.protobuf.StringValue", Type: runner.TopicProtobuf}}},
		State:     &runner.TopicRef{Topic: c.table(), Message: "google.protobuf.Int64Value", Type: runner.TopicProtobuf},
	})
	runner.HandleInput(p, 0, stringCodec, func(ctx *runner.ProcessorContext, m *wrapperspb.StringValue) error {
		seq, err := strconv.ParseInt(m.GetValue(), 10, 64)
		if err != nil {
			return err
		}
		last, _ := runner.State(ctx, int64Codec)
		state, verdict := step(last.GetValue(), seq)
		runner.SaveState(ctx, int64Codec, wrapperspb.Int64(state))
		runner.Output(ctx, 0, stringCodec, ctx.Key(), wrapperspb.String(outputValue(seq, verdict, "kafmesh")))
		return nil
	})
	return svc, svc.Register(p)
}

// running is a member running in the background.
type running struct {
	cancel context.CancelFunc
	done   chan error
}

func start(run func(ctx context.Context) error) *running {
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- run(ctx) }()
	return r
}

// stop stops the member gracefully and returns how it ended.
func (r *running) stop() error {
	r.cancel()
	return <-r.done
}
