package runner

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// BenchmarkHandlerTiming is what timing every record costs the processor
// loop: two clock reads and one observation of the handler histogram
// (compare with the per-record time of BenchmarkProcessorCountByKey).
func BenchmarkHandlerTiming(b *testing.B) {
	m := newMetrics(prometheus.NewRegistry(), "bench")
	h := m.processorLatency.WithLabelValues("c", "p")
	b.ReportAllocs()
	for b.Loop() {
		start := time.Now()
		h.Observe(time.Since(start).Seconds())
	}
}
