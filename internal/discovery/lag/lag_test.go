package lag_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafmesh/kafmesh/internal/discovery/lag"
	"github.com/kafmesh/kafmesh/kafmeshtest"
)

func produce(t *testing.T, cl *kgo.Client, topic string, perPartition int) {
	t.Helper()
	for p := int32(0); p < 2; p++ {
		for i := 0; i < perPartition; i++ {
			if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: topic, Partition: p, Value: []byte{1}}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func commit(t *testing.T, adm *kadm.Client, group, topic string, at0, at1 int64) {
	t.Helper()
	os := kadm.Offsets{}
	os.Add(kadm.Offset{Topic: topic, Partition: 0, At: at0, LeaderEpoch: -1})
	os.Add(kadm.Offset{Topic: topic, Partition: 1, At: at1, LeaderEpoch: -1})
	resp, err := adm.CommitOffsets(context.Background(), group, os)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatal(err)
	}
}

func TestLagAndRatesFromTheBrokers(t *testing.T) {
	brokers := kafmeshtest.StartBroker(t)
	topic := kafmeshtest.Unique(t, "heartbeats")
	group := kafmeshtest.Unique(t, "enricher")
	kafmeshtest.CreateTopic(t, brokers, topic, 2, false)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx := context.Background()

	produce(t, cl, topic, 5)
	commit(t, adm, group, topic, 3, 2)
	m := lag.New(adm)
	if err := m.Refresh(ctx, []string{group}); err != nil {
		t.Fatal(err)
	}
	g, ok := m.Group(group)
	if !ok || g.Lag != 5 || len(g.Topics) != 1 || g.Topics[0].Topic != topic || g.Topics[0].Lag != 5 || g.Topics[0].RecordsPerSecond != 0 || g.Err != "" {
		t.Fatalf("first measure %+v", g)
	}
	if _, ok := m.TopicRate(topic); ok {
		t.Error("a write rate after one refresh")
	}

	time.Sleep(300 * time.Millisecond)
	produce(t, cl, topic, 2)           // ends 7 and 7
	commit(t, adm, group, topic, 5, 5) // +5 consumed
	if err := m.Refresh(ctx, []string{group}); err != nil {
		t.Fatal(err)
	}
	g, _ = m.Group(group)
	if g.Lag != 4 || g.Topics[0].Lag != 4 {
		t.Fatalf("second measure %+v, want lag 4", g)
	}
	// 5 records consumed and 4 written in at least 300 ms: positive rates
	// no higher than that many per 300 ms.
	if r := g.Topics[0].RecordsPerSecond; r <= 0 || r > 5/0.3 {
		t.Errorf("consumption rate %v", r)
	}
	if r, ok := m.TopicRate(topic); !ok || r <= 0 || r > 4/0.3 {
		t.Errorf("write rate %v %v", r, ok)
	}

	// Groups dropped from the mesh are forgotten.
	if err := m.Refresh(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if _, ok := m.Group(group); ok {
		t.Error("a group no longer asked for is still reported")
	}
}
