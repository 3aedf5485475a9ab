// Command devices runs the kafmesh example service: device details and
// heartbeats enriched with customer assignments, written to a SQLite
// warehouse, with a gRPC gateway.
//
//	go run ./cmd/devices --brokers localhost:9092 --db devices.db
//
// One gRPC server (--grpc-addr) serves the gateway API
// (kafmesh.gateway.v1.GatewayAPI) and the kafmesh APIs (ping, discovery,
// watch) with server reflection, so grpcurl works without .proto files:
//
//	grpcurl -plaintext -d '{"customer_id": 7, "name": "Acme"}' localhost:8443 kafmesh.gateway.v1.GatewayAPI/UpsertCustomer
//	grpcurl -plaintext localhost:8443 kafmesh.discovery.v1.DiscoveryAPI/GetServiceInfo
//
// SIGINT or SIGTERM stop it cleanly: every part stops, the sinks flush and
// offsets are committed before it exits.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"

	"github.com/kafmesh/kafmesh/examples/devices/internal/app"
	"github.com/kafmesh/kafmesh/examples/devices/internal/store"
)

func main() {
	brokers := flag.String("brokers", "localhost:9092", "Kafka seed brokers, comma-separated")
	grpcAddr := flag.String("grpc-addr", ":8443", "address of the gRPC server (gateway and kafmesh APIs)")
	httpAddr := flag.String("http-addr", ":8080", "address of /metrics, /healthz and /readyz; empty for none")
	dbPath := flag.String("db", "devices.db", "SQLite database file (customers, warehouse, customer health)")
	stateDir := flag.String("state-dir", "", "folder of the local state stores (default: under the user cache directory)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, strings.Split(*brokers, ","), *grpcAddr, *httpAddr, *dbPath, *stateDir); err != nil {
		slog.Error("devices stopped", "error", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, brokers []string, grpcAddr, httpAddr, dbPath, stateDir string) error {
	db, err := store.Open(ctx, dbPath)
	if err != nil {
		return err
	}
	defer db.Close()

	srv := grpc.NewServer()
	a, err := app.New(app.Config{Brokers: brokers, DB: db, StateDir: stateDir, GRPCServer: srv, HTTPAddr: httpAddr})
	if err != nil {
		return err
	}
	lis, err := net.Listen("tcp", grpcAddr)
	if err != nil {
		a.Service.Close()
		return fmt.Errorf("gRPC listener: %w", err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	slog.Info("serving gRPC", "addr", lis.Addr().String())

	runErr := a.Run(ctx)
	app.StopGracefully(srv, 10*time.Second)
	if err := <-served; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		runErr = errors.Join(runErr, err)
	}
	return runErr
}
