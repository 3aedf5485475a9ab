// Package app wires the example service together: every generated part of
// the definition registered with its hand-written handler, and the gateway
// API over the sources and views. cmd/devices runs it; its end-to-end test
// runs it against a Kafka broker.
package app

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"time"

	"google.golang.org/grpc"

	"github.com/kafmesh/kafmesh/runner"

	"github.com/kafmesh/kafmesh/examples/devices/internal/customers"
	"github.com/kafmesh/kafmesh/examples/devices/internal/definitions"
	"github.com/kafmesh/kafmesh/examples/devices/internal/definitions/assignments"
	"github.com/kafmesh/kafmesh/examples/devices/internal/definitions/details"
	"github.com/kafmesh/kafmesh/examples/devices/internal/definitions/heartbeats"
	gatewayv1 "github.com/kafmesh/kafmesh/examples/devices/internal/definitions/models/kafmesh/gateway/v1"
	"github.com/kafmesh/kafmesh/examples/devices/internal/devicedetails"
	"github.com/kafmesh/kafmesh/examples/devices/internal/deviceheartbeats"
	"github.com/kafmesh/kafmesh/examples/devices/internal/gateway"
)

// Config is what the service needs of its surroundings.
type Config struct {
	// Brokers are the Kafka seed brokers. Required.
	Brokers []string
	// DB is the device database (see internal/store). Required.
	DB *sql.DB
	// StateDir is the folder of the local state stores; "" means the
	// runtime's default under the user cache directory.
	StateDir string
	// GRPCServer, when set, gets the gateway API and the kafmesh APIs
	// (ping, discovery, watch, reflection, health); the caller serves it.
	GRPCServer *grpc.Server
	// HTTPAddr, when set, serves /metrics, /healthz and /readyz.
	HTTPAddr string
	// SyncInterval is how often the view source and the view sink sync
	// (default 1m); FlushInterval how often the sinks flush (default 5s).
	SyncInterval  time.Duration
	FlushInterval time.Duration
	Logger        *slog.Logger
	// Options are appended to the runtime options.
	Options []runner.Option
	// Cluster, when set, runs the service on an in-memory cluster instead
	// of Kafka (kafmeshtest.Driver in tests); Brokers are then unused.
	Cluster *runner.MemoryCluster
}

// App is the service with its parts registered.
type App struct {
	Service *runner.Service
	Gateway *gateway.Server
}

// New creates the service and registers every part. The gateway is
// registered on cfg.GRPCServer when it is set.
func New(cfg Config) (*App, error) {
	if cfg.DB == nil {
		return nil, errors.New("app: no database")
	}
	if cfg.SyncInterval == 0 {
		cfg.SyncInterval = time.Minute
	}
	if cfg.FlushInterval == 0 {
		cfg.FlushInterval = 5 * time.Second
	}
	opts := []runner.Option{runner.WithBrokers(cfg.Brokers...)}
	if cfg.StateDir != "" {
		opts = append(opts, runner.WithStateDir(cfg.StateDir))
	}
	if cfg.GRPCServer != nil {
		opts = append(opts, runner.WithGRPCServer(cfg.GRPCServer))
	}
	// "" turns the HTTP server off (the runtime's default would be :9090).
	opts = append(opts, runner.WithHTTPAddr(cfg.HTTPAddr))
	if cfg.Logger != nil {
		opts = append(opts, runner.WithLogger(cfg.Logger))
	}
	opts = append(opts, cfg.Options...)
	var svc *runner.Service
	var err error
	if cfg.Cluster != nil {
		svc, err = cfg.Cluster.NewService(definitions.Definition(), opts...)
	} else {
		svc, err = definitions.NewService(opts...)
	}
	if err != nil {
		return nil, err
	}

	// A record a processor cannot handle (a key that is no id) goes to
	// the processor's dead-letter topic instead of stopping the service.
	deadLetter := runner.OnError(runner.DeadLetterOnError())
	table := customers.Table{DB: cfg.DB}
	gw := &gateway.Server{Customers: table}
	var errs []error
	check := func(err error) { errs = append(errs, err) }

	// Component assignments.
	gw.Assignments, err = assignments.RegisterDeviceIDCustomerSource(svc)
	check(err)
	gw.CustomerDetails, err = assignments.RegisterCustomerIDDetailsSource(svc)
	check(err)
	gw.AssignmentView, err = assignments.RegisterDeviceIDCustomerView(svc)
	check(err)
	gw.CustomerView, err = assignments.RegisterCustomerIDDetailsView(svc)
	check(err)
	check(assignments.RegisterCustomerDetailsViewSource(svc, customers.ViewSource{Table: table}, runner.Interval(cfg.SyncInterval)))

	// Component details.
	gw.DeviceDetails, err = details.RegisterDeviceIDDetailsSource(svc)
	check(err)
	check(details.RegisterEnricher(svc, devicedetails.Enricher{}, deadLetter))
	check(details.RegisterEnrichedDetailWarehouseSink(svc, devicedetails.NewWarehouse(cfg.DB), runner.Interval(cfg.FlushInterval), deadLetter))
	gw.EnrichedDetailsView, err = details.RegisterDeviceIDEnrichedDetailsView(svc)
	check(err)

	// Component heartbeats.
	gw.Heartbeats, err = heartbeats.RegisterDeviceIDHeartbeatSource(svc)
	check(err)
	check(heartbeats.RegisterHeartbeatEnricher(svc, deviceheartbeats.Enricher{}, deadLetter))
	check(heartbeats.RegisterHealth(svc, deviceheartbeats.Health{}, deadLetter))
	check(heartbeats.RegisterEnrichedHeartbeatWarehouseSink(svc, deviceheartbeats.NewWarehouse(cfg.DB), runner.Interval(cfg.FlushInterval), deadLetter))
	check(heartbeats.RegisterCurrentHealthViewSink(svc, deviceheartbeats.HealthPage{DB: cfg.DB}, runner.Interval(cfg.SyncInterval)))

	if err := errors.Join(errs...); err != nil {
		svc.Close()
		return nil, err
	}
	if cfg.GRPCServer != nil {
		gatewayv1.RegisterGatewayAPIServer(cfg.GRPCServer, gw)
	}
	return &App{Service: svc, Gateway: gw}, nil
}

// Run creates or checks the topics, then runs every part until ctx is
// canceled (it returns nil once all parts stopped, sinks flushed and
// offsets committed) or one of them fails.
func (a *App) Run(ctx context.Context) error {
	if err := a.Service.ConfigureTopics(ctx); err != nil {
		a.Service.Close()
		if ctx.Err() != nil {
			return nil // stopped while starting: a clean stop
		}
		return err
	}
	return a.Service.Run(ctx)
}

// StopGracefully stops srv, letting calls in flight finish for at most
// timeout.
func StopGracefully(srv *grpc.Server, timeout time.Duration) {
	done := make(chan struct{})
	go func() {
		srv.GracefulStop()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(timeout):
		srv.Stop()
	}
}
