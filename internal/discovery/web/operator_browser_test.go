package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/kafmesh/kafmesh/internal/discovery"
	"github.com/kafmesh/kafmesh/internal/discovery/internal/meshtest"
	"github.com/kafmesh/kafmesh/internal/discovery/lag"
	"github.com/kafmesh/kafmesh/internal/discovery/mesh"
	"github.com/kafmesh/kafmesh/internal/discovery/records"
	"github.com/kafmesh/kafmesh/internal/discovery/server"
	"github.com/kafmesh/kafmesh/internal/discovery/web/webtest"
	"github.com/kafmesh/kafmesh/internal/dlq"
	"github.com/kafmesh/kafmesh/kafmeshtest"
)

// The example service's heartbeat enricher, its group, its input and output.
const (
	exampleEnricher  = "Processor:kafmesh/heartbeats/heartbeat%20enricher"
	exampleGroup     = "kafmesh.heartbeats.heartbeatEnricher"
	exampleHeartbeat = "kafmesh.deviceId.heartbeat"
	exampleEnriched  = "kafmesh.deviceId.enrichedHeartbeat"
	operatorToken    = "operator-token"
)

// runExample builds examples/devices and runs it against brokers; it
// returns its gRPC address and stop, which stops it (SIGTERM, waiting for
// it to exit; later calls do nothing).
func runExample(t *testing.T, brokers []string) (addr string, stop func()) {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "devices")
	build := exec.Command("go", "build", "-o", bin, "./cmd/devices")
	build.Dir = "../../../examples/devices"
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the example service: %v\n%s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr = l.Addr().String()
	l.Close()
	logs, err := os.Create(filepath.Join(dir, "devices.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--brokers", strings.Join(brokers, ","), "--grpc-addr", addr, "--http-addr", "",
		"--db", filepath.Join(dir, "devices.db"), "--state-dir", filepath.Join(dir, "state"))
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}
	t.Cleanup(func() {
		stop()
		logs.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logs.Name())
			t.Logf("example service log:\n%s", b)
		}
	})
	return addr, stop
}

// heartbeat is a kafmesh.deviceId.Heartbeat at second sec, unhealthy (so
// is_healthy, false, is not on the wire).
func heartbeat(sec int64) []byte {
	ts := protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.VarintType), uint64(sec))
	return protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), ts)
}

