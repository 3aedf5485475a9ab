package web_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	discoveryv1 "github.com/kafmesh/kafmesh/api/discovery/v1"
	"github.com/kafmesh/kafmesh/internal/discovery"
	"github.com/kafmesh/kafmesh/internal/discovery/internal/meshtest"
	"github.com/kafmesh/kafmesh/internal/discovery/lag"
	"github.com/kafmesh/kafmesh/internal/discovery/records"
	"github.com/kafmesh/kafmesh/internal/discovery/server"
	"github.com/kafmesh/kafmesh/internal/discovery/web/webtest"
	"github.com/kafmesh/kafmesh/kafmeshtest"
)

// encodeHeartbeat encodes a kafmesh.deviceId.Heartbeat (the schema the
// devices service reports) with its device id and tags.
func encodeHeartbeat(t *testing.T, device string, tags ...string) []byte {
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
	m.Set(md.Fields().ByName("device_id"), protoreflect.ValueOfString(device))
	l := m.Mutable(md.Fields().ByName("tags")).List()
	for _, tag := range tags {
		l.Append(protoreflect.ValueOfString(tag))
	}
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// browserService is a devices service that reports the Heartbeat schema,
// writes heartbeats to hb (a source) and reads them into raw bytes.
func browserService(hb, raw, group string) *discoveryv1.Service {
	td := func(topic, msg string, typ discoveryv1.TopicType) *discoveryv1.TopicDefinition {
		return &discoveryv1.TopicDefinition{Topic: topic, Message: msg, Type: typ}
	}
	pb, bytes := discoveryv1.TopicType_TOPIC_TYPE_PROTOBUF, discoveryv1.TopicType_TOPIC_TYPE_RAW
	return &discoveryv1.Service{
		Name: "devices", FileDescriptorSet: meshtest.DevicesDescriptors(),
		Components: []*discoveryv1.Component{{
			Name:    "heartbeats",
			Sources: []*discoveryv1.Source{{Topic: td(hb, "kafmesh.deviceId.Heartbeat", pb)}},
			Processors: []*discoveryv1.Processor{{
				Name: "archiver", GroupName: group,
				Inputs:  []*discoveryv1.Input{{Topic: td(hb, "kafmesh.deviceId.Heartbeat", pb)}},
				Outputs: []*discoveryv1.Output{{Topic: td(raw, "", bytes)}},
			}},
		}},
	}
}

// clickAndWait clicks sel and waits until the UI drew the route it leads
// to.
func clickAndWait(t *testing.T, b *webtest.Browser, sel string) {
	t.Helper()
	before := webtest.Eval[int](t, b, `window.kafmeshUI.renders`)
	b.Do(t, "click "+sel, chromedp.Click(chromedp.CSS(sel)))
	b.WaitFor(t, "the page after clicking "+sel, fmt.Sprintf(`window.kafmeshUI.renders > %d && window.kafmeshUI.ready`, before), 20*time.Second)
}

// The topic browser in Chromium, on a real discover reading a real broker:
// a topic's records decoded as JSON with every field shown, in each
// framing, with headers and tombstones; filtered by key from the form; a
// raw topic as bytes; tail mode showing a record produced after the page
// opened; a bad partition as a clear error.
func TestTopicBrowserShowsDecodedRecords(t *testing.T) {
	b := webtest.NewBrowser(t)
	brokers := kafmeshtest.StartBroker(t)
	hb, raw, group := kafmeshtest.Unique(t, "heartbeats"), kafmeshtest.Unique(t, "archive"), kafmeshtest.Unique(t, "archiver")
	kafmeshtest.CreateTopic(t, brokers, hb, 2, false)
	kafmeshtest.CreateTopic(t, brokers, raw, 1, false)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	base := time.Date(2026, 12, 6, 7, 0, 0, 0, time.UTC)
	confluent := binary.AppendVarint(binary.BigEndian.AppendUint32([]byte{0x00}, 7), 0)
	if err := cl.ProduceSync(ctx,
		&kgo.Record{Topic: hb, Partition: 0, Key: []byte("dev-1"), Value: encodeHeartbeat(t, "dev-1", "indoor", "battery-low"), Timestamp: base,
			Headers: []kgo.RecordHeader{{Key: "trace-id", Value: []byte("4bf92f3577b34da6")}}},
		&kgo.Record{Topic: hb, Partition: 1, Key: []byte("dev-2"), Value: append(confluent, encodeHeartbeat(t, "dev-2")...), Timestamp: base.Add(time.Second)},
		&kgo.Record{Topic: hb, Partition: 0, Key: []byte("dev-1"), Value: nil, Timestamp: base.Add(2 * time.Second)},
		&kgo.Record{Topic: hb, Partition: 1, Key: []byte("dev-3"), Value: []byte{0x02, 0x01}, Timestamp: base.Add(3 * time.Second)},
		&kgo.Record{Topic: raw, Partition: 0, Key: []byte("dev-1"), Value: []byte("archived\x00ok"), Timestamp: base},
	).FirstErr(); err != nil {
		t.Fatal(err)
	}

	target := meshtest.Serve(t, browserService(hb, raw, group))
	url := startDiscoveryWith(t, []string{target.Addr},
		discovery.WithLag(lag.New(kadm.NewClient(cl), lag.WithInterval(time.Second))),
		discovery.WithServerOptions(server.WithRecords(records.New(cl))))
	waitTopicSettings(t, url, hb)

	// The header's Records lists the topics to browse.
	b.Open(t, url+"/#/records")
	if got := b.Text(t, `[data-testid="records-topics"]`); !strings.Contains(got, hb) || !strings.Contains(got, "kafmesh.deviceId.Heartbeat") {
		t.Errorf("topics to browse: %q", got)
	}

	// From the topic page to its records.
	b.Open(t, url+"/#/topic/"+escape("Topic:"+hb))
	clickAndWait(t, b, `[data-testid="topic-records-link"]`)
	b.WaitFor(t, "the records", `document.querySelectorAll('[data-testid="record"]').length === 4`, 20*time.Second)
	if got := b.Text(t, `[data-testid="records-decoding"]`); got != "decoded as kafmesh.deviceId.Heartbeat" {
		t.Errorf("decoding %q", got)
	}
	first := `[data-testid="record"][data-partition="0"][data-offset="0"]`
	json := b.Text(t, first+` [data-testid="record-json"]`)
	for _, want := range []string{`"deviceId": "dev-1"`, `"battery-low"`, `"counters": {}`, `"time": null`} {
		if !strings.Contains(json, want) {
			t.Errorf("first record's JSON lacks %s:\n%s", want, json)
		}
	}
	if h := b.Text(t, first+` [data-testid="record-headers"]`); !strings.Contains(h, "trace-id = 4bf92f3577b34da6") {
		t.Errorf("headers %q", h)
	}
	if ts := b.Text(t, first+` [data-meta="timestamp"]`); ts != "2026-12-06 07:00:00.000 UTC" {
		t.Errorf("timestamp %q", ts)
	}
	second := `[data-testid="record"][data-partition="1"][data-offset="0"]`
	if f := b.Text(t, second+` [data-meta="framing"]`); f != "confluent #7" {
		t.Errorf("framing %q", f)
	}
	if json := b.Text(t, second+` [data-testid="record-json"]`); !strings.Contains(json, `"deviceId": "dev-2"`) {
		t.Errorf("confluent record's JSON %s", json)
	}
	if !webtest.Eval[bool](t, b, `!!document.querySelector('[data-testid="record"][data-partition="0"][data-offset="1"] [data-tombstone]')`) {
		t.Error("the tombstone is not shown as one")
	}
	if e := b.Text(t, `[data-testid="record"][data-partition="1"][data-offset="1"] [data-testid="record-decode-error"]`); !strings.Contains(e, "kafmesh header needs 5 bytes") {
		t.Errorf("malformed value's reason %q", e)
	}
	if hex := b.Text(t, `[data-testid="record"][data-partition="1"][data-offset="1"] [data-testid="record-hex"]`); hex != "02 01" {
		t.Errorf("malformed value's hex %q", hex)
	}
	b.Screenshot(t, "topic-records")

	// Filter by key with the form.
	b.Do(t, "type a key", chromedp.SendKeys(chromedp.CSS(`[data-testid="records-key"]`), "dev-2"))
	clickAndWait(t, b, `[data-testid="records-read"]`)
	b.WaitFor(t, "the records of dev-2", `document.querySelectorAll('[data-testid="record"]').length === 1`, 20*time.Second)
	if k := b.Text(t, `[data-testid="record"] [data-testid="record-key"]`); k != "dev-2" {
		t.Errorf("filtered by key: %q", k)
	}

	// A raw topic: bytes, and why.
	b.Open(t, url+"/#/records/"+escape("Topic:"+raw)+"?view=json")
	b.WaitFor(t, "the raw record", `document.querySelectorAll('[data-testid="record"]').length === 1`, 20*time.Second)
	if v := b.Text(t, `[data-testid="record"] [data-testid="record-value"]`); v != "archived.ok" {
		t.Errorf("raw value %q", v)
	}
	if d := b.Text(t, `[data-testid="records-decoding"]`); !strings.Contains(d, "RAW") {
		t.Errorf("raw topic's decoding note %q", d)
	}
	b.Open(t, url+"/#/records/"+escape("Topic:"+raw)+"?view=hex")
	if v := b.Text(t, `[data-testid="record"] [data-testid="record-value"]`); v != "61 72 63 68 69 76 65 64 00 6f 6b" {
		t.Errorf("raw value as hex %q", v)
	}

	// From a time (the form's UTC time, in the link): the records at or after it.
	b.Open(t, url+"/#/records/"+escape("Topic:"+hb)+"?from=TIMESTAMP&ts=2026-12-06T07:00:02")
	b.WaitFor(t, "the records from 07:00:02", `document.querySelectorAll('[data-testid="record"]').length === 2`, 20*time.Second)
	if got := webtest.Eval[string](t, b, `[...document.querySelectorAll('[data-testid="record"]')].map(r => r.dataset.partition + "/" + r.dataset.offset).join(" ")`); got != "0/1 1/1" {
		t.Errorf("records from 07:00:02: %s", got)
	}

	// Tail: a record produced after the page opened appears.
	b.Open(t, url+"/#/records/"+escape("Topic:"+hb)+"?p=0&tail=1")
	b.WaitFor(t, "partition 0's records", `document.querySelectorAll('[data-testid="record"]').length === 2`, 20*time.Second)
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: hb, Partition: 0, Key: []byte("dev-9"), Value: encodeHeartbeat(t, "dev-9"), Timestamp: time.Now()}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	b.WaitFor(t, "the tailed record", `!!document.querySelector('[data-testid="record"][data-partition="0"][data-offset="2"] [data-testid="record-json"]')`, 20*time.Second)
	if s := b.Text(t, `[data-testid="records-status"]`); !strings.Contains(s, "1 new record") {
		t.Errorf("tail status %q", s)
	}

	// A bad argument: the API's reason, on the page.
	b.Open(t, url+"/#/records/"+escape("Topic:"+hb)+"?p=9")
	if e := b.Text(t, `[data-testid="records-error"]`); !strings.Contains(e, "partition 9 is out of range") {
		t.Errorf("error %q", e)
	}
	b.NoPageErrors(t)
}
