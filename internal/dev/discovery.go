package dev

import (
	"context"
	"net"
	"path/filepath"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafmesh/kafmesh/internal/discovery"
	"github.com/kafmesh/kafmesh/internal/discovery/lag"
	"github.com/kafmesh/kafmesh/internal/discovery/records"
	"github.com/kafmesh/kafmesh/internal/discovery/scrape"
	"github.com/kafmesh/kafmesh/internal/discovery/server"
	"github.com/kafmesh/kafmesh/internal/discovery/store"
	"github.com/kafmesh/kafmesh/internal/discovery/store/sqlite"
	"github.com/kafmesh/kafmesh/internal/discovery/targets"
	"github.com/kafmesh/kafmesh/internal/discovery/web"
)

// meshDiscovery is discovery as `kafmesh dev` runs it: the example service
// as its one static target, an SQLite store in the dev folder, the web UI.
// It measures the processors' consumer group lag from the brokers every
// LagInterval, for the live flow on the map.
type meshDiscovery struct {
	svc    *discovery.Service
	store  store.Store
	client *kgo.Client
}

func newDiscovery(ctx context.Context, cfg Config, info Info) (*meshDiscovery, error) {
	st, err := sqlite.Open(ctx, filepath.Join(info.Dir, "discover.db"))
	if err != nil {
		return nil, err
	}
	static, err := targets.NewStatic([]string{info.Service}, "")
	if err != nil {
		_ = st.Close()
		return nil, err
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(info.Brokers...))
	if err != nil {
		_ = st.Close()
		return nil, err
	}
	monitor := lag.New(kadm.NewClient(cl), lag.WithClient(cl), lag.WithInterval(cfg.LagInterval), lag.WithLogger(cfg.Logger.With("part", "lag")))
	svc := discovery.New(st,
		discovery.WithLag(monitor),
		discovery.WithLogger(cfg.Logger.With("part", "discovery")),
		discovery.WithSources(static),
		discovery.WithScrapeOptions(scrape.WithInterval(cfg.ScrapeInterval)),
		discovery.WithSnapshotMaxAge(cfg.ScrapeInterval),
		discovery.WithServerOptions(web.ServerOptions()...),
		discovery.WithServerOptions(server.WithRecords(records.New(cl, records.WithLogger(cfg.Logger.With("part", "records"))))),
	)
	return &meshDiscovery{svc: svc, store: st, client: cl}, nil
}

// run serves the UI and API on addr until ctx ends; listening gets the
// bound address.
func (d *meshDiscovery) run(ctx context.Context, addr string, listening func(net.Addr)) error {
	return d.svc.Run(ctx, addr, listening)
}

func (d *meshDiscovery) firstRound() <-chan struct{} { return d.svc.FirstRound() }

func (d *meshDiscovery) close() {
	d.client.Close()
	_ = d.store.Close()
}
