package export

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	discoveryv1 "github.com/kafmesh/kafmesh/api/discovery/v1"
	"github.com/kafmesh/kafmesh/internal/discovery/mesh"
)

// graphOf builds a discovery graph of one service with one processor
// reading in and writing out.
func graphOf(t *testing.T, out string) *mesh.Graph {
	t.Helper()
	td := func(topic string) *discoveryv1.TopicDefinition {
		return &discoveryv1.TopicDefinition{Topic: topic, Message: "a.B", Type: discoveryv1.TopicType_TOPIC_TYPE_PROTOBUF}
	}
	tree, err := mesh.FromService(&discoveryv1.Service{Name: "svc", Components: []*discoveryv1.Component{{
		Name: "c",
		Processors: []*discoveryv1.Processor{{
			Name: "p", GroupName: "svc.c.p",
			Inputs:  []*discoveryv1.Input{{Topic: td("in")}},
			Outputs: []*discoveryv1.Output{{Topic: td(out)}},
		}},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	return mesh.NewGraph(tree.Nodes, tree.Edges, nil, nil)
}

// TestEmitterSendsOnChangeOnlyAndRetries: a mesh is delivered once; a
// server error is retried; a change is delivered again; a refusing (4xx)
// endpoint is not retried; a hung endpoint is bounded by the timeout.
func TestEmitterSendsOnChangeOnlyAndRetries(t *testing.T) {
	var calls, fail atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.Header.Get("Authorization") != "Bearer tok" {
			http.Error(w, "no token", http.StatusUnauthorized)
			return
		}
		if fail.Load() > 0 {
			fail.Add(-1)
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	g := graphOf(t, "out")
	src := GraphSource{Snapshot: func(context.Context) (*mesh.Graph, error) { return g, nil }}
	em := NewEmitter(srv.URL, WithEmitToken("tok"), WithEmitRetries(3, time.Millisecond))
	ctx := context.Background()

	fail.Store(2)
	if err := em.EmitOnce(ctx, src); err != nil {
		t.Fatalf("with two server errors then success: %v", err)
	}
	if calls.Load() != 3 {
		t.Errorf("%d calls, want 3 (two retries)", calls.Load())
	}
	if err := em.EmitOnce(ctx, src); err != nil || calls.Load() != 3 {
		t.Errorf("an unchanged mesh was sent again: %v, %d calls", err, calls.Load())
	}
	g = graphOf(t, "out2")
	if err := em.EmitOnce(ctx, src); err != nil || calls.Load() != 4 {
		t.Errorf("a changed mesh: %v, %d calls, want 4", err, calls.Load())
	}

	g = graphOf(t, "out3")
	refused := NewEmitter(srv.URL, WithEmitRetries(3, time.Millisecond)) // no token: 401
	before := calls.Load()
	if err := refused.EmitOnce(ctx, src); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("refused: %v", err)
	}
	if calls.Load()-before != 1 {
		t.Errorf("a 4xx was retried: %d calls", calls.Load()-before)
	}

	release := make(chan struct{})
	hung := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer hung.Close()
	defer close(release)
	slow := NewEmitter(hung.URL, WithEmitTimeout(50*time.Millisecond), WithEmitRetries(1, time.Millisecond))
	start := time.Now()
	if err := slow.EmitOnce(ctx, src); err == nil {
		t.Error("a hung endpoint must fail")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("a hung endpoint took %s; the timeout must bound it", d)
	}
}
