package graph_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafmesh/kafmesh/internal/discovery/graph"
	"github.com/kafmesh/kafmesh/internal/discovery/lag"
	"github.com/kafmesh/kafmesh/internal/discovery/mesh"
	"github.com/kafmesh/kafmesh/internal/discovery/records"
	"github.com/kafmesh/kafmesh/internal/dlq"
	"github.com/kafmesh/kafmesh/kafmeshtest"
)

// replayDeadLetters refuses, before touching Kafka: a discover without
// --token, positions together with all (or neither), more positions than a
// replay sends, an unknown processor,
// and a discover without --brokers. (The replay itself is tested in the
// browser against the example service: web.TestOperatorConsole….)
func TestReplayDeadLettersRefusals(t *testing.T) {
	empty := func(context.Context) (*mesh.Graph, error) { return mesh.NewGraph(nil, nil, nil, nil), nil }
	const replay = `mutation($id: ID!, $p: [String!], $all: Boolean) { replayDeadLetters(processorId: $id, positions: $p, all: $all) { sent } }`

	ro := httptest.NewServer(graph.NewHandler(graph.HandlerConfig{Snapshot: empty}))
	defer ro.Close()
	if resp := post(t, ro.URL, replay, map[string]any{"id": "Processor:a/b/c", "all": true}); len(resp.Errors) == 0 || !strings.Contains(resp.Errors[0].Message, "--token") {
		t.Errorf("without --token: %+v", resp)
	}

	// A processor with a consumer group, in a discover without --brokers.
	enricher := string(mesh.PartID(mesh.KindProcessor, "devices", "heartbeats", "enricher"))
	grouped := func(context.Context) (*mesh.Graph, error) {
		return mesh.NewGraph([]mesh.Node{{ID: enricher, Kind: mesh.KindProcessor, Name: "enricher", GroupName: "devices.heartbeats.enricher"}}, nil, nil, nil), nil
	}
	nb := httptest.NewServer(graph.NewHandler(graph.HandlerConfig{Snapshot: grouped, AllowMutations: true}))
	defer nb.Close()
	for _, vars := range []map[string]any{{"id": enricher, "all": true}, {"id": enricher, "p": []string{"0/1"}}} {
		if resp := post(t, nb.URL, replay, vars); len(resp.Errors) == 0 || !strings.Contains(resp.Errors[0].Message, "dead letters need discover to run with --brokers") {
			t.Errorf("without --brokers %v: %+v", vars, resp.Errors)
		}
	}

	tooMany := make([]string, 10001)
	for i := range tooMany {
		tooMany[i] = "0/1"
	}
	rw := httptest.NewServer(graph.NewHandler(graph.HandlerConfig{Snapshot: empty, AllowMutations: true}))
	defer rw.Close()
	for _, c := range []struct {
		vars map[string]any
		want string
	}{
		{map[string]any{"id": "Processor:a/b/c"}, "either positions or all"},
		{map[string]any{"id": "Processor:a/b/c", "all": true, "p": []string{"0/1"}}, "either positions or all"},
		{map[string]any{"id": "Processor:a/b/c", "all": true}, `no processor "Processor:a/b/c"`},
		{map[string]any{"id": "Processor:a/b/c", "p": tooMany}, "10001 positions: at most 10000 in one replay"},
	} {
		if resp := post(t, rw.URL, replay, c.vars); len(resp.Errors) == 0 || !strings.Contains(resp.Errors[0].Message, c.want) {
			t.Errorf("%v: %+v, want an error with %q", c.vars, resp.Errors, c.want)
		}
	}
}

// dlqLag is a lag source that knows one group's dead-letter topic.
type dlqLag struct{ group string }

func (dlqLag) Group(string) (lag.Group, bool)   { return lag.Group{}, false }
func (dlqLag) TopicRate(string) (float64, bool) { return 0, false }
func (dlqLag) Groups() []lag.Group              { return nil }
func (l dlqLag) DeadLetters(group string) (string, int64, bool) {
	return group + "-dlq", 0, group == l.group
}
func (dlqLag) DeadLetterRate(string) (float64, bool) { return 0, false }

