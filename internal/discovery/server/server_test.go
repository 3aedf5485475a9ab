package server_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	coderws "github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kafmesh/kafmesh/internal/discovery/internal/meshtest"
	"github.com/kafmesh/kafmesh/internal/discovery/mesh"
	"github.com/kafmesh/kafmesh/internal/discovery/server"
)

func snapshot(t *testing.T) func(context.Context) (*mesh.Graph, error) {
	tree, err := mesh.FromService(meshtest.Devices())
	if err != nil {
		t.Fatal(err)
	}
	g := mesh.NewGraph(tree.Nodes, tree.Edges, nil, nil)
	return func(context.Context) (*mesh.Graph, error) { return g, nil }
}

func serve(t *testing.T, opts ...server.Option) string {
	t.Helper()
	srv := httptest.NewServer(server.New(snapshot(t), opts...).Handler())
	t.Cleanup(srv.Close)
	return srv.URL
}

const servicesQuery = `{"query":"{ services { name } }"}`

func do(t *testing.T, method, url, body string, headers map[string]string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func TestBearerToken(t *testing.T) {
	url := serve(t, server.WithToken("s3cret"))
	if code, h, _ := do(t, "POST", url+"/query", servicesQuery, nil); code != http.StatusUnauthorized || h.Get("WWW-Authenticate") == "" {
		t.Errorf("no token: %d", code)
	}
	if code, _, _ := do(t, "POST", url+"/query", servicesQuery, map[string]string{"Authorization": "Bearer wrong"}); code != http.StatusUnauthorized {
		t.Errorf("wrong token: %d", code)
	}
	code, _, body := do(t, "POST", url+"/query", servicesQuery, map[string]string{"Authorization": "Bearer s3cret"})
	if code != http.StatusOK || !strings.Contains(body, `"name":"devices"`) {
		t.Errorf("right token: %d %s", code, body)
	}
	// Health endpoints stay open.
	if code, _, _ := do(t, "GET", url+"/healthz", "", nil); code != http.StatusOK {
		t.Errorf("/healthz %d", code)
	}

	// Websockets: a browser cannot set headers, so connection_init carries it.
	ctx := context.Background()
	ws := "ws" + strings.TrimPrefix(url, "http") + "/query"
	for token, ok := range map[string]bool{"Bearer s3cret": true, "Bearer nope": false} {
		conn, _, err := coderws.Dial(ctx, ws, &coderws.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
		if err != nil {
			t.Fatal(err)
		}
		_ = conn.Write(ctx, coderws.MessageText, []byte(`{"type":"connection_init","payload":{"Authorization":"`+token+`"}}`))
		_, msg, err := conn.Read(ctx)
		acked := err == nil && strings.Contains(string(msg), "connection_ack")
		if acked != ok {
			t.Errorf("websocket with %q: acked %v (%s, %v), want %v", token, acked, msg, err, ok)
		}
		conn.Close(coderws.StatusNormalClosure, "")
	}
	// Or the upgrade request carries the header (non-browser clients).
	conn, _, err := coderws.Dial(ctx, ws, &coderws.DialOptions{Subprotocols: []string{"graphql-transport-ws"}, HTTPHeader: http.Header{"Authorization": {"Bearer s3cret"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(coderws.StatusNormalClosure, "")
	_ = conn.Write(ctx, coderws.MessageText, []byte(`{"type":"connection_init","payload":{}}`))
	if _, msg, err := conn.Read(ctx); err != nil || !strings.Contains(string(msg), "connection_ack") {
		t.Errorf("websocket with the header: %s %v", msg, err)
	}
	if _, _, err := coderws.Dial(ctx, ws, &coderws.DialOptions{Subprotocols: []string{"graphql-transport-ws"}, HTTPHeader: http.Header{"Authorization": {"Bearer nope"}}}); err == nil {
		t.Error("websocket upgrade with a wrong token accepted")
	}
}

func TestSameOriginByDefaultAndConfiguredCORS(t *testing.T) {
	url := serve(t)
	host := strings.TrimPrefix(url, "http://")
	if code, _, _ := do(t, "POST", url+"/query", servicesQuery, map[string]string{"Origin": "http://" + host}); code != http.StatusOK {
		t.Errorf("same origin: %d", code)
	}
	if code, _, _ := do(t, "POST", url+"/query", servicesQuery, map[string]string{"Origin": "http://evil.example"}); code != http.StatusForbidden {
		t.Errorf("other origin without CORS configured: %d", code)
	}
	ctx := context.Background()
	ws := "ws" + strings.TrimPrefix(url, "http") + "/query"
	if _, _, err := coderws.Dial(ctx, ws, &coderws.DialOptions{Subprotocols: []string{"graphql-transport-ws"}, HTTPHeader: http.Header{"Origin": {"http://evil.example"}}}); err == nil {
		t.Error("cross-origin websocket accepted")
	}

	url = serve(t, server.WithAllowedOrigins("*.example.com"))
	code, h, _ := do(t, "OPTIONS", url+"/query", "", map[string]string{"Origin": "https://ui.example.com", "Access-Control-Request-Method": "POST"})
	if code != http.StatusNoContent || h.Get("Access-Control-Allow-Origin") != "https://ui.example.com" || !strings.Contains(h.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Errorf("preflight: %d %v", code, h)
	}
	code, h, body := do(t, "POST", url+"/query", servicesQuery, map[string]string{"Origin": "https://ui.example.com"})
	if code != http.StatusOK || h.Get("Access-Control-Allow-Origin") != "https://ui.example.com" || !strings.Contains(body, "devices") {
		t.Errorf("allowed origin: %d %v", code, h)
	}
	if code, _, _ := do(t, "POST", url+"/query", servicesQuery, map[string]string{"Origin": "https://example.org"}); code != http.StatusForbidden {
		t.Errorf("origin outside the patterns: %d", code)
	}
	conn, _, err := coderws.Dial(ctx, "ws"+strings.TrimPrefix(url, "http")+"/query", &coderws.DialOptions{Subprotocols: []string{"graphql-transport-ws"}, HTTPHeader: http.Header{"Origin": {"https://ui.example.com"}}})
	if err != nil {
		t.Errorf("allowed cross-origin websocket refused: %v", err)
	} else {
		conn.Close(coderws.StatusNormalClosure, "")
	}
}

func TestHealthReadinessMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "kafmesh_discover_test_total", Help: "x"})
	reg.MustRegister(c)
	c.Add(3)
	var ready error = errors.New("first scrape round not done")
	url := serve(t, server.WithMetrics(reg), server.WithReadiness(func(context.Context) error { return ready }))
	if code, _, body := do(t, "GET", url+"/readyz", "", nil); code != http.StatusServiceUnavailable || !strings.Contains(body, "first scrape round") {
		t.Errorf("/readyz before ready: %d %s", code, body)
	}
	ready = nil
	if code, _, _ := do(t, "GET", url+"/readyz", "", nil); code != http.StatusOK {
		t.Errorf("/readyz when ready: %d", code)
	}
	if code, _, body := do(t, "GET", url+"/metrics", "", nil); code != http.StatusOK || !strings.Contains(body, "kafmesh_discover_test_total 3") {
		t.Errorf("/metrics: %d %s", code, body)
	}
	// Read-only: GET is not a way to run queries.
	if code, _, _ := do(t, "GET", url+"/query?query={services{name}}", "", nil); code == http.StatusOK {
		t.Error("GET /query answered")
	}
}

func TestUIMount(t *testing.T) {
	ui := fstest.MapFS{
		"index.html":    {Data: []byte("<html>mesh ui</html>")},
		"assets/app.js": {Data: []byte("console.log(1)")},
	}
	url := serve(t, server.WithUIFS(ui))
	for path, want := range map[string]string{"/": "mesh ui", "/assets/app.js": "console.log", "/services/devices": "mesh ui"} {
		code, _, body := do(t, "GET", url+path, "", nil)
		if code != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("GET %s: %d %q", path, code, body)
		}
	}
	if code, _, _ := do(t, "GET", url+"/assets/missing.js", "", nil); code != http.StatusNotFound {
		t.Errorf("missing asset: %d", code)
	}
	// The API still wins over the UI.
	if code, _, body := do(t, "POST", url+"/query", servicesQuery, nil); code != http.StatusOK || !strings.Contains(body, "devices") {
		t.Errorf("/query with a UI mounted: %d %s", code, body)
	}
}
