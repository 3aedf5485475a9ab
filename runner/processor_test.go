package runner_test

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/kafmesh/kafmesh/kafmeshtest"
	"github.com/kafmesh/kafmesh/runner"
)

var (
	stringCodec = runner.Proto[wrapperspb.StringValue]()
	countCodec  = runner.Proto[wrapperspb.Int64Value]()
)

// counter is a stateful count-by-key processor: each input increments its
// key's count and emits the new count.
type counter struct {
	in, out, group string
	opts           []runner.PartOption
	// firstRead, when set, receives the time the first record was handled.
	firstRead *atomic.Int64
}

func newCounter(t testing.TB, opts ...runner.PartOption) counter {
	return counter{
		in:    kafmeshtest.Unique(t, "in"),
		out:   kafmeshtest.Unique(t, "out"),
		group: kafmeshtest.Unique(t, "counter"),
		opts:  opts,
	}
}

func (c counter) spec() runner.ProcessorSpec {
	return runner.ProcessorSpec{
		Component: "counting",
		Name:      "counter",
		Group:     c.group,
		Inputs:    []runner.TopicRef{{Topic: c.in, Message: "google.protobuf.StringValue", Type: runner.TopicProtobuf}},
		Outputs:   []runner.OutputRef{{TopicRef: runner.TopicRef{Topic: c.out, Message: "google.protobuf.Int64Value", Type: runner.TopicProtobuf}}},
		State:     &runner.TopicRef{Topic: c.group + "-table", Message: "google.protobuf.Int64Value", Type: runner.TopicProtobuf},
	}
}

func (c counter) register(t testing.TB, s *runner.Service) {
	t.Helper()
	p := runner.NewProcessor(c.spec(), c.opts...)
	runner.HandleInput(p, 0, stringCodec, func(ctx *runner.ProcessorContext, m *wrapperspb.StringValue) error {
		if c.firstRead != nil && c.firstRead.Load() == 0 {
			c.firstRead.CompareAndSwap(0, time.Now().UnixNano())
		}
		n, _ := runner.State(ctx, countCodec)
		next := wrapperspb.Int64(n.GetValue() + 1)
		runner.SaveState(ctx, countCodec, next)
		runner.Output(ctx, 0, countCodec, ctx.Key(), next)
		return nil
	})
	if err := s.Register(p); err != nil {
		t.Fatal(err)
	}
}

func inputRecords(topic string, from, to, keys int) []*kgo.Record {
	var rs []*kgo.Record
	for i := from; i < to; i++ {
		v, _ := proto.Marshal(wrapperspb.String(fmt.Sprintf("event-%d", i)))
		rs = append(rs, &kgo.Record{Topic: topic, Key: fmt.Appendf(nil, "key-%d", i%keys), Value: v})
	}
	return rs
}

// lastCounts is the last count output per key.
func lastCounts(t testing.TB, rs []*kgo.Record) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, r := range rs {
		var v wrapperspb.Int64Value
		if err := proto.Unmarshal(r.Value, &v); err != nil {
			t.Fatal(err)
		}
		if v.Value > out[string(r.Key)] {
			out[string(r.Key)] = v.Value
		}
	}
	return out
}

func expectCounts(t testing.TB, got map[string]int64, total, keys int) {
	t.Helper()
	for k := 0; k < keys; k++ {
		want := int64(total / keys)
		if k < total%keys {
			want++
		}
		if g := got[fmt.Sprintf("key-%d", k)]; g != want {
			t.Errorf("key-%d counted %d, want %d", k, g, want)
		}
	}
}

func TestProcessorCountsByKey(t *testing.T) {
	for _, mode := range []struct {
		name string
		opts []runner.PartOption
	}{{"at-least-once", nil}, {"exactly-once", []runner.PartOption{runner.ExactlyOnce()}}} {
		t.Run(mode.name, func(t *testing.T) {
			brokers := kafmeshtest.StartBroker(t)
			c := newCounter(t, mode.opts...)
			kafmeshtest.CreateTopic(t, brokers, c.in, 4, false)
			s := newService(t, brokers, "counting", t.TempDir())
			c.register(t, s)
			if err := s.ConfigureTopics(t.Context()); err != nil {
				t.Fatal(err)
			}
			stop := running(t, s)
			const total, keys = 2000, 37
			produce(t, client(t, brokers), inputRecords(c.in, 0, total, keys)...)
			outs := consumeN(t, brokers, c.out, total, 60*time.Second)
			expectCounts(t, lastCounts(t, outs), total, keys)
			if err := stop(); err != nil {
				t.Fatalf("Run: %v", err)
			}
			// The changelog holds each key's final count.
			state := lastCounts(t, consumeQuiet(t, brokers, c.group+"-table", 2*time.Second))
			expectCounts(t, state, total, keys)
		})
	}
}
