package web_test

import (
	"context"
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

// oneProcessorService is a service whose one processor (group `group`)
// reads topic.
func oneProcessorService(name, group, topic string) *discoveryv1.Service {
	return &discoveryv1.Service{Name: name, Components: []*discoveryv1.Component{{
		Name: "core",
		Processors: []*discoveryv1.Processor{{
			Name: "worker", GroupName: group,
			Inputs: []*discoveryv1.Input{{Topic: &discoveryv1.TopicDefinition{Topic: topic, Message: "test.Msg", Type: discoveryv1.TopicType_TOPIC_TYPE_PROTOBUF}}},
		}},
	}}}
}

// produceAndCommit writes n records to topic and commits group's offset at
// committed, so the group lags n - committed records.
func produceAndCommit(t *testing.T, adm *kadm.Client, cl *kgo.Client, topic, group string, n, committed int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: topic, Key: []byte("k"), Value: []byte("v")}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	offsets := kadm.Offsets{}
	offsets.AddOffset(topic, 0, committed, -1)
	if err := adm.CommitAllOffsets(ctx, group, offsets); err != nil {
		t.Fatal(err)
	}
}

// With --brokers, the map shows each service's lag and a processor that
// falls behind is marked.
func TestMapMarksAProcessorThatFallsBehind(t *testing.T) {
	b := webtest.NewBrowser(t)
	brokers := kafmeshtest.StartBroker(t)
	laggyTopic, freshTopic := kafmeshtest.Unique(t, "laggy"), kafmeshtest.Unique(t, "fresh")
	laggyGroup, freshGroup := kafmeshtest.Unique(t, "laggy-group"), kafmeshtest.Unique(t, "fresh-group")
	kafmeshtest.CreateTopic(t, brokers, laggyTopic, 1, false)
	kafmeshtest.CreateTopic(t, brokers, freshTopic, 1, false)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	adm := kadm.NewClient(cl)
	produceAndCommit(t, adm, cl, laggyTopic, laggyGroup, 1500, 100) // 1,400 behind
	produceAndCommit(t, adm, cl, freshTopic, freshGroup, 20, 20)    // caught up

	laggy := meshtest.Serve(t, oneProcessorService("laggy", laggyGroup, laggyTopic))
	fresh := meshtest.Serve(t, oneProcessorService("fresh", freshGroup, freshTopic))
	url := startDiscoveryWith(t, []string{laggy.Addr, fresh.Addr},
		discovery.WithLag(lag.New(adm, lag.WithInterval(300*time.Millisecond))))

	b.Open(t, url+"/")
	b.WaitFor(t, "live flow on the map", `document.querySelector('[data-testid="flow-status"]').dataset.state === "live" && document.querySelector('[data-testid="behind-list"] a')`, 20*time.Second)
	g := b.Graph(t)
	label, classes, _ := g.Node("Service:laggy")
	if !strings.Contains(label, "lag 1.4k") || !contains(classes, "behind") {
		t.Errorf("laggy service: label %q classes %v, want lag 1.4k and behind", label, classes)
	}
	label, classes, _ = g.Node("Service:fresh")
	if !strings.Contains(label, "lag 0") || contains(classes, "behind") {
		t.Errorf("fresh service: label %q classes %v, want lag 0 and not behind", label, classes)
	}
	if list := b.Text(t, `[data-testid="behind-list"]`); !strings.Contains(list, "laggy / worker") || strings.Contains(list, "fresh") {
		t.Errorf("falling behind: %q", list)
	}
	b.Screenshot(t, "map-live-flow")

	// The data-flow level puts the lag on the topic the laggy group reads.
	b.Open(t, url+"/#/?level=flow")
	b.WaitFor(t, "the topic's lag on the data-flow map", `(window.kafmeshUI.graph() || {nodes: []}).nodes.some(n => n.id === "Topic:`+laggyTopic+`" && n.label.includes("lag 1.4k"))`, 20*time.Second)
	if label, _, _ := b.Graph(t).Node("Topic:" + freshTopic); !strings.Contains(label, "lag 0") {
		t.Errorf("the caught-up topic's label %q, want lag 0", label)
	}

	b.Open(t, url+"/#/processor/"+escape("Processor:laggy/core/worker"))
	b.WaitFor(t, "the processor's flow", `document.querySelector('[data-testid="processor-flow"]').textContent.includes("lag 1.4k")`, 10*time.Second)
	if flow := b.Text(t, `[data-testid="processor-flow"]`); !strings.Contains(flow, "falling behind") || !strings.Contains(flow, "records/s") {
		t.Errorf("processor flow %q", flow)
	}

	// The topic page says how fast the topic is written.
	b.Open(t, url+"/#/topic/"+escape("Topic:"+laggyTopic))
	if facts := b.Text(t, `.facts`); !strings.Contains(facts, "Written0 records/s") {
		t.Errorf("topic facts %q, want the measured write rate", facts)
	}
	b.NoPageErrors(t)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
