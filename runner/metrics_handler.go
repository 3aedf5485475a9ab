package runner

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// handlerHistogram is kafmesh_processor_handler_seconds. Every record is
// timed, so the per-record cost matters: a task counts its records into a
// handlerTally of its own (no atomics, no shared cache lines) and adds the
// tally to its part's handlerCounts once per poll. A Prometheus histogram
// observed per record took 4-8% of W1's CPU, mostly in atomic adds that
// the processing goroutines contended for.
type handlerHistogram struct {
	desc *prometheus.Desc

	mu    sync.Mutex
	parts map[[2]string]*handlerCounts // by component and part
}

// handlerCounts are one part's totals.
type handlerCounts struct {
	labels []string

	mu      sync.Mutex
	buckets [len(handlerBuckets) + 1]uint64 // per bucket, not cumulative; the last is +Inf
	count   uint64
	sum     time.Duration
}

// handlerTally is a task's count since its last add.
type handlerTally struct {
	buckets [len(handlerBuckets) + 1]uint64
	count   uint64
	sum     time.Duration
}

// handlerBounds are handlerBuckets as durations, for a comparison without
// a float conversion per record.
var handlerBounds = func() (b [len(handlerBuckets)]time.Duration) {
	for i, s := range handlerBuckets {
		b[i] = time.Duration(s * float64(time.Second))
	}
	return b
}()

func newHandlerHistogram(name, help string, constLabels prometheus.Labels) *handlerHistogram {
	return &handlerHistogram{
		desc:  prometheus.NewDesc(name, help, []string{labelComponent, labelPart}, constLabels),
		parts: map[[2]string]*handlerCounts{},
	}
}

// part returns the counts of one processor, made on first use.
func (h *handlerHistogram) part(component, part string) *handlerCounts {
	h.mu.Lock()
	defer h.mu.Unlock()
	k := [2]string{component, part}
	c := h.parts[k]
	if c == nil {
		c = &handlerCounts{labels: []string{component, part}}
		h.parts[k] = c
	}
	return c
}

// Describe implements prometheus.Collector.
func (h *handlerHistogram) Describe(ch chan<- *prometheus.Desc) { ch <- h.desc }

// Collect implements prometheus.Collector.
func (h *handlerHistogram) Collect(ch chan<- prometheus.Metric) {
	h.mu.Lock()
	parts := make([]*handlerCounts, 0, len(h.parts))
	for _, c := range h.parts {
		parts = append(parts, c)
	}
	h.mu.Unlock()
	for _, c := range parts {
		c.mu.Lock()
		cumulative := make(map[float64]uint64, len(handlerBuckets))
		var n uint64
		for i, upper := range handlerBuckets {
			n += c.buckets[i]
			cumulative[upper] = n
		}
		count, sum := c.count, c.sum.Seconds()
		c.mu.Unlock()
		ch <- prometheus.MustNewConstHistogram(h.desc, count, sum, cumulative, c.labels...)
	}
}

// observe counts one record's duration.
func (t *handlerTally) observe(d time.Duration) {
	i := 0
	for i < len(handlerBounds) && d > handlerBounds[i] {
		i++
	}
	t.buckets[i]++
	t.count++
	t.sum += d
}

// add moves a task's tally into the part's counts.
func (c *handlerCounts) add(t *handlerTally) {
	if t.count == 0 {
		return
	}
	c.mu.Lock()
	for i, n := range t.buckets {
		c.buckets[i] += n
	}
	c.count += t.count
	c.sum += t.sum
	c.mu.Unlock()
	*t = handlerTally{}
}
