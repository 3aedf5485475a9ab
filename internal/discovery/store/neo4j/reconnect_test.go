package neo4j_test

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/kafmesh/kafmesh/internal/discovery/mesh"
	neo4jstore "github.com/kafmesh/kafmesh/internal/discovery/store/neo4j"
)

// cutProxy forwards TCP to a server until cut: then it closes every open
// connection and every new one at once, until restored.
type cutProxy struct {
	lis    net.Listener
	target string
	mu     sync.Mutex
	cut    bool
	conns  map[net.Conn]bool
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{lis: lis, target: target, conns: map[net.Conn]bool{}}
	t.Cleanup(func() { lis.Close(); p.setCut(true) })
	go p.serve()
	return p
}

func (p *cutProxy) serve() {
	for {
		c, err := p.lis.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns[c], p.conns[up] = true, true
		p.mu.Unlock()
		go func() { _, _ = io.Copy(up, c); up.Close() }()
		go func() { _, _ = io.Copy(c, up); c.Close() }()
	}
}

func (p *cutProxy) setCut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = cut
	if cut {
		for c := range p.conns {
			c.Close()
		}
		p.conns = map[net.Conn]bool{}
	}
}

func hostPort(t *testing.T, uri string) string {
	t.Helper()
	const prefix = "bolt://"
	if len(uri) <= len(prefix) || uri[:len(prefix)] != prefix {
		t.Skipf("reconnect test needs a bolt:// URI, not %s", uri)
	}
	return uri[len(prefix):]
}

// TestOutageFailsFastAndRechecksConstraints cuts the connection to the
// real server: writes and reads fail within seconds (not the driver's
// default minute of retries), and once the server is reachable again the
// first write checks the constraints before it writes.
func TestOutageFailsFastAndRechecksConstraints(t *testing.T) {
	uri := serverURI(t)
	proxy := newCutProxy(t, hostPort(t, uri))
	ctx := context.Background()
	s, err := neo4jstore.Open(ctx, "bolt://"+proxy.lis.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	pod := mesh.Pod{ID: mesh.PodID("", "reconnect-"+time.Now().Format("150405.000"), ""), Name: "reconnect", Address: "127.0.0.1:1", Source: "static"}
	if err := s.Fail(ctx, pod, time.Now(), "first"); err != nil {
		t.Fatal(err)
	}
	checks := s.Checks()

	proxy.setCut(true)
	start := time.Now()
	if err := s.Fail(ctx, pod, time.Now(), "during the outage"); err == nil {
		t.Fatal("write through a cut connection succeeded")
	}
	if _, err := s.Graph(ctx); err == nil {
		t.Fatal("read through a cut connection succeeded")
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Fatalf("a write and a read took %s to fail, want seconds", d)
	}
	t.Logf("a write and a read failed in %s", time.Since(start).Round(time.Millisecond))

	proxy.setCut(false)
	deadline := time.Now().Add(30 * time.Second)
	for {
		err = s.Fail(ctx, pod, time.Now(), "after the outage")
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("write after the outage: %v", err)
	}
	if s.Checks() <= checks {
		t.Fatal("the first write after the outage did not check the constraints")
	}
}

// TestConstraintsComeBackOnAnEmptyServer drops the constraints, as a
// server that came back empty has none, and checks the next write after a
// failure recreates them. It changes the server's schema, so it runs only
// against a server of its own: KAFMESH_TEST_NEO4J_DISPOSABLE (never the
// shared test server).
func TestConstraintsComeBackOnAnEmptyServer(t *testing.T) {
	uri := os.Getenv("KAFMESH_TEST_NEO4J_DISPOSABLE")
	if uri == "" {
		t.Skip("KAFMESH_TEST_NEO4J_DISPOSABLE is not set: start a Neo4j of the test's own (KAFMESH_RUN_DIR=/tmp/x KAFMESH_NEO4J_BOLT_PORT=27687 KAFMESH_NEO4J_HTTP_PORT=27474 scripts/neo4j.sh start) and point it there")
	}
	proxy := newCutProxy(t, hostPort(t, uri))
	ctx := context.Background()
	s, err := neo4jstore.Open(ctx, "bolt://"+proxy.lis.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	d, err := neo4j.NewDriverWithContext(uri, neo4j.NoAuth())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(ctx)
	count := func() int64 {
		res, err := neo4j.ExecuteQuery(ctx, d, "SHOW CONSTRAINTS YIELD name WHERE name STARTS WITH 'kafmesh_' RETURN count(*)", nil, neo4j.EagerResultTransformer)
		if err != nil {
			t.Fatal(err)
		}
		return res.Records[0].Values[0].(int64)
	}
	want := count()
	res, err := neo4j.ExecuteQuery(ctx, d, "SHOW CONSTRAINTS YIELD name WHERE name STARTS WITH 'kafmesh_' RETURN name", nil, neo4j.EagerResultTransformer)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res.Records {
		if _, err := neo4j.ExecuteQuery(ctx, d, "DROP CONSTRAINT "+r.Values[0].(string), nil, neo4j.EagerResultTransformer); err != nil {
			t.Fatal(err)
		}
	}
	if count() != 0 {
		t.Fatal("constraints not dropped")
	}
	proxy.setCut(true)
	pod := mesh.Pod{ID: mesh.PodID("", "empty", ""), Name: "empty", Address: "127.0.0.1:1", Source: "static"}
	if err := s.Fail(ctx, pod, time.Now(), "x"); err == nil {
		t.Fatal("write through a cut connection succeeded")
	}
	proxy.setCut(false)
	deadline := time.Now().Add(30 * time.Second)
	for err = errors.New("not yet"); err != nil && time.Now().Before(deadline); {
		if err = s.Fail(ctx, pod, time.Now(), "x"); err != nil {
			time.Sleep(200 * time.Millisecond)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	if got := count(); got != want || s.Ensured() != 1 {
		t.Fatalf("after the reconnect: %d constraints (want %d), recreated %d times (want 1)", got, want, s.Ensured())
	}
}