// DeadLetters.letters reads through the topic browser's reader: only
// committed dead letters, by partition and offset, from an offset that may
// lie past a partition's end, one partition alone; without the reader
// (--records=false) it is the topic browser's error.
func TestDeadLetterLetters(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	brokers := kafmeshtest.StartBroker(t)
	group := kafmeshtest.Unique(t, "enricher")
	topic := group + "-dlq"
	kafmeshtest.CreateTopic(t, brokers, topic, 2, false)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.TransactionalID(kafmeshtest.Unique(t, "tx")))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	letter := func(p int32, origin string, minute int) *kgo.Record {
		return &kgo.Record{Topic: topic, Partition: p, Value: []byte(origin), Timestamp: base.Add(time.Duration(minute) * time.Minute), Headers: []kgo.RecordHeader{
			{Key: dlq.HeaderError, Value: []byte("boom")}, {Key: dlq.HeaderTopic, Value: []byte("in")},
			{Key: dlq.HeaderPartition, Value: []byte("0")}, {Key: dlq.HeaderOffset, Value: []byte(origin)}}}
	}
	// Partition 1 gets the oldest letters: first takes the oldest, and the
	// answer is by partition and offset all the same. Offsets: partition 0
	// holds the aborted letter at 0 (its marker at 1), then 2, 3 (marker
	// at 4); partition 1 holds 0, 1 (marker at 2), 3 (marker at 4).
	for _, c := range []struct {
		recs []*kgo.Record
		end  kgo.TransactionEndTry
	}{
		{[]*kgo.Record{letter(1, "10", 0), letter(1, "11", 1)}, kgo.TryCommit},
		{[]*kgo.Record{letter(0, "99", 2)}, kgo.TryAbort},
		{[]*kgo.Record{letter(0, "1", 3), letter(0, "2", 4), letter(1, "12", 5)}, kgo.TryCommit},
	} {
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		if err := cl.ProduceSync(ctx, c.recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if err := cl.EndTransaction(ctx, c.end); err != nil {
			t.Fatal(err)
		}
	}

	// EndTransaction returns once the coordinator decided; the markers
	// reach the partitions after it. Wait until read_committed readers
	// see every transaction ended (both partitions' last stable offset 5).
	adm := kadm.NewClient(cl)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		lso, err := adm.ListCommittedOffsets(ctx, topic)
		o0, _ := lso.Lookup(topic, 0)
		o1, _ := lso.Lookup(topic, 1)
		if err == nil && o0.Offset == 5 && o1.Offset == 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the transactions' markers did not arrive: %v %v", lso, err)
		}
	}

	g := browserMesh(kafmeshtest.Unique(t, "p"), kafmeshtest.Unique(t, "r"), kafmeshtest.Unique(t, "m"), group)
	snap := func(context.Context) (*mesh.Graph, error) { return g, nil }
	const letters = `query($id: ID!, $n: Int, $p: Int, $o: Int64) { processorById(id: $id) {
		deadLetters { letters(first: $n, partition: $p, offset: $o) { position originalOffset error } } } }`
	id := string(mesh.PartID(mesh.KindProcessor, "devices", "heartbeats", "enricher"))
	read := func(url string, vars map[string]any) (string, []string) {
		t.Helper()
		all := map[string]any{"id": id}
		for k, v := range vars {
			all[k] = v
		}
		resp := post(t, url, letters, all)
		var errs []string
		for _, e := range resp.Errors {
			errs = append(errs, e.Message)
		}
		var data struct {
			ProcessorByID *struct {
				DeadLetters *struct {
					Letters []struct {
						Position       string
						OriginalOffset *int64
						Error          string
					}
				}
			}
		}
		if len(errs) > 0 {
			return "", errs
		}
		if err := json.Unmarshal(resp.Data, &data); err != nil {
			t.Fatal(err)
		}
		if data.ProcessorByID == nil || data.ProcessorByID.DeadLetters == nil {
			t.Fatalf("no dead letters of the processor: %s", resp.Data)
		}
		var out []string
		for _, d := range data.ProcessorByID.DeadLetters.Letters {
			out = append(out, fmt.Sprintf("%s<-%d:%s", d.Position, *d.OriginalOffset, d.Error))
		}
		return strings.Join(out, " "), nil
	}

	srv := httptest.NewServer(graph.NewHandler(graph.HandlerConfig{Snapshot: snap, Lag: dlqLag{group}, Records: records.New(cl)}))
	defer srv.Close()
	for _, c := range []struct {
		vars map[string]any
		want string
	}{
		// The aborted letter (0/0) and the transaction markers are no letters.
		{nil, "0/2<-1:boom 0/3<-2:boom 1/0<-10:boom 1/1<-11:boom 1/3<-12:boom"},
		{map[string]any{"p": 1}, "1/0<-10:boom 1/1<-11:boom 1/3<-12:boom"},
		// From offset 3 of each partition; 99 is past every end.
		{map[string]any{"o": 3}, "0/3<-2:boom 1/3<-12:boom"},
		{map[string]any{"o": 99}, ""},
		{map[string]any{"n": 2}, "1/0<-10:boom 1/1<-11:boom"},
		{map[string]any{"n": 3, "o": 1}, "0/2<-1:boom 0/3<-2:boom 1/1<-11:boom"},
	} {
		got, errs := read(srv.URL, c.vars)
		if len(errs) > 0 || got != c.want {
			t.Errorf("letters %v: %q %+v, want %q", c.vars, got, errs, c.want)
		}
	}

	off := httptest.NewServer(graph.NewHandler(graph.HandlerConfig{Snapshot: snap, Lag: dlqLag{group}}))
	defer off.Close()
	if _, errs := read(off.URL, nil); len(errs) == 0 || !strings.Contains(errs[0], "--records") {
		t.Errorf("without the records reader: %+v", errs)
	}
}

