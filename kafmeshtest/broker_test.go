package kafmeshtest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func newClient(t *testing.T, brokers []string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...)}, opts...)...)
	if err != nil {
		t.Fatalf("new client: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// consumeUntil polls until want records arrived or ctx ends.
func consumeUntil(ctx context.Context, t *testing.T, cl *kgo.Client, done func([]*kgo.Record) bool) []*kgo.Record {
	t.Helper()
	var got []*kgo.Record
	for !done(got) {
		fetches := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consumed %d records before %v", len(got), err)
		}
		fetches.EachError(func(topic string, p int32, err error) {
			t.Fatalf("fetch %s[%d]: %v", topic, p, err)
		})
		got = append(got, fetches.Records()...)
	}
	return got
}

// Produce keyed records to a multi-partition topic, read them back through a
// consumer group, and check every record arrived once with its value and
// spread over more than one partition.
func TestStartBrokerProduceAndConsumeGroup(t *testing.T) {
	ctx := testContext(t)
	brokers := StartBroker(t)
	topic := Unique(t, "records")
	CreateTopic(t, brokers, topic, 3, false)

	producer := newClient(t, brokers)
	const n = 30
	want := map[string]string{}
	for i := range n {
		key, value := fmt.Sprintf("key-%02d", i), fmt.Sprintf("value-%02d", i)
		want[key] = value
		rec := &kgo.Record{Topic: topic, Key: []byte(key), Value: []byte(value)}
		if err := producer.ProduceSync(ctx, rec).FirstErr(); err != nil {
			t.Fatalf("produce %s: %v", key, err)
		}
	}

	consumer := newClient(t, brokers,
		kgo.ConsumerGroup(Unique(t, "group")),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	)
	records := consumeUntil(ctx, t, consumer, func(got []*kgo.Record) bool { return len(got) >= n })
	got := map[string]string{}
	partitions := map[int32]bool{}
	for _, r := range records {
		if _, dup := got[string(r.Key)]; dup {
			t.Errorf("record %s read twice", r.Key)
		}
		got[string(r.Key)] = string(r.Value)
		partitions[r.Partition] = true
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("key %s: got value %q, want %q", k, got[k], v)
		}
	}
	if len(got) != n {
		t.Errorf("read %d distinct records, want %d", len(got), n)
	}
	if len(partitions) < 2 {
		t.Errorf("all records landed in partitions %v; want the keys spread over several of 3", partitions)
	}
	if err := consumer.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatalf("commit offsets: %v", err)
	}
}

// A committed transaction is visible to read_committed consumers, an aborted
// one is not (but is in the log, as read_uncommitted shows).
func TestStartBrokerTransactions(t *testing.T) {
	ctx := testContext(t)
	brokers := StartBroker(t)
	topic := Unique(t, "txn")
	CreateTopic(t, brokers, topic, 1, false)

	producer := newClient(t, brokers, kgo.TransactionalID(Unique(t, "txn-id")))
	transact := func(commit kgo.TransactionEndTry, values ...string) {
		t.Helper()
		if err := producer.BeginTransaction(); err != nil {
			t.Fatalf("begin transaction: %v", err)
		}
		for _, v := range values {
			if err := producer.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte(v)}).FirstErr(); err != nil {
				t.Fatalf("produce %s in transaction: %v", v, err)
			}
		}
		if err := producer.EndTransaction(ctx, commit); err != nil {
			t.Fatalf("end transaction (commit=%v): %v", commit, err)
		}
	}
	transact(kgo.TryCommit, "c1", "c2", "c3")
	transact(kgo.TryAbort, "a1", "a2")
	transact(kgo.TryCommit, "end")

	read := func(level kgo.IsolationLevel) []string {
		cl := newClient(t, brokers,
			kgo.FetchIsolationLevel(level),
			kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}),
		)
		records := consumeUntil(ctx, t, cl, func(got []*kgo.Record) bool {
			return len(got) > 0 && string(got[len(got)-1].Value) == "end"
		})
		var values []string
		for _, r := range records {
			values = append(values, string(r.Value))
		}
		return values
	}
	if got, want := read(kgo.ReadCommitted()), []string{"c1", "c2", "c3", "end"}; !slices.Equal(got, want) {
		t.Errorf("read_committed read %v, want %v", got, want)
	}
	if got, want := read(kgo.ReadUncommitted()), []string{"c1", "c2", "c3", "a1", "a2", "end"}; !slices.Equal(got, want) {
		t.Errorf("read_uncommitted read %v, want %v", got, want)
	}
}

