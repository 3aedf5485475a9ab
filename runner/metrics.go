package runner

import (
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kprom"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	oteltrace "go.opentelemetry.io/otel/trace"

	"github.com/kafmesh/kafmesh/internal/buildinfo"
)

// metrics are the service's Prometheus collectors, registered on the
// service's own registry (or the registerer given with WithRegisterer).
type metrics struct {
	processorIn       *prometheus.CounterVec
	processorOut      *prometheus.CounterVec
	processorLatency  *handlerHistogram
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
	// Added for fault recovery.
	processorRestarts *prometheus.CounterVec
	processorHanging  *prometheus.GaugeVec
	viewUndecodable   *prometheus.CounterVec
}

// Label vocabulary of every kafmesh_* metric (docs/runtime.md, "Metric
// labels"): service (a constant label, the service name), component, part
// (the part's name within its component), topic, and partition only on
// per-partition gauges, whose count is bounded by the topic. The remaining
// labels name a bounded outcome: outcome, result, kind.
const (
	labelComponent = "component"
	labelPart      = "part"
	labelTopic     = "topic"
	labelPartition = "partition"
)

// handlerBuckets are the fixed buckets of the handler duration histogram:
// 5µs to 5s, two per decade (a handler that calls out to a store lands in
// the upper half). Fixed buckets keep an observation to a few comparisons
// and a count in the task's own tally (metrics_handler.go).
var handlerBuckets = [...]float64{5e-6, 1e-5, 5e-5, 1e-4, 5e-4, 1e-3, 5e-3, 1e-2, 5e-2, 0.1, 0.5, 1, 5}

// newMetrics creates the runtime's collectors and registers them on reg,
// each with the constant label service=<service>.
func newMetrics(reg prometheus.Registerer, service string) *metrics {
	reg = prometheus.WrapRegistererWith(prometheus.Labels{"service": service}, reg)
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
	const c, p, t, pn = labelComponent, labelPart, labelTopic, labelPartition
	m := &metrics{
		processorIn:  counter("processor", "records_in_total", "Input records handled.", c, p, t),
		processorOut: counter("processor", "records_out_total", "Output records produced (dead letters included, on the -dlq topic).", c, p, t),
		processorLatency: newHandlerHistogram(ns+"_processor_handler_seconds",
			"Time each input record took: its handler, and the runtime's work since the previous record's handler ended (usually well under a microsecond: handing that record's outputs to the producer, which waits when the producer's buffer is full). Every record; each retry attempt is one observation.", nil),
		processorErrors:  counter("processor", "errors_total", "Records that failed, by what the error policy did (failed, retried, skipped, dead_lettered, undecodable).", c, p, "outcome"),
		processorLag:     gauge("processor", "lag_records", "High watermark minus the next offset to process.", c, p, t, pn),
		restoreRecords:   gauge("processor", "restored_records", "State and join records applied while restoring the partition.", c, p, pn),
		restoreSeconds:   gauge("processor", "restore_seconds", "Time the last restore of the partition took.", c, p, pn),
		processorCommits: counter("processor", "commits_total", "Commits (at-least-once) or committed transactions (exactly-once).", c, p),
		sourceRecords:    counter("source", "records_total", "Records acknowledged.", c, t),
		sourceErrors:     counter("source", "errors_total", "Records that failed.", c, t),
		sinkBatchSize:    hist("sink", "batch_records", "Records per flushed batch.", prometheus.ExponentialBuckets(1, 4, 10), c, p),
		sinkFlushSeconds: hist("sink", "flush_seconds", "Time Flush took.", prometheus.ExponentialBuckets(1e-4, 4, 10), c, p),
		sinkErrors:       counter("sink", "errors_total", "Collect or Flush failures, by outcome.", c, p, "outcome"),
		sinkRecords:      counter("sink", "records_total", "Records collected.", c, p),
		viewSourceSyncs:  counter("view_source", "syncs_total", "Syncs, by result (ok, error, timeout).", c, p, "result"),
		viewSourceWrites: counter("view_source", "writes_total", "Records written (update or delete).", c, p, "kind"),
		viewSinkSyncs:    counter("view_sink", "syncs_total", "Syncs, by result (ok, error, timeout).", c, p, "result"),
		watchDropped: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: "watch", Name: "dropped_watchers_total",
			Help: "Watchers dropped because they did not keep up."}),
		watchersConnected: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: "watch", Name: "watchers",
			Help: "Watch streams connected."}),
	}
	m.processorRestarts = counter("processor", "restarts_total", "Group sessions restarted after a recoverable failure (lost membership, failed commit); uncommitted work was discarded.", c, p)
	m.viewUndecodable = counter("view", "undecodable_total", "Table values a view could not decode and skipped.", c, t)
	m.processorHanging = gauge("processor", "hanging_transactions", "Hanging transactions (open on a partition, tracked by no coordinator) that hold the processor up; checked when it has not committed for the transaction timeout while its group has lag.", c, p)
	reg.MustRegister(m.processorRestarts, m.viewUndecodable, m.processorHanging)
	reg.MustRegister(m.processorIn, m.processorOut, m.processorLatency, m.processorErrors, m.processorLag,
		m.restoreRecords, m.restoreSeconds, m.processorCommits, m.sourceRecords, m.sourceErrors,
		m.sinkBatchSize, m.sinkFlushSeconds, m.sinkErrors, m.sinkRecords,
		m.viewSourceSyncs, m.viewSourceWrites, m.viewSinkSyncs, m.watchDropped, m.watchersConnected)
	reg.MustRegister(newBuildInfoGauge(buildinfo.Read()))
	return m
}

