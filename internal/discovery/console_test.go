package discovery_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafmesh/kafmesh/internal/discovery"
	"github.com/kafmesh/kafmesh/internal/discovery/internal/meshtest"
	"github.com/kafmesh/kafmesh/internal/discovery/lag"
	"github.com/kafmesh/kafmesh/internal/discovery/server"
	"github.com/kafmesh/kafmesh/internal/discovery/store/sqlite"
	"github.com/kafmesh/kafmesh/internal/discovery/targets"
	"github.com/kafmesh/kafmesh/kafmeshtest"
)

// The whole discover service with brokers and a token: its lag monitor
// measures the processor's group and an outside group of a mesh topic, and
// the token enables the offset reset of the (stopped) processor group.
func TestDiscoverGroupsAndResetWithToken(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	brokers := kafmeshtest.StartBroker(t)
	topic, group, outside := kafmeshtest.Unique(t, "heartbeats"), kafmeshtest.Unique(t, "enricher"), kafmeshtest.Unique(t, "outside")
	kafmeshtest.CreateTopic(t, brokers, topic, 1, false)
	svc := meshtest.Devices()
	p := svc.Components[0].Processors[0]
	p.GroupName, p.Inputs[0].Topic.Topic = group, topic

	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte{1}}, &kgo.Record{Topic: topic, Value: []byte{2}}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	for _, g := range []string{group, outside} {
		offs := kadm.Offsets{}
		offs.Add(kadm.Offset{Topic: topic, Partition: 0, At: 2, LeaderEpoch: -1})
		if r, err := adm.CommitOffsets(ctx, g, offs); err != nil || r.Error() != nil {
			t.Fatalf("commit: %v %v", err, r.Error())
		}
	}

	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "discover.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	static, err := targets.NewStatic([]string{meshtest.Serve(t, svc).Addr}, "")
	if err != nil {
		t.Fatal(err)
	}
	d := discovery.New(st, discovery.WithSources(static), discovery.WithLag(lag.New(adm, lag.WithInterval(200*time.Millisecond))),
		discovery.WithServerOptions(server.WithToken("s3cret")))
	bound := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx, "127.0.0.1:0", func(a net.Addr) { bound <- a }) }()
	defer func() { cancel(); <-done }()
	url := "http://" + (<-bound).String() + "/query"
	post := func(q string) (data json.RawMessage, errs string) {
		t.Helper()
		body, _ := json.Marshal(map[string]string{"query": q})
		req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer s3cret")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out struct {
			Data   json.RawMessage
			Errors []struct{ Message string }
		}
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
		var msgs []string
		for _, e := range out.Errors {
			msgs = append(msgs, e.Message)
		}
		return out.Data, strings.Join(msgs, "; ")
	}

	deadline := time.Now().Add(60 * time.Second)
	for {
		data, errs := post(`{ groups { name state processor { id } } processorById(id: "Processor:devices/heartbeats/enricher") { group { state lag } } }`)
		var got struct {
			Groups []struct {
				Name, State string
				Processor   *struct{ ID string }
			}
			ProcessorByID *struct{ Group *struct{ State string } } `json:"processorById"`
		}
		_ = json.Unmarshal(data, &got)
		names := map[string]bool{}
		for _, g := range got.Groups {
			names[g.Name] = true
			if g.Name == group && (g.Processor == nil || g.Processor.ID != "Processor:devices/heartbeats/enricher") {
				t.Errorf("group %s not linked to its processor: %+v", group, g)
			}
		}
		if errs == "" && names[group] && names[outside] && got.ProcessorByID != nil && got.ProcessorByID.Group != nil &&
			got.ProcessorByID.Group.State == "Empty" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("groups not measured after 60s: %s %s", data, errs)
		}
		time.Sleep(200 * time.Millisecond)
	}

	data, errs := post(`mutation { resetGroupOffsets(group: "` + group + `", topic: "` + topic + `", to: EARLIEST) { partitions { partition from to } } }`)
	if errs != "" || !strings.Contains(string(data), `{"partition":0,"from":2,"to":0}`) {
		t.Fatalf("reset: %s %s", data, errs)
	}
	f, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := f.Lookup(topic, 0); o.At != 0 {
		t.Errorf("committed offset after the reset %d, want 0", o.At)
	}
}
