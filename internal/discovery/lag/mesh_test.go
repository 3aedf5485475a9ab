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

// RunMesh measures a group no processor owns (a sink's) because it
// committed offsets on a mesh topic, so the write rate of a topic only
// sinks read is known; a group reading no mesh topic is not measured.
func TestRunMeshMeasuresSinkGroupsOfMeshTopics(t *testing.T) {
	brokers := kafmeshtest.StartBroker(t)
	topic, other := kafmeshtest.Unique(t, "sinkonly"), kafmeshtest.Unique(t, "elsewhere")
	sink, stranger := kafmeshtest.Unique(t, "sink"), kafmeshtest.Unique(t, "stranger")
	kafmeshtest.CreateTopic(t, brokers, topic, 2, false)
	kafmeshtest.CreateTopic(t, brokers, other, 2, false)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	produce(t, cl, topic, 2)
	commit(t, adm, sink, topic, 1, 1)
	commit(t, adm, stranger, other, 0, 0)

	m := lag.New(adm, lag.WithInterval(100*time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		_ = m.RunMesh(ctx, func(context.Context) ([]string, error) { return nil, nil },
			func(context.Context) ([]string, error) { return []string{topic}, nil })
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		g, ok := m.Group(sink)
		if _, rated := m.TopicRate(topic); ok && rated {
			if g.State != "Empty" || g.Members != 0 || len(g.Partitions) != 2 || g.Partitions[0].Committed != 1 || g.Partitions[0].End < 2 ||
				g.Partitions[0].Lag != g.Partitions[0].End-1 || g.Lag != g.Partitions[0].Lag+g.Partitions[1].Lag {
				t.Errorf("sink group %+v", g)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sink group measured %v, topic rate known: no, after 30s", ok)
		}
		produce(t, cl, topic, 1)
		time.Sleep(150 * time.Millisecond)
	}
	if _, ok := m.Group(stranger); ok {
		t.Error("a group reading no mesh topic is measured")
	}
}
