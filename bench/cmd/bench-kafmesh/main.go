// Command bench-kafmesh is the kafmesh contender of the peer benchmarks: a
// count-by-key processor with Pebble state and its changelog (mode count),
// or a processor that joins a co-partitioned table and looks up a second
// one (mode enrich), built with the runtime's public API as generated code
// would build it. -eos runs it exactly-once.
package main

import (
	"context"
	"log/slog"
	"path/filepath"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/kafmesh/kafmesh/bench/internal/contender"
	"github.com/kafmesh/kafmesh/runner"
)

var (
	stringCodec = runner.Proto[wrapperspb.StringValue]()
	countCodec  = runner.Proto[wrapperspb.Int64Value]()
)

func main() { contender.Main("bench-kafmesh", run) }

// instanceID is the group's name for a run whose state folder is named
// after the group (W1-W3), else the group plus the folder's name.
func instanceID(c contender.Config) string {
	if b := filepath.Base(c.StateDir); b != c.Group {
		return c.Group + "-" + b
	}
	return c.Group
}

func run(ctx context.Context, c contender.Config, first *contender.FirstRead, log *slog.Logger) error {
	svcOpts := []runner.Option{
		runner.WithBrokers(c.Brokers...),
		runner.WithStateDir(c.StateDir),
		runner.WithLogger(log),
		// Static membership: a restart with the same state folder takes
		// its partitions back at once; a second instance (W4) has its own
		// state folder, so its own id.
		runner.WithInstanceID(instanceID(c)),
		// The matched settings; the runtime already sets acks=all,
		// idempotence, no compression and murmur2 key partitioning.
		runner.WithKafkaOptions(
			kgo.ProducerLinger(c.Linger),
			kgo.ProducerBatchMaxBytes(int32(c.BatchBytes)),
			kgo.FetchMaxWait(c.FetchMaxWait),
		),
	}
	if c.LeaveOnStop {
		svcOpts = append(svcOpts, runner.WithLeaveGroupsOnStop())
	}
	svc, err := runner.NewService(runner.Definition{Name: "bench"}, svcOpts...)
	if err != nil {
		return err
	}
	var opts []runner.PartOption
	opts = append(opts, runner.CommitInterval(c.CommitInterval))
	if c.EOS {
		opts = append(opts, runner.ExactlyOnce())
	}
	input := runner.TopicRef{Topic: c.Input, Message: "google.protobuf.StringValue", Type: runner.TopicProtobuf}
	var p *runner.Processor
	switch c.Mode {
	case "count":
		// The count never reads the input value, so its input is raw: the
		// bare loops and Kafka Streams do not decode it either, and a
		// protobuf input would cost a decode per record (about a fifth of
		// the CPU of W1) that no other part of the count needs.
		raw := runner.TopicRef{Topic: c.Input, Type: runner.TopicRaw}
		p = runner.NewProcessor(runner.ProcessorSpec{
			Component: "bench", Name: "counter", Group: c.Group,
			Inputs:  []runner.TopicRef{raw},
			Outputs: []runner.OutputRef{{TopicRef: runner.TopicRef{Topic: c.Output, Message: "google.protobuf.Int64Value", Type: runner.TopicProtobuf}}},
			State:   &runner.TopicRef{Topic: c.Group + "-table", Message: "google.protobuf.Int64Value", Type: runner.TopicProtobuf},
		}, opts...)
		runner.HandleInput(p, 0, runner.Raw(), func(ctx *runner.ProcessorContext, _ []byte) error {
			first.Mark()
			n, _ := runner.State(ctx, countCodec)
			next := wrapperspb.Int64(n.GetValue() + 1)
			runner.SaveState(ctx, countCodec, next)
			runner.Output(ctx, 0, countCodec, ctx.Key(), next)
			return nil
		})
	case "enrich":
		p = runner.NewProcessor(runner.ProcessorSpec{
			Component: "bench", Name: "enricher", Group: c.Group,
			Inputs:  []runner.TopicRef{input},
			Joins:   []runner.TopicRef{{Topic: c.Join, Message: "google.protobuf.StringValue", Type: runner.TopicProtobuf}},
			Lookups: []runner.TopicRef{{Topic: c.Lookup, Message: "google.protobuf.StringValue", Type: runner.TopicProtobuf}},
			Outputs: []runner.OutputRef{{TopicRef: runner.TopicRef{Topic: c.Output, Message: "google.protobuf.StringValue", Type: runner.TopicProtobuf}}},
		}, opts...)
		runner.HandleInput(p, 0, stringCodec, func(ctx *runner.ProcessorContext, _ *wrapperspb.StringValue) error {
			first.Mark()
			customer := runner.Join(ctx, 0, stringCodec).GetValue()
			name := runner.Lookup(ctx, 0, stringCodec, customer).GetValue()
			runner.Output(ctx, 0, stringCodec, ctx.Key(), wrapperspb.String(customer+"|"+name))
			return nil
		})
	}
	if err := svc.Register(p); err != nil {
		return err
	}
	return svc.Run(ctx)
}