// endOffsets returns topic's end offset per partition.
func endOffsets(t *testing.T, adm *kadm.Client, topic string) map[int32]int64 {
	t.Helper()
	ends, err := adm.ListEndOffsets(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	return out
}

// The operator console against the example service on the real broker:
// the processor page's group section (state, members, per-partition
// offsets, lag and owners, the lag sparkline), its dead-letter browser (a
// record the enricher fails on, with its error, origin and decoded value),
// replay of a dead letter that then succeeds and of one that fails again
// (marked so, and never replayed twice), the Groups list, and the offset
// reset of the group once the service is stopped, behind the token and a
// confirmation.
func TestOperatorConsoleGroupsDeadLettersReplayAndReset(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs examples/devices against the broker; run without -short")
	}
	if os.Getenv(kafmeshtest.BrokersEnv) == "" {
		t.Skip("needs the real broker (" + kafmeshtest.BrokersEnv + "): the example service runs as its own process")
	}
	brokers := kafmeshtest.StartBroker(t)
	meshtest.HoldExample(t, brokers) // the example's groups are fixed: one instance at a time
	ctx := context.Background()
	b := webtest.NewBrowser(t)
	addr, stopExample := runExample(t, brokers)

	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	audit := &syncBuffer{}
	url := startDiscoveryWith(t, []string{addr},
		discovery.WithLag(lag.New(adm, lag.WithClient(cl), lag.WithInterval(500*time.Millisecond))),
		// The topic browser's reader, as `kafmesh discover --brokers`
		// makes it: the dead-letter browser reads through it.
		discovery.WithServerOptions(server.WithToken(operatorToken), server.WithRecords(records.New(cl))),
		discovery.WithLogger(slog.New(slog.NewTextHandler(audit, nil))))

	// Wait for discover to have scraped the service.
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(300 * time.Millisecond) {
		var got struct{ ProcessorByID *struct{ ID string } }
		gqlPost(t, url, `{ processorById(id: "`+exampleEnricher+`") { id } }`, &got)
		if got.ProcessorByID != nil {
			break
		}
		if time.Now().After(deadline) {
			var mesh any
			gqlPost(t, url, `{ services { components { processors { id } } } pods { address lastError } }`, &mesh)
			t.Fatalf("discover has no %s after 90s: %v", exampleEnricher, mesh)
		}
	}

	// Sign in once: the token stays in the browser.
	b.Open(t, url+"/")
	webtest.Eval[bool](t, b, `(localStorage.setItem("kafmesh.token", "`+operatorToken+`"), true)`)

	// A heartbeat on every partition, so the group commits on each.
	run := rand.IntN(1_000_000)
	partitioner := kgo.StickyKeyPartitioner(nil).ForTopic(exampleHeartbeat)
	covered := map[int]bool{}
	for id := 800_000_000 + run*10; len(covered) < 4; id++ {
		k := []byte(strconv.Itoa(id))
		if p := partitioner.Partition(&kgo.Record{Key: k}, 4); !covered[p] {
			covered[p] = true
			if err := cl.ProduceSync(ctx, &kgo.Record{Topic: exampleHeartbeat, Key: k, Value: heartbeat(1_700_000_000)}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}

	// The group section: the service runs, so its group is Stable with a
	// member owning each partition of the heartbeats.
	b.Open(t, url+"/#/processor/"+escape(exampleEnricher))
	b.WaitFor(t, "the enricher's group, stable, with owned partitions", `(() => {
		const s = document.querySelector('[data-testid="group-section"]');
		if (!s || s.querySelector('[data-testid="group-state"]')?.dataset.state !== "Stable") return false;
		const rows = [...s.querySelectorAll('[data-testid="group-partitions"] tr[data-topic="`+exampleHeartbeat+`"]')];
		return rows.length === 4 && rows.every(r => r.querySelector('[data-testid="owner"]').textContent !== "no member");
	})()`, 90*time.Second)
	if n, _ := strconv.Atoi(b.Text(t, `[data-testid="group-members"]`)); n < 1 {
		t.Errorf("a running group shows %d members", n)
	}
	if !webtest.Eval[bool](t, b, `document.querySelector('[data-testid="reset-open"]').disabled`) {
		t.Error("the offset reset of a running group is offered")
	}
	if note := b.Text(t, `[data-testid="reset-note"]`); !strings.Contains(note, "Stop the service first") {
		t.Errorf("the reset note of a running group reads %q", note)
	}
	if webtest.Eval[int](t, b, `document.querySelectorAll('[data-testid="group-section"] [data-testid="lag-sparkline"]').length`) != 1 {
		t.Error("no lag sparkline in the group section")
	}

	// A heartbeat whose key is no device id fails the enricher: a dead
	// letter. A second one stands for a record that failed for a reason
	// that has gone (its dead letter is written here, as the runtime
	// writes it), whose replay succeeds.
	dlqTopic := dlq.TopicOf(exampleGroup)
	badKey := fmt.Sprintf("not-a-device-%d", run)
	goodKey := strconv.Itoa(900_000_000 + run)
	// The service creates its dead-letter topic when it starts.
	var before map[int32]int64
	for deadline := time.Now().Add(60 * time.Second); len(before) == 0; time.Sleep(300 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the service did not create %s", dlqTopic)
		}
		before = endOffsets(t, adm, dlqTopic)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: exampleHeartbeat, Key: []byte(badKey), Value: heartbeat(1_700_000_000)}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	// (Read from where this run's dead letters start: the topic may hold
	// many of earlier runs.)
	lowest := int64(-1)
	for _, o := range before {
		if lowest < 0 || o < lowest {
			lowest = o
		}
	}
	dlqPartition := -1
	for deadline := time.Now().Add(60 * time.Second); dlqPartition < 0; time.Sleep(300 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the bad heartbeat's dead letter did not come")
		}
		var got struct {
			ProcessorByID struct {
				DeadLetters *struct {
					Letters []struct {
						Partition int
						Key       string
					}
				}
			}
		}
		gqlPost(t, url, `{ processorById(id: "`+exampleEnricher+`") { deadLetters { letters(first: 500, offset: `+strconv.FormatInt(lowest, 10)+`) { partition key } } } }`, &got)
		if got.ProcessorByID.DeadLetters != nil {
			for _, l := range got.ProcessorByID.DeadLetters.Letters {
				if l.Key == badKey {
					dlqPartition = l.Partition
				}
			}
		}
	}
	from := before[int32(dlqPartition)]
	parts := len(endOffsets(t, adm, exampleHeartbeat))
	goodPartition := kgo.StickyKeyPartitioner(nil).ForTopic(exampleHeartbeat).Partition(&kgo.Record{Key: []byte(goodKey)}, parts)
	transient := &kgo.Record{Topic: dlqTopic, Partition: int32(dlqPartition), Key: []byte(goodKey), Value: heartbeat(1_700_000_060), Headers: []kgo.RecordHeader{
		{Key: dlq.HeaderError, Value: []byte("customer store unavailable (the test's stand-in for a failure that heals)")},
		{Key: dlq.HeaderTopic, Value: []byte(exampleHeartbeat)},
		{Key: dlq.HeaderPartition, Value: []byte(strconv.Itoa(goodPartition))},
		{Key: dlq.HeaderOffset, Value: []byte("0")},
		{Key: dlq.HeaderGroup, Value: []byte(exampleGroup)},
	}}
	pcl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...)}, dlq.ClientOptions()...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer pcl.Close()
	if err := pcl.ProduceSync(ctx, transient).FirstErr(); err != nil {
		t.Fatal(err)
	}

	// The browser, from where this run's dead letters start.
	showFrom := func() {
		t.Helper()
		b.Do(t, "show this run's dead letters",
			chromedp.SetValue(chromedp.CSS(`[data-testid="dl-partition"]`), strconv.Itoa(dlqPartition)),
			chromedp.SetValue(chromedp.CSS(`[data-testid="dl-from"]`), strconv.FormatInt(from, 10)),
			chromedp.Click(chromedp.CSS(`[data-testid="dl-show"]`)))
	}
	letter := func(key string) string {
		return `[...document.querySelectorAll('[data-testid="dead-letter"]')].find(e => e.querySelector('[data-testid="dl-key"]').textContent === "` + key + `")`
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		showFrom()
		time.Sleep(500 * time.Millisecond)
		if webtest.Eval[bool](t, b, letter(badKey)+` !== undefined && `+letter(goodKey)+` !== undefined`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the browser does not show both dead letters: %s", b.Text(t, `[data-testid="dlq"]`))
		}
	}
	bad := webtest.Eval[map[string]string](t, b, `(() => { const e = `+letter(badKey)+`; return {
		error: e.querySelector('[data-testid="dl-error"]').textContent,
		origin: e.querySelector('[data-testid="dl-origin"]').textContent,
		value: (e.querySelector('[data-testid="dl-value"]') || {textContent: ""}).textContent,
		position: e.dataset.position }; })()`)
	// The enricher's error (keys.Parse) names the key it refused.
	if !strings.Contains(bad["error"], badKey) {
		t.Errorf("the dead letter's error reads %q, want it to name the key %q", bad["error"], badKey)
	}
	if !strings.Contains(bad["origin"], exampleHeartbeat) || !strings.Contains(bad["origin"], "offset") {
		t.Errorf("the dead letter's origin reads %q", bad["origin"])
	}
	if !strings.Contains(bad["value"], `"isHealthy": false`) || !strings.Contains(bad["value"], `"time": "2023-11-14T22:13:20Z"`) {
		t.Errorf("the dead letter's value is not decoded with its defaults:\n%s", bad["value"])
	}
	b.Screenshot(t, "dead-letters")

	// Replay the healed one: confirm, and it reaches the enriched topic
	// once, marked as a replay on the heartbeats.
	goodPos := webtest.Eval[string](t, b, letter(goodKey)+`.dataset.position`)
	enrichedFrom := endOffsets(t, adm, exampleEnriched)
	webtest.Eval[bool](t, b, `(`+letter(goodKey)+`.querySelector('[data-testid="dl-select"]').click(), true)`)
	b.Do(t, "replay selected", chromedp.Click(chromedp.CSS(`[data-testid="dl-replay-selected"]`)))
	b.WaitFor(t, "the confirmation", `document.querySelector('[data-testid="confirm-dialog"]')?.open === true`, 5*time.Second)
	if text := b.Text(t, `[data-testid="confirm-dialog"]`); !strings.Contains(text, goodPos) || !strings.Contains(text, exampleHeartbeat) {
		t.Errorf("the confirmation does not say what is replayed where:\n%s", text)
	}
	b.Screenshot(t, "dead-letters-replay-confirm")
	b.Do(t, "confirm", chromedp.Click(chromedp.CSS(`[data-testid="confirm-ok"]`)))
	b.WaitFor(t, "the replay", `document.querySelector('[data-testid="dl-replay-done"]') !== null || document.querySelector('[data-testid="dl-replay-error"]') !== null`, 30*time.Second)
	if msg := b.Text(t, `[data-testid="dl-result"]`); !strings.Contains(msg, "Replayed 1 dead letter") {
		t.Fatalf("replay answered %q", msg)
	}
	waitEnriched(t, cl, enrichedFrom, goodKey)
	replayedHeader(t, cl, goodPartition, goodKey, dlqTopic+"/"+goodPos)
	showFrom()
	b.WaitFor(t, "the replayed mark", letter(goodKey)+`?.dataset.replayed === "true" && `+letter(goodKey)+`.querySelector('[data-testid="dl-select"]').disabled`, 10*time.Second)

	// Replay the bad one: it fails again and comes back marked so.
	webtest.Eval[bool](t, b, `(`+letter(badKey)+`.querySelector('[data-testid="dl-select"]').click(), true)`)
	b.WaitFor(t, "one selected", `document.querySelector('[data-testid="dl-replay-selected"]').textContent === "Replay 1 selected…"`, 5*time.Second)
	b.Do(t, "replay selected", chromedp.Click(chromedp.CSS(`[data-testid="dl-replay-selected"]`)))
	b.WaitFor(t, "the confirmation", `document.querySelector('[data-testid="confirm-dialog"]')?.open === true`, 5*time.Second)
	b.Do(t, "confirm", chromedp.Click(chromedp.CSS(`[data-testid="confirm-ok"]`)))
	b.WaitFor(t, "the replay", `document.querySelector('[data-testid="dl-replay-done"]') !== null`, 30*time.Second)
	deadline := time.Now().Add(60 * time.Second)
	for {
		showFrom()
		time.Sleep(time.Second)
		if webtest.Eval[bool](t, b, `[...document.querySelectorAll('[data-testid="dead-letter"]')].some(e => e.querySelector('[data-testid="dl-key"]').textContent === "`+badKey+`" && e.querySelector('[data-testid="dl-failed-again"]') !== null)`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the replayed bad heartbeat did not come back marked as failing again")
		}
	}
	b.Screenshot(t, "dead-letters-replayed")

	// Replay all: every dead letter not replayed yet goes (the one that
	// failed again among them), once: afterwards each one shown before is
	// marked replayed, and replaying any of them again is refused.
	replayAll := func() string {
		t.Helper()
		b.Do(t, "replay all", chromedp.Click(chromedp.CSS(`[data-testid="dl-replay-all"]`)))
		b.WaitFor(t, "the confirmation", `document.querySelector('[data-testid="confirm-dialog"]')?.open === true`, 5*time.Second)
		b.Do(t, "confirm", chromedp.Click(chromedp.CSS(`[data-testid="confirm-ok"]`)))
		b.WaitFor(t, "the replay", `document.querySelector('[data-testid="dl-replay-done"]') !== null || document.querySelector('[data-testid="dl-replay-error"]') !== null`, 30*time.Second)
		return b.Text(t, `[data-testid="dl-result"]`)
	}
	shown := webtest.Eval[[]string](t, b, `[...document.querySelectorAll('[data-testid="dead-letter"]')].map(e => e.dataset.position)`)
	webtest.Eval[bool](t, b, `(document.querySelector('[data-testid="dl-result"]').replaceChildren(), true)`)
	if msg := replayAll(); !strings.Contains(msg, "Replayed ") {
		t.Fatalf("replay all answered %q", msg)
	}
	// (The bad heartbeat fails once more: a new dead letter, not replayed.)
	showFrom()
	b.WaitFor(t, "every dead letter shown before marked replayed", `(() => {
		const want = new Set(`+jsList(shown)+`);
		const els = [...document.querySelectorAll('[data-testid="dead-letter"]')].filter(e => want.has(e.dataset.position));
		return els.length === want.size && els.every(e => e.dataset.replayed === "true");
	})()`, 10*time.Second)
	for _, pos := range shown {
		if msg := gqlPost(t, url, `mutation { replayDeadLetters(processorId: "`+exampleEnricher+`", positions: ["`+pos+`"]) { sent } }`, nil); !strings.Contains(msg, "already replayed") {
			t.Errorf("%s replayed again after replay all: %q", pos, msg)
		}
	}

	// Replaying the same dead letter again is refused by the API too.
	if again := gqlPost(t, url, `mutation { replayDeadLetters(processorId: "`+exampleEnricher+`", positions: ["`+goodPos+`"]) { sent } }`, nil); !strings.Contains(again, "already replayed") {
		t.Errorf("a second replay of %s answered %s", goodPos, again)
	}

	// The data-flow map marks the service whose processor has dead
	// letters, and lists it.
	b.Open(t, url+"/#/?level=flow")
	b.WaitFor(t, "the dead letters on the map", `document.querySelector('[data-testid="dlq-list"] [data-testid="dlq-entry"] a[href*="heartbeat%2520enricher"]') !== null`, 10*time.Second)
	if _, cls, ok := b.Graph(t).Node("Service:kafmesh"); !ok || !slices.Contains(cls, "dlq") {
		t.Errorf("the service with dead letters has classes %v on the data-flow map, want dlq", cls)
	}
	b.Screenshot(t, "map-flow-dlq")

	// The Groups list.
	b.Open(t, url+"/#/groups")
	b.WaitFor(t, "the enricher's group in the list", `document.querySelector('[data-testid="group-table"] tr[data-group="`+exampleGroup+`"] a[href*="processor"]') !== null`, 10*time.Second)
	b.Screenshot(t, "groups")

	// The topic page lists the groups reading it, linked to their pages.
	b.Open(t, url+"/#/topic/"+escape(mesh.TopicID(exampleHeartbeat)))
	b.WaitFor(t, "the enricher's group on the topic page", `document.querySelector('[data-testid="topic-groups"] tr[data-group="`+exampleGroup+`"] a[href*="group"]') !== null`, 10*time.Second)

	// Stop the service: its group empties, and its offsets can be reset
	// (to the earliest), after a confirmation.
	stopExample()
	b.Open(t, url+"/#/group/"+escape(exampleGroup))
	b.WaitFor(t, "the stopped group", `!document.querySelector('[data-testid="reset-open"]')?.disabled && document.querySelector('[data-testid="group-state"]')?.dataset.state === "Empty"`, 3*time.Minute)
	b.Do(t, "choose the heartbeats, earliest",
		chromedp.Click(chromedp.CSS(`[data-testid="reset"] summary`)),
		chromedp.SetValue(chromedp.CSS(`[data-testid="reset-topic"]`), exampleHeartbeat),
		chromedp.SetValue(chromedp.CSS(`[data-testid="reset-mode"]`), "EARLIEST"),
		chromedp.Click(chromedp.CSS(`[data-testid="reset-open"]`)))
	b.WaitFor(t, "the confirmation", `document.querySelector('[data-testid="confirm-dialog"]')?.open === true`, 5*time.Second)
	b.Screenshot(t, "group-reset-confirm")
	b.Do(t, "confirm", chromedp.Click(chromedp.CSS(`[data-testid="confirm-ok"]`)))
	b.WaitFor(t, "the reset", `document.querySelector('[data-testid="reset-done"]') !== null || document.querySelector('[data-testid="reset-error"]') !== null`, 30*time.Second)
	if msg := b.Text(t, `[data-testid="reset-result"]`); !strings.Contains(msg, "Moved 4 partition(s)") {
		t.Fatalf("reset answered %q", msg)
	}
	starts, err := adm.ListStartOffsets(ctx, exampleHeartbeat)
	if err != nil {
		t.Fatal(err)
	}
	committed, err := adm.FetchOffsets(ctx, exampleGroup)
	if err != nil {
		t.Fatal(err)
	}
	starts.Each(func(s kadm.ListedOffset) {
		if c, _ := committed.Lookup(exampleHeartbeat, s.Partition); c.At != s.Offset {
			t.Errorf("partition %d committed at %d after the reset, want its start %d", s.Partition, c.At, s.Offset)
		}
	})
	b.Screenshot(t, "group-reset")
	log := audit.String()
	for _, want := range []string{
		`msg="audit: replay dead letters"`, "positions=" + goodPos, "sent=1",
		`msg="audit: reset consumer group offsets"`, "group=" + exampleGroup, "to=EARLIEST",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("discover's log lacks %q", want)
		}
	}
	b.NoPageErrors(t)
}

