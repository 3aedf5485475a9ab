package discovery_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	oteltrace "go.opentelemetry.io/otel/trace"

	"github.com/kafmesh/kafmesh/internal/discovery"
	"github.com/kafmesh/kafmesh/internal/discovery/scrape"
	"github.com/kafmesh/kafmesh/internal/discovery/targets"
	"github.com/kafmesh/kafmesh/kafmeshtest"
	"github.com/kafmesh/kafmesh/runner"
)

// With WithTracerProvider, discover's scrape calls are client spans whose
// trace context reaches the target: a kafmesh service with tracing on
// answers GetServiceInfo under a server span that is the child of
// discover's client span.
func TestScrapeCallsAreTraced(t *testing.T) {
	brokers := kafmeshtest.StartBroker(t)
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })

	target, err := runner.NewService(runner.Definition{Name: "tracedtarget"}, runner.WithBrokers(brokers...), runner.WithStateDir(t.TempDir()),
		runner.WithHTTPAddr(""), runner.WithGRPCAddr("127.0.0.1:0"), runner.WithTracerProvider(tp))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- target.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-ran })
	deadline := time.Now().Add(30 * time.Second)
	for target.GRPCAddr() == "" {
		if time.Now().After(deadline) {
			t.Fatal("the target's gRPC server does not listen")
		}
		time.Sleep(20 * time.Millisecond)
	}

	st, err := discovery.OpenStore(ctx, discovery.StoreConfig{URL: filepath.Join(t.TempDir(), "mesh.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	src, err := targets.NewStatic([]string{target.GRPCAddr()}, "")
	if err != nil {
		t.Fatal(err)
	}
	svc := discovery.New(st, discovery.WithSources(src), discovery.WithTracerProvider(tp), discovery.WithScrapeOptions(scrape.WithInterval(time.Hour)))
	run(t, svc)
	<-svc.FirstRound()

	const method = "kafmesh.discovery.v1.DiscoveryAPI/GetServiceInfo"
	var client, server tracetest.SpanStub
	waitFor(t, 10*time.Second, func() string {
		for _, s := range exp.GetSpans() {
			if s.Name != method {
				continue
			}
			switch s.SpanKind {
			case oteltrace.SpanKindClient:
				client = s
			case oteltrace.SpanKindServer:
				server = s
			}
		}
		if !client.SpanContext.IsValid() || !server.SpanContext.IsValid() {
			return fmt.Sprintf("no client and server span of %s among %d spans", method, len(exp.GetSpans()))
		}
		return ""
	})
	if server.SpanContext.TraceID() != client.SpanContext.TraceID() || server.Parent.SpanID() != client.SpanContext.SpanID() {
		t.Errorf("the target's server span (trace %s, parent %s) does not continue discover's client span (trace %s, span %s)",
			server.SpanContext.TraceID(), server.Parent.SpanID(), client.SpanContext.TraceID(), client.SpanContext.SpanID())
	}
}

func waitFor(t *testing.T, timeout time.Duration, check func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		msg := check()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", timeout, msg)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
