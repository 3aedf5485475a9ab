package graph_test

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafmesh/kafmesh/internal/discovery/graph"
	"github.com/kafmesh/kafmesh/internal/discovery/internal/meshtest"
	"github.com/kafmesh/kafmesh/internal/discovery/lag"
	"github.com/kafmesh/kafmesh/internal/discovery/scrape"
	"github.com/kafmesh/kafmesh/internal/discovery/store/sqlite"
	"github.com/kafmesh/kafmesh/internal/discovery/targets"
	"github.com/kafmesh/kafmesh/kafmeshtest"
)

// Processor.lag and Topic.recordsPerSecond come from the brokers.
func TestProcessorLagFromTheBrokers(t *testing.T) {
	ctx := context.Background()
	brokers := kafmeshtest.StartBroker(t)
	topic, group := kafmeshtest.Unique(t, "heartbeats"), kafmeshtest.Unique(t, "enricher")
	kafmeshtest.CreateTopic(t, brokers, topic, 2, false)
	svc := meshtest.Devices()
	p := svc.Components[0].Processors[0]
	p.GroupName, p.Inputs[0].Topic.Topic = group, topic

	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	produce := func(n int) {
		for part := int32(0); part < 2; part++ {
			for i := 0; i < n; i++ {
				if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: part, Value: []byte{1}}).FirstErr(); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	commit := func(at int64) {
		os := kadm.Offsets{}
		os.Add(kadm.Offset{Topic: topic, Partition: 0, At: at, LeaderEpoch: -1})
		os.Add(kadm.Offset{Topic: topic, Partition: 1, At: at, LeaderEpoch: -1})
		if r, err := adm.CommitOffsets(ctx, group, os); err != nil || r.Error() != nil {
			t.Fatalf("commit: %v %v", err, r.Error())
		}
	}
	produce(6)
	commit(2) // lag 4 + 4
	m := lag.New(adm)
	if err := m.Refresh(ctx, []string{group}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	produce(1)
	commit(4) // lag 3 + 3
	if err := m.Refresh(ctx, []string{group}); err != nil {
		t.Fatal(err)
	}

	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "mesh.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	src, _ := targets.NewStatic([]string{meshtest.Serve(t, svc).Addr}, "")
	scrape.New(st, []targets.Source{src}).Round(ctx)

	q := `{ processorById(id: "Processor:devices/heartbeats/enricher") {
		lag { group state total error updatedAt topics { name topic { name } lag recordsPerSecond } }
		inputs { topic { name recordsPerSecond } } } }`
	var data struct {
		ProcessorByID struct {
			Lag *struct {
				Group, State string
				Total        int64
				Error        *string
				UpdatedAt    string
				Topics       []struct {
					Name             string
					Topic            *struct{ Name string }
					Lag              int64
					RecordsPerSecond float64
				}
			}
			Inputs []struct {
				Topic struct {
					Name             string
					RecordsPerSecond *float64
				}
			}
		} `json:"processorById"`
	}
	srv := httptest.NewServer(graph.NewHandler(graph.HandlerConfig{Snapshot: st.Graph, Lag: m}))
	defer srv.Close()
	query(t, srv.URL, q, nil, &data)
	l := data.ProcessorByID.Lag
	if l == nil || l.Group != group || l.Total != 6 || l.Error != nil || len(l.Topics) != 1 {
		t.Fatalf("lag %+v", l)
	}
	tl := l.Topics[0]
	if tl.Name != topic || tl.Topic == nil || tl.Topic.Name != topic || tl.Lag != 6 || tl.RecordsPerSecond <= 0 {
		t.Errorf("topic lag %+v", tl)
	}
	if r := data.ProcessorByID.Inputs[0].Topic.RecordsPerSecond; r == nil || *r <= 0 {
		t.Errorf("input topic write rate %v", r)
	}

	// Without brokers the fields are null, not errors.
	plain := httptest.NewServer(graph.NewHandler(graph.HandlerConfig{Snapshot: st.Graph}))
	defer plain.Close()
	data.ProcessorByID.Lag = nil
	query(t, plain.URL, q, nil, &data)
	if data.ProcessorByID.Lag != nil || data.ProcessorByID.Inputs[0].Topic.RecordsPerSecond != nil {
		t.Errorf("lag without brokers %+v", data.ProcessorByID)
	}
}
