package web_test

import (
	"fmt"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"google.golang.org/protobuf/types/known/timestamppb"

	watchv1 "github.com/kafmesh/kafmesh/api/watch/v1"
	"github.com/kafmesh/kafmesh/internal/discovery/internal/meshtest"
	"github.com/kafmesh/kafmesh/internal/discovery/web/webtest"
)

const enricherID = "Processor:devices/heartbeats/enricher"

// heartbeatOperation is what the enricher does for one heartbeat: read it,
// join the device details, look up the customer, read and write its state
// and produce the enriched heartbeat.
func heartbeatOperation(key string, n int) *watchv1.Operation {
	start := time.Now()
	return &watchv1.Operation{
		StartTime: timestamppb.New(start),
		EndTime:   timestamppb.New(start.Add(3 * time.Millisecond)),
		Input:     &watchv1.Input{Topic: meshtest.TopicHeartbeat, Message: "kafmesh.deviceId.Heartbeat", Value: fmt.Sprintf(`{"deviceId":%q,"seq":%d}`, key, n)},
		Actions: []*watchv1.Action{
			{Action: &watchv1.Action_ActionJoin{ActionJoin: &watchv1.Join{Topic: meshtest.TopicDetails, Message: "kafmesh.deviceId.Details", Value: `{"name":"pump"}`}}},
			{Action: &watchv1.Action_ActionLookup{ActionLookup: &watchv1.Lookup{Topic: meshtest.TopicCustomers, Message: "kafmesh.customerId.Details", Key: "7", Value: `{"name":"Acme"}`}}},
			{Action: &watchv1.Action_ActionGetState{ActionGetState: &watchv1.GetState{Topic: meshtest.TopicState, Message: "kafmesh.deviceId.EnricherState", Value: `{"count":1}`}}},
			{Action: &watchv1.Action_ActionSetState{ActionSetState: &watchv1.SetState{Topic: meshtest.TopicState, Message: "kafmesh.deviceId.EnricherState", Value: `{"count":2}`}}},
			{Action: &watchv1.Action_ActionOutput{ActionOutput: &watchv1.Output{Topic: meshtest.TopicEnriched, Message: "kafmesh.deviceId.EnrichedHeartbeat", Key: key, Value: `{"deviceId":"` + key + `","customer":"Acme"}`}}},
		},
	}
}

// startWatching opens the enricher's page, types key and starts the
// watch, and waits until the target has the stream open.
func startWatching(t *testing.T, b *webtest.Browser, base string, target *meshtest.Target, key string) {
	t.Helper()
	b.Open(t, base+"/#/processor/"+escape(enricherID))
	b.Do(t, "start watching",
		chromedp.SendKeys(chromedp.CSS(`[data-testid="watch-key"]`), key),
		chromedp.Click(chromedp.CSS(`[data-testid="watch-start"]`)),
	)
	b.WaitFor(t, "the watch to start", `document.querySelector('[data-testid="watch-status"]').dataset.state === "watching"`, 10*time.Second)
	target.WaitWatchers(t, 1)
}

func opCount(t *testing.T, b *webtest.Browser) int {
	return webtest.Eval[int](t, b, `document.querySelectorAll('[data-testid="watch-op"]').length`)
}

