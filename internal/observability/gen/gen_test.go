package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/kafmesh/kafmesh/internal/discovery/scrape"
	"github.com/kafmesh/kafmesh/internal/discovery/store"
	"github.com/kafmesh/kafmesh/kafmeshtest"
	"github.com/kafmesh/kafmesh/runner"
)

// The committed dashboards and rules are exactly what the generator
// writes: edit gen.go and run it, never the files.
func TestGeneratedFilesFresh(t *testing.T) {
	for name, want := range render() {
		got, err := os.ReadFile(filepath.Join("..", "..", "..", "deploy", "observability", name))
		if err != nil {
			t.Fatalf("%v (run: go run ./internal/observability/gen)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale: run go run ./internal/observability/gen", name)
		}
		if strings.HasSuffix(name, ".json") && !json.Valid(got) {
			t.Errorf("%s is not valid JSON", name)
		}
	}
}

// captured records the names of every metric family described by the
// collectors registered on it.
type captured map[string]bool

var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

func (c captured) Register(col prometheus.Collector) error {
	ch := make(chan *prometheus.Desc, 64)
	go func() { col.Describe(ch); close(ch) }()
	for d := range ch {
		if m := fqName.FindStringSubmatch(d.String()); m != nil {
			c[m[1]] = true
		}
	}
	return nil
}
func (c captured) MustRegister(cs ...prometheus.Collector) {
	for _, col := range cs {
		_ = c.Register(col)
	}
}
func (c captured) Unregister(prometheus.Collector) bool { return true }

// Every metric the dashboards and rules name is defined by the runtime or
// by kafmesh discover, with these names.
func TestMetricsDefined(t *testing.T) {
	defined := captured{}
	if _, err := runner.NewService(runner.Definition{Name: "gen"}, runner.WithBrokers("127.0.0.1:1"),
		runner.WithStateDir(t.TempDir()), runner.WithRegisterer(defined)); err != nil {
		t.Fatal(err)
	}
	scrape.New(nil, nil, scrape.WithRegisterer(defined))
	store.Instrument(nil, defined)
	names := metricsNamed()
	if len(names) < 20 {
		t.Fatalf("only %d metrics named: %v", len(names), names)
	}
	for _, n := range names {
		if !defined[n] {
			t.Errorf("dashboards or rules name %s, which neither the runtime nor discover defines", n)
		}
	}
}

// The service-side metrics the dashboards and rules name are on a running
// service's /metrics once records flowed through a source, a stateful
// processor and a sink (view sources and view sinks, and sink errors,
// appear only with those parts or failures; TestMetricsDefined covers them).
func TestMetricsOnRunningService(t *testing.T) {
	brokers := kafmeshtest.StartBroker(t)
	in, out, group := kafmeshtest.Unique(t, "gen-in"), kafmeshtest.Unique(t, "gen-out"), kafmeshtest.Unique(t, "gen")
	table := kafmeshtest.Unique(t, "gen-table")
	kafmeshtest.CreateTopic(t, brokers, in, 2, false)
	kafmeshtest.CreateTopic(t, brokers, out, 2, false)
	kafmeshtest.CreateTopic(t, brokers, table, 2, true)
	str := runner.Proto[wrapperspb.StringValue]()
	ref := func(topic string) runner.TopicRef {
		return runner.TopicRef{Topic: topic, Message: "google.protobuf.StringValue", Type: runner.TopicProtobuf}
	}
	s, err := runner.NewService(runner.Definition{Name: "gen"}, runner.WithBrokers(brokers...), runner.WithStateDir(t.TempDir()),
		runner.WithMemoryState(), runner.WithHTTPAddr("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	src, err := runner.NewSource(s, runner.SourceSpec{Component: "gw", TopicRef: ref(in)}, str)
	if err != nil {
		t.Fatal(err)
	}
	st := ref(group + "-table")
	p := runner.NewProcessor(runner.ProcessorSpec{Component: "c", Name: "p", Group: group, Inputs: []runner.TopicRef{ref(in)},
		Outputs: []runner.OutputRef{{TopicRef: ref(out)}}, State: &st})
	runner.HandleInput(p, 0, str, func(ctx *runner.ProcessorContext, m *wrapperspb.StringValue) error {
		runner.SaveState(ctx, str, m)
		runner.Output(ctx, 0, str, ctx.Key(), m)
		return nil
	})
	if err := s.Register(p); err != nil {
		t.Fatal(err)
	}
	if _, err := runner.NewView(s, runner.ViewSpec{Component: "c", TopicRef: ref(table)}, str); err != nil {
		t.Fatal(err)
	}
	if err := runner.NewSink(s, runner.SinkSpec{Component: "c", Name: "sink", Group: kafmeshtest.Unique(t, "gen-sink"), TopicRef: ref(out)},
		runner.Raw(), nopSink{}, runner.Interval(50*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if err := s.ConfigureTopics(t.Context()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	optional := map[string]bool{ // need parts or failures this service has not
		"kafmesh_view_source_syncs_total": true, "kafmesh_view_sink_syncs_total": true, "kafmesh_sink_errors_total": true, "kafmesh_source_errors_total": true,
	}
	var missing []string
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if s.HTTPAddr() != "" {
			_ = src.Emit(t.Context(), "k", wrapperspb.String("v"))
			body := get(t, "http://"+s.HTTPAddr()+"/metrics")
			missing = missing[:0]
			for _, n := range metricsNamed() {
				if !optional[n] && strings.HasPrefix(n, "kafmesh_") && !strings.HasPrefix(n, "kafmesh_discover_") &&
					!strings.Contains(body, "\n"+n+"{") && !strings.Contains(body, "\n"+n+"_bucket{") {
					missing = append(missing, n)
				}
			}
			for _, n := range []string{"go_goroutines", "process_cpu_seconds_total", "kafmesh_kafka_connects_total"} {
				if !strings.Contains(body, "\n"+n) {
					missing = append(missing, n)
				}
			}
			if len(missing) == 0 {
				return
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Errorf("a running service's /metrics lacks %v", missing)
}

type nopSink struct{}

func (nopSink) Collect(runner.SinkContext, string, []byte) error { return nil }
func (nopSink) Flush(context.Context) error                      { return nil }

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
