// Package dev is `kafmesh dev`: the whole mesh on one machine, with one
// command and nothing installed but Go. It starts, in this process,
//
//   - a Kafka-protocol broker (kfake), unless real brokers are given;
//   - the example service (examples/devices) with simulated devices
//     feeding its sources;
//   - discovery, scraping the service as a static target into an SQLite
//     store and measuring its processors' consumer group lag from the
//     brokers;
//   - the web UI and GraphQL API on one HTTP address;
//
// prints what runs where, and stops all of it, in order, when the context
// ends (Ctrl-C).
package dev

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/kafmesh/kafmesh/examples/devices/demo"
)

// Config is what Run starts.
type Config struct {
	// Brokers are real Kafka seed brokers; empty starts an embedded one.
	Brokers []string
	// Listen is the HTTP address of the UI and the API (default
	// 127.0.0.1:8080; port 0 picks a free one).
	Listen string
	// Dir keeps the stores of the service and of discovery; empty uses a
	// fresh temporary folder, removed when Run returns.
	Dir string
	// Devices is how many devices are simulated (default 20), each sending
	// a heartbeat every Interval (default 1 s).
	Devices  int
	Interval time.Duration
	// ScrapeInterval is how often discovery scrapes the service (default
	// 2 s); LagInterval how often it measures consumer group lag (default 3 s).
	ScrapeInterval time.Duration
	LagInterval    time.Duration
	// Out gets the banner; Logger the logs of every part.
	Out    io.Writer
	Logger *slog.Logger
	// OTLPEndpoint, when set, sends the example service's traces (a span
	// per record at each source, processor and sink, and per gRPC call) to
	// an OpenTelemetry collector or Jaeger at this URL, with OTLPProtocol
	// "http/protobuf" (default) or "grpc". Empty leaves tracing to the
	// OTEL_* environment, as for any kafmesh service.
	OTLPEndpoint string
	OTLPProtocol string
}

// Info says what runs where; Run hands it to its ready callback.
type Info struct {
	// URL is the web UI (GraphQL at URL + "query").
	URL string
	// Brokers are the Kafka brokers in use; Embedded tells whether they are
	// the in-process kfake cluster.
	Brokers  []string
	Embedded bool
	// Service is the example service's gRPC address (ping, discovery,
	// watch, gateway).
	Service string
	// Dir keeps the stores.
	Dir string
	// Traces is where the service's traces go ("" when the OTEL_*
	// environment decides).
	Traces string
}

func (c *Config) defaults() {
	if c.Listen == "" {
		c.Listen = "127.0.0.1:8080"
	}
	if c.Devices <= 0 {
		c.Devices = 20
	}
	if c.Interval <= 0 {
		c.Interval = time.Second
	}
	if c.ScrapeInterval <= 0 {
		c.ScrapeInterval = 2 * time.Second
	}
	if c.LagInterval <= 0 {
		c.LagInterval = 3 * time.Second
	}
	if c.Out == nil {
		c.Out = io.Discard
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Run starts everything, calls ready (if not nil) once the UI answers and
// discovery has scraped the service once, and runs until ctx ends. It
// returns nil after a clean stop, or the first failure of a part (the
// others are stopped then too).
func Run(ctx context.Context, cfg Config, ready func(Info)) (err error) {
	cfg.defaults()
	info := Info{Dir: cfg.Dir}
	if info.Dir == "" {
		if info.Dir, err = os.MkdirTemp("", "kafmesh-dev-"); err != nil {
			return err
		}
		defer os.RemoveAll(info.Dir)
	}

	tp, err := tracerProvider(ctx, cfg.OTLPEndpoint, cfg.OTLPProtocol)
	if err != nil {
		return err
	}
	if tp != nil {
		info.Traces = cfg.OTLPEndpoint
		defer func() {
			// Last, after the service stopped: its final spans are sent.
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := tp.Shutdown(sctx); err != nil {
				cfg.Logger.Warn("sending the last traces failed", "endpoint", cfg.OTLPEndpoint, "error", err)
			}
		}()
	}

	brokers, stopBroker, err := startBroker(ctx, cfg.Brokers)
	if err != nil {
		return err
	}
	defer stopBroker()
	info.Brokers, info.Embedded = brokers, len(cfg.Brokers) == 0

	serviceLis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("service gRPC listener: %w", err)
	}
	info.Service = serviceLis.Addr().String()

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	serviceDone := make(chan error, 1)
	go func() {
		serviceDone <- demo.Run(ctx, demo.Config{
			Brokers: brokers, Listener: serviceLis, Dir: filepath.Join(info.Dir, "devices"),
			Devices: cfg.Devices, Interval: cfg.Interval, Logger: cfg.Logger.With("part", "devices"),
			TracerProvider: tracerOrNil(tp),
		})
	}()
	disc, err := newDiscovery(ctx, cfg, info)
	if err != nil {
		cancel(err)
		return errors.Join(err, <-serviceDone)
	}
	bound := make(chan net.Addr, 1)
	discoveryDone := make(chan error, 1)
	go func() { discoveryDone <- disc.run(ctx, cfg.Listen, func(a net.Addr) { bound <- a }) }()

	if url, ok := waitReady(ctx, bound, disc.firstRound(), serviceDone, discoveryDone); ok {
		info.URL = url
		if ready != nil {
			ready(info)
		}
	}

	// Run until stopped or a part fails; then stop the rest, discovery
	// first (nothing left to scrape), the service (sinks flush, offsets
	// commit), and the broker last (deferred).
	var serviceErr, discoveryErr error
	select {
	case serviceErr = <-serviceDone:
		if serviceErr == nil && ctx.Err() == nil {
			serviceErr = errors.New("the example service stopped")
		}
		cancel(serviceErr)
		discoveryErr = <-discoveryDone
	case discoveryErr = <-discoveryDone:
		cancel(discoveryErr)
		serviceErr = <-serviceDone
	case <-ctx.Done():
		discoveryErr = <-discoveryDone
		serviceErr = <-serviceDone
	}
	disc.close()
	if serviceErr != nil {
		serviceErr = fmt.Errorf("example service: %w", serviceErr)
	}
	if discoveryErr != nil {
		discoveryErr = fmt.Errorf("discovery: %w", discoveryErr)
	}
	return errors.Join(serviceErr, discoveryErr)
}

// waitReady returns the UI's URL once it listens and discovery has scraped
// the service once; ok is false when a part stopped first (its result is
// put back on its channel) or ctx ended.
func waitReady(ctx context.Context, bound <-chan net.Addr, first <-chan struct{}, serviceDone, discoveryDone chan error) (url string, ok bool) {
	scraped := false
	for url == "" || !scraped {
		select {
		case a := <-bound:
			url = "http://" + a.String() + "/"
		case <-first:
			scraped, first = true, nil
		case err := <-serviceDone:
			serviceDone <- err
			return "", false
		case err := <-discoveryDone:
			discoveryDone <- err
			return "", false
		case <-ctx.Done():
			return "", false
		}
	}
	return url, true
}
