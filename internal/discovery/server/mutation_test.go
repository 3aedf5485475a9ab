package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/kafmesh/kafmesh/internal/discovery/server"
)

// Mutations are enabled exactly when discover has a --token: without one
// resetGroupOffsets is refused for that reason; with one it gets past the
// check (and here fails for want of --brokers).
func TestMutationsOnlyWithAToken(t *testing.T) {
	const reset = `{"query":"mutation { resetGroupOffsets(group: \"g\", topic: \"t\", to: EARLIEST) { group } }"}`
	code, _, body := do(t, "POST", serve(t)+"/query", reset, nil)
	if code != http.StatusOK || !strings.Contains(body, "mutations need discover to run with --token") {
		t.Errorf("without a token: %d %s", code, body)
	}
	code, _, body = do(t, "POST", serve(t, server.WithToken("s3cret"))+"/query", reset, map[string]string{"Authorization": "Bearer s3cret"})
	if code != http.StatusOK || strings.Contains(body, "--token") || !strings.Contains(body, "--brokers") {
		t.Errorf("with the token: %d %s", code, body)
	}
}