// syncBuffer is a bytes.Buffer safe for the writes of several goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// jsList writes strings as a JavaScript array literal.
func jsList(list []string) string {
	b, _ := json.Marshal(list)
	return string(b)
}

// gqlPost sends a GraphQL document with the operator's token, decodes
// its data into out (when not nil) and returns the errors' messages.
func gqlPost(t *testing.T, base, doc string, out any) string {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"query": doc})
	req, _ := http.NewRequest("POST", base+"/query", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+operatorToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got struct {
		Data   json.RawMessage
		Errors []struct{ Message string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if out != nil && len(got.Data) > 0 {
		if err := json.Unmarshal(got.Data, out); err != nil {
			t.Fatal(err)
		}
	}
	var msgs []string
	for _, e := range got.Errors {
		msgs = append(msgs, e.Message)
	}
	return strings.Join(msgs, "; ")
}

// waitEnriched waits for an enriched heartbeat keyed key after from.
func waitEnriched(t *testing.T, cl *kgo.Client, from map[int32]int64, key string) {
	t.Helper()
	if !readUntil(t, cl, exampleEnriched, from, func(r *kgo.Record) bool { return string(r.Key) == key }) {
		t.Fatalf("no enriched heartbeat for the replayed key %s: the replay did not succeed", key)
	}
}

// replayedHeader checks that the heartbeats' partition holds the replayed
// record with kafmesh-replayed-from naming its dead letter.
func replayedHeader(t *testing.T, cl *kgo.Client, partition int, key, want string) {
	t.Helper()
	ok := readUntil(t, cl, exampleHeartbeat, map[int32]int64{int32(partition): 0}, func(r *kgo.Record) bool {
		if string(r.Key) != key {
			return false
		}
		for _, h := range r.Headers {
			if h.Key == dlq.HeaderReplayedFrom && string(h.Value) == want {
				return true
			}
		}
		return false
	})
	if !ok {
		t.Errorf("no heartbeat %s carrying %s: %s", key, dlq.HeaderReplayedFrom, want)
	}
}

// readUntil reads topic from the offsets until match says yes (true) or
// 60 s pass (false).
func readUntil(t *testing.T, base *kgo.Client, topic string, from map[int32]int64, match func(*kgo.Record) bool) bool {
	t.Helper()
	offs := map[int32]kgo.Offset{}
	for p, o := range from {
		offs[p] = kgo.NewOffset().At(o)
	}
	cl, err := kgo.NewClient(append(base.Opts(), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offs}))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		found := false
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) { found = found || match(r) })
		if found {
			return true
		}
	}
	return false
}

