package graph_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/kafmesh/kafmesh/internal/discovery/graph"
	"github.com/kafmesh/kafmesh/internal/discovery/internal/meshtest"
	"github.com/kafmesh/kafmesh/internal/discovery/mesh"
	"github.com/kafmesh/kafmesh/internal/discovery/records"
	"github.com/kafmesh/kafmesh/internal/discovery/server"
	"github.com/kafmesh/kafmesh/kafmeshtest"
)

const recordsQuery = `query($t: String!, $from: RecordStart, $p: [Int!], $o: Int64, $os: [PartitionOffsetInput!], $ts: Time, $n: Int, $k: String) {
	topicRecords(topic: $t, from: $from, partitions: $p, offset: $o, offsets: $os, timestamp: $ts, limit: $n, key: $k) {
		topic message type undecoded scanned stopped
		partitions { partition startOffset endOffset nextOffset }
		records { partition offset timestamp timestampMs json framing schemaId decodeError decodeWarning
			key { size text printable hex base64 } value { size text printable hex base64 }
			headers { key value base64 } } } }`

type recordBytes struct {
	Size      int
	Text      *string
	Printable string
	Hex       string
	Base64    string
}

type topicRecord struct {
	Partition     int
	Offset        int64
	Timestamp     time.Time
	TimestampMs   int64
	JSON          *string
	Framing       *string
	SchemaID      *int64
	DecodeError   *string
	DecodeWarning *string
	Key, Value    *recordBytes
	Headers       []struct {
		Key    string
		Value  *string
		Base64 string
	}
}

type recordPage struct {
	Topic      string
	Message    *string
	Type       string
	Undecoded  *string
	Scanned    int
	Stopped    *string
	Partitions []struct {
		Partition                          int
		StartOffset, EndOffset, NextOffset int64
	}
	Records []topicRecord
}

