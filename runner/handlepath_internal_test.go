package runner

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// BenchmarkHandlePath measures the processor's per-record path without a
// broker: the W1 count-by-key handler (raw input, Int64Value state and
// output, as bench/cmd/bench-kafmesh registers it) run by the task that a
// poll hands records to, in batches of 256 records per partition over 8
// partitions and 10,000 keys, with a state commit (changelog records and
// the local store write) every 16,384 records. Produced records go to an
// in-memory sink (a MemoryCluster's topics, truncated at every commit), so
// franz-go's producer is not in the figures. One op is one record: with
// -benchmem, allocs/op is allocations per record.
//
//	go test ./runner -run '^$' -bench HandlePath -benchmem -count 5
func BenchmarkHandlePath(b *testing.B) {
	const (
		partitions = 8
		keys       = 10_000
		batch      = 256
		commitEach = 16_384
	)
	count := Proto[wrapperspb.Int64Value]()
	m := NewMemoryCluster(partitions)
	s, err := m.NewService(Definition{Name: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	p := NewProcessor(ProcessorSpec{
		Component: "bench", Name: "counter", Group: "bench-counter",
		Inputs:  []TopicRef{{Topic: "in", Type: TopicRaw}},
		Outputs: []OutputRef{{TopicRef: TopicRef{Topic: "out", Message: "google.protobuf.Int64Value", Type: TopicProtobuf}}},
		State:   &TopicRef{Topic: "bench-counter-table", Message: "google.protobuf.Int64Value", Type: TopicProtobuf},
	})
	HandleInput(p, 0, Raw(), func(c *ProcessorContext, _ []byte) error {
		n, _ := State(c, count)
		next := wrapperspb.Int64(n.GetValue() + 1)
		SaveState(c, count, next)
		Output(c, 0, count, c.Key(), next)
		return nil
	})
	if err := s.Register(p); err != nil {
		b.Fatal(err)
	}
	pp := s.registered()[0].(*processorPart)

	// A batch of records per partition, keys spread as Kafka spreads them.
	value := make([]byte, 100)
	byPartition := make([][]*kgo.Record, partitions)
	for i := 0; ; i++ {
		key := fmt.Appendf(nil, "key-%05d", i%keys)
		q := KeyPartition(key, partitions)
		if len(byPartition[q]) < batch {
			byPartition[q] = append(byPartition[q], &kgo.Record{Topic: "in", Partition: q, Key: key, Value: value, Offset: int64(i)})
		}
		full := true
		for _, rs := range byPartition {
			full = full && len(rs) == batch
		}
		if full {
			break
		}
	}
	tasks := make([]*procTask, partitions)
	for q := range tasks {
		tasks[q] = pp.memoryTask(int32(q))
	}
	commit := func() {
		for _, t := range tasks {
			t.state.prepare(&pp.batch, func(key, value []byte) {})
		}
		if err := pp.stateStore.Apply(&pp.batch); err != nil {
			b.Fatal(err)
		}
		pp.batch.Reset()
		for _, t := range tasks {
			t.state.committed()
		}
		for _, t := range m.topics {
			for i := range t.partitions {
				clear(t.partitions[i])
				t.partitions[i] = t.partitions[i][:0]
			}
			clear(t.all)
			t.all = t.all[:0]
		}
		clear(m.queue)
		m.queue = m.queue[:0]
	}
	ctx := context.Background()
	parts := make([][]kgo.FetchTopicPartition, partitions)
	for q := range parts {
		parts[q] = []kgo.FetchTopicPartition{{Topic: "in", FetchPartition: kgo.FetchPartition{Partition: int32(q), Records: byPartition[q]}}}
	}
	// Warm the state cache and the sinks' slices.
	for q, t := range tasks {
		if err := t.process(ctx, parts[q]); err != nil {
			b.Fatal(err)
		}
	}
	commit()
	b.ResetTimer()
	done, sinceCommit := 0, 0
	for done < b.N {
		for q, t := range tasks {
			if err := t.process(ctx, parts[q]); err != nil {
				b.Fatal(err)
			}
		}
		done += partitions * batch
		sinceCommit += partitions * batch
		if sinceCommit >= commitEach {
			commit()
			sinceCommit = 0
		}
	}
}

// ProcessorContext.reset clears the context's fields one by one: a field
// added to the struct must be cleared there too, or a handler would see
// the previous record's value.
func TestProcessorContextResetCoversEveryField(t *testing.T) {
	// ctx t rec err trace span stateTouched stateEntry stateValue stateBuf outputs outputIdx
	const known = 12
	if n := reflect.TypeFor[ProcessorContext]().NumField(); n != known {
		t.Fatalf("ProcessorContext has %d fields, reset knows %d: clear the new field in ProcessorContext.reset, then update this count", n, known)
	}
	task := &procTask{}
	out := &kgo.Record{}
	c := &ProcessorContext{
		ctx: context.Background(), t: &procTask{}, rec: &kgo.Record{}, err: errors.New("old"), trace: &trace{},
		span: noop.Span{}, stateTouched: true, stateEntry: &cacheEntry{}, stateValue: []byte("v"),
		stateBuf: make([]byte, 0, 8), outputs: []*kgo.Record{out}, outputIdx: []int{1},
	}
	ctx, r := context.WithValue(context.Background(), task, 1), &kgo.Record{Key: []byte("k")}
	c.reset(ctx, task, r)
	if c.ctx != ctx || c.t != task || c.rec != r {
		t.Errorf("reset did not take the new record: %+v", *c)
	}
	if c.err != nil || c.trace != nil || c.span != nil || c.stateTouched || c.stateEntry != nil || c.stateValue != nil {
		t.Errorf("reset kept the previous record's handler state: %+v", *c)
	}
	if len(c.outputs) != 0 || len(c.outputIdx) != 0 || c.outputs[:1][0] != nil {
		t.Errorf("reset kept the previous record's outputs: %v %v", c.outputs[:1], c.outputIdx)
	}
	if cap(c.stateBuf) != 8 {
		t.Errorf("reset dropped the scratch buffer (cap %d)", cap(c.stateBuf))
	}
}