// On the data-flow level, services are drawn inside a box per namespace,
// with the topics only one namespace's services use; the service-box level
// has no boxes.
func TestMapDataFlowLevelGroupsByNamespace(t *testing.T) {
	url := seededServer(t, 16, 2) // svc000..svc015, pods in team0..team7 (i % 8)
	b := webtest.NewBrowser(t)
	b.Open(t, url+"/#/?level=flow")
	g := webtest.Eval[[]map[string]any](t, b, `window.kafmeshUI.graph().nodes`)
	parents := map[string]string{}
	groups := 0
	for _, n := range g {
		id, _ := n["id"].(string)
		parents[id], _ = n["parent"].(string)
		if strings.HasPrefix(id, "Namespace:") {
			groups++
		}
	}
	if groups != 8 {
		t.Errorf("%d namespace boxes, want 8", groups)
	}
	if parents["Service:svc003"] != "Namespace:team3" || parents["Service:svc011"] != "Namespace:team3" || parents["Service:svc004"] != "Namespace:team4" {
		t.Errorf("services' boxes: svc003 %q, svc011 %q, svc004 %q", parents["Service:svc003"], parents["Service:svc011"], parents["Service:svc004"])
	}
	inBox := 0
	for id, p := range parents {
		if strings.HasPrefix(id, "Topic:") && p != "" {
			inBox++
		}
	}
	if inBox == 0 {
		t.Error("no topic is drawn inside its namespace's box")
	}
	b.Screenshot(t, "map-flow-namespaces")

	b.Open(t, url+"/")
	for _, n := range b.Graph(t).NodeIDs() {
		if strings.HasPrefix(n, "Namespace:") {
			t.Errorf("the service-box level draws namespace box %s", n)
		}
	}
	b.NoPageErrors(t)
}

