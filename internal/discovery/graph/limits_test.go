package graph_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kafmesh/kafmesh/internal/discovery/graph"
	"github.com/kafmesh/kafmesh/internal/discovery/internal/meshtest"
	"github.com/kafmesh/kafmesh/internal/discovery/lag"
	"github.com/kafmesh/kafmesh/internal/discovery/scrape"
	"github.com/kafmesh/kafmesh/internal/discovery/store/sqlite"
	"github.com/kafmesh/kafmesh/internal/discovery/targets"
	"github.com/kafmesh/kafmesh/internal/discovery/watch"
)

// limited serves the example mesh with cfg's limits.
func limited(t *testing.T, cfg graph.HandlerConfig) (string, *meshtest.Target) {
	t.Helper()
	ctx := context.Background()
	dev := meshtest.Serve(t, meshtest.Devices())
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "mesh.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	src, err := targets.NewStatic([]string{dev.Addr, meshtest.Serve(t, meshtest.Alerts()).Addr}, "")
	if err != nil {
		t.Fatal(err)
	}
	scrape.New(st, []targets.Source{src}).Round(ctx)
	cfg.Snapshot, cfg.Watch = st.Graph, watch.New().Watch
	srv := httptest.NewServer(graph.NewHandler(cfg))
	t.Cleanup(srv.Close)
	return srv.URL, dev
}

func limitError(t *testing.T, r gqlResponse, want string) {
	t.Helper()
	if len(r.Errors) != 1 || !strings.Contains(r.Errors[0].Message, want) || (len(r.Data) > 0 && string(r.Data) != "null") {
		t.Fatalf("got data %s errors %+v, want only the error %q", r.Data, r.Errors, want)
	}
}

// keys counts the fields of an answer: every key of every object.
func keys(v any) int {
	switch v := v.(type) {
	case map[string]any:
		n := len(v)
		for _, x := range v {
			n += keys(x)
		}
		return n
	case []any:
		n := 0
		for _, x := range v {
			n += keys(x)
		}
		return n
	}
	return 0
}

// The estimate bounds the answer from above: for each query, the fields
// the answer really has are at most the cost the refusal names.
func TestCostModelBoundsTheAnswer(t *testing.T) {
	open, _ := limited(t, graph.HandlerConfig{})
	tight, _ := limited(t, graph.HandlerConfig{MaxComplexity: 1})
	for _, q := range []string{
		`{ services { components { processors { inputs { topic { processorInputs { processor { id } } } } } } } }`,
		`{ pods { processors { pods { processors { id name } } } } }`,
		`{ topics { name producerServices { name } consumerServices { name } producers { __typename ... on Processor { name } } } }`,
		`{ services { name dependsOn { name dependents { name } } pods { id } } }`,
		`{ search(text: "e") { __typename ... on Topic { name } ... on Service { components { name } } } }`,
	} {
		var data any
		r := post(t, open, q, nil)
		if len(r.Errors) > 0 {
			t.Fatalf("%s: %+v", q, r.Errors)
		}
		_ = json.Unmarshal(r.Data, &data)
		r = post(t, tight, q, nil)
		var est int
		if len(r.Errors) != 1 {
			t.Fatalf("%s with a limit of 1: %+v", q, r)
		}
		if _, err := fmt.Sscanf(r.Errors[0].Message, "operation would answer up to %d fields", &est); err != nil {
			t.Fatalf("refusal %q: %v", r.Errors[0].Message, err)
		}
		if got := keys(data); got > est || est > 50*got+50 {
			t.Errorf("%s: the answer has %d fields, the estimate says %d", q, got, est)
		}
	}
	// first bounds a list's multiplier (the estimate counts at least one element).
	if r := post(t, tight, `{ services(first: 0) { name } }`, nil); len(r.Errors) != 1 || !strings.Contains(r.Errors[0].Message, "up to 2 fields") {
		t.Fatalf("first: 0: %+v", r.Errors)
	}
}

func TestPagination(t *testing.T) {
	url, _ := limited(t, graph.HandlerConfig{})
	var all struct{ Services []struct{ ID string } }
	r := post(t, url, `{ services { id } }`, nil)
	_ = json.Unmarshal(r.Data, &all)
	if len(all.Services) != 2 {
		t.Fatalf("services %s", r.Data)
	}
	var page struct{ Services []struct{ ID string } }
	r = post(t, url, `query($a: ID) { services(first: 1, after: $a) { id } }`, map[string]any{"a": all.Services[0].ID})
	_ = json.Unmarshal(r.Data, &page)
	if len(page.Services) != 1 || page.Services[0].ID != all.Services[1].ID {
		t.Fatalf("second page %s %+v", r.Data, r.Errors)
	}
	r = post(t, url, `{ services(after: "Service:nope") { id } }`, nil)
	if len(r.Errors) == 0 || !strings.Contains(r.Errors[0].Message, `no item with id "Service:nope"`) {
		t.Fatalf("unknown cursor: %+v", r.Errors)
	}
	r = post(t, url, `{ pods(first: -1) { id } }`, nil)
	if len(r.Errors) == 0 || !strings.Contains(r.Errors[0].Message, "first must be 0 or more") {
		t.Fatalf("negative first: %+v", r.Errors)
	}
}

