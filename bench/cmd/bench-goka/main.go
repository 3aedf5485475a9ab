// Command bench-goka is the goka v1.1.16 contender of the peer benchmarks:
// the same count-by-key (mode count) and join + lookup (mode enrich) logic
// as bench-kafmesh, with goka's default LevelDB storage, and sarama set to
// the matched settings (acks=all, idempotent, linger, batch size, no
// compression, Java's murmur2 partitioning, commits every 100ms).
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/IBM/sarama"
	"github.com/lovoo/goka"
	"github.com/lovoo/goka/storage"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/kafmesh/kafmesh/bench/internal/contender"
	"github.com/kafmesh/kafmesh/bench/internal/murmur2"
)

func main() { contender.Main("bench-goka", run) }

// saramaConfig is the matched configuration; every builder gets its own
// copy because goka's builders write into the config they are given.
func saramaConfig(c contender.Config) *sarama.Config {
	cfg := goka.DefaultConfig()
	cfg.Version = sarama.V3_9_0_0 // Kafka 4 no longer serves goka's default V2_0_0_0 requests
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Offsets.AutoCommit.Enable = true
	cfg.Consumer.Offsets.AutoCommit.Interval = c.CommitInterval
	cfg.Consumer.MaxWaitTime = c.FetchMaxWait
	cfg.Consumer.Fetch.Default = 1 << 20 // Java's max.partition.fetch.bytes
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Idempotent = true
	cfg.Net.MaxOpenRequests = 1 // sarama requires it for idempotence
	cfg.Producer.Compression = sarama.CompressionNone
	cfg.Producer.Flush.Frequency = c.Linger
	cfg.Producer.Flush.Bytes = c.BatchBytes
	cfg.Producer.MaxMessageBytes = c.BatchBytes
	return cfg
}

func run(ctx context.Context, c contender.Config, first *contender.FirstRead, log *slog.Logger) error {
	var edges []goka.Edge
	switch c.Mode {
	case "count":
		edges = []goka.Edge{
			goka.Input(goka.Stream(c.Input), protoCodec[wrapperspb.StringValue]{}, func(ctx goka.Context, _ any) {
				first.Mark()
				var n int64
				if v := ctx.Value(); v != nil {
					n = v.(*wrapperspb.Int64Value).GetValue()
				}
				next := wrapperspb.Int64(n + 1)
				ctx.SetValue(next)
				ctx.Emit(goka.Stream(c.Output), ctx.Key(), next)
			}),
			goka.Output(goka.Stream(c.Output), protoCodec[wrapperspb.Int64Value]{}),
			goka.Persist(protoCodec[wrapperspb.Int64Value]{}),
		}
	case "enrich":
		joinTable, lookupTable := goka.Table(c.Join), goka.Table(c.Lookup)
		edges = []goka.Edge{
			goka.Input(goka.Stream(c.Input), protoCodec[wrapperspb.StringValue]{}, func(ctx goka.Context, _ any) {
				first.Mark()
				customer := ""
				if v := ctx.Join(joinTable); v != nil {
					customer = v.(*wrapperspb.StringValue).GetValue()
				}
				name := ""
				if v := ctx.Lookup(lookupTable, customer); v != nil {
					name = v.(*wrapperspb.StringValue).GetValue()
				}
				ctx.Emit(goka.Stream(c.Output), ctx.Key(), wrapperspb.String(customer+"|"+name))
			}),
			goka.Join(joinTable, protoCodec[wrapperspb.StringValue]{}),
			goka.Lookup(lookupTable, protoCodec[wrapperspb.StringValue]{}),
			goka.Output(goka.Stream(c.Output), protoCodec[wrapperspb.StringValue]{}),
		}
	}
	tm := goka.NewTopicManagerConfig()
	tm.Table.Replication, tm.Stream.Replication = 1, 1
	proc, err := goka.NewProcessor(c.Brokers, goka.DefineGroup(goka.Group(c.Group), edges...),
		goka.WithHasher(murmur2.New32),
		goka.WithStorageBuilder(storage.DefaultBuilder(c.StateDir)),
		goka.WithProducerBuilder(goka.ProducerBuilderWithConfig(saramaConfig(c))),
		goka.WithConsumerGroupBuilder(goka.ConsumerGroupBuilderWithConfig(saramaConfig(c))),
		goka.WithConsumerSaramaBuilder(goka.SaramaConsumerBuilderWithConfig(saramaConfig(c))),
		goka.WithTopicManagerBuilder(goka.TopicManagerBuilderWithConfig(saramaConfig(c), tm)),
	)
	if err != nil {
		return err
	}
	err = proc.Run(ctx)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// protoCodec is a goka codec for the protobuf message *T.
type protoCodec[T any] struct{}

func (protoCodec[T]) Encode(v any) ([]byte, error) {
	m, ok := v.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("encode: %T is not a protobuf message", v)
	}
	return proto.Marshal(m)
}

func (protoCodec[T]) Decode(b []byte) (any, error) {
	m := any(new(T)).(proto.Message)
	if err := proto.Unmarshal(b, m); err != nil {
		return nil, err
	}
	return m, nil
}
