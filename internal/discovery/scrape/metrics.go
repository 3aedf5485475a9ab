package scrape

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the scraper's Prometheus series, registered on the registry
// given to New (never the global one).
type metrics struct {
	scrapes   *prometheus.CounterVec
	failures  *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	up        *prometheus.GaugeVec
	targets   prometheus.Gauge
	rounds    prometheus.Histogram
	lastRound prometheus.Gauge
	storeErrs prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		scrapes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kafmesh_discover_scrapes_total", Help: "Scrapes per target, by result (ok or error).",
		}, []string{"target", "result"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kafmesh_discover_scrape_failures_total", Help: "Failed scrapes per target, by the stage that failed (ping, get_service_info, invalid, store, panic).",
		}, []string{"target", "stage"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "kafmesh_discover_scrape_duration_seconds", Help: "Time to scrape one target (calls and store write).",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"target"}),
		up: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kafmesh_discover_target_up", Help: "1 when the last scrape of the target succeeded, else 0.",
		}, []string{"target"}),
		targets: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "kafmesh_discover_targets", Help: "Targets in the last round.",
		}),
		rounds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "kafmesh_discover_round_duration_seconds", Help: "Time to scrape every target once.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2.5, 10),
		}),
		lastRound: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "kafmesh_discover_last_round_timestamp_seconds", Help: "When the last round ended (Unix seconds).",
		}),
		storeErrs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kafmesh_discover_store_errors_total", Help: "Store writes that failed.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.scrapes, m.failures, m.duration, m.up, m.targets, m.rounds, m.lastRound, m.storeErrs)
	}
	return m
}

// forget drops the per-target series of a target that is gone.
func (m *metrics) forget(target string) {
	m.scrapes.DeletePartialMatch(prometheus.Labels{"target": target})
	m.failures.DeletePartialMatch(prometheus.Labels{"target": target})
	m.duration.DeleteLabelValues(target)
	m.up.DeleteLabelValues(target)
}
