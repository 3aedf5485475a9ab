package runner

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
)

// View is a local copy of a table topic: every partition, kept up to date
// with updates and deletes while the service runs.
//
// A value the view cannot decode (bad bytes written to the table by
// another producer) is skipped by default: Get reports the key as absent,
// Range and Keys leave it out, each such read counts in
// kafmesh_view_undecodable_total{topic} and is logged (at most once a
// second), until the key is written again. With OnError(FailOnError()) Get
// and Range return the decode error instead.
type View[M any] struct {
	spec  ViewSpec
	codec Codec[M]
	table *table
	svc   *Service

	failOnError bool
	undecodable prometheus.Counter
	log         *slog.Logger
	errLog      *rateLimit
}

func newView[M any](svc *Service, spec ViewSpec, codec Codec[M], t *table, failOnError bool) *View[M] {
	return &View[M]{spec: spec, codec: codec, svc: svc, table: t, failOnError: failOnError,
		undecodable: svc.metrics.viewUndecodable.WithLabelValues(spec.Component, spec.Topic),
		log:         svc.log.With("view", spec.Topic), errLog: &rateLimit{}}
}

// decode decodes a stored value; skip reports a value the view's policy
// skips.
func (v *View[M]) decode(key string, raw []byte) (m M, skip bool, err error) {
	m, _, err = decodeValue(v.svc.framer, v.spec.Topic, v.codec, raw)
	if err == nil {
		return m, false, nil
	}
	err = fmt.Errorf("view of %s: key %q: undecodable value: %w", v.spec.Topic, key, err)
	if v.undecodable != nil {
		v.undecodable.Inc()
	}
	if v.failOnError {
		return m, false, err
	}
	if v.log != nil && v.errLog.allow() {
		v.log.Warn("skipping an undecodable table value", "key", key, "error", err)
	}
	return m, true, nil
}

// NewView registers a view and returns it. It fills once Run starts.
func NewView[M any](svc *Service, spec ViewSpec, codec Codec[M], opts ...PartOption) (*View[M], error) {
	var cfg partConfig
	if err := applyPartOptions(kindView, &cfg, opts); err != nil {
		return nil, err
	}
	if cfg.policySet && cfg.policy.action != actionFail && cfg.policy.action != actionSkip {
		return nil, fmt.Errorf("view %s: OnError: a view can only fail or skip on an undecodable value, not %s", spec.Topic, cfg.policy)
	}
	failOnError := cfg.policySet && cfg.policy.action == actionFail
	v := newView(svc, spec, codec, svc.tables.get(spec.TopicRef, cfg.memoryState || svc.cfg.memoryState), failOnError)
	if err := svc.add(viewPart[M]{v}); err != nil {
		return nil, err
	}
	return v, nil
}

// Topic is the table topic the view copies.
func (v *View[M]) Topic() string { return v.spec.Topic }

// Ready reports whether the view has caught up with the high watermarks
// the topic had when the view started.
func (v *View[M]) Ready() bool { return v.table.ready() }

// WaitReady blocks until the view is ready or ctx is done.
func (v *View[M]) WaitReady(ctx context.Context) error { return v.table.waitReady(ctx) }

// Get returns the value of key; found is false when the table has none.
func (v *View[M]) Get(key string) (m M, found bool, err error) {
	raw, ok, err := v.table.get(key)
	if err != nil || !ok {
		return m, false, err
	}
	m, skip, err := v.decode(key, raw)
	return m, err == nil && !skip, err
}

// Keys returns every key of the table, sorted.
func (v *View[M]) Keys() ([]string, error) {
	var keys []string
	err := v.table.scan(func(key, _ []byte) error {
		keys = append(keys, string(key))
		return nil
	})
	return keys, err
}

// Range calls fn for each key and value in key order, without loading the
// whole table into memory, until fn returns false.
func (v *View[M]) Range(fn func(key string, m M) bool) error {
	return v.table.scan(func(key, value []byte) error {
		m, skip, err := v.decode(string(key), value)
		if err != nil {
			return err
		}
		if skip {
			return nil
		}
		if !fn(string(key), m) {
			return errStopScan
		}
		return nil
	})
}

type viewPart[M any] struct{ v *View[M] }

func (p viewPart[M]) kind() partKind    { return kindView }
func (p viewPart[M]) component() string { return p.v.spec.Component }
func (p viewPart[M]) name() string      { return p.v.spec.Topic }
func (p viewPart[M]) describe() any     { return p.v.spec }
func (p viewPart[M]) uses() []topicUse {
	return []topicUse{{ref: p.v.spec.TopicRef, role: roleView, table: true}}
}

// run does nothing: the table is followed by the service's table set.
func (p viewPart[M]) run(ctx context.Context) error { return nil }

// Reader is the read side of a table, as view sinks see it.
type Reader[M any] interface {
	Get(key string) (M, bool, error)
	Keys() ([]string, error)
	Range(fn func(key string, m M) bool) error
}

var _ Reader[[]byte] = (*View[[]byte])(nil)
