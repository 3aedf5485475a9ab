package runner_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/kafmesh/kafmesh/kafmeshtest"
	"github.com/kafmesh/kafmesh/runner"
)

func get(t testing.TB, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// scrape reads /metrics as Prometheus does, as a Gatherer for metric().
func scrape(t testing.TB, base string) prometheus.Gatherer {
	t.Helper()
	code, body := get(t, base+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d %s", code, body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		out := make([]*dto.MetricFamily, 0, len(families))
		for _, f := range families {
			out = append(out, f)
		}
		return out, nil
	})
}

func series(g prometheus.Gatherer, name string) int {
	mfs, _ := g.Gather()
	for _, mf := range mfs {
		if mf.GetName() == name {
			return len(mf.GetMetric())
		}
	}
	return 0
}

type countingSink struct{ collected atomic.Int64 }

func (s *countingSink) Collect(runner.SinkContext, string, []byte) error {
	s.collected.Add(1)
	return nil
}
func (s *countingSink) Flush(context.Context) error { return nil }

// A source feeds the counter, whose outputs feed a sink, with a view
// beside them: /healthz, /readyz and gRPC health follow Run, and /metrics
// changes as records flow.
func TestHTTPEndpointsAndMetrics(t *testing.T) {
	brokers := kafmeshtest.StartBroker(t)
	c := newCounter(t)
	kafmeshtest.CreateTopic(t, brokers, c.in, 4, false)
	table := kafmeshtest.Unique(t, "table")
	kafmeshtest.CreateTopic(t, brokers, table, 2, true)
	for i := range 100 {
		produce(t, client(t, brokers), tableRecord(table, fmt.Sprintf("k%d", i), "v"))
	}

	s := newService(t, brokers, "counting", t.TempDir(), runner.WithHTTPAddr("127.0.0.1:0"), runner.WithGRPCAddr("127.0.0.1:0"))
	c.register(t, s)
	src, err := runner.NewSource(s, runner.SourceSpec{Component: "counting", TopicRef: ref(c.in, "google.protobuf.StringValue")}, stringCodec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := runner.NewView(s, runner.ViewSpec{Component: "counting", TopicRef: ref(table, "google.protobuf.StringValue")}, stringCodec); err != nil {
		t.Fatal(err)
	}
	sinkGroup := kafmeshtest.Unique(t, "sink")
	sink := &countingSink{}
	if err := runner.NewSink(s, runner.SinkSpec{Component: "counting", Name: "export", Group: sinkGroup, TopicRef: ref(c.out, "")},
		runner.Raw(), sink, runner.Interval(100*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if err := s.ConfigureTopics(t.Context()); err != nil {
		t.Fatal(err)
	}

	// Before Run, the handler answers but reports not running.
	for _, path := range []string{"/healthz", "/readyz"} {
		rec := httptest.NewRecorder()
		s.HTTPHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "not running") {
			t.Errorf("%s before Run: %d %q", path, rec.Code, rec.Body.String())
		}
	}

	stop := running(t, s)
	waitUntil(t, 30*time.Second, func() string {
		if s.HTTPAddr() == "" || s.GRPCAddr() == "" {
			return "servers not listening yet"
		}
		return ""
	})
	base := "http://" + s.HTTPAddr()
	if code, body := get(t, base+"/healthz"); code != http.StatusOK || strings.TrimSpace(body) != "ok" {
		t.Errorf("/healthz while running: %d %q", code, body)
	}
	waitUntil(t, 60*time.Second, func() string {
		if code, body := get(t, base+"/readyz"); code != http.StatusOK {
			return fmt.Sprintf("/readyz: %d %s", code, body)
		}
		return ""
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h, err := healthpb.NewHealthClient(dial(t, s.GRPCAddr())).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || h.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("gRPC health while running: %v, %v", h, err)
	}

	m := scrape(t, base)
	if v := metric(t, m, "kafmesh_view_ready", map[string]string{"topic": table}); v != 1 {
		t.Errorf("view ready = %v once /readyz is 200", v)
	}
	if n, v := series(m, "kafmesh_processor_restoring_partitions"), metric(t, m, "kafmesh_processor_restoring_partitions", nil); n != 1 || v != 0 {
		t.Errorf("restoring partitions: %d series, value %v once /readyz is 200; want 1 series, 0", n, v)
	}
	if v := metric(t, m, "kafmesh_processor_records_in_total", map[string]string{"component": "counting", "part": "counter"}); v != 0 {
		t.Errorf("records in before any input: %v", v)
	}

	const total = 500
	var batch []runner.Keyed[*wrapperspb.StringValue]
	for i := range total {
		batch = append(batch, runner.Keyed[*wrapperspb.StringValue]{Key: fmt.Sprintf("key-%d", i%5), Value: wrapperspb.String(fmt.Sprintf("event-%d", i))})
	}
	if err := src.EmitBulk(t.Context(), batch); err != nil {
		t.Fatal(err)
	}
	want := []struct {
		name   string
		labels map[string]string
	}{
		{"kafmesh_source_records_total", map[string]string{"service": "counting", "topic": c.in}},
		{"kafmesh_processor_records_in_total", map[string]string{"component": "counting", "part": "counter", "topic": c.in}},
		{"kafmesh_processor_records_out_total", map[string]string{"component": "counting", "part": "counter", "topic": c.out}},
		{"kafmesh_sink_records_total", map[string]string{"component": "counting", "part": "export"}},
	}
	waitUntil(t, 60*time.Second, func() string {
		m := scrape(t, base)
		for _, w := range want {
			if v := metric(t, m, w.name, w.labels); v != total {
				return fmt.Sprintf("%s%v = %v, want %d", w.name, w.labels, v, total)
			}
		}
		// Handler latency is observed for every record.
		if v := metric(t, m, "kafmesh_processor_handler_seconds", map[string]string{"component": "counting", "part": "counter"}); v != total {
			return fmt.Sprintf("handler latency observed %v times for %d records", v, total)
		}
		// Commits and flushes follow within their intervals.
		if v := metric(t, m, "kafmesh_processor_commits_total", map[string]string{"component": "counting", "part": "counter"}); v < 1 {
			return fmt.Sprintf("commits = %v after %d records", v, total)
		}
		if v := metric(t, m, "kafmesh_sink_batch_records", map[string]string{"component": "counting", "part": "export"}); v < 1 {
			return "no sink batch observed"
		}
		return ""
	})
	m = scrape(t, base)
	if n := series(m, "kafmesh_processor_restore_seconds"); n != 4 {
		t.Errorf("restore durations for %d partitions, want 4", n)
	}
	if n := series(m, "kafmesh_processor_lag_records"); n < 1 {
		t.Error("no consumer lag series")
	}
	// The Go runtime, the process and franz-go's own client metrics are
	// served on the same registry.
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total", "kafmesh_kafka_connects_total", "kafmesh_kafka_read_bytes_total"} {
		if n := series(m, name); n < 1 {
			t.Errorf("/metrics has no %s", name)
		}
	}
	if sink.collected.Load() != total {
		t.Errorf("sink collected %d, want %d", sink.collected.Load(), total)
	}

	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Error("the HTTP server still answers after Run returned")
	}
}

// With WithRegisterer the caller's registry holds the metrics, and
// /metrics says so instead of serving an empty page.
func TestMetricsOnCallersRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	s, err := runner.NewService(runner.Definition{Name: "mine"}, runner.WithBrokers("127.0.0.1:1"), runner.WithStateDir(t.TempDir()),
		runner.WithLogger(testLogger(t)), runner.WithRegisterer(reg))
	if err != nil {
		t.Fatal(err)
	}
	if s.Gatherer() != nil {
		t.Error("Gatherer is not nil with a caller's registerer")
	}
	rec := httptest.NewRecorder()
	s.HTTPHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), "WithRegisterer") {
		t.Errorf("/metrics: %d %q", rec.Code, rec.Body.String())
	}
	if n := series(reg, "kafmesh_watch_watchers"); n != 1 {
		t.Errorf("the caller's registry has %d kafmesh_watch_watchers series, want 1", n)
	}
}

