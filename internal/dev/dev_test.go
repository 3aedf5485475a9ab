package dev_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/kafmesh/kafmesh/internal/dev"
	"github.com/kafmesh/kafmesh/internal/discovery/mesh"
	"github.com/kafmesh/kafmesh/internal/discovery/web/webtest"
)

// startDev runs `kafmesh dev` in process (port 0, a temporary folder) and
// returns what it started once it says it is ready; the test's end stops
// it and checks that it stopped cleanly.
func startDev(t *testing.T, cfg dev.Config) dev.Info {
	t.Helper()
	cfg.Listen = "127.0.0.1:0"
	cfg.Interval = 500 * time.Millisecond
	cfg.ScrapeInterval = 500 * time.Millisecond
	cfg.Logger = slog.New(slog.NewTextHandler(testLog{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan dev.Info, 1)
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- dev.Run(ctx, cfg, func(i dev.Info) { ready <- i }) }()
	var info dev.Info
	select {
	case info = <-ready:
		t.Logf("kafmesh dev ready in %s at %s", time.Since(start).Round(time.Millisecond), info.URL)
	case err := <-done:
		cancel()
		t.Fatalf("kafmesh dev stopped before it was ready: %v", err)
	case <-time.After(60 * time.Second):
		cancel()
		t.Fatal("kafmesh dev not ready within 60 s")
	}
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("kafmesh dev did not stop cleanly: %v", err)
			}
		case <-time.After(60 * time.Second):
			t.Error("kafmesh dev did not stop within 60 s of Ctrl-C")
		}
	})
	return info
}

type testLog struct{ t *testing.T }

func (w testLog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// graphQL posts a query to the dev UI's API.
func graphQL(t *testing.T, url, query string, out any) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"query": query})
	resp, err := http.Post(url+"query", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("GraphQL answer %s: %v", b, err)
	}
}

var heartbeatEnricher = mesh.PartID(mesh.KindProcessor, "kafmesh", "heartbeats", "heartbeat enricher")

