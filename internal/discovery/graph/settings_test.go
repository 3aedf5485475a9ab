package graph_test

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafmesh/kafmesh/internal/discovery/graph"
	"github.com/kafmesh/kafmesh/internal/discovery/internal/meshtest"
	"github.com/kafmesh/kafmesh/internal/discovery/scrape"
	"github.com/kafmesh/kafmesh/internal/discovery/store/sqlite"
	"github.com/kafmesh/kafmesh/internal/discovery/targets"
	"github.com/kafmesh/kafmesh/internal/discovery/topicsettings"
	"github.com/kafmesh/kafmesh/kafmeshtest"
)

type topicSettingsAnswer struct {
	Kafka *struct {
		TopicSettingsReadAt *string
		TopicSettingsError  *string
	}
	Present, Missing struct {
		Name     string
		Settings *struct {
			Partitions, ReplicationFactor int
			ReadAt                        string
			Error                         *string
			Configs                       []struct {
				Name, Source         string
				Value                *string
				IsDefault, Sensitive bool
			}
		}
	}
}

// Topic.settings comes from the brokers: partitions, replication factor and
// configs with their source; null for a topic Kafka does not have, and
// without brokers.
func TestTopicSettingsFromTheBrokers(t *testing.T) {
	ctx := context.Background()
	brokers := kafmeshtest.StartBroker(t)
	present, missing := kafmeshtest.Unique(t, "heartbeats"), kafmeshtest.Unique(t, "never-created")
	kafmeshtest.CreateTopic(t, brokers, present, 3, true)
	svc := meshtest.Devices()
	p := svc.Components[0].Processors[0]
	p.Inputs[0].Topic.Topic, p.Outputs[0].Topic.Topic = present, missing

	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	m := topicsettings.New(kadm.NewClient(cl))
	if err := m.Refresh(ctx, []string{present, missing}); err != nil {
		t.Fatal(err)
	}

	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "mesh.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	src, _ := targets.NewStatic([]string{meshtest.Serve(t, svc).Addr}, "")
	scrape.New(st, []targets.Source{src}).Round(ctx)

	q := `query($present: ID!, $missing: ID!) {
		kafka { topicSettingsReadAt topicSettingsError }
		present: topicById(id: $present) { name settings { partitions replicationFactor readAt error configs { name value isDefault source sensitive } } }
		missing: topicById(id: $missing) { name settings { partitions } } }`
	vars := map[string]any{"present": "Topic:" + present, "missing": "Topic:" + missing}
	srv := httptest.NewServer(graph.NewHandler(graph.HandlerConfig{Snapshot: st.Graph, TopicSettings: m}))
	defer srv.Close()
	var data topicSettingsAnswer
	query(t, srv.URL, q, vars, &data)

	if k := data.Kafka; k == nil || k.TopicSettingsReadAt == nil || k.TopicSettingsError != nil {
		t.Errorf("kafka %+v, want a read time and no error", k)
	}
	s := data.Present.Settings
	if data.Present.Name != present || s == nil {
		t.Fatalf("present topic %+v, want settings", data.Present)
	}
	if s.Partitions != 3 || s.ReplicationFactor != 1 || s.Error != nil || s.ReadAt == "" {
		t.Errorf("settings %+v, want 3 partitions, replication 1, no error", s)
	}
	byName := map[string]int{}
	for i, c := range s.Configs {
		byName[c.Name] = i
	}
	if i, ok := byName["cleanup.policy"]; !ok || i != 0 {
		t.Fatalf("configs %+v, want cleanup.policy first", s.Configs)
	}
	if c := s.Configs[0]; c.Value == nil || *c.Value != "compact" || c.IsDefault || c.Source != "TOPIC" || c.Sensitive {
		t.Errorf("cleanup.policy %+v, want compact set on the topic", c)
	}
	for _, name := range []string{"retention.ms", "segment.ms", "min.insync.replicas", "max.message.bytes"} {
		i, ok := byName[name]
		if !ok {
			t.Errorf("no %s in %+v", name, s.Configs)
			continue
		}
		if c := s.Configs[i]; c.Value == nil || !c.IsDefault || c.Source == "TOPIC" || c.Source == "UNKNOWN" {
			t.Errorf("%s %+v, want an inherited value with its source", name, c)
		}
	}
	if data.Missing.Name != missing || data.Missing.Settings != nil {
		t.Errorf("topic not in Kafka: %+v, want null settings", data.Missing)
	}

	// Without brokers the fields are null, not errors.
	plain := httptest.NewServer(graph.NewHandler(graph.HandlerConfig{Snapshot: st.Graph}))
	defer plain.Close()
	data = topicSettingsAnswer{}
	query(t, plain.URL, q, vars, &data)
	if data.Kafka != nil || data.Present.Name != present || data.Present.Settings != nil {
		t.Errorf("without brokers: %+v", data)
	}
}