// A service without WithHTTPAddr tries runner.DefaultHTTPAddr; when that
// address is taken it runs without the HTTP server instead of failing,
// while an explicit address that is taken fails Run with a clear error.
func TestDefaultHTTPAddrTaken(t *testing.T) {
	brokers := kafmeshtest.StartBroker(t)
	if lis, err := net.Listen("tcp", runner.DefaultHTTPAddr); err == nil {
		defer lis.Close()
	} // else someone else holds it: the same situation.
	s, err := runner.NewService(runner.Definition{Name: "defaulthttp"}, runner.WithBrokers(brokers...),
		runner.WithStateDir(t.TempDir()), runner.WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	stop := running(t, s)
	time.Sleep(500 * time.Millisecond)
	if s.HTTPAddr() != "" {
		t.Errorf("HTTPAddr = %q while the default address is taken", s.HTTPAddr())
	}
	if err := stop(); err != nil {
		t.Errorf("Run with the default address taken: %v", err)
	}

	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	s = newService(t, brokers, "explicithttp", t.TempDir(), runner.WithHTTPAddr(taken.Addr().String()))
	err = s.Run(t.Context())
	if err == nil || !strings.Contains(err.Error(), "HTTP listener") {
		t.Errorf("Run on a taken explicit address: %v, want an HTTP listener error", err)
	}
}
