package runner_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafmesh/kafmesh/kafmeshtest"
	"github.com/kafmesh/kafmesh/runner"
)

// TestFindHangingTransactionsLeavesLiveOnesAlone: a transaction that is
// open and tracked by its coordinator is never reported, even with no
// minimum age (an abort of it would discard live work); once it commits,
// nothing is left open.
func TestFindHangingTransactionsLeavesLiveOnesAlone(t *testing.T) {
	brokers := kafmeshtest.StartBroker(t)
	topic := kafmeshtest.Unique(t, "live-txn")
	kafmeshtest.CreateTopic(t, brokers, topic, 2, false)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.TransactionalID(topic+"-txn"), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Key: []byte("k"), Value: []byte("v"), Partition: 0}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	adm := kadm.NewClient(cl)
	set := kadm.TopicsSet{topic: {0: {}, 1: {}}}
	hanging, err := runner.FindHangingTransactions(ctx, adm, set, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(hanging) != 0 {
		t.Fatalf("a live transaction reported as hanging: %v", hanging)
	}
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	// Right after the commit the partition's producer state can still
	// show the transaction open for a moment after the coordinator
	// completed it (why callers pass a minimum age): it must clear.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if hanging, err = runner.FindHangingTransactions(ctx, adm, set, 0); err == nil && len(hanging) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("10s after the commit: %v, %v", hanging, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
