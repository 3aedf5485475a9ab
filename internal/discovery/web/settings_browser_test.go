package web_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	discoveryv1 "github.com/kafmesh/kafmesh/api/discovery/v1"
	"github.com/kafmesh/kafmesh/internal/discovery"
	"github.com/kafmesh/kafmesh/internal/discovery/internal/meshtest"
	"github.com/kafmesh/kafmesh/internal/discovery/lag"
	"github.com/kafmesh/kafmesh/internal/discovery/web/webtest"
	"github.com/kafmesh/kafmesh/kafmeshtest"
)

// waitTopicSettings polls discovery's GraphQL until it has read the
// topic's settings from the brokers.
func waitTopicSettings(t *testing.T, url, topic string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{
		"query":     `query($id: ID!) { topicById(id: $id) { settings { partitions } } }`,
		"variables": map[string]any{"id": "Topic:" + topic},
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Post(url+"/query", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		var out struct {
			Data struct {
				TopicByID *struct{ Settings *struct{ Partitions int } } `json:"topicById"`
			}
		}
		err = json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if err == nil && out.Data.TopicByID != nil && out.Data.TopicByID.Settings != nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("discovery did not read the settings of %s within 20 s (last error %v)", topic, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// With --brokers (here: a lag monitor, as kafmesh dev gives discovery), the
// topic page shows the topic's settings as Kafka reports them, and says
// when Kafka has no such topic.
func TestTopicPageShowsTheTopicSettings(t *testing.T) {
	b := webtest.NewBrowser(t)
	brokers := kafmeshtest.StartBroker(t)
	table, missing := kafmeshtest.Unique(t, "table"), kafmeshtest.Unique(t, "never-created")
	kafmeshtest.CreateTopic(t, brokers, table, 3, true)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	adm := kadm.NewClient(cl)

	svc := oneProcessorService("tables", kafmeshtest.Unique(t, "group"), table)
	svc.Components[0].Processors[0].Outputs = []*discoveryv1.Output{{Topic: &discoveryv1.TopicDefinition{Topic: missing, Message: "test.Out", Type: discoveryv1.TopicType_TOPIC_TYPE_PROTOBUF}}}
	target := meshtest.Serve(t, svc)
	url := startDiscoveryWith(t, []string{target.Addr}, discovery.WithLag(lag.New(adm, lag.WithInterval(time.Second))))
	waitTopicSettings(t, url, table)

	b.Open(t, url+"/#/topic/"+escape("Topic:"+table))
	if got := b.Text(t, `[data-testid="settings-partitions"]`); got != "3" {
		t.Errorf("partitions %q, want 3", got)
	}
	if got := b.Text(t, `[data-testid="settings-replication"]`); got != "1" {
		t.Errorf("replication factor %q, want 1", got)
	}
	policy := b.Text(t, `[data-testid="settings-table"] tr[data-config="cleanup.policy"]`)
	if !strings.Contains(policy, "compact") || !strings.Contains(policy, "set on the topic") {
		t.Errorf("cleanup.policy row %q, want compact set on the topic", policy)
	}
	if !webtest.Eval[bool](t, b, `document.querySelector('[data-testid="settings-table"] tr[data-config="cleanup.policy"]').classList.contains("overridden")`) {
		t.Error("cleanup.policy, set on the topic, is not marked as such")
	}
	// An inherited config: its value with a human reading, and its source.
	retention := b.Text(t, `[data-testid="settings-table"] tr[data-config="retention.ms"]`)
	if !strings.Contains(retention, " d)") || strings.Contains(retention, "set on the topic") {
		t.Errorf("retention.ms row %q, want an inherited value in days", retention)
	}
	if rows := webtest.Eval[int](t, b, `document.querySelectorAll('[data-testid="settings-table"] tbody tr').length`); rows < 5 {
		t.Errorf("%d config rows, want cleanup.policy, retention, segment, min.insync.replicas, max.message.bytes at least", rows)
	}
	b.Screenshot(t, "topic-settings")

	b.Open(t, url+"/#/topic/"+escape("Topic:"+missing))
	if note := b.Text(t, `[data-testid="settings-note"][data-state="missing"]`); !strings.Contains(note, "Kafka has no topic by this name") {
		t.Errorf("settings note of a topic Kafka lacks: %q", note)
	}
	b.NoPageErrors(t)
}
