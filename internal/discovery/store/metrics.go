package store

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kafmesh/kafmesh/internal/discovery/mesh"
)

// Store operations, as the duration histogram labels them.
const (
	OpReport = "report"
	OpFail   = "fail"
	OpRetain = "retain"
	OpGraph  = "graph"
	OpPing   = "ping"
)

// Instrument returns st timing every operation into
// kafmesh_discover_store_duration_seconds{operation, result} registered on
// reg (discover's own registry, never the global one): operation is
// report, fail, retain, graph or ping; result is ok or error (a call cut
// by its context's deadline counts as an error, with the time it took).
// Close is passed through untimed. The histogram is registered once per
// call: instrument a store once per registry, or registering panics as
// for any duplicate metric.
func Instrument(st Store, reg prometheus.Registerer) Store {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "kafmesh_discover_store_duration_seconds",
		Help:    "Time of each store operation (report, fail, retain: scrape writes; graph: API reads; ping: readiness), by result (ok or error).",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"operation", "result"})
	reg.MustRegister(h)
	t := &timedStore{st: st, obs: map[[2]string]prometheus.Observer{}}
	for _, op := range []string{OpReport, OpFail, OpRetain, OpGraph, OpPing} {
		for _, res := range []string{"ok", "error"} {
			t.obs[[2]string{op, res}] = h.WithLabelValues(op, res)
		}
	}
	return t
}

// timedStore is a Store whose operations are timed.
type timedStore struct {
	st  Store
	obs map[[2]string]prometheus.Observer // by operation and result; read-only after Instrument
}

func (t *timedStore) observe(op string, start time.Time, err error) {
	res := "ok"
	if err != nil {
		res = "error"
	}
	t.obs[[2]string{op, res}].Observe(time.Since(start).Seconds())
}

func (t *timedStore) Report(ctx context.Context, pod mesh.Pod, at time.Time, tree *mesh.Tree) (Change, error) {
	start := time.Now()
	c, err := t.st.Report(ctx, pod, at, tree)
	t.observe(OpReport, start, err)
	return c, err
}

func (t *timedStore) Fail(ctx context.Context, pod mesh.Pod, at time.Time, reason string) error {
	start := time.Now()
	err := t.st.Fail(ctx, pod, at, reason)
	t.observe(OpFail, start, err)
	return err
}

func (t *timedStore) Retain(ctx context.Context, keep []string) (Change, error) {
	start := time.Now()
	c, err := t.st.Retain(ctx, keep)
	t.observe(OpRetain, start, err)
	return c, err
}

func (t *timedStore) Graph(ctx context.Context) (*mesh.Graph, error) {
	start := time.Now()
	g, err := t.st.Graph(ctx)
	t.observe(OpGraph, start, err)
	return g, err
}

func (t *timedStore) Ping(ctx context.Context) error {
	start := time.Now()
	err := t.st.Ping(ctx)
	t.observe(OpPing, start, err)
	return err
}

func (t *timedStore) Close() error { return t.st.Close() }
