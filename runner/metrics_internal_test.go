package runner

import (
	"math"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// BenchmarkHandlerTiming is what timing every record costs the processor
// loop: one clock read and a count in the task's tally (compare with the
// per-record time of BenchmarkHandlePath).
func BenchmarkHandlerTiming(b *testing.B) {
	m := newMetrics(prometheus.NewRegistry(), "bench")
	counts := m.processorLatency.part("c", "p")
	base := time.Now()
	var tally handlerTally
	last := time.Since(base)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		now := time.Since(base)
		tally.observe(now - last)
		last = now
		if i%256 == 255 {
			counts.add(&tally)
		}
	}
}

// TestHandlerHistogramExposition: the tallies of two tasks add up to one
// Prometheus histogram per part, with the service label, cumulative
// buckets whose bounds are inclusive, the count and the sum.
func TestHandlerHistogramExposition(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := newMetrics(reg, "svc")
	counts := m.processorLatency.part("comp", "proc")
	if again := m.processorLatency.part("comp", "proc"); again != counts {
		t.Fatal("a part's counts are not shared by its tasks")
	}
	var a, b handlerTally
	for _, d := range []time.Duration{time.Microsecond, 5 * time.Microsecond, 7 * time.Microsecond} {
		a.observe(d)
	}
	for _, d := range []time.Duration{2 * time.Second, 10 * time.Second} {
		b.observe(d)
	}
	counts.add(&a)
	counts.add(&b)
	if a.count != 0 || b.count != 0 {
		t.Fatal("a tally is not emptied by add")
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, f := range families {
		if f.GetName() != "kafmesh_processor_handler_seconds" {
			continue
		}
		found = true
		if len(f.GetMetric()) != 1 {
			t.Fatalf("%d series, want 1", len(f.GetMetric()))
		}
		s := f.GetMetric()[0]
		labels := map[string]string{}
		for _, l := range s.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		if labels["service"] != "svc" || labels["component"] != "comp" || labels["part"] != "proc" {
			t.Errorf("labels %v", labels)
		}
		h := s.GetHistogram()
		if h.GetSampleCount() != 5 {
			t.Errorf("count %d, want 5", h.GetSampleCount())
		}
		if want := (13*time.Microsecond + 12*time.Second).Seconds(); math.Abs(h.GetSampleSum()-want) > 1e-9 {
			t.Errorf("sum %v, want %v", h.GetSampleSum(), want)
		}
		want := map[float64]uint64{5e-6: 2, 1e-5: 3, 5e-5: 3, 1: 3, 5: 4}
		for _, bk := range h.GetBucket() {
			if w, ok := want[bk.GetUpperBound()]; ok && bk.GetCumulativeCount() != w {
				t.Errorf("bucket le=%v: %d, want %d", bk.GetUpperBound(), bk.GetCumulativeCount(), w)
			}
		}
		if len(h.GetBucket()) != len(handlerBuckets) {
			t.Errorf("%d buckets, want %d", len(h.GetBucket()), len(handlerBuckets))
		}
	}
	if !found {
		t.Fatal("kafmesh_processor_handler_seconds not gathered")
	}
}