// Zooming into the service-box level offers the data-flow level: past
// twice the first zoom a button appears (zooming out hides it), and it
// opens the data-flow level of the same namespace.
func TestMapZoomInOffersTheDataFlowLevel(t *testing.T) {
	url := seededServer(t, 16, 2)
	b := webtest.NewBrowser(t)
	b.Open(t, url+"/#/?ns=team3")
	const hidden = `document.querySelector('[data-testid="flow-zoom-hint"]').hidden`
	if !webtest.Eval[bool](t, b, hidden) {
		t.Fatal("the data-flow offer shows before any zoom")
	}
	wheel := func(dy int) {
		t.Helper()
		webtest.Eval[bool](t, b, `(() => {
			const box = document.querySelector('[data-testid="map-graph"]');
			const r = box.getBoundingClientRect();
			const target = box.querySelector("canvas") || box;
			for (let i = 0; i < 8; i++) target.dispatchEvent(new WheelEvent("wheel", {deltaY: `+strconv.Itoa(dy)+`, clientX: r.left + r.width / 2, clientY: r.top + r.height / 2, bubbles: true, cancelable: true}));
			return true;
		})()`)
		time.Sleep(200 * time.Millisecond)
	}
	for i := 0; i < 10 && webtest.Eval[bool](t, b, hidden); i++ {
		wheel(-300)
	}
	if webtest.Eval[bool](t, b, hidden) {
		t.Fatalf("zooming in does not offer the data-flow level (labels at %.1f px)", webtest.Eval[float64](t, b, `window.kafmeshUI.labelPx()`))
	}
	b.Screenshot(t, "map-zoom-flow-offer")
	for i := 0; i < 10 && !webtest.Eval[bool](t, b, hidden); i++ {
		wheel(300)
	}
	if !webtest.Eval[bool](t, b, hidden) {
		t.Error("zooming out does not hide the offer")
	}
	for i := 0; i < 10 && webtest.Eval[bool](t, b, hidden); i++ {
		wheel(-300)
	}
	before := webtest.Eval[int](t, b, `window.kafmeshUI.renders`)
	b.Do(t, "take the offer", chromedp.Click(chromedp.CSS(`[data-testid="flow-zoom-hint"]`)))
	b.WaitFor(t, "the data-flow level", `window.kafmeshUI.ready && window.kafmeshUI.renders > `+strconv.Itoa(before)+` && location.hash.includes("level=flow") && location.hash.includes("ns=team3")`, 10*time.Second)
	if _, _, ok := b.Graph(t).Node("Topic:svc003.topic00"); !ok {
		t.Errorf("the data-flow level lacks svc003's topic: %v", b.Graph(t).NodeIDs())
	}
	b.NoPageErrors(t)
}
