package kafmesh2021test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"log/slog"
	"strconv"

	"github.com/IBM/sarama"
	"github.com/lovoo/goka"
	"github.com/lovoo/goka/storage"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/kafmesh/kafmesh/runner"
)

// Schema ids, as a 2021 proto-schema-registry gave them.
const (
	idString uint32 = 2101
	idInt64  uint32 = 2102
)

// codec2021 is the value codec of 2021 kafmesh: encode writes 0x02, the
// 4-byte big-endian schema id and the protobuf bytes; decode strips 5 bytes
// without checking anything (a shorter value panics, a plain value fails
// to parse) and unmarshals the rest.
type codec2021[T any] struct{ id uint32 }

func (c codec2021[T]) Encode(v any) ([]byte, error) {
	m, ok := v.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("encode: %T is not a protobuf message", v)
	}
	b, err := proto.Marshal(m)
	if err != nil {
		return nil, err
	}
	return append(binary.BigEndian.AppendUint32([]byte{0x02}, c.id), b...), nil
}

func (codec2021[T]) Decode(b []byte) (any, error) {
	m := any(new(T)).(proto.Message)
	if err := proto.Unmarshal(b[5:], m); err != nil {
		return nil, err
	}
	return m, nil
}

// murmurHasher is the key hasher 2021 kafmesh gave goka: Java's murmur2,
// made positive, so sarama's hash partitioner agrees with the Java client.
type murmurHasher struct{ buf []byte }

func newMurmurHasher() hash.Hash32 { return &murmurHasher{} }

func (h *murmurHasher) Write(p []byte) (int, error) { h.buf = append(h.buf, p...); return len(p), nil }
func (h *murmurHasher) Sum(b []byte) []byte {
	return binary.BigEndian.AppendUint32(b, h.Sum32())
}
func (h *murmurHasher) Reset()         { h.buf = h.buf[:0] }
func (h *murmurHasher) Size() int      { return 4 }
func (h *murmurHasher) BlockSize() int { return 4 }
func (h *murmurHasher) Sum32() uint32  { return runner.Murmur2(h.buf) & 0x7fffffff }

// saramaConfig is goka's default configuration with the consumer group
// protocol of 2021 kafmesh processors: sarama's "range" (goka's own
// "copartition" strategy came later). Every builder gets its own copy,
// since goka's builders write into the config they are given.
func saramaConfig() *sarama.Config {
	cfg := goka.DefaultConfig()
	cfg.Version = sarama.V3_9_0_0 // Kafka 4 no longer serves older request versions
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Group.Rebalance.Strategy = nil
	cfg.Consumer.Group.Rebalance.GroupStrategies = []sarama.BalanceStrategy{sarama.NewBalanceStrategyRange()}
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Idempotent = true
	cfg.Net.MaxOpenRequests = 1
	return cfg
}

// counterTopics are the topics of the test's counter processor.
type counterTopics struct{ group, in, out string }

func (c counterTopics) table() string { return c.group + "-table" }

// step is the counter's logic, the same in both runtimes: the state is the
// last sequence number handled for the key; inputs carry per-key sequence
// numbers 1, 2, 3, .... The verdict says whether the input was the next
// one ("ok"), one handled before ("dup": at-least-once redelivery), or
// came after a hole ("gap": state lost or wrong).
func step(last, seq int64) (state int64, verdict string) {
	switch {
	case seq <= last:
		return last, "dup"
	case seq == last+1:
		return seq, "ok"
	}
	return seq, "gap"
}

// outputValue is what the counter emits for one input.
func outputValue(seq int64, verdict, who string) string {
	return strconv.FormatInt(seq, 10) + ":" + verdict + ":" + who
}

// runGoka runs a 2021-style counter member until ctx ends.
func runGoka(ctx context.Context, brokers []string, c counterTopics, stateDir string, log *slog.Logger) error {
	tm := goka.NewTopicManagerConfig()
	tm.Table.Replication, tm.Stream.Replication = 1, 1
	g := goka.DefineGroup(goka.Group(c.group),
		goka.Input(goka.Stream(c.in), codec2021[wrapperspb.StringValue]{idString}, func(ctx goka.Context, msg any) {
			seq, err := strconv.ParseInt(msg.(*wrapperspb.StringValue).GetValue(), 10, 64)
			if err != nil {
				ctx.Fail(err)
			}
			var last int64
			if v := ctx.Value(); v != nil {
				last = v.(*wrapperspb.Int64Value).GetValue()
			}
			state, verdict := step(last, seq)
			ctx.SetValue(wrapperspb.Int64(state))
			ctx.Emit(goka.Stream(c.out), ctx.Key(), wrapperspb.String(outputValue(seq, verdict, "goka")))
		}),
		goka.Output(goka.Stream(c.out), codec2021[wrapperspb.StringValue]{idString}),
		goka.Persist(codec2021[wrapperspb.Int64Value]{idInt64}),
	)
	proc, err := goka.NewProcessor(brokers, g,
		goka.WithHasher(newMurmurHasher),
		goka.WithLogger(gokaLogger{log}),
		goka.WithStorageBuilder(storage.DefaultBuilder(stateDir)),
		goka.WithProducerBuilder(goka.ProducerBuilderWithConfig(saramaConfig())),
		goka.WithConsumerGroupBuilder(goka.ConsumerGroupBuilderWithConfig(saramaConfig())),
		goka.WithConsumerSaramaBuilder(goka.SaramaConsumerBuilderWithConfig(saramaConfig())),
		goka.WithTopicManagerBuilder(goka.TopicManagerBuilderWithConfig(saramaConfig(), tm)),
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

// gokaLogger sends goka's log lines to slog at debug level.
type gokaLogger struct{ l *slog.Logger }

func (g gokaLogger) Print(v ...any)                 { g.l.Debug(fmt.Sprint(v...)) }
func (g gokaLogger) Println(v ...any)               { g.l.Debug(fmt.Sprint(v...)) }
func (g gokaLogger) Printf(format string, v ...any) { g.l.Debug(fmt.Sprintf(format, v...)) }
