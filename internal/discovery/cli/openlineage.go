package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"

	"github.com/kafmesh/kafmesh/internal/discovery"
	"github.com/kafmesh/kafmesh/internal/export"
)

// startOpenLineage runs an OpenLineage emitter beside discovery until ctx
// ends or stop is called (stop waits for it to return).
func startOpenLineage(ctx context.Context, o options, svc *discovery.Service, logger *slog.Logger) (stop func(), err error) {
	u, err := url.Parse(o.openLineageURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--openlineage-url %q: want http(s)://host[:port]/path", o.openLineageURL)
	}
	if o.openLineageInterval <= 0 {
		return nil, fmt.Errorf("--openlineage-interval must be positive")
	}
	ns := o.openLineageNS
	if ns == "" && len(o.brokers) > 0 {
		ns = "kafka://" + o.brokers[0]
	}
	opts := []export.EmitterOption{
		export.WithEmitInterval(o.openLineageInterval),
		export.WithEmitOptions(export.Options{KafkaNamespace: ns}),
		export.WithEmitLogger(logger.With("part", "openlineage")),
	}
	if o.openLineageToken != "" {
		opts = append(opts, export.WithEmitToken(o.openLineageToken))
	}
	em := export.NewEmitter(o.openLineageURL, opts...)
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		select { // nothing to send before the first scrape round
		case <-svc.FirstRound():
		case <-ctx.Done():
			return
		}
		_ = em.Run(ctx, export.GraphSource{Snapshot: svc.Snapshot})
	}()
	return func() { cancel(); <-done }, nil
}
