package dlq

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafmesh/kafmesh/kafmeshtest"
)

// letter is a dead letter of in[0]@1 as the runtime writes it.
func letter(topic, value string) *kgo.Record {
	return &kgo.Record{Topic: topic, Partition: 0, Value: []byte(value), Headers: []kgo.RecordHeader{
		{Key: HeaderError, Value: []byte("boom")}, {Key: HeaderTopic, Value: []byte("in")},
		{Key: HeaderPartition, Value: []byte("0")}, {Key: HeaderOffset, Value: []byte("1")},
	}}
}

// An exactly-once processor writes its dead letters in its transaction: the
// one of an aborted transaction is no dead letter. Show and replay read only
// the committed one, and stop at the commit marker that ends the partition.
func TestReadSkipsAbortedDeadLetters(t *testing.T) {
	brokers := kafmeshtest.StartBroker(t)
	topic := kafmeshtest.Unique(t, "g-dlq")
	kafmeshtest.CreateTopic(t, brokers, topic, 1, false)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	tx, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.TransactionalID(kafmeshtest.Unique(t, "tx")),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	for _, c := range []struct {
		value  string
		commit kgo.TransactionEndTry
	}{{"aborted", kgo.TryAbort}, {"committed", kgo.TryCommit}} {
		if err := tx.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		if err := tx.ProduceSync(ctx, letter(topic, c.value)).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if err := tx.EndTransaction(ctx, c.commit); err != nil {
			t.Fatal(err)
		}
	}

	// The aborted letter is at 0, its abort marker at 1, the committed
	// letter at 2 and its commit marker at 3.
	cl, err := kgo.NewClient(append(ClientOptions(), kgo.SeedBrokers(brokers...))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	recs, truncated, err := ReadRecords(ctx, cl, Read{Topic: topic, Partition: -1, From: -1, Limit: 10})
	if err != nil || truncated {
		t.Fatalf("read: truncated %v, %v", truncated, err)
	}
	if len(recs) != 1 || string(recs[0].Value) != "committed" || recs[0].Offset != 2 {
		t.Fatalf("read %d records, want only the committed letter at 2: %v", len(recs), recs)
	}
	letters, err := Choose(ctx, cl, Select{Topic: topic, MaxRecords: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(letters) != 1 || string(letters[0].Value) != "committed" {
		t.Fatalf("replay --all chose %v, want only the committed letter", letters)
	}
	// The aborted position and a marker's are no dead letters.
	for _, off := range []int64{0, 1} {
		if _, err := Choose(ctx, cl, Select{Topic: topic, Want: map[int32][]int64{0: {off}}, MaxRecords: 10}); err == nil ||
			!strings.Contains(err.Error(), "no dead letter at 0/") {
			t.Errorf("replay of 0/%d: %v, want no dead letter", off, err)
		}
	}

	// A client that would read uncommitted records is refused.
	plain, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if _, _, err := ReadRecords(ctx, plain, Read{Topic: topic, Partition: -1, From: -1, Limit: 10}); err == nil ||
		!strings.Contains(err.Error(), "ReadOptions") {
		t.Errorf("a read uncommitted client: %v", err)
	}
}

// Send reports exactly the dead letters it did not write, so a replay can
// release them: here the one whose original partition does not exist.
func TestSendReportsUnsent(t *testing.T) {
	brokers := kafmeshtest.StartBroker(t)
	in := kafmeshtest.Unique(t, "in")
	kafmeshtest.CreateTopic(t, brokers, in, 1, false)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(append(ClientOptions(), kgo.SeedBrokers(brokers...))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var letters []DeadLetter
	for i, p := range []string{"0", "7", "0"} {
		d, err := Parse(&kgo.Record{Topic: "g-dlq", Offset: int64(i), Value: []byte("v"), Headers: []kgo.RecordHeader{
			{Key: HeaderTopic, Value: []byte(in)}, {Key: HeaderPartition, Value: []byte(p)}, {Key: HeaderOffset, Value: []byte("1")}}})
		if err != nil {
			t.Fatal(err)
		}
		letters = append(letters, d)
	}
	sent, unsent, err := Send(ctx, cl, "g-dlq", letters)
	if sent != 2 || len(unsent) != 1 || unsent[0].Offset != 1 || err == nil || !strings.Contains(err.Error(), "g-dlq/0/1") {
		t.Fatalf("sent %d, unsent %v, %v: want 2 sent and g-dlq/0/1 unsent with its error", sent, unsent, err)
	}
	if sent, unsent, err := Send(ctx, cl, "g-dlq", []DeadLetter{letters[0], {Offset: 9}}); sent != 0 || len(unsent) != 2 || err == nil {
		t.Errorf("a letter not read from Kafka: sent %d, unsent %d, %v; want nothing sent", sent, len(unsent), err)
	}
}
