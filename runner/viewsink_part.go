package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// viewSinkPart runs one registered view sink: once its table is caught up
// it calls Sync, and then every interval, each bounded by the timeout.
type viewSinkPart[M any] struct {
	spec  ViewSinkSpec
	cfg   partConfig
	h     ViewSinkHandler[M]
	view  *View[M]
	obs   *observability
	log   *slog.Logger
	syncs map[string]prometheus.Counter // by result
}

func newViewSinkPart[M any](s *Service, spec ViewSinkSpec, cfg partConfig, c Codec[M], h ViewSinkHandler[M]) part {
	label := spec.Component + "/" + spec.Name
	p := &viewSinkPart[M]{
		spec: spec,
		cfg:  cfg,
		h:    h,
		view: newView(s, ViewSpec{Component: spec.Component, TopicRef: spec.TopicRef}, c,
			s.tables.get(spec.TopicRef, s.cfg.memoryState), false),
		obs:   &s.obs,
		log:   s.log.With("view_sink", label, "topic", spec.Topic),
		syncs: map[string]prometheus.Counter{},
	}
	for _, r := range []string{syncOK, syncError, syncTimeout} {
		p.syncs[r] = s.metrics.viewSinkSyncs.WithLabelValues(spec.Component, spec.Name, r)
	}
	return p
}

func (p *viewSinkPart[M]) kind() partKind    { return kindViewSink }
func (p *viewSinkPart[M]) component() string { return p.spec.Component }
func (p *viewSinkPart[M]) name() string      { return p.spec.Name }
func (p *viewSinkPart[M]) describe() any     { return p.spec }
func (p *viewSinkPart[M]) uses() []topicUse {
	return []topicUse{{ref: p.spec.TopicRef, role: roleViewSink, table: true}}
}

// run syncs until ctx is done. A failed sync is logged and counted and the
// next one runs at the next interval; it does not stop the service.
func (p *viewSinkPart[M]) run(ctx context.Context) error {
	if err := p.view.WaitReady(ctx); err != nil {
		return err
	}
	for {
		start := time.Now()
		result, err := p.sync(ctx)
		if ctx.Err() != nil {
			return nil
		}
		p.syncs[result].Inc()
		if err != nil {
			p.log.Warn("view sink sync failed", "result", result, "error", err, "took", time.Since(start))
		} else {
			p.log.Debug("view sink synced", "took", time.Since(start))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Until(start.Add(p.cfg.interval))):
		}
	}
}

// syncMemory runs one sync on a MemoryCluster.
func (p *viewSinkPart[M]) syncMemory(ctx context.Context) error {
	_, err := p.sync(ctx)
	return err
}

func (p *viewSinkPart[M]) sync(ctx context.Context) (result string, err error) {
	ctx, span := p.obs.startSyncSpan(ctx, "view_sink", p.spec.Component, p.spec.Name, p.spec.Topic)
	defer func() { endSyncSpan(span, result, err) }()
	syncCtx, cancel := context.WithTimeout(ctx, p.cfg.timeout)
	defer cancel()
	err = p.h.Sync(syncCtx, p.view)
	switch {
	case syncCtx.Err() != nil && ctx.Err() == nil:
		return syncTimeout, fmt.Errorf("sync did not complete within %s: %w", p.cfg.timeout, errors.Join(err, syncCtx.Err()))
	case err != nil:
		return syncError, err
	}
	return syncOK, nil
}
