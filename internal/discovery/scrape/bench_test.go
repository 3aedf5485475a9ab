package scrape_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/kafmesh/kafmesh/internal/discovery/internal/meshtest"
	"github.com/kafmesh/kafmesh/internal/discovery/scrape"
	"github.com/kafmesh/kafmesh/internal/discovery/targets"
)

func heapMiB() float64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return float64(m.HeapInuse) / (1 << 20)
}

// BenchmarkRound500 scrapes 500 targets into a fresh SQLite file (first
// round: every node written) and then again (steady state: nothing
// changed, timestamps only), with the default concurrency and timeout.
// Reported: seconds per round of each kind and the heap in use after them.
func BenchmarkRound500(b *testing.B) {
	const n = 500
	src := &listSource{}
	src.set(nil, meshtest.ServeMany(b, n)...)
	for b.Loop() {
		b.StopTimer()
		st := openStore(b)
		s := scrape.New(st, []targets.Source{src})
		before := heapMiB()
		b.StartTimer()

		start := time.Now()
		first := s.Round(context.Background())
		firstTook := time.Since(start)
		start = time.Now()
		steady := s.Round(context.Background())
		steadyTook := time.Since(start)

		b.StopTimer()
		if first.Failed() != 0 || steady.Failed() != 0 || len(first.Results) != n {
			b.Fatalf("failures: %d then %d of %d", first.Failed(), steady.Failed(), len(first.Results))
		}
		for _, r := range steady.Results {
			if !r.Change.Unchanged {
				b.Fatalf("steady round rewrote %s", r.Target.ID)
			}
		}
		g, err := st.Graph(context.Background())
		if err != nil || len(g.Pods()) != n {
			b.Fatalf("graph: %v", err)
		}
		b.ReportMetric(firstTook.Seconds(), "s/first-round")
		b.ReportMetric(steadyTook.Seconds(), "s/steady-round")
		b.ReportMetric(heapMiB()-before, "MiB-heap-growth")
		b.ReportMetric(float64(len(g.Edges())), "edges")
		st.Close()
		b.StartTimer()
	}
}
