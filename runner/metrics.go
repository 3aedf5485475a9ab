package runner

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kafmesh/kafmesh/internal/buildinfo"
)

// metrics are the service's Prometheus collectors, registered on the
// service's own registry (or the registerer given with WithRegisterer).
type metrics struct {
	processorIn       *prometheus.CounterVec
	processorOut      *prometheus.CounterVec
	processorLatency  *prometheus.HistogramVec
	processorErrors   *prometheus.CounterVec
	processorLag      *prometheus.GaugeVec
	restoreRecords    *prometheus.GaugeVec
	restoreSeconds    *prometheus.GaugeVec
	processorCommits  *prometheus.CounterVec
	sourceRecords     *prometheus.CounterVec
	sourceErrors      *prometheus.CounterVec
	sinkBatchSize     *prometheus.HistogramVec
	sinkFlushSeconds  *prometheus.HistogramVec
	sinkErrors        *prometheus.CounterVec
	sinkRecords       *prometheus.CounterVec
	viewSourceSyncs   *prometheus.CounterVec
	viewSourceWrites  *prometheus.CounterVec
	viewSinkSyncs     *prometheus.CounterVec
	watchDropped      prometheus.Counter
	watchersConnected prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	const ns = "kafmesh"
	counter := func(sub, name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: name, Help: help}, labels)
	}
	gauge := func(sub, name, help string, labels ...string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: name, Help: help}, labels)
	}
	hist := func(sub, name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub, Name: name, Help: help, Buckets: buckets}, labels)
	}
	m := &metrics{
		processorIn:      counter("processor", "records_in_total", "Input records handled.", "group", "topic"),
		processorOut:     counter("processor", "records_out_total", "Output records produced.", "group", "topic"),
		processorLatency: hist("processor", "handler_seconds", "Time to handle one input record.", prometheus.ExponentialBuckets(1e-6, 4, 12), "group"),
		processorErrors:  counter("processor", "errors_total", "Records that failed, by what the error policy did (failed, retried, skipped, dead_lettered, undecodable).", "group", "outcome"),
		processorLag:     gauge("processor", "lag_records", "High watermark minus the next offset to process.", "group", "topic", "partition"),
		restoreRecords:   gauge("processor", "restored_records", "State and join records applied while restoring the partition.", "group", "partition"),
		restoreSeconds:   gauge("processor", "restore_seconds", "Time the last restore of the partition took.", "group", "partition"),
		processorCommits: counter("processor", "commits_total", "Commits (at-least-once) or committed transactions (exactly-once).", "group"),
		sourceRecords:    counter("source", "records_total", "Records acknowledged.", "topic"),
		sourceErrors:     counter("source", "errors_total", "Records that failed.", "topic"),
		sinkBatchSize:    hist("sink", "batch_records", "Records per flushed batch.", prometheus.ExponentialBuckets(1, 4, 10), "group"),
		sinkFlushSeconds: hist("sink", "flush_seconds", "Time Flush took.", prometheus.ExponentialBuckets(1e-4, 4, 10), "group"),
		sinkErrors:       counter("sink", "errors_total", "Collect or Flush failures, by outcome.", "group", "outcome"),
		sinkRecords:      counter("sink", "records_total", "Records collected.", "group"),
		viewSourceSyncs:  counter("view_source", "syncs_total", "Syncs, by result (ok, error, timeout).", "name", "result"),
		viewSourceWrites: counter("view_source", "writes_total", "Records written (update or delete).", "name", "kind"),
		viewSinkSyncs:    counter("view_sink", "syncs_total", "Syncs, by result (ok, error, timeout).", "name", "result"),
		watchDropped: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: "watch", Name: "dropped_watchers_total",
			Help: "Watchers dropped because they did not keep up."}),
		watchersConnected: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: "watch", Name: "watchers",
			Help: "Watch streams connected."}),
	}
	reg.MustRegister(m.processorIn, m.processorOut, m.processorLatency, m.processorErrors, m.processorLag,
		m.restoreRecords, m.restoreSeconds, m.processorCommits, m.sourceRecords, m.sourceErrors,
		m.sinkBatchSize, m.sinkFlushSeconds, m.sinkErrors, m.sinkRecords,
		m.viewSourceSyncs, m.viewSourceWrites, m.viewSinkSyncs, m.watchDropped, m.watchersConnected)
	reg.MustRegister(newBuildInfoGauge(buildinfo.Read()))
	return m
}

// newBuildInfoGauge is kafmesh_build_info: always 1, with the kafmesh
// version linked into the binary, the VCS revision the binary was built from
// (empty when not recorded) and the Go version as labels, the same values
// `kafmesh version` prints (internal/buildinfo).
func newBuildInfoGauge(info buildinfo.Info) prometheus.Gauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "kafmesh_build_info",
		Help:        "Always 1; the labels say which kafmesh version, VCS revision and Go version the service was built with.",
		ConstLabels: prometheus.Labels{"version": info.Version, "revision": info.Revision, "goversion": info.GoVersion}})
	g.Set(1)
	return g
}

var (
	viewReadyDesc = prometheus.NewDesc("kafmesh_view_ready",
		"1 once the table caught up with the end offsets it saw at start.", []string{"topic"}, nil)
	viewLagDesc = prometheus.NewDesc("kafmesh_view_lag_records",
		"High watermark minus the next offset to apply, summed over partitions.", []string{"topic"}, nil)
)

// tableCollector reports the readiness and lag of every table (views,
// lookups, view sinks) when scraped.
type tableCollector struct{ ts *tableSet }

func (c tableCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- viewReadyDesc
	ch <- viewLagDesc
}

func (c tableCollector) Collect(ch chan<- prometheus.Metric) {
	c.ts.mu.Lock()
	tables := make([]*table, 0, len(c.ts.tables))
	for _, t := range c.ts.tables {
		tables = append(tables, t)
	}
	c.ts.mu.Unlock()
	for _, t := range tables {
		ready := 0.0
		if t.ready() {
			ready = 1
		}
		ch <- prometheus.MustNewConstMetric(viewReadyDesc, prometheus.GaugeValue, ready, t.ref.Topic)
		ch <- prometheus.MustNewConstMetric(viewLagDesc, prometheus.GaugeValue, float64(t.lag()), t.ref.Topic)
	}
}