func TestResponseSizeCapAndDeadline(t *testing.T) {
	url, _ := limited(t, graph.HandlerConfig{MaxResponseBytes: 100})
	limitError(t, post(t, url, `{ topics { id name message } }`, nil), "more than the limit of 100 bytes (--max-response-bytes)")
	// A resolver slower than the deadline: the operation stops at the
	// next field and answers only the reason.
	url, _ = limited(t, graph.HandlerConfig{QueryTimeout: 50 * time.Millisecond, Lag: slowLag{200 * time.Millisecond}})
	start := time.Now()
	limitError(t, post(t, url, `{ services { components { processors { lag { total } name } } } }`, nil), "query timed out after 50ms")
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("timed-out query took %s", d)
	}
}

// slowLag answers every group after a delay.
type slowLag struct{ d time.Duration }

func (s slowLag) Group(string) (lag.Group, bool) {
	time.Sleep(s.d)
	return lag.Group{}, false
}

func (slowLag) TopicRate(string) (float64, bool) { return 0, false }

func TestSubscriptionCaps(t *testing.T) {
	url, dev := limited(t, graph.HandlerConfig{MaxSubscriptionsPerConn: 2, MaxSubscriptions: 3})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	const sub = `subscription { watchProcessor(options: {processorId: "Processor:devices/heartbeats/enricher", key: "k"}) { startTime } }`
	// Subscriptions start concurrently: send each once the one before
	// reached the service.
	a := dialGraphQL(t, ctx, url, "graphql-transport-ws")
	for i, id := range []string{"1", "2"} {
		a.send(wsMessage{ID: id, Type: "subscribe", Payload: json.RawMessage(`{"query":` + quote(sub) + `}`)})
		dev.WaitWatchers(t, i+1)
	}
	a.send(wsMessage{ID: "3", Type: "subscribe", Payload: json.RawMessage(`{"query":` + quote(sub) + `}`)})
	if m := a.wait("3"); !strings.Contains(string(m.Payload), "too many subscriptions on this connection: the limit is 2") {
		t.Fatalf("third subscription on one connection: %+v", m)
	}
	b := dialGraphQL(t, ctx, url, "graphql-transport-ws")
	b.send(wsMessage{ID: "1", Type: "subscribe", Payload: json.RawMessage(`{"query":` + quote(sub) + `}`)})
	dev.WaitWatchers(t, 3)
	b.send(wsMessage{ID: "2", Type: "subscribe", Payload: json.RawMessage(`{"query":` + quote(sub) + `}`)})
	if m := b.wait("2"); !strings.Contains(string(m.Payload), "too many subscriptions open on this server: the limit is 3") {
		t.Fatalf("fourth subscription in all: %+v", m)
	}
	// Completing one frees its place.
	a.send(wsMessage{ID: "1", Type: "complete"})
	deadline := time.Now().Add(5 * time.Second)
	for attempt := 0; ; attempt++ {
		id := fmt.Sprintf("x%d", attempt)
		b.send(wsMessage{ID: id, Type: "subscribe", Payload: json.RawMessage(`{"query":` + quote(sub) + `}`)})
		select {
		case m := <-b.box(id):
			if !strings.Contains(string(m.Payload), "too many") {
				t.Fatalf("after a complete: %+v", m)
			}
			if time.Now().After(deadline) {
				t.Fatal("a completed subscription never freed its place")
			}
			time.Sleep(50 * time.Millisecond)
			continue
		case <-time.After(500 * time.Millisecond):
		}
		break
	}
	dev.WaitWatchers(t, 3)
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// Automatic persisted queries: a client that sent a query with its hash
// may send the hash alone afterwards.
func TestPersistedQueries(t *testing.T) {
	url, _ := limited(t, graph.HandlerConfig{})
	const q = `{ services { name } }`
	sum := sha256.Sum256([]byte(q))
	ext := map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hex.EncodeToString(sum[:])}}
	send := func(body map[string]any) gqlResponse {
		b, _ := json.Marshal(body)
		resp, err := http.Post(url, "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out gqlResponse
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return out
	}
	if r := send(map[string]any{"extensions": ext}); len(r.Errors) == 0 || !strings.Contains(r.Errors[0].Message, "PersistedQueryNotFound") {
		t.Fatalf("unknown hash: %+v", r)
	}
	if r := send(map[string]any{"query": q, "extensions": ext}); len(r.Errors) > 0 {
		t.Fatalf("query with its hash: %+v", r.Errors)
	}
	if r := send(map[string]any{"extensions": ext}); len(r.Errors) > 0 || !strings.Contains(string(r.Data), "devices") {
		t.Fatalf("hash alone: %s %+v", r.Data, r.Errors)
	}
}