func TestCreateTopicCompactedAndDuplicate(t *testing.T) {
	ctx := testContext(t)
	brokers := StartBroker(t)
	topic := Unique(t, "table")
	CreateTopic(t, brokers, topic, 4, true)

	adm := kadm.NewClient(newClient(t, brokers))
	md, err := adm.Metadata(ctx, topic)
	if err != nil {
		t.Fatalf("metadata: %v", err)
	}
	if got := len(md.Topics[topic].Partitions); got != 4 {
		t.Errorf("topic has %d partitions, want 4", got)
	}
	configs, err := adm.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		t.Fatalf("describe configs: %v", err)
	}
	rc, err := configs.On(topic, nil)
	if err != nil {
		t.Fatalf("describe configs of %s: %v", topic, err)
	}
	policy := ""
	for _, c := range rc.Configs {
		if c.Key == "cleanup.policy" {
			policy = c.MaybeValue()
		}
	}
	if policy != "compact" {
		t.Errorf("cleanup.policy = %q, want compact", policy)
	}

	err = createTopic(ctx, adm, topic, 4, true)
	if !errors.Is(err, kerr.TopicAlreadyExists) || !strings.Contains(err.Error(), topic) {
		t.Errorf("creating %s again: got %v, want TOPIC_ALREADY_EXISTS naming the topic", topic, err)
	}
	if err := createTopic(ctx, adm, Unique(t, "empty"), 0, false); err == nil || !strings.Contains(err.Error(), "0 partitions") {
		t.Errorf("creating a topic with 0 partitions: got %v, want an error naming the count", err)
	}
}

// Topics are not created by producing to them, on either broker kind, so
// tests prove that the code under test creates what it needs.
func TestStartBrokerDoesNotAutoCreateTopics(t *testing.T) {
	ctx, cancel := context.WithTimeout(testContext(t), 5*time.Second)
	defer cancel()
	brokers := StartBroker(t)
	cl := newClient(t, brokers, kgo.RecordDeliveryTimeout(3*time.Second))
	err := cl.ProduceSync(ctx, &kgo.Record{Topic: Unique(t, "missing"), Value: []byte("x")}).FirstErr()
	if err == nil {
		t.Fatal("produce to a topic nobody created succeeded; want an unknown-topic error")
	}
}

func TestBrokersFromEnv(t *testing.T) {
	for _, tc := range []struct {
		value   string
		want    []string
		real    bool
		wantErr bool
	}{
		{value: "", real: false},
		{value: "  ", real: false},
		{value: "127.0.0.1:19092", want: []string{"127.0.0.1:19092"}, real: true},
		{value: " a:1, b:2 ,", want: []string{"a:1", "b:2"}, real: true},
		{value: ",,", wantErr: true},
	} {
		got, real, err := brokersFromEnv(tc.value)
		if (err != nil) != tc.wantErr {
			t.Errorf("brokersFromEnv(%q): error %v, want error %v", tc.value, err, tc.wantErr)
			continue
		}
		if err != nil && !strings.Contains(err.Error(), BrokersEnv) {
			t.Errorf("brokersFromEnv(%q): error %q does not name %s", tc.value, err, BrokersEnv)
		}
		if real != tc.real || !slices.Equal(got, tc.want) {
			t.Errorf("brokersFromEnv(%q) = %v, %v; want %v, %v", tc.value, got, real, tc.want, tc.real)
		}
	}
}

func TestUniqueNames(t *testing.T) {
	a, b := Unique(t, "orders"), Unique(t, "orders")
	if a == b {
		t.Errorf("two calls returned the same name %q", a)
	}
	if !strings.HasPrefix(a, "orders-TestUniqueNames-") {
		t.Errorf("Unique = %q, want it to start with the name and the test's name", a)
	}
	t.Run("sub test/with spaces:and+symbols", func(t *testing.T) {
		name := Unique(t, "a b")
		if strings.Trim(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != "" {
			t.Errorf("Unique = %q has characters Kafka rejects in topic names", name)
		}
	})

	long := uniqueName(strings.Repeat("n", 300), "TestX", "suffix123456")
	if len(long) != maxTopicName {
		t.Errorf("long name has %d characters, want %d", len(long), maxTopicName)
	}
	if !strings.HasSuffix(long, "-suffix123456") {
		t.Errorf("long name %q lost its random suffix", long[len(long)-20:])
	}
	if got := uniqueName("", "TestY", "abc"); got != "TestY-abc" {
		t.Errorf("uniqueName without a name = %q, want TestY-abc", got)
	}
}