// dlqClientLag is dlqLag with discover's Kafka client (--brokers).
type dlqClientLag struct {
	dlqLag
	cl *kgo.Client
}

func (l dlqClientLag) Client() *kgo.Client { return l.cl }

// A replay that sends some dead letters and fails on others keeps the sent
// ones marked replayed (a second replay of them is refused) and releases
// exactly the unsent ones (a second replay of them is tried again).
func TestReplayDeadLettersReleasesUnsent(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	brokers := kafmeshtest.StartBroker(t)
	group, in := kafmeshtest.Unique(t, "enricher"), kafmeshtest.Unique(t, "in")
	topic := group + "-dlq"
	kafmeshtest.CreateTopic(t, brokers, topic, 1, false)
	kafmeshtest.CreateTopic(t, brokers, in, 1, false)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	// 0/0 goes back to in[0]; 0/1 names in[7], which does not exist.
	for _, p := range []string{"0", "7"} {
		r := &kgo.Record{Topic: topic, Value: []byte("v"), Headers: []kgo.RecordHeader{{Key: dlq.HeaderError, Value: []byte("boom")},
			{Key: dlq.HeaderTopic, Value: []byte(in)}, {Key: dlq.HeaderPartition, Value: []byte(p)}, {Key: dlq.HeaderOffset, Value: []byte("3")}}}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	g := browserMesh(kafmeshtest.Unique(t, "p"), kafmeshtest.Unique(t, "r"), kafmeshtest.Unique(t, "m"), group)
	snap := func(context.Context) (*mesh.Graph, error) { return g, nil }
	srv := httptest.NewServer(graph.NewHandler(graph.HandlerConfig{Snapshot: snap, AllowMutations: true,
		Lag: dlqClientLag{dlqLag{group}, cl}, Records: records.New(cl)}))
	defer srv.Close()
	id := string(mesh.PartID(mesh.KindProcessor, "devices", "heartbeats", "enricher"))
	const replay = `mutation($id: ID!, $p: [String!], $all: Boolean) { replayDeadLetters(processorId: $id, positions: $p, all: $all) { sent positions } }`
	replayErr := func(vars map[string]any) string {
		t.Helper()
		vars["id"] = id
		resp := post(t, srv.URL, replay, vars)
		if len(resp.Errors) == 0 {
			return ""
		}
		return resp.Errors[0].Message
	}

	if e := replayErr(map[string]any{"all": true}); !strings.Contains(e, "replayed 1 of 2") {
		t.Fatalf("replay all: %q, want 1 of 2 sent", e)
	}
	resp := post(t, srv.URL, `query($id: ID!) { processorById(id: $id) { deadLetters { letters { position replayed } } } }`, map[string]any{"id": id})
	var data struct {
		ProcessorByID struct {
			DeadLetters struct {
				Letters []struct {
					Position string
					Replayed bool
				}
			}
		}
	}
	if len(resp.Errors) > 0 || json.Unmarshal(resp.Data, &data) != nil {
		t.Fatalf("letters: %+v", resp)
	}
	if got := fmt.Sprint(data.ProcessorByID.DeadLetters.Letters); got != "[{0/0 true} {0/1 false}]" {
		t.Errorf("after a partial replay: %s, want only the sent one replayed", got)
	}
	if e := replayErr(map[string]any{"p": []string{"0/0"}}); !strings.Contains(e, "already replayed: "+topic+"/0/0") {
		t.Errorf("a second replay of the sent one: %q", e)
	}
	if e := replayErr(map[string]any{"p": []string{"0/1"}}); !strings.Contains(e, "replayed 0 of 1") {
		t.Errorf("a second replay of the unsent one: %q, want it tried (and failing) again", e)
	}
}