// heartbeat encodes a kafmesh.deviceId.Heartbeat of DevicesDescriptors.
func heartbeat(t *testing.T, deviceID string, tags ...string) []byte {
	t.Helper()
	set := &descriptorpb.FileDescriptorSet{}
	if err := proto.Unmarshal(meshtest.DevicesDescriptors(), set); err != nil {
		t.Fatal(err)
	}
	files, err := protodesc.NewFiles(set)
	if err != nil {
		t.Fatal(err)
	}
	d, err := files.FindDescriptorByName("kafmesh.deviceId.Heartbeat")
	if err != nil {
		t.Fatal(err)
	}
	md := d.(protoreflect.MessageDescriptor)
	m := dynamicpb.NewMessage(md)
	m.Set(md.Fields().ByName("device_id"), protoreflect.ValueOfString(deviceID))
	list := m.Mutable(md.Fields().ByName("tags")).List()
	for _, tag := range tags {
		list.Append(protoreflect.ValueOfString(tag))
	}
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// browserMesh is a mesh whose service reported the Heartbeat schema, with
// a protobuf topic of it, a raw topic, a topic Kafka lacks and a
// processor (whose dead-letter topic may be read too).
func browserMesh(protoTopic, rawTopic, missing, group string) *mesh.Graph {
	svc := mesh.ServiceID("devices")
	return mesh.NewGraph([]mesh.Node{
		{ID: svc, Kind: mesh.KindService, Name: "devices", Descriptors: meshtest.DevicesDescriptors()},
		{ID: mesh.TopicID(protoTopic), Kind: mesh.KindTopic, Name: protoTopic, Message: "kafmesh.deviceId.Heartbeat", TopicType: "PROTOBUF"},
		{ID: mesh.TopicID(rawTopic), Kind: mesh.KindTopic, Name: rawTopic, Message: "", TopicType: "RAW"},
		{ID: mesh.TopicID(missing), Kind: mesh.KindTopic, Name: missing, Message: "kafmesh.deviceId.Heartbeat", TopicType: "PROTOBUF"},
		{ID: mesh.PartID(mesh.KindProcessor, "devices", "heartbeats", "enricher"), Kind: mesh.KindProcessor, Name: "enricher", GroupName: group},
	}, nil, nil, nil)
}

// The topic browser over real HTTP on a real broker: values decoded with
// the reported schema (defaults shown) in all three framings, raw values
// as bytes, undecodable ones with the reason; reads by offset, timestamp,
// latest N and key; the limits and bad arguments refused with clear
// errors; the token required when discover has one.
func TestTopicRecords(t *testing.T) {
	ctx := context.Background()
	brokers := kafmeshtest.StartBroker(t)
	protoTopic, rawTopic := kafmeshtest.Unique(t, "heartbeats"), kafmeshtest.Unique(t, "raw")
	missing, group := kafmeshtest.Unique(t, "missing"), kafmeshtest.Unique(t, "enricher")
	kafmeshtest.CreateTopic(t, brokers, protoTopic, 2, false)
	kafmeshtest.CreateTopic(t, brokers, rawTopic, 1, false)
	kafmeshtest.CreateTopic(t, brokers, group+"-dlq", 1, false)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()

	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	at := func(i int) time.Time { return base.Add(time.Duration(i) * time.Minute) }
	plain := heartbeat(t, "d1", "a", "b")
	confluent := binary.BigEndian.AppendUint32([]byte{0x00}, 7)
	confluent = append(binary.AppendVarint(confluent, 0), heartbeat(t, "d2")...)
	kafmesh2021 := append(binary.BigEndian.AppendUint32([]byte{0x02}, 9), heartbeat(t, "d3")...)
	recs := []*kgo.Record{
		{Topic: protoTopic, Partition: 0, Key: []byte("d1"), Value: plain, Timestamp: at(0), Headers: []kgo.RecordHeader{{Key: "trace", Value: []byte("t-1")}, {Key: "bin", Value: []byte{0xff, 0x00}}}},
		{Topic: protoTopic, Partition: 1, Key: []byte("d2"), Value: confluent, Timestamp: at(1)},
		{Topic: protoTopic, Partition: 0, Key: []byte("d3"), Value: kafmesh2021, Timestamp: at(2)},
		{Topic: protoTopic, Partition: 1, Key: []byte("bad"), Value: []byte{0x02, 0x00}, Timestamp: at(3)},
		{Topic: protoTopic, Partition: 0, Key: []byte("d1"), Value: nil, Timestamp: at(4)},
		{Topic: protoTopic, Partition: 0, Key: []byte("d1"), Value: heartbeat(t, "d1", "c"), Timestamp: at(5)},
		{Topic: rawTopic, Partition: 0, Key: nil, Value: []byte("hello\x00world"), Timestamp: at(0)},
		{Topic: group + "-dlq", Partition: 0, Key: []byte("k"), Value: plain, Timestamp: at(0)},
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	g := browserMesh(protoTopic, rawTopic, missing, group)
	snap := func(context.Context) (*mesh.Graph, error) { return g, nil }
	reader := records.New(cl, records.WithLimits(records.Limits{MaxRecords: 50}))
	srv := httptest.NewServer(graph.NewHandler(graph.HandlerConfig{Snapshot: snap, Records: reader}))
	defer srv.Close()
	read := func(vars map[string]any) recordPage {
		t.Helper()
		var data struct{ TopicRecords recordPage }
		query(t, srv.URL, recordsQuery, vars, &data)
		return data.TopicRecords
	}
	keys := func(p recordPage) string {
		var out []string
		for _, r := range p.Records {
			k := "-"
			if r.Key != nil && r.Key.Text != nil {
				k = *r.Key.Text
			}
			out = append(out, fmt.Sprintf("%s@%d/%d", k, r.Partition, r.Offset))
		}
		return strings.Join(out, " ")
	}

	// The latest records of every partition, oldest first.
	all := read(map[string]any{"t": protoTopic, "n": 10})
	if got := keys(all); got != "d1@0/0 d2@1/0 d3@0/1 bad@1/1 d1@0/2 d1@0/3" {
		t.Fatalf("latest 10: %s", got)
	}
	if all.Message == nil || *all.Message != "kafmesh.deviceId.Heartbeat" || all.Type != "PROTOBUF" || all.Undecoded != nil {
		t.Errorf("page: message %v type %s undecoded %v", all.Message, all.Type, all.Undecoded)
	}
	first := all.Records[0]
	var decoded map[string]any
	if first.JSON == nil || json.Unmarshal([]byte(*first.JSON), &decoded) != nil {
		t.Fatalf("first record not decoded: %+v", first)
	}
	// Default values are shown: the unset timestamp as null, the empty map.
	if decoded["deviceId"] != "d1" || fmt.Sprint(decoded["tags"]) != "[a b]" || fmt.Sprint(decoded["counters"]) != "map[]" {
		t.Errorf("decoded %s", *first.JSON)
	}
	if v, ok := decoded["time"]; !ok || v != nil {
		t.Errorf("unset message field not shown as null: %s", *first.JSON)
	}
	if *first.Framing != "plain" || first.SchemaID != nil || !first.Timestamp.Equal(at(0)) || first.TimestampMs != at(0).UnixMilli() {
		t.Errorf("first record: framing %v schema %v time %v", *first.Framing, first.SchemaID, first.Timestamp)
	}
	if len(first.Headers) != 2 || first.Headers[0].Key != "trace" || *first.Headers[0].Value != "t-1" || first.Headers[1].Value != nil || first.Headers[1].Base64 != "/wA=" {
		t.Errorf("headers %+v", first.Headers)
	}
	for i, want := range []struct {
		framing string
		id      int64
		device  string
	}{{"confluent", 7, "d2"}, {"kafmesh2021", 9, "d3"}} {
		r := all.Records[i+1]
		if r.Framing == nil || *r.Framing != want.framing || r.SchemaID == nil || *r.SchemaID != want.id || r.JSON == nil || !strings.Contains(*r.JSON, `"deviceId": "`+want.device+`"`) {
			t.Errorf("%s record: %+v", want.framing, r)
		}
	}
	if bad := all.Records[3]; bad.JSON != nil || bad.DecodeError == nil || !strings.Contains(*bad.DecodeError, "kafmesh header needs 5 bytes") || bad.Value.Hex != "0200" {
		t.Errorf("malformed framing: %+v", bad)
	}
	if tomb := all.Records[4]; tomb.Value != nil || tomb.JSON != nil || tomb.DecodeError != nil {
		t.Errorf("tombstone: %+v", tomb)
	}
	for _, p := range all.Partitions {
		if p.StartOffset != 0 || p.NextOffset != p.EndOffset {
			t.Errorf("partition %+v: a complete read continues at the end", p)
		}
	}

	// The latest N across partitions: the newest N by timestamp.
	if got := keys(read(map[string]any{"t": protoTopic, "n": 2})); got != "d1@0/2 d1@0/3" {
		t.Errorf("latest 2: %s", got)
	}
	// By key.
	if got := keys(read(map[string]any{"t": protoTopic, "n": 10, "k": "d1"})); got != "d1@0/0 d1@0/2 d1@0/3" {
		t.Errorf("key d1: %s", got)
	}
	// By partition and offset, continued from nextOffset.
	one := read(map[string]any{"t": protoTopic, "from": "OFFSET", "p": []int{0}, "o": 1, "n": 1})
	if got := keys(one); got != "d3@0/1" || len(one.Partitions) != 1 || one.Partitions[0].NextOffset != 2 {
		t.Errorf("partition 0 from offset 1: %s %+v", got, one.Partitions)
	}
	next := read(map[string]any{"t": protoTopic, "from": "OFFSET", "os": []map[string]any{{"partition": 0, "offset": one.Partitions[0].NextOffset}}, "n": 5})
	if got := keys(next); got != "d1@0/2 d1@0/3" {
		t.Errorf("continued: %s", got)
	}
	// From the start, limited: the oldest first, and the left-out records
	// are where the next read continues.
	early := read(map[string]any{"t": protoTopic, "from": "EARLIEST", "n": 3})
	if got := keys(early); got != "d1@0/0 d2@1/0 d3@0/1" {
		t.Errorf("earliest 3: %s", got)
	}
	for _, p := range early.Partitions {
		if want := map[int]int64{0: 2, 1: 1}[p.Partition]; p.NextOffset != want {
			t.Errorf("earliest 3: partition %d continues at %d, want %d", p.Partition, p.NextOffset, want)
		}
	}
	// By timestamp.
	if got := keys(read(map[string]any{"t": protoTopic, "from": "TIMESTAMP", "ts": at(3).Format(time.RFC3339Nano), "n": 10})); got != "bad@1/1 d1@0/2 d1@0/3" {
		t.Errorf("from %s: %s", at(3), got)
	}

	// A raw topic: bytes, no JSON, and why.
	raw := read(map[string]any{"t": rawTopic, "n": 5})
	if raw.Type != "RAW" || raw.Undecoded == nil || len(raw.Records) != 1 {
		t.Fatalf("raw page %+v", raw)
	}
	if r := raw.Records[0]; r.JSON != nil || r.Framing != nil || r.Key != nil || r.Value.Printable != "hello.world" || r.Value.Hex != "68656c6c6f00776f726c64" || r.Value.Size != 11 {
		t.Errorf("raw record %+v %+v", r, r.Value)
	}
	// A processor's dead-letter topic is readable, as bytes.
	if dlq := read(map[string]any{"t": group + "-dlq", "n": 5}); len(dlq.Records) != 1 || dlq.Records[0].JSON != nil || dlq.Undecoded == nil {
		t.Errorf("dead-letter page %+v", dlq)
	}

	// Bad arguments: clear errors.
	for name, c := range map[string]struct {
		vars map[string]any
		want string
	}{
		"not in the mesh":        {map[string]any{"t": "nobody.uses.this"}, "is not a topic of the mesh"},
		"not in Kafka":           {map[string]any{"t": missing}, "does not exist in Kafka"},
		"partition out of range": {map[string]any{"t": protoTopic, "p": []int{2}}, "partition 2 is out of range: topic " + protoTopic + " has partitions 0 to 1"},
		"limit over the maximum": {map[string]any{"t": protoTopic, "n": 51}, "limit 51 is outside 1 to 50"},
		"limit zero":             {map[string]any{"t": protoTopic, "n": 0}, "limit 0 is outside 1 to 50"},
		"offset past the end":    {map[string]any{"t": protoTopic, "from": "OFFSET", "o": 99}, "offset 99 is outside partition 0's range 0 to 4"},
		"offset without OFFSET":  {map[string]any{"t": protoTopic, "o": 1}, "go with from: OFFSET"},
		"OFFSET without offset":  {map[string]any{"t": protoTopic, "from": "OFFSET"}, "needs offset or offsets"},
		"TIMESTAMP without time": {map[string]any{"t": protoTopic, "from": "TIMESTAMP"}, "needs timestamp"},
	} {
		resp := post(t, srv.URL, recordsQuery, c.vars)
		if len(resp.Errors) == 0 || !strings.Contains(resp.Errors[0].Message, c.want) {
			t.Errorf("%s: %+v, want an error with %q", name, resp.Errors, c.want)
		}
	}

	// The bytes of one answer are bounded: the newest that fit are kept
	// and the answer says why the rest are left out.
	small := records.New(cl, records.WithLimits(records.Limits{MaxBytes: 2 * len(plain)}))
	bounded := httptest.NewServer(graph.NewHandler(graph.HandlerConfig{Snapshot: snap, Records: small}))
	defer bounded.Close()
	var data struct{ TopicRecords recordPage }
	query(t, bounded.URL, recordsQuery, map[string]any{"t": protoTopic, "n": 10}, &data)
	if p := data.TopicRecords; len(p.Records) >= 6 || len(p.Records) == 0 || p.Stopped == nil || !strings.Contains(*p.Stopped, "bytes per answer") || p.Records[len(p.Records)-1].Offset != 3 {
		t.Errorf("bounded answer: %s, stopped %v", keys(p), p.Stopped)
	}

	// Without --brokers: a clear error.
	none := httptest.NewServer(graph.NewHandler(graph.HandlerConfig{Snapshot: snap}))
	defer none.Close()
	if resp := post(t, none.URL, recordsQuery, map[string]any{"t": protoTopic}); len(resp.Errors) == 0 || !strings.Contains(resp.Errors[0].Message, "--brokers") {
		t.Errorf("without a reader: %+v", resp)
	}

	// With a token, reading records needs it, like every query.
	guarded := httptest.NewServer(server.New(snap, server.WithRecords(reader), server.WithToken("s3cret")).Handler())
	defer guarded.Close()
	body := strings.NewReader(`{"query":"{ topicRecords(topic: \"` + protoTopic + `\") { scanned } }"}`)
	resp, err := http.Post(guarded.URL+"/query", "application/json", body)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("without the token: HTTP %d, want 401", resp.StatusCode)
	}
	req, _ := http.NewRequest("POST", guarded.URL+"/query", strings.NewReader(`{"query":"{ topicRecords(topic: \"`+protoTopic+`\", limit: 3) { records { offset } } }"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer s3cret")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Data struct {
			TopicRecords struct{ Records []struct{ Offset int64 } }
		}
	}
	err = json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	if err != nil || len(out.Data.TopicRecords.Records) != 3 {
		t.Errorf("with the token: %v %+v", err, out)
	}
}

const tailSubscription = `subscription($t: String!, $p: [Int!], $k: String, $os: [PartitionOffsetInput!]) {
	tailTopicRecords(topic: $t, partitions: $p, key: $k, offsets: $os) {
		topic message skipped error nextOffsets { partition offset }
		records { partition offset json framing key { text } value { printable } } } }`

type tailBatch struct {
	Data struct {
		TailTopicRecords struct {
			Topic       string
			Message     *string
			Skipped     int
			Error       *string
			NextOffsets []struct {
				Partition int
				Offset    int64
			}
			Records []struct {
				Partition int
				Offset    int64
				JSON      *string
				Framing   *string
				Key       *struct{ Text *string }
			}
		}
	}
	Errors []struct{ Message string }
}

// tailTopicRecords over a real websocket on a real broker: from the end of
// a read, only the key asked for, decoded; the cap on open tails and bad
// arguments refused.
func TestTailTopicRecords(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	brokers := kafmeshtest.StartBroker(t)
	protoTopic, rawTopic := kafmeshtest.Unique(t, "heartbeats"), kafmeshtest.Unique(t, "raw")
	kafmeshtest.CreateTopic(t, brokers, protoTopic, 2, false)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: protoTopic, Partition: 1, Key: []byte("old"), Value: heartbeat(t, "old")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	g := browserMesh(protoTopic, rawTopic, kafmeshtest.Unique(t, "missing"), kafmeshtest.Unique(t, "group"))
	snap := func(context.Context) (*mesh.Graph, error) { return g, nil }
	reader := records.New(cl, records.WithLimits(records.Limits{MaxTails: 1, TailInterval: 100 * time.Millisecond}))
	srv := httptest.NewServer(graph.NewHandler(graph.HandlerConfig{Snapshot: snap, Records: reader}))
	defer srv.Close()

	// Where a read ended: the tail goes on from there, without a gap.
	var data struct{ TopicRecords recordPage }
	query(t, srv.URL, recordsQuery, map[string]any{"t": protoTopic, "n": 5}, &data)
	var offsets []map[string]any
	for _, p := range data.TopicRecords.Partitions {
		offsets = append(offsets, map[string]any{"partition": p.Partition, "offset": p.NextOffset})
	}
	ws := dialGraphQL(t, ctx, srv.URL, "graphql-transport-ws")
	ws.subscribe("1", tailSubscription, map[string]any{"t": protoTopic, "k": "d7", "os": offsets})
	if err := cl.ProduceSync(ctx,
		&kgo.Record{Topic: protoTopic, Partition: 0, Key: []byte("other"), Value: heartbeat(t, "other")},
		&kgo.Record{Topic: protoTopic, Partition: 1, Key: []byte("d7"), Value: heartbeat(t, "d7", "live")},
	).FirstErr(); err != nil {
		t.Fatal(err)
	}
	m := ws.wait("1")
	var b tailBatch
	if err := json.Unmarshal(m.Payload, &b); err != nil || m.Type != "next" {
		t.Fatalf("%s %s: %v", m.Type, m.Payload, err)
	}
	batch := b.Data.TailTopicRecords
	if len(b.Errors) > 0 || batch.Error != nil || len(batch.Records) != 1 {
		t.Fatalf("batch %s", m.Payload)
	}
	r := batch.Records[0]
	if r.Partition != 1 || r.Offset != 1 || *r.Key.Text != "d7" || r.JSON == nil || !strings.Contains(*r.JSON, `"live"`) || *batch.Message != "kafmesh.deviceId.Heartbeat" {
		t.Errorf("tailed record %s", m.Payload)
	}
	next := map[int]int64{}
	for _, n := range batch.NextOffsets {
		next[n.Partition] = n.Offset
	}
	if next[1] != 2 || next[0] > 1 {
		t.Errorf("next offsets %v, want partition 1 past the new record", next)
	}
	// The cap: a second tail is refused while the first is open.
	ws.subscribe("2", tailSubscription, map[string]any{"t": protoTopic})
	if e := ws.errorOf("2"); !strings.Contains(e, "1 tails are open on this server, the limit") {
		t.Errorf("second tail: %s", e)
	}
	ws.send(wsMessage{ID: "1", Type: "complete"})

	// Once the first is closed, another may open; bad arguments are refused.
	ws2 := dialGraphQL(t, ctx, srv.URL, "graphql-transport-ws")
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; ; i++ {
		id := fmt.Sprintf("p7-%d", i)
		ws2.subscribe(id, tailSubscription, map[string]any{"t": protoTopic, "p": []int{7}})
		e := ws2.errorOf(id)
		if strings.Contains(e, "partition 7 is out of range") {
			break
		}
		if !strings.Contains(e, "tails are open") || time.Now().After(deadline) {
			t.Fatalf("tail of partition 7: %s", e)
		}
		time.Sleep(100 * time.Millisecond) // the first tail is still closing
	}
	ws2.subscribe("4", tailSubscription, map[string]any{"t": "nobody.uses.this"})
	if e := ws2.errorOf("4"); !strings.Contains(e, "is not a topic of the mesh") {
		t.Errorf("tail of a topic outside the mesh: %s", e)
	}
}
