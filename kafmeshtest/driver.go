package kafmeshtest

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafmesh/kafmesh/runner"
)

// Driver runs generated parts with no broker at all: it wraps a
// [runner.MemoryCluster], where every record produced is handled by every
// part that reads it before the call returns, across several partitions
// like Kafka would. Use it to test handlers through their generated
// registration functions:
//
//	d := kafmeshtest.NewDriver(t, 4)
//	svc := d.Service(definitions.Definition())
//	details.RegisterEnricher(svc, handler)
//	kafmeshtest.Send(t, d, "kafmesh.deviceId.details", detailsCodec, "42", msg)
//	outs := kafmeshtest.Read(t, d, "kafmesh.deviceId.enrichedDetails", enrichedCodec)
//
// View sources and view sinks run when the test says so, with
// d.SyncViewSources(ctx) and d.SyncViewSinks(ctx); sinks flush after every
// record. For integration tests against a broker, use [StartBroker].
type Driver struct {
	*runner.MemoryCluster
	t testing.TB
}

// NewDriver returns a driver whose topics have the given partition count.
func NewDriver(t testing.TB, partitions int) *Driver {
	return &Driver{MemoryCluster: runner.NewMemoryCluster(partitions), t: t}
}

// Service creates a service on the driver; register parts on it as usual.
func (d *Driver) Service(def runner.Definition, opts ...runner.Option) *runner.Service {
	d.t.Helper()
	s, err := d.NewService(def, opts...)
	if err != nil {
		d.t.Fatalf("kafmeshtest: %v", err)
	}
	return s
}

// Send encodes m and produces it to topic with key; everything it causes
// happens before Send returns. A part that fails on it fails the test.
func Send[M any](t testing.TB, d *Driver, topic string, codec runner.Codec[M], key string, m M) {
	t.Helper()
	value, err := codec.Encode(nil, m)
	if err != nil {
		t.Fatalf("kafmeshtest: encode for %s: %v", topic, err)
	}
	if err := d.ProduceSync(context.Background(), &kgo.Record{Topic: topic, Key: []byte(key), Value: value}); err != nil {
		t.Fatalf("kafmeshtest: handling %s key %q: %v", topic, key, err)
	}
}

// SendRaw produces a record as given (a nil value is a tombstone) and
// returns the error of any part that failed on it.
func (d *Driver) SendRaw(topic string, key, value []byte) error {
	return d.ProduceSync(context.Background(), &kgo.Record{Topic: topic, Key: key, Value: value})
}

// Delete produces a tombstone for key to topic.
func Delete(t testing.TB, d *Driver, topic, key string) {
	t.Helper()
	if err := d.SendRaw(topic, []byte(key), nil); err != nil {
		t.Fatalf("kafmeshtest: deleting %s key %q: %v", topic, key, err)
	}
}

// Read decodes every record of topic in the order produced; a tombstone
// reads as the zero value with Deleted set.
func Read[M any](t testing.TB, d *Driver, topic string, codec runner.Codec[M]) []Record[M] {
	t.Helper()
	var out []Record[M]
	for _, r := range d.Records(topic) {
		rec := Record[M]{Key: string(r.Key), Partition: r.Partition, Deleted: r.Value == nil}
		if !rec.Deleted {
			payload := r.Value
			if codec.Type() == runner.TopicProtobuf {
				var err error
				if payload, _, err = runner.Unframe(r.Value); err != nil {
					t.Fatalf("kafmeshtest: %s offset %d: %v", topic, r.Offset, err)
				}
			}
			m, err := codec.Decode(payload)
			if err != nil {
				t.Fatalf("kafmeshtest: decoding %s offset %d: %v", topic, r.Offset, err)
			}
			rec.Value = m
		}
		out = append(out, rec)
	}
	return out
}

// Latest is the table view of topic: the last value of each key, deleted
// keys left out. Read a processor's state from its "<group>-table".
func Latest[M any](t testing.TB, d *Driver, topic string, codec runner.Codec[M]) map[string]M {
	t.Helper()
	out := map[string]M{}
	for _, r := range Read(t, d, topic, codec) {
		if r.Deleted {
			delete(out, r.Key)
		} else {
			out[r.Key] = r.Value
		}
	}
	return out
}

// Record is one decoded record.
type Record[M any] struct {
	Key       string
	Value     M
	Partition int32
	Deleted   bool
}