// The README's first command, end to end in a browser: the example mesh on
// an embedded broker, every page working against it.
func TestDevShowsTheExampleMeshAndItsLiveWatch(t *testing.T) {
	b := webtest.NewBrowser(t) // skips without Chromium, before starting anything
	info := startDev(t, dev.Config{Devices: 5})
	if !info.Embedded || len(info.Brokers) != 1 {
		t.Errorf("brokers %v (embedded %v), want one embedded", info.Brokers, info.Embedded)
	}

	b.Open(t, info.URL)
	g := b.Graph(t)
	if ids := g.NodeIDs(); len(ids) != 1 || ids[0] != "Service:kafmesh" {
		t.Fatalf("map shows %v, want the example's one service", ids)
	}
	// Live flow: discovery measures the processors' lag from the broker.
	b.WaitFor(t, "live flow on the map", `document.querySelector('[data-testid="flow-status"]').dataset.state === "live"`, 20*time.Second)
	if label, _, _ := b.Graph(t).Node("Service:kafmesh"); !strings.Contains(label, "lag ") || !strings.Contains(label, "/s") {
		t.Errorf("service label %q lacks lag and records per second", label)
	}
	b.Screenshot(t, "dev-map")

	b.ClickNode(t, "Service:kafmesh")
	for _, c := range []string{"assignments", "details", "heartbeats"} {
		if _, _, ok := b.Graph(t).Node(mesh.ComponentID("kafmesh", c)); !ok {
			t.Errorf("service page lacks component %s", c)
		}
	}
	b.ClickNode(t, mesh.ComponentID("kafmesh", "heartbeats"))
	g = b.Graph(t)
	health := mesh.PartID(mesh.KindProcessor, "kafmesh", "heartbeats", "health")
	for _, e := range []struct{ from, to, kind string }{
		{mesh.TopicID("kafmesh.deviceId.heartbeat"), heartbeatEnricher, "input"},
		{mesh.TopicID("kafmesh.deviceId.customer"), heartbeatEnricher, "join"},
		{mesh.TopicID("kafmesh.customerId.details"), heartbeatEnricher, "lookup"},
		{heartbeatEnricher, mesh.TopicID("kafmesh.customerId.heartbeat"), "output"},
		{mesh.TopicID("kafmesh.customerId.heartbeat"), health, "input"},
		{health, mesh.TopicID("kafmesh.heartbeats.health-table"), "state"},
	} {
		if !g.HasEdge(e.from, e.to, e.kind) {
			t.Errorf("heartbeats flow lacks %s %s → %s; edges %+v", e.kind, e.from, e.to, g.Edges)
		}
	}
	b.Screenshot(t, "dev-component")

	// Live watch of device 1's heartbeats through the enricher: the fleet
	// sends one every 500 ms, so operations arrive within seconds.
	b.ClickNode(t, heartbeatEnricher)
	b.Do(t, "watch key 1",
		chromedp.SendKeys(chromedp.CSS(`[data-testid="watch-key"]`), "1"),
		chromedp.Click(chromedp.CSS(`[data-testid="watch-start"]`)),
	)
	b.WaitFor(t, "an operation for key 1", `document.querySelectorAll('[data-testid="watch-op"]').length >= 2`, 15*time.Second)
	steps := webtest.Eval[[]string](t, b, `[...document.querySelector('[data-testid="watch-op"]').querySelectorAll('[data-step]')].map(e => e.dataset.step)`)
	if strings.Join(steps, ",") != "input,join,lookup,output,output" {
		t.Errorf("steps of a heartbeat %v, want input, join, lookup and the two outputs", steps)
	}
	text := b.Text(t, `[data-testid="watch-op"]`)
	for _, s := range []string{"kafmesh.deviceId.heartbeat", `"time": "20`, `"deviceId": "1"`, `"name": "Acme"`, `"customerName": "Acme"`} {
		if !strings.Contains(text, s) {
			t.Errorf("operation lacks %q:\n%s", s, text)
		}
	}
	// The real runner sends where each record was read from, and keeps
	// default-valued fields: isHealthy is there even when false.
	if !strings.Contains(text, `"isHealthy": `) {
		t.Errorf("the heartbeat's isHealthy field is missing (default values dropped):\n%s", text)
	}
	meta := webtest.Eval[map[string]string](t, b, `Object.fromEntries([...document.querySelectorAll('[data-testid="watch-op"] [data-meta]')].map(e => [e.dataset.meta, e.textContent]))`)
	if _, err := strconv.Atoi(meta["partition"]); err != nil {
		t.Errorf("the watched record's partition %q (record details %v)", meta["partition"], meta)
	}
	if _, err := strconv.ParseInt(meta["offset"], 10, 64); err != nil {
		t.Errorf("the watched record's offset %q (record details %v)", meta["offset"], meta)
	}
	if !strings.HasPrefix(meta["timestamp"], "20") {
		t.Errorf("the watched record's timestamp %q", meta["timestamp"])
	}
	b.Screenshot(t, "dev-watch")

	b.Open(t, info.URL+"#/pods")
	if got := b.Text(t, `[data-testid="pod-summary"]`); got != "1 pods, 1 healthy, 0 unhealthy" {
		t.Errorf("pods: %q", got)
	}
	b.NoPageErrors(t)
}

// --brokers runs the same mesh on a Kafka it did not start.
func TestDevUsesGivenBrokers(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	info := startDev(t, dev.Config{Brokers: cluster.ListenAddrs(), Devices: 2})
	if info.Embedded || strings.Join(info.Brokers, ",") != strings.Join(cluster.ListenAddrs(), ",") {
		t.Errorf("brokers %v (embedded %v), want the given ones", info.Brokers, info.Embedded)
	}
	var answer struct {
		Data struct {
			Services []struct{ Name string }
		}
	}
	graphQL(t, info.URL, `{ services { name } }`, &answer)
	if len(answer.Data.Services) != 1 || answer.Data.Services[0].Name != "kafmesh" {
		t.Errorf("services %+v", answer.Data.Services)
	}
}

func TestDevFailsClearlyWhenBrokersOrPortAreUnusable(t *testing.T) {
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().String()
	dead.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = dev.Run(ctx, dev.Config{Brokers: []string{deadAddr}, Listen: "127.0.0.1:0"}, nil)
	if err == nil || !strings.Contains(err.Error(), "--brokers "+deadAddr+" does not answer") {
		t.Errorf("unreachable brokers: %v", err)
	}

	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	err = dev.Run(ctx, dev.Config{Listen: busy.Addr().String()}, func(dev.Info) { t.Error("ready on a busy port") })
	if err == nil || !strings.Contains(err.Error(), busy.Addr().String()) || !strings.Contains(err.Error(), "in use") {
		t.Errorf("busy port: %v", err)
	}
}
