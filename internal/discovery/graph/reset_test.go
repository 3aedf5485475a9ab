package graph_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafmesh/kafmesh/internal/discovery/graph"
	"github.com/kafmesh/kafmesh/internal/discovery/lag"
	"github.com/kafmesh/kafmesh/internal/discovery/mesh"
	"github.com/kafmesh/kafmesh/kafmeshtest"
)

const resetMutation = `mutation($g: String!, $t: String!, $to: OffsetResetMode!, $ts: Time, $o: Int64, $p: [Int!]) {
	resetGroupOffsets(group: $g, topic: $t, to: $to, timestamp: $ts, offset: $o, partitions: $p) { group topic partitions { partition from to } } }`

// resetGroupOffsets moves a stopped group's committed offsets on the real
// broker to the start, the end, a timestamp or an offset, logs an audit
// line, and refuses a group with a member, a discover without --token and
// an offset out of range.
func TestResetGroupOffsets(t *testing.T) {
	ctx := context.Background()
	brokers := kafmeshtest.StartBroker(t)
	topic, group, live := kafmeshtest.Unique(t, "orders"), kafmeshtest.Unique(t, "stopped"), kafmeshtest.Unique(t, "live")
	kafmeshtest.CreateTopic(t, brokers, topic, 2, false)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	old, recent := time.Now().Add(-time.Hour).Truncate(time.Millisecond), time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	var recs []*kgo.Record
	for p := int32(0); p < 2; p++ {
		recs = append(recs, &kgo.Record{Topic: topic, Partition: p, Value: []byte("a"), Timestamp: old},
			&kgo.Record{Topic: topic, Partition: p, Value: []byte("b"), Timestamp: old},
			&kgo.Record{Topic: topic, Partition: p, Value: []byte("c"), Timestamp: recent})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	offs := kadm.Offsets{}
	offs.Add(kadm.Offset{Topic: topic, Partition: 0, At: 1, LeaderEpoch: -1})
	offs.Add(kadm.Offset{Topic: topic, Partition: 1, At: 1, LeaderEpoch: -1})
	if r, err := adm.CommitOffsets(ctx, group, offs); err != nil || r.Error() != nil {
		t.Fatalf("commit: %v %v", err, r.Error())
	}
	empty := func(context.Context) (*mesh.Graph, error) { return mesh.NewGraph(nil, nil, nil, nil), nil }

	// Without --token: refused, nothing moves.
	ro := httptest.NewServer(graph.NewHandler(graph.HandlerConfig{Snapshot: empty, Lag: lag.New(adm)}))
	defer ro.Close()
	if resp := post(t, ro.URL, resetMutation, map[string]any{"g": group, "t": topic, "to": "EARLIEST"}); len(resp.Errors) == 0 ||
		!strings.Contains(resp.Errors[0].Message, "--token") {
		t.Fatalf("without --token: %+v", resp)
	}

	var audit bytes.Buffer
	srv := httptest.NewServer(graph.NewHandler(graph.HandlerConfig{Snapshot: empty, Lag: lag.New(adm), AllowMutations: true,
		Logger: slog.New(slog.NewTextHandler(&audit, nil))}))
	defer srv.Close()
	type move struct {
		Partition int
		From      *int64
		To        int64
	}
	reset := func(vars map[string]any) []move {
		t.Helper()
		vars["g"], vars["t"] = group, topic
		var data struct {
			ResetGroupOffsets struct {
				Group, Topic string
				Partitions   []move
			}
		}
		query(t, srv.URL, resetMutation, vars, &data)
		return data.ResetGroupOffsets.Partitions
	}
	committed := func() []int64 {
		t.Helper()
		f, err := adm.FetchOffsets(ctx, group)
		if err != nil {
			t.Fatal(err)
		}
		var out []int64
		for p := int32(0); p < 2; p++ {
			o, _ := f.Lookup(topic, p)
			out = append(out, o.At)
		}
		return out
	}
	eq := func(name string, got []int64, want ...int64) {
		t.Helper()
		if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
			t.Errorf("%s: committed %v, want %v", name, got, want)
		}
	}
	m := reset(map[string]any{"to": "EARLIEST"})
	if len(m) != 2 || m[0].From == nil || *m[0].From != 1 || m[0].To != 0 || m[1].To != 0 {
		t.Errorf("EARLIEST moves %+v", m)
	}
	eq("EARLIEST", committed(), 0, 0)
	reset(map[string]any{"to": "LATEST"})
	eq("LATEST", committed(), 3, 3)
	if m := reset(map[string]any{"to": "OFFSET", "o": 1, "p": []int{1}}); len(m) != 1 || m[0].Partition != 1 || m[0].To != 1 {
		t.Errorf("OFFSET on partition 1 moves %+v", m)
	}
	eq("OFFSET", committed(), 3, 1)
	reset(map[string]any{"to": "TIMESTAMP", "ts": recent.Add(-time.Second).Format(time.RFC3339Nano)})
	eq("TIMESTAMP", committed(), 2, 2)
	if !strings.Contains(audit.String(), "audit: reset consumer group offsets") || !strings.Contains(audit.String(), "group="+group) ||
		!strings.Contains(audit.String(), "to=TIMESTAMP") {
		t.Errorf("audit log:\n%s", audit.String())
	}
	for _, c := range []struct {
		vars map[string]any
		want string
	}{
		{map[string]any{"to": "OFFSET", "o": 9}, "outside"},
		{map[string]any{"to": "OFFSET"}, "offset goes with to: OFFSET"},
		{map[string]any{"to": "EARLIEST", "p": []int{7}}, "no partition 7"},
	} {
		c.vars["g"], c.vars["t"] = group, topic
		if resp := post(t, srv.URL, resetMutation, c.vars); len(resp.Errors) == 0 || !strings.Contains(resp.Errors[0].Message, c.want) {
			t.Errorf("%v: %+v, want an error with %q", c.vars, resp.Errors, c.want)
		}
	}
	eq("after the refused resets", committed(), 2, 2)

	// A group with a member is refused.
	member, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumerGroup(live), kgo.ConsumeTopics(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer member.Close()
	deadline := time.Now().Add(60 * time.Second)
	for {
		pctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		member.PollFetches(pctx)
		cancel()
		d, err := adm.DescribeGroups(ctx, live)
		if err == nil && d[live].State == "Stable" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the live group did not become Stable")
		}
	}
	resp := post(t, srv.URL, resetMutation, map[string]any{"g": live, "t": topic, "to": "EARLIEST"})
	if len(resp.Errors) == 0 || !strings.Contains(resp.Errors[0].Message, "stop its service") {
		t.Errorf("a group with a member: %+v", resp)
	}
}