func TestLiveWatchShowsEachOperationDecoded(t *testing.T) {
	devices := meshtest.Serve(t, meshtest.Devices())
	base := startDiscovery(t, devices.Addr)
	b := webtest.NewBrowser(t)
	startWatching(t, b, base, devices, "dev-1")

	if n := devices.Emit("heartbeats", "enricher", "dev-1", heartbeatOperation("dev-1", 1)); n != 1 {
		t.Fatalf("emitted to %d streams, want 1", n)
	}
	b.WaitFor(t, "the operation on the page", `document.querySelectorAll('[data-testid="watch-op"]').length === 1`, 5*time.Second)
	steps := webtest.Eval[[]string](t, b, `[...document.querySelectorAll('[data-testid="watch-op"] [data-step]')].map(e => e.dataset.step)`)
	if want := []string{"input", "join", "lookup", "getstate", "setstate", "output"}; strings.Join(steps, ",") != strings.Join(want, ",") {
		t.Errorf("steps %v, want %v", steps, want)
	}
	text := b.Text(t, `[data-testid="watch-op"]`)
	for _, s := range []string{
		"\"deviceId\": \"dev-1\"", // decoded and indented JSON
		"\"customer\": \"Acme\"",
		meshtest.TopicCustomers, "key 7",
		"state write", "\"count\": 2",
	} {
		if !strings.Contains(text, s) {
			t.Errorf("operation text lacks %q:\n%s", s, text)
		}
	}
	if hash := webtest.Eval[string](t, b, `location.hash`); !strings.HasSuffix(hash, "?key=dev-1") {
		t.Errorf("the watched key is not in the link: %q", hash)
	}

	// Pause: new operations wait; resume shows them, newest first.
	b.Do(t, "pause", chromedp.Click(chromedp.CSS(`[data-testid="watch-pause"]`)))
	devices.Emit("heartbeats", "enricher", "dev-1", heartbeatOperation("dev-1", 2))
	devices.Emit("heartbeats", "enricher", "dev-1", heartbeatOperation("dev-1", 3))
	b.WaitFor(t, "two operations waiting", `document.querySelector('[data-testid="watch-count"]').textContent.includes("2 waiting")`, 5*time.Second)
	if n := opCount(t, b); n != 1 {
		t.Errorf("%d operations shown while paused, want 1", n)
	}
	b.Do(t, "resume", chromedp.Click(chromedp.CSS(`[data-testid="watch-pause"]`)))
	if n := opCount(t, b); n != 3 {
		t.Errorf("%d operations after resuming, want 3", n)
	}
	if first := b.Text(t, `[data-testid="watch-op"] [data-step="input"]`); !strings.Contains(first, `"seq": 3`) {
		t.Errorf("newest operation is not first: %q", first)
	}
	b.Screenshot(t, "watch")

	// Clear empties the list; the list keeps at most 200 operations.
	b.Do(t, "clear", chromedp.Click(chromedp.CSS(`[data-testid="watch-clear"]`)))
	if n := opCount(t, b); n != 0 {
		t.Errorf("%d operations after clearing", n)
	}
	for i := 0; i < 230; i++ {
		devices.Emit("heartbeats", "enricher", "dev-1", heartbeatOperation("dev-1", 100+i))
	}
	b.WaitFor(t, "the newest of 230 operations", `(document.querySelector('[data-testid="watch-op"] [data-step="input"]') || {textContent: ""}).textContent.includes('"seq": 329')`, 10*time.Second)
	if n := opCount(t, b); n != 200 {
		t.Errorf("%d operations kept, want the bound of 200", n)
	}
	b.NoPageErrors(t)
}

func TestLiveWatchWorksBehindAnHTTPSProxy(t *testing.T) {
	devices := meshtest.Serve(t, meshtest.Devices())
	backend, err := url.Parse(startDiscovery(t, devices.Addr))
	if err != nil {
		t.Fatal(err)
	}
	// A TLS-terminating proxy in front of discovery, as in most
	// deployments: the page is https, so its websocket must be wss.
	proxy := httptest.NewTLSServer(httputil.NewSingleHostReverseProxy(backend))
	t.Cleanup(proxy.Close)
	b := webtest.NewBrowser(t, chromedp.IgnoreCertErrors)

	startWatching(t, b, proxy.URL, devices, "dev-9")
	if proto := webtest.Eval[string](t, b, `location.protocol`); proto != "https:" {
		t.Fatalf("page protocol %q", proto)
	}
	devices.Emit("heartbeats", "enricher", "dev-9", heartbeatOperation("dev-9", 1))
	b.WaitFor(t, "the operation over wss", `document.querySelectorAll('[data-testid="watch-op"]').length === 1`, 5*time.Second)
	// The map works over https too.
	b.Open(t, proxy.URL+"/")
	if g := b.Graph(t); len(g.Nodes) != 1 {
		t.Errorf("map over https has %d nodes", len(g.Nodes))
	}
	b.NoPageErrors(t)
}

