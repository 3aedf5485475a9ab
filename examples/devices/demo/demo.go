// Package demo runs the example service with simulated devices feeding it,
// for `kafmesh dev` (cmd/kafmesh): the whole service as cmd/devices runs it,
// plus a fleet of devices that report details and send heartbeats through
// the service's gateway, so every part of the mesh has records flowing.
//
// It is the one public entry into this module: everything else is
// internal to the example.
package demo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	oteltrace "go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"

	"github.com/kafmesh/kafmesh/examples/devices/internal/app"
	"github.com/kafmesh/kafmesh/examples/devices/internal/store"
	"github.com/kafmesh/kafmesh/runner"
)

// Config is what Run needs.
type Config struct {
	// Brokers are the Kafka seed brokers. Required.
	Brokers []string
	// Listener serves the service's gRPC API (ping, discovery, watch and
	// the gateway). Required; Run closes it.
	Listener net.Listener
	// Dir holds the service's database and state stores. Required.
	Dir string
	// Devices is how many devices the simulation runs (default 20).
	Devices int
	// Interval is the time between two heartbeats of a device (default 1 s).
	Interval time.Duration
	// Logger logs the service and the simulation (default: discard).
	Logger *slog.Logger
	// TracerProvider, when set, traces the service's records and gRPC
	// calls (runner.WithTracerProvider); the caller shuts it down. nil
	// leaves tracing to the OTEL_* environment (off when it says nothing).
	TracerProvider oteltrace.TracerProvider
}

// Run runs the service and the simulated devices until ctx ends, then
// stops both: the service's parts stop, sinks flush and offsets are
// committed before Run returns. It fails when the service fails.
func Run(ctx context.Context, cfg Config) error {
	if len(cfg.Brokers) == 0 || cfg.Listener == nil || cfg.Dir == "" {
		return errors.New("demo: Brokers, Listener and Dir are required")
	}
	if cfg.Devices <= 0 {
		cfg.Devices = 20
	}
	if cfg.Interval <= 0 {
		cfg.Interval = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	db, err := store.Open(ctx, filepath.Join(cfg.Dir, "devices.db"))
	if err != nil {
		return err
	}
	defer db.Close()

	var srvOpts []grpc.ServerOption
	var opts []runner.Option
	if cfg.TracerProvider != nil {
		srvOpts = append(srvOpts, runner.GRPCServerTracing(cfg.TracerProvider))
		opts = append(opts, runner.WithTracerProvider(cfg.TracerProvider))
	}
	srv := grpc.NewServer(srvOpts...)
	a, err := app.New(app.Config{
		Options:       opts,
		Brokers:       cfg.Brokers,
		DB:            db,
		StateDir:      filepath.Join(cfg.Dir, "state"),
		GRPCServer:    srv,
		SyncInterval:  10 * time.Second,
		FlushInterval: time.Second,
		Logger:        cfg.Logger.With("part", "service"),
	})
	if err != nil {
		return err
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(cfg.Listener) }()

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	simulated := make(chan struct{})
	go func() {
		defer close(simulated)
		fleet{gateway: a.Gateway, devices: cfg.Devices, interval: cfg.Interval, logger: cfg.Logger.With("part", "traffic")}.run(runCtx)
	}()
	// app.Run in two steps, so that a stop while the topics are still
	// being created is a clean stop, not a failure to create them.
	runErr := a.Service.ConfigureTopics(runCtx)
	if runErr != nil && ctx.Err() != nil {
		runErr = nil
		a.Service.Close()
	} else if runErr == nil {
		runErr = a.Service.Run(runCtx)
	}
	stop() // the service stopped (or failed): so does the simulation
	<-simulated
	app.StopGracefully(srv, 5*time.Second)
	if err := <-served; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		runErr = errors.Join(runErr, err)
	}
	return runErr
}