// observability is the service's state for metrics, logs and traces that
// is not a collector.
type observability struct {
	// registerer holds the metrics: the service's registry, or the
	// caller's registerer.
	registerer prometheus.Registerer
	// kafkaClients numbers the service's Kafka clients for their metrics.
	kafkaClients atomic.Uint64
	// recordLogs holds a *recordLimiter per part and message (logging.go).
	recordLogs sync.Map
	// tracer is nil when tracing is off (tracing.go).
	tracer         oteltrace.Tracer
	tracerProvider oteltrace.TracerProvider
	// ownTracerProvider is the provider the service built from the OTEL_*
	// environment and shuts down when it closes (tracing_env.go).
	ownTracerProvider *sdktrace.TracerProvider
}

// registerRuntimeCollectors adds the Go runtime and process collectors
// (go_*, process_*) to a registry the service owns. They are never added
// to a registerer given with WithRegisterer: its owner decides, and two
// services sharing one registerer would collide.
func registerRuntimeCollectors(reg *prometheus.Registry) {
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
}

// kafkaClientMetrics returns a franz-go hook that reports the client's
// own metrics (kafmesh_kafka_*: connections, bytes, request latencies,
// buffered records; see the kprom package) on reg. Every client gets its
// own hook under the constant labels service and client (a number, unique
// among the service's live clients); closing the client unregisters them.
func (s *Service) kafkaClientMetrics() kgo.Opt {
	n := s.obs.kafkaClients.Add(1)
	reg := prometheus.WrapRegistererWith(prometheus.Labels{"service": s.def.Name, "client": strconv.FormatUint(n, 10)}, s.obs.registerer)
	return kgo.WithHooks(kprom.NewMetrics("kafmesh", kprom.Subsystem("kafka"), kprom.Registerer(reg)))
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

var restoringDesc = prometheus.NewDesc("kafmesh_processor_restoring_partitions",
	"Assigned partitions whose state and joins are still being restored (0 once the processor is ready).",
	[]string{labelComponent, labelPart}, nil)

// restoreCollector reports, when scraped, how many assigned partitions each
// processor is still restoring: a value above 0 for long is a stuck restore.
type restoreCollector struct{ s *Service }

func (c restoreCollector) Describe(ch chan<- *prometheus.Desc) { ch <- restoringDesc }

func (c restoreCollector) Collect(ch chan<- prometheus.Metric) {
	for _, p := range c.s.registered() {
		if pp, ok := p.(*processorPart); ok {
			ch <- prometheus.MustNewConstMetric(restoringDesc, prometheus.GaugeValue, float64(len(processorRestoring(pp))),
				pp.component(), pp.name())
		}
	}
}
