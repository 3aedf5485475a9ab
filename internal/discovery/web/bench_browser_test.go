package web_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	discoveryv1 "github.com/kafmesh/kafmesh/api/discovery/v1"
	"github.com/kafmesh/kafmesh/internal/discovery/mesh"
	"github.com/kafmesh/kafmesh/internal/discovery/server"
	"github.com/kafmesh/kafmesh/internal/discovery/store/sqlite"
	"github.com/kafmesh/kafmesh/internal/discovery/web"
	"github.com/kafmesh/kafmesh/internal/discovery/web/webtest"
)

// generatedService is service i of a generated mesh laid out as a
// company's would be: services in tiers of 20 (ingestion first), each
// owning `topics` topics (a source writes the first, a processor reads it
// and writes the others) and reading the first topic of two services of the
// tier before it, so the map has 10 layers and about 360 dependencies.
func generatedService(i, topics int) *discoveryv1.Service {
	const tierSize = 20
	name := fmt.Sprintf("svc%03d", i)
	topic := func(svc, n int) *discoveryv1.TopicDefinition {
		t := fmt.Sprintf("svc%03d.topic%02d", svc, n)
		return &discoveryv1.TopicDefinition{Topic: t, Message: "gen.Msg" + fmt.Sprint(n), Type: discoveryv1.TopicType_TOPIC_TYPE_PROTOBUF}
	}
	p := &discoveryv1.Processor{Name: "worker", GroupName: name + ".core.worker", Inputs: []*discoveryv1.Input{{Topic: topic(i, 0)}}}
	if tier := i / tierSize; tier > 0 {
		prev := (tier - 1) * tierSize
		p.Joins = append(p.Joins, &discoveryv1.Join{Topic: topic(prev+(i*7)%tierSize, 0)})
		p.Lookups = append(p.Lookups, &discoveryv1.Lookup{Topic: topic(prev+(i*13+5)%tierSize, 0)})
	}
	for n := 1; n < topics; n++ {
		p.Outputs = append(p.Outputs, &discoveryv1.Output{Topic: topic(i, n)})
	}
	return &discoveryv1.Service{
		Name: name, Description: "generated",
		Components: []*discoveryv1.Component{
			{Name: "ingest", Sources: []*discoveryv1.Source{{Topic: topic(i, 0)}}},
			{Name: "core", Processors: []*discoveryv1.Processor{p}, Sinks: []*discoveryv1.Sink{{Name: "archive", Topic: topic(i, topics-1)}}},
		},
	}
}

