package graph_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/kafmesh/kafmesh/internal/discovery/graph"
	"github.com/kafmesh/kafmesh/internal/discovery/mesh"
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
