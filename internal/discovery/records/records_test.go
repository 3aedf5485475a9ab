package records_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/kafmesh/kafmesh/internal/discovery/records"
	"github.com/kafmesh/kafmesh/kafmeshtest"
)

// On a topic written in transactions, a read ends at the last stable
// offset without waiting for its deadline: commit markers count as read,
// aborted records are not shown, an open transaction's records are not
// read.
func TestReadTransactionalTopicEndsWithoutTheDeadline(t *testing.T) {
	ctx := context.Background()
	brokers := kafmeshtest.StartBroker(t)
	topic := kafmeshtest.Unique(t, "txn")
	kafmeshtest.CreateTopic(t, brokers, topic, 1, false)
	tx, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.TransactionalID(kafmeshtest.Unique(t, "txid")))
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	write := func(commit kgo.TransactionEndTry, values ...string) {
		t.Helper()
		if err := tx.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for _, v := range values {
			if err := tx.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte(v)}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		if err := tx.EndTransaction(ctx, commit); err != nil {
			t.Fatal(err)
		}
	}
	write(kgo.TryCommit, "a", "b")
	write(kgo.TryAbort, "aborted")
	write(kgo.TryCommit, "c")

	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	// The coordinator writes the commit markers after EndTransaction
	// returns: wait until the last stable offset has caught up with the
	// high watermark.
	adm := kadm.NewClient(cl)
	for deadline := time.Now().Add(10 * time.Second); ; {
		stable, err1 := adm.ListCommittedOffsets(ctx, topic)
		ends, err2 := adm.ListEndOffsets(ctx, topic)
		s, _ := stable.Lookup(topic, 0)
		e, _ := ends.Lookup(topic, 0)
		if err1 == nil && err2 == nil && s.Offset == e.Offset {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the last stable offset %d did not reach the end %d (%v, %v)", s.Offset, e.Offset, err1, err2)
		}
		time.Sleep(20 * time.Millisecond)
	}
	r := records.New(cl, records.WithLimits(records.Limits{Timeout: 10 * time.Second}))
	for _, from := range []records.From{records.Latest, records.Earliest} {
		start := time.Now()
		page, err := r.Read(ctx, records.Request{Topic: topic, From: from, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, rec := range page.Records {
			got = append(got, string(rec.Value))
		}
		if strings.Join(got, ",") != "a,b,c" || page.Stopped != "" {
			t.Errorf("from %d: %v, stopped %q; want a,b,c", from, got, page.Stopped)
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("from %d: the read took %s: it waited for its deadline", from, took)
		}
		if p := page.Partitions[0]; p.Next != p.End {
			t.Errorf("from %d: next %d, want the end %d", from, p.Next, p.End)
		}
	}
}

// Decode reads every framing, shows defaults, and says why a value does
// not decode or holds fields the schema lacks.
func TestDecode(t *testing.T) {
	md := (&wrapperspb.StringValue{}).ProtoReflect().Descriptor()
	plain, _ := proto.Marshal(wrapperspb.String("hi"))
	if d := records.Decode(plain, md, nil); d.Err != nil || d.JSON != `"hi"` || d.Framing != records.FramingPlain {
		t.Errorf("plain: %+v", d)
	}
	framed := append([]byte{0x02, 0, 0, 0, 42}, plain...)
	if d := records.Decode(framed, md, nil); d.Err != nil || d.Framing != records.FramingKafmesh2021 || d.SchemaID != 42 {
		t.Errorf("kafmesh2021: %+v", d)
	}
	confluent := append([]byte{0x00, 0, 0, 1, 0, 0}, plain...)
	if d := records.Decode(confluent, md, nil); d.Err != nil || d.Framing != records.FramingConfluent || d.SchemaID != 256 {
		t.Errorf("confluent: %+v", d)
	}
	st := (&structpb.Struct{}).ProtoReflect().Descriptor()
	if d := records.Decode([]byte{}, st, nil); d.Err != nil || d.JSON != "{}" {
		t.Errorf("empty value: %+v", d)
	}
	if d := records.Decode([]byte{0x0a, 0x05, 'a'}, md, nil); d.Err == nil || d.JSON != "" {
		t.Errorf("truncated: %+v", d)
	}
	// Field 9 (varint), which StringValue lacks.
	if d := records.Decode([]byte{0x48, 0x01}, md, nil); d.Err != nil || !strings.Contains(d.Warning, "2 bytes") {
		t.Errorf("unknown field: %+v", d)
	}
	if d := records.Decode(nil, md, nil); d.Err == nil {
		t.Errorf("tombstone decoded: %+v", d)
	}
	if got := records.Printable([]byte("a\x00b\xffc\n")); got != "a.b.c." {
		t.Errorf("printable %q", got)
	}
}

// A read filtered by a key nothing has stops at the scan limit and says
// so, rather than reading the whole topic.
func TestReadStopsAtTheScanLimit(t *testing.T) {
	ctx := context.Background()
	brokers := kafmeshtest.StartBroker(t)
	topic := kafmeshtest.Unique(t, "big")
	kafmeshtest.CreateTopic(t, brokers, topic, 1, false)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	value := []byte(strings.Repeat("x", 1024))
	recs := make([]*kgo.Record, 2000)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: topic, Key: []byte("k"), Value: value}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	r := records.New(cl, records.WithLimits(records.Limits{MaxScanBytes: 64 << 10}))
	page, err := r.Read(ctx, records.Request{Topic: topic, From: records.Earliest, Limit: 10, Key: []byte("nope")})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Records) != 0 || !strings.Contains(page.Stopped, "the limit of one read") {
		t.Errorf("%d records, stopped %q", len(page.Records), page.Stopped)
	}
	if page.Scanned < 60 || page.Scanned > 70 {
		t.Errorf("scanned %d records of 1 KiB with a 64 KiB scan limit", page.Scanned)
	}
	if p := page.Partitions[0]; p.Next <= 0 || p.Next >= p.End {
		t.Errorf("next %d: want where the scan stopped, inside 0 to %d", p.Next, p.End)
	}
	t.Logf("scanned %d records, stopped: %s", page.Scanned, page.Stopped)
}

// BenchmarkReadLatest measures one topic browser read of the latest 100
// records of 1 KiB (decoding excluded) on the broker of KAFMESH_TEST_BROKERS
// (else kfake): a new consumer per read, offsets listed, records fetched.
func BenchmarkReadLatest(b *testing.B) {
	ctx := context.Background()
	brokers := kafmeshtest.StartBroker(b)
	topic := kafmeshtest.Unique(b, "bench")
	kafmeshtest.CreateTopic(b, brokers, topic, 3, false)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	value := []byte(strings.Repeat("x", 1024))
	recs := make([]*kgo.Record, 3000)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: topic, Key: []byte{byte(i)}, Value: value}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		b.Fatal(err)
	}
	r := records.New(cl)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		page, err := r.Read(ctx, records.Request{Topic: topic, From: records.Latest, Limit: 100})
		if err != nil || len(page.Records) != 100 {
			b.Fatalf("%v, %d records", err, len(page.Records))
		}
	}
}
