package runner_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/kafmesh/kafmesh/kafmeshtest"
	"github.com/kafmesh/kafmesh/runner"
)

// The ids a 2021 proto-schema-registry gave the test's message types.
var ids2021 = map[protoreflect.FullName]uint32{
	"google.protobuf.StringValue": 1201,
	"google.protobuf.Int64Value":  1202,
}

// decode2021 decodes a value exactly as a kafmesh 2021 service did: check
// the 0x02 magic byte, take 4 bytes of schema id, proto.Unmarshal the rest.
// (The 2021 decoder did not even check the length: a shorter value
// panicked.)
func decode2021(value []byte, m proto.Message) (id uint32, err error) {
	if len(value) < 5 {
		return 0, fmt.Errorf("2021 decoder would panic: slice bounds out of range [5:%d]", len(value))
	}
	if value[0] != 0x02 {
		return 0, fmt.Errorf("2021 decoder: bad magic byte 0x%02x", value[0])
	}
	return binary.BigEndian.Uint32(value[1:5]), proto.Unmarshal(value[5:], m)
}

func frame2021(id uint32, m proto.Message) []byte {
	b, _ := proto.Marshal(m)
	return append(binary.BigEndian.AppendUint32([]byte{0x02}, id), b...)
}

// With framing kafmesh2021, every value a service writes (source records,
// processor outputs, state changelog) decodes with the 2021 decoder, with
// the id of its message type.
func TestFramingKafmesh2021IsWhat2021Reads(t *testing.T) {
	brokers := kafmeshtest.StartBroker(t)
	c := newCounter(t)
	kafmeshtest.CreateTopic(t, brokers, c.in, 2, false)
	kafmeshtest.CreateTopic(t, brokers, c.out, 2, false)
	kafmeshtest.CreateTopic(t, brokers, c.group+"-table", 2, true)
	s := newService(t, brokers, "framing2021", t.TempDir(),
		runner.WithFraming(runner.FramingKafmesh2021), runner.WithKafmesh2021Registry(runner.StaticSchemaIDs(ids2021)))
	src, err := runner.NewSource(s, runner.SourceSpec{Component: "c", TopicRef: runner.TopicRef{Topic: c.in, Type: runner.TopicProtobuf}}, stringCodec)
	if err != nil {
		t.Fatal(err)
	}
	c.register(t, s)
	running(t, s)
	const n, keys = 40, 4
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range n {
		if err := src.Emit(ctx, fmt.Sprintf("key-%d", i%keys), wrapperspb.String(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range consumeN(t, brokers, c.in, n, 30*time.Second) {
		var v wrapperspb.StringValue
		if id, err := decode2021(r.Value, &v); err != nil || id != 1201 {
			t.Fatalf("source record %x: id %d, %v", r.Value, id, err)
		}
	}
	counts := map[string]int64{}
	// The state cache writes a key's latest value per commit: the table
	// holds at least one record per key, all read once the outputs are.
	for _, topic := range []string{c.out, c.group + "-table"} {
		var rs []*kgo.Record
		if topic == c.out {
			rs = consumeN(t, brokers, topic, n, 60*time.Second)
		} else {
			rs = consumeQuiet(t, brokers, topic, 2*time.Second)
			if len(rs) < keys {
				t.Fatalf("%d state records; want at least %d", len(rs), keys)
			}
		}
		for _, r := range rs {
			var v wrapperspb.Int64Value
			if id, err := decode2021(r.Value, &v); err != nil || id != 1202 {
				t.Fatalf("%s record %x: id %d, %v", topic, r.Value, id, err)
			}
			if topic == c.out {
				counts[string(r.Key)] = max(counts[string(r.Key)], v.Value)
			}
		}
	}
	expectCounts(t, counts, n, keys)
}

// framingAutoRegistry counts lookups, to show they happen once per topic.
type countingRegistry struct {
	runner.Kafmesh2021Registry
	lookups int
}

func (r *countingRegistry) SchemaID(ctx context.Context, topic string, d protoreflect.MessageDescriptor) (uint32, error) {
	r.lookups++
	return r.Kafmesh2021Registry.SchemaID(ctx, topic, d)
}

// With framing auto, a service writes the framing each topic's latest
// records use: a 2021 topic stays 0x02-framed (so 2021 readers keep
// working), a plain or empty topic gets plain values; the state topic a
// 2021 processor left follows the same rule, and its old state is read.
func TestFramingAutoFollowsTheTopic(t *testing.T) {
	brokers := kafmeshtest.StartBroker(t)
	old, plain, empty := kafmeshtest.Unique(t, "old"), kafmeshtest.Unique(t, "plain"), kafmeshtest.Unique(t, "empty")
	c := newCounter(t)
	for _, topic := range []string{old, plain, empty, c.in, c.out} {
		kafmeshtest.CreateTopic(t, brokers, topic, 2, false)
	}
	kafmeshtest.CreateTopic(t, brokers, c.group+"-table", 2, true)
	cl := client(t, brokers)
	plainValue, _ := proto.Marshal(wrapperspb.String("new"))
	produce(t, cl,
		&kgo.Record{Topic: old, Key: []byte("a"), Value: frame2021(1201, wrapperspb.String("old"))},
		&kgo.Record{Topic: plain, Key: []byte("a"), Value: plainValue},
		// What a 2021 processor left: key-0 counted 2, in 0x02 framing.
		&kgo.Record{Topic: c.group + "-table", Key: []byte("key-0"), Value: frame2021(1202, wrapperspb.Int64(2))},
	)
	reg := &countingRegistry{Kafmesh2021Registry: runner.StaticSchemaIDs(ids2021)}
	s := newService(t, brokers, "framingauto", t.TempDir(),
		runner.WithFraming(runner.FramingAuto), runner.WithKafmesh2021Registry(reg))
	srcs := map[string]*runner.Source[*wrapperspb.StringValue]{}
	for _, topic := range []string{old, plain, empty} {
		src, err := runner.NewSource(s, runner.SourceSpec{Component: "c", TopicRef: runner.TopicRef{Topic: topic, Type: runner.TopicProtobuf}}, stringCodec)
		if err != nil {
			t.Fatal(err)
		}
		srcs[topic] = src
	}
	c.register(t, s)
	running(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for topic, src := range srcs {
		for i := range 3 {
			if err := src.Emit(ctx, fmt.Sprint(i), wrapperspb.String("x")); err != nil {
				t.Fatalf("%s: %v", topic, err)
			}
		}
	}
	produce(t, cl, &kgo.Record{Topic: c.in, Key: []byte("key-0"), Value: plainValue})

	last := func(topic string, n int) []*kgo.Record { return consumeN(t, brokers, topic, n, 60*time.Second) }
	// The topic's records: the 2021 one and the three written, in no
	// particular order across its two partitions.
	written := 0
	for _, r := range last(old, 4) {
		var v wrapperspb.StringValue
		id, err := decode2021(r.Value, &v)
		if v.Value == "old" && err == nil && id == 1201 {
			continue
		}
		written++
		if err != nil || id != 1201 || v.Value != "x" {
			t.Errorf("auto on a 2021 topic wrote %x (id %d, %v); want 0x02 framing", r.Value, id, err)
		}
	}
	if written != 3 {
		t.Errorf("read %d written records back from the 2021 topic, want 3", written)
	}
	for _, topic := range []string{plain, empty} {
		rs := last(topic, 3)
		for _, r := range rs[len(rs)-3:] {
			if r.Value[0] == 0x02 || r.Value[0] == 0x00 {
				t.Errorf("auto on %s wrote framed %x; want plain", topic, r.Value)
			}
		}
	}
	states := last(c.group+"-table", 2)
	var st wrapperspb.Int64Value
	if id, err := decode2021(states[1].Value, &st); err != nil || id != 1202 || st.Value != 3 {
		t.Errorf("new state record %x: id %d, value %d, %v; want 0x02-framed 3 (old 2 + 1)", states[1].Value, id, st.Value, err)
	}
	out := last(c.out, 1)
	var o wrapperspb.Int64Value
	if err := proto.Unmarshal(out[0].Value, &o); err != nil || o.Value != 3 {
		t.Errorf("output on an empty topic: %x, %v; want plain 3", out[0].Value, err)
	}
	if reg.lookups != 2 {
		t.Errorf("%d registry lookups; want 2 (one per 0x02 topic, not per record)", reg.lookups)
	}
}

// A topic configured for kafmesh2021 cannot be written without a registry:
// the error says what is missing.
func TestFramingKafmesh2021NeedsARegistry(t *testing.T) {
	brokers := kafmeshtest.StartBroker(t)
	topic := kafmeshtest.Unique(t, "noreg")
	kafmeshtest.CreateTopic(t, brokers, topic, 1, false)
	s := newService(t, brokers, "noreg", t.TempDir(), runner.WithTopicFraming(topic, runner.FramingKafmesh2021))
	src, err := runner.NewSource(s, runner.SourceSpec{Component: "c", TopicRef: runner.TopicRef{Topic: topic, Type: runner.TopicProtobuf}}, stringCodec)
	if err != nil {
		t.Fatal(err)
	}
	err = src.Emit(context.Background(), "k", wrapperspb.String("x"))
	if err == nil || !strings.Contains(err.Error(), "WithKafmesh2021Registry") {
		t.Fatalf("emit without a registry: %v", err)
	}
}

// FramingAuto sees the framing of a topic written transactionally, whose
// last offset is a commit marker, not a record.
func TestFramingAutoReadsPastTransactionMarkers(t *testing.T) {
	brokers := kafmeshtest.StartBroker(t)
	topic := kafmeshtest.Unique(t, "txn")
	kafmeshtest.CreateTopic(t, brokers, topic, 1, false)
	tx := client(t, brokers, kgo.TransactionalID(kafmeshtest.Unique(t, "txid")))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := tx.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := tx.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: []byte("a"), Value: frame2021(1201, wrapperspb.String("old"))}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := tx.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	s := newService(t, brokers, "framingtxn", t.TempDir(),
		runner.WithFraming(runner.FramingAuto), runner.WithKafmesh2021Registry(runner.StaticSchemaIDs(ids2021)))
	src, err := runner.NewSource(s, runner.SourceSpec{Component: "c", TopicRef: runner.TopicRef{Topic: topic, Type: runner.TopicProtobuf}}, stringCodec)
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Emit(ctx, "b", wrapperspb.String("new")); err != nil {
		t.Fatal(err)
	}
	rs := consumeN(t, brokers, topic, 2, 30*time.Second)
	var v wrapperspb.StringValue
	if id, err := decode2021(rs[1].Value, &v); err != nil || id != 1201 || v.Value != "new" {
		t.Errorf("auto after a transaction wrote %x (id %d, %v); want 0x02 framing", rs[1].Value, id, err)
	}
}