func TestLiveWatchReportsAFailingPod(t *testing.T) {
	devices := meshtest.Serve(t, meshtest.Devices())
	base := startDiscovery(t, devices.Addr)
	devices.FailWatches("pod is shutting down")
	b := webtest.NewBrowser(t)

	b.Open(t, base+"/#/processor/"+escape(enricherID)+"?key=dev-1") // a link with a key starts watching
	b.WaitFor(t, "the pod's failure on the page", `document.querySelector('[data-testid="watch-errors"]').textContent.includes("pod is shutting down") || document.querySelector('[data-testid="watch-status"]').textContent.includes("pod is shutting down")`, 10*time.Second)
	if n := opCount(t, b); n != 0 {
		t.Errorf("%d operations from a failing pod", n)
	}
}

// A watched record shows where it was read from (partition, offset, Kafka
// timestamp) and its headers, and default-valued fields the pod sends
// (isHealthy: false) are on the page; an operation from a 2021 pod, which
// sends none of that, shows no record details rather than partition 0.
func TestWatchShowsRecordPartitionOffsetAndHeaders(t *testing.T) {
	devices := meshtest.Serve(t, meshtest.Devices())
	base := startDiscovery(t, devices.Addr)
	b := webtest.NewBrowser(t)
	startWatching(t, b, base, devices, "dev-9")

	op := heartbeatOperation("dev-9", 1)
	op.Input.Value = `{"deviceId":"dev-9","seq":1,"isHealthy":false}`
	op.Input.Partition, op.Input.Offset = 3, 1234
	op.Input.Timestamp = timestamppb.New(time.Date(2026, 12, 6, 4, 5, 6, 789e6, time.UTC))
	op.Input.Headers = []*watchv1.Header{{Key: "trace-id", Value: []byte("abc-1")}, {Key: "blob", Value: []byte{0xff, 0x00}},
		{Key: "traceparent", Value: []byte("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")}}
	devices.Emit("heartbeats", "enricher", "dev-9", op)
	b.WaitFor(t, "the operation on the page", `document.querySelectorAll('[data-testid="watch-op"]').length === 1`, 5*time.Second)
	meta := func(name string) string {
		return webtest.Eval[string](t, b, `(document.querySelector('[data-testid="watch-op"] [data-meta="`+name+`"]') || {textContent: "(none)"}).textContent`)
	}
	for name, want := range map[string]string{
		"partition": "3", "offset": "1234", "timestamp": "2026-12-06T04:05:06.789Z",
		"headers": "trace-id = abc-1blob = base64:/wA=traceparent = 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"trace":   "4bf92f3577b34da6a3ce929d0e0e4736",
	} {
		if got := meta(name); got != want {
			t.Errorf("%s shown as %q, want %q", name, got, want)
		}
	}
	if text := b.Text(t, `[data-testid="watch-op"] [data-step="input"]`); !strings.Contains(text, `"isHealthy": false`) {
		t.Errorf("the default-valued field is not shown:\n%s", text)
	}
	b.Screenshot(t, "watch-record")

	bad := heartbeatOperation("dev-9", 3) // a malformed traceparent shows no trace
	bad.Input.Partition = 1
	bad.Input.Headers = []*watchv1.Header{{Key: "traceparent", Value: []byte("00-00000000000000000000000000000000-00f067aa0ba902b7-01")}}
	devices.Emit("heartbeats", "enricher", "dev-9", bad)
	b.WaitFor(t, "the operation with a bad traceparent", `document.querySelectorAll('[data-testid="watch-op"]').length === 2`, 5*time.Second)
	// The newest operation is first.
	if got := webtest.Eval[string](t, b, `(document.querySelector('[data-testid="watch-op"]').querySelector('[data-meta="trace"]') || {textContent: "(none)"}).textContent`); got != "(none)" {
		t.Errorf("an all-zero trace id shown as %q", got)
	}

	old := heartbeatOperation("dev-9", 2) // a 2021 pod: no record details
	devices.Emit("heartbeats", "enricher", "dev-9", old)
	b.WaitFor(t, "the third operation", `document.querySelectorAll('[data-testid="watch-op"]').length === 3`, 5*time.Second)
	if n := webtest.Eval[int](t, b, `document.querySelector('[data-testid="watch-op"]').querySelectorAll('[data-testid="watch-record"]').length`); n != 0 {
		t.Errorf("a 2021 operation shows %d record-detail blocks, want none", n)
	}
}