// seededServer serves discovery's API and UI over an SQLite store holding
// a generated mesh of services × topicsPerService topics, one pod each.
func seededServer(tb testing.TB, services, topicsPerService int) string {
	tb.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "mesh.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = st.Close() })
	now := time.Now()
	for i := 0; i < services; i++ {
		tree, err := mesh.FromService(generatedService(i, topicsPerService))
		if err != nil {
			tb.Fatal(err)
		}
		ns := fmt.Sprintf("team%d", i%8)
		pod := mesh.Pod{ID: mesh.PodID(ns, fmt.Sprintf("svc%03d-0", i), "uid"), Namespace: ns, Name: fmt.Sprintf("svc%03d-0", i), UID: "uid", Address: fmt.Sprintf("10.0.%d.%d:443", i/250, i%250), Source: "kubernetes"}
		if _, err := st.Report(ctx, pod, now, tree); err != nil {
			tb.Fatal(err)
		}
	}
	g, err := st.Graph(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	if n := len(g.Nodes(mesh.KindTopic)); n != services*topicsPerService {
		tb.Fatalf("seeded %d topics, want %d", n, services*topicsPerService)
	}
	srv := httptest.NewServer(server.New(st.Graph, server.WithUI(web.Handler())).Handler())
	tb.Cleanup(srv.Close)
	return srv.URL
}

// BenchmarkMapInteractive measures how long the mesh map of a generated
// mesh of 200 services and 2,000 topics takes, in headless Chromium with
// the browser cache off, from navigation start until the map is laid out
// and drawn and a search typed into it has been handled (ms-to-interactive),
// and when it was drawn (ms-to-drawn). The topics page, listing all 2,000
// topics, is measured the same way (ms-topics-ready).
func BenchmarkMapInteractive(b *testing.B) {
	url := seededServer(b, 200, 10)
	br := webtest.NewBrowser(b)
	br.Do(b, "disable the cache", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if _, err := cdp.Call(ctx, t, network.Enable, network.EnableParams{}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, t, network.SetCacheDisabled, network.SetCacheDisabledParams{CacheDisabled: true})
		return err
	}))
	var interactive, drawn, topics, query, layout, draw float64
	for i := 0; i < b.N; i++ {
		br.Do(b, "blank", chromedp.Navigate("about:blank"))
		br.Open(b, fmt.Sprintf("%s/?run=%d", url, i))
		// An input handled: type a search and read the clock once the map
		// has marked the matches.
		t := webtest.Eval[float64](b, br, `(() => {
			const f = document.querySelector('[data-testid="map-filter"]');
			f.value = "svc123";
			f.dispatchEvent(new Event("input"));
			if (window.kafmeshUI.graph().nodes.filter(n => n.classes.includes("match")).length !== 1) throw new Error("search not handled");
			return performance.now();
		})()`)
		interactive += t
		drawn += webtest.Eval[float64](b, br, `window.kafmeshUI.readyAt`)
		query += webtest.Eval[float64](b, br, `window.kafmeshUI.timings.query`)
		layout += webtest.Eval[float64](b, br, `window.kafmeshUI.timings.layout`)
		draw += webtest.Eval[float64](b, br, `window.kafmeshUI.timings.draw`)
		if n := len(br.Graph(b).Nodes); n != 200 {
			b.Fatalf("map shows %d services, want 200", n)
		}
		if i == 0 && b.N == 1 {
			b.StopTimer()
			br.Screenshot(b, "bench-map-200-services")
			b.StartTimer()
		}
		br.Do(b, "blank", chromedp.Navigate("about:blank"))
		br.Open(b, fmt.Sprintf("%s/?run=%d#/topics", url, i))
		topics += webtest.Eval[float64](b, br, `window.kafmeshUI.readyAt`)
		if n := webtest.Eval[int](b, br, `document.querySelectorAll("tr[data-topic]").length`); n != 2000 {
			b.Fatalf("topics page lists %d topics, want 2000", n)
		}
	}
	b.ReportMetric(interactive/float64(b.N), "ms-to-interactive")
	b.ReportMetric(drawn/float64(b.N), "ms-to-drawn")
	b.ReportMetric(topics/float64(b.N), "ms-topics-ready")
	b.ReportMetric(query/float64(b.N), "ms-query")
	b.ReportMetric(layout/float64(b.N), "ms-layout")
	b.ReportMetric(draw/float64(b.N), "ms-draw")
	br.NoPageErrors(b)
}

// BenchmarkMapFlowLevel measures the map's data-flow level (services and
// the topics between them) of the same 200-service, 2,000-topic mesh: from
// navigation start until it is laid out and drawn (ms-to-drawn), with the
// parts. The level is opt-in (?level=flow); the service-box level that
// BenchmarkMapInteractive measures stays the default for big meshes.
func BenchmarkMapFlowLevel(b *testing.B) {
	url := seededServer(b, 200, 10)
	br := webtest.NewBrowser(b)
	var drawn, layout, draw float64
	nodes := 0
	for i := 0; i < b.N; i++ {
		br.Do(b, "blank", chromedp.Navigate("about:blank"))
		br.Open(b, fmt.Sprintf("%s/?run=%d#/?level=flow", url, i))
		drawn += webtest.Eval[float64](b, br, `window.kafmeshUI.readyAt`)
		layout += webtest.Eval[float64](b, br, `window.kafmeshUI.timings.layout`)
		draw += webtest.Eval[float64](b, br, `window.kafmeshUI.timings.draw`)
		g := br.Graph(b)
		if nodes = len(g.Nodes); nodes < 200 {
			b.Fatalf("the data-flow map shows %d nodes, want the 200 services and their topics", nodes)
		}
	}
	b.ReportMetric(float64(nodes), "nodes")
	b.ReportMetric(drawn/float64(b.N), "ms-to-drawn")
	b.ReportMetric(layout/float64(b.N), "ms-layout")
	b.ReportMetric(draw/float64(b.N), "ms-draw")
	br.NoPageErrors(b)
}
