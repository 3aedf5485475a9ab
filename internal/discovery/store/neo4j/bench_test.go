package neo4j_test

import (
	"context"
	"testing"
	"time"

	"github.com/kafmesh/kafmesh/internal/discovery/internal/meshtest"
	"github.com/kafmesh/kafmesh/internal/discovery/scrape"
	"github.com/kafmesh/kafmesh/internal/discovery/targets"
)

// BenchmarkRound500 is discovery/scrape's BenchmarkRound500 with the Neo4j
// store: 500 real targets, a first round writing the whole mesh and a
// steady round writing timestamps only.
func BenchmarkRound500(b *testing.B) {
	uri := serverURI(b)
	const n = 500
	src, err := targets.NewStatic(meshtest.ServeMany(b, n), "")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		b.StopTimer()
		wipe(b, uri)
		st := open(b, uri)
		s := scrape.New(st, []targets.Source{src})
		b.StartTimer()
		start := time.Now()
		first := s.Round(context.Background())
		firstTook := time.Since(start)
		start = time.Now()
		steady := s.Round(context.Background())
		steadyTook := time.Since(start)
		b.StopTimer()
		if first.Failed() != 0 || steady.Failed() != 0 {
			b.Fatalf("failures: %d then %d", first.Failed(), steady.Failed())
		}
		b.ReportMetric(firstTook.Seconds(), "s/first-round")
		b.ReportMetric(steadyTook.Seconds(), "s/steady-round")
		st.Close()
		b.StartTimer()
	}
}
