package graph_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/kafmesh/kafmesh/internal/discovery/graph"
	"github.com/kafmesh/kafmesh/internal/discovery/internal/meshtest"
	"github.com/kafmesh/kafmesh/internal/discovery/lag"
	"github.com/kafmesh/kafmesh/internal/discovery/scrape"
	"github.com/kafmesh/kafmesh/internal/discovery/store/sqlite"
	"github.com/kafmesh/kafmesh/internal/discovery/targets"
	"github.com/kafmesh/kafmesh/kafmeshtest"
	"github.com/kafmesh/kafmesh/runner"
)

type groupAnswer struct {
	Name       string
	State      string
	Members    int
	Lag        int64
	Error      *string
	Processor  *struct{ ID string }
	LagHistory []struct {
		At  time.Time
		Lag int64
	}
	Partitions []struct {
		TopicName       string
		Topic           *struct{ Name string }
		Partition       int
		CommittedOffset *int64
		EndOffset       *int64
		Lag             *int64
		MemberID        *string
		ClientID        *string
		Host            *string
	}
}

const groupFields = `name state members lag error processor { id } lagHistory { at lag }
	partitions { topicName topic { name } partition committedOffset endOffset lag memberId clientId host }`

// A real runner processor with the dead-letter policy reads a mesh topic
// (two partitions) and an outside group has committed offsets on it:
// Processor.group shows each partition with the member that owns it,
// Processor.deadLetters counts the dead letter, Query.groups and
// Topic.consumerGroups list both groups, and once the service stops the
// processor's group is Empty with no members.
func TestGroupsFromTheBrokers(t *testing.T) {
	ctx := context.Background()
	brokers := kafmeshtest.StartBroker(t)
	topic, group, outside := kafmeshtest.Unique(t, "heartbeats"), kafmeshtest.Unique(t, "enricher"), kafmeshtest.Unique(t, "outside")
	kafmeshtest.CreateTopic(t, brokers, topic, 2, false)
	out := kafmeshtest.Unique(t, "enriched")
	svc := meshtest.Devices()
	p := svc.Components[0].Processors[0]
	p.GroupName, p.Inputs[0].Topic.Topic = group, topic

	// The processor: fails on "bad" values, dead-letters them.
	codec := runner.Proto[wrapperspb.StringValue]()
	s, err := runner.NewService(runner.Definition{Name: "groups"}, runner.WithBrokers(brokers...), runner.WithStateDir(t.TempDir()),
		runner.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	rp := runner.NewProcessor(runner.ProcessorSpec{
		Component: "heartbeats", Name: "enricher", Group: group,
		Inputs:  []runner.TopicRef{{Topic: topic, Type: runner.TopicProtobuf}},
		Outputs: []runner.OutputRef{{TopicRef: runner.TopicRef{Topic: out, Type: runner.TopicProtobuf}}},
	}, runner.OnError(runner.DeadLetterOnError()))
	runner.HandleInput(rp, 0, codec, func(c *runner.ProcessorContext, m *wrapperspb.StringValue) error {
		if strings.HasPrefix(m.GetValue(), "bad") {
			return errors.New("bad value")
		}
		runner.Output(c, 0, codec, c.Key(), m)
		return nil
	})
	if err := s.Register(rp); err != nil {
		t.Fatal(err)
	}
	if err := s.ConfigureTopics(ctx); err != nil {
		t.Fatal(err)
	}
	runCtx, stopRun := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() { ran <- s.Run(runCtx) }()
	defer func() { stopRun(); <-ran }()

	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	val := func(s string) []byte { b, _ := proto.Marshal(wrapperspb.String(s)); return b }
	if err := cl.ProduceSync(ctx,
		&kgo.Record{Topic: topic, Partition: 0, Key: []byte("a"), Value: val("ok")},
		&kgo.Record{Topic: topic, Partition: 1, Key: []byte("b"), Value: val("bad")},
		&kgo.Record{Topic: topic, Partition: 1, Key: []byte("c"), Value: val("ok")},
	).FirstErr(); err != nil {
		t.Fatal(err)
	}
	offs := kadm.Offsets{}
	offs.Add(kadm.Offset{Topic: topic, Partition: 0, At: 0, LeaderEpoch: -1})
	if r, err := adm.CommitOffsets(ctx, outside, offs); err != nil || r.Error() != nil {
		t.Fatalf("commit: %v %v", err, r.Error())
	}

	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "mesh.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	src, _ := targets.NewStatic([]string{meshtest.Serve(t, svc).Addr}, "")
	scrape.New(st, []targets.Source{src}).Round(ctx)

	m := lag.New(adm, lag.WithInterval(200*time.Millisecond))
	monCtx, stopMon := context.WithCancel(ctx)
	defer stopMon()
	go func() {
		_ = m.RunMesh(monCtx, func(context.Context) ([]string, error) { return []string{group}, nil },
			func(context.Context) ([]string, error) { return []string{topic}, nil })
	}()
	srv := httptest.NewServer(graph.NewHandler(graph.HandlerConfig{Snapshot: st.Graph, Lag: m}))
	defer srv.Close()

	var data struct {
		ProcessorByID struct {
			Group       *groupAnswer
			DeadLetters *struct {
				Topic            string
				Records          int64
				RecordsPerSecond *float64
			}
		} `json:"processorById"`
		Groups []groupAnswer
		Topic  struct {
			ConsumerGroups []struct{ Name string }
		} `json:"topicByName"`
	}
	q := `query($topic: ID!) { processorById(id: "Processor:devices/heartbeats/enricher") { group { ` + groupFields + ` } deadLetters { topic records recordsPerSecond } }
		groups(first: 50) { ` + groupFields + ` }
		topicByName: topicById(id: $topic) { consumerGroups { name } } }`
	vars := map[string]any{"topic": "Topic:" + topic}
	deadline := time.Now().Add(90 * time.Second)
	for {
		query(t, srv.URL, q, vars, &data)
		g, d := data.ProcessorByID.Group, data.ProcessorByID.DeadLetters
		if g != nil && g.State == "Stable" && g.Lag == 0 && len(g.Partitions) == 2 && d != nil && d.Records >= 1 && d.RecordsPerSecond != nil && len(data.Groups) >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no stable, caught-up group with a dead letter after 90s: %+v", data)
		}
		time.Sleep(300 * time.Millisecond)
	}
	g := data.ProcessorByID.Group
	if g.Name != group || g.Members != 1 || g.Error != nil || g.Processor == nil || g.Processor.ID != "Processor:devices/heartbeats/enricher" {
		t.Errorf("processor group %+v", g)
	}
	for i, p := range g.Partitions {
		if p.TopicName != topic || p.Topic == nil || p.Partition != i || p.CommittedOffset == nil || p.EndOffset == nil || p.Lag == nil ||
			*p.Lag != 0 || *p.CommittedOffset != *p.EndOffset || p.MemberID == nil || *p.MemberID == "" || p.ClientID == nil || p.Host == nil || *p.Host == "" {
			t.Errorf("partition %d: %+v", i, p)
		}
	}
	if d := data.ProcessorByID.DeadLetters; d.Topic != group+"-dlq" || d.RecordsPerSecond == nil || *d.RecordsPerSecond < 0 {
		t.Errorf("dead letters %+v", d)
	}
	if h := g.LagHistory; len(h) == 0 || len(h) > 2 || h[len(h)-1].Lag != g.Lag || time.Since(h[len(h)-1].At) > time.Minute {
		t.Errorf("lag history %+v, want this minute's point with the current lag", h)
	}
	byName := map[string]groupAnswer{}
	for _, g := range data.Groups {
		byName[g.Name] = g
	}
	o, ok := byName[outside]
	// Partition 0 committed at 0 (lag 1); partition 1 without a commit
	// counts from the start (lag 2).
	if !ok || o.State != "Empty" || o.Members != 0 || o.Processor != nil || o.Lag != 3 || len(o.Partitions) != 2 || o.Partitions[0].MemberID != nil ||
		o.Partitions[0].Lag == nil || *o.Partitions[0].Lag != 1 || o.Partitions[1].CommittedOffset != nil {
		t.Errorf("outside group %+v (found %v)", o, ok)
	}
	if _, ok := byName[group]; !ok {
		t.Errorf("Query.groups lacks %s", group)
	}
	var cg []string
	for _, c := range data.Topic.ConsumerGroups {
		cg = append(cg, c.Name)
	}
	if !strings.Contains(strings.Join(cg, ","), group) || !strings.Contains(strings.Join(cg, ","), outside) {
		t.Errorf("Topic.consumerGroups %v, want %s and %s", cg, group, outside)
	}

	if resp := post(t, srv.URL, `{ groups(first: 1001) { name } }`, nil); len(resp.Errors) == 0 || !strings.Contains(resp.Errors[0].Message, "first must be 0 to 1000") {
		t.Errorf("groups(first: 1001): %+v", resp.Errors)
	}

	// Stopped: the group is Empty, its partitions have no owner.
	stopRun()
	if err := <-ran; err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("Run: %v", err)
	}
	ran <- nil
	var one struct{ Group *groupAnswer }
	deadline = time.Now().Add(90 * time.Second)
	for {
		query(t, srv.URL, `query($n: String!) { group(name: $n) { `+groupFields+` } }`, map[string]any{"n": group}, &one)
		if one.Group != nil && one.Group.State == "Empty" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("group not Empty 90s after the service stopped: %+v", one.Group)
		}
		time.Sleep(300 * time.Millisecond)
	}
	if one.Group.Members != 0 || len(one.Group.Partitions) != 2 || one.Group.Partitions[0].MemberID != nil {
		t.Errorf("stopped group %+v", one.Group)
	}
}
