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
// Watch answers loopback callers only unless --watch-token-file names the
// bearer token that kafmesh discover sends (--target-token-file); serve TLS
// with --tls-cert and --tls-key (docs/security.md).
//
// SIGINT or SIGTERM stop it cleanly: every part stops, the sinks flush and
// offsets are committed before it exits.
package main

import (
	"context"
	"crypto/tls"
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
	"google.golang.org/grpc/credentials"

	"github.com/kafmesh/kafmesh/runner"

	"github.com/kafmesh/kafmesh/examples/devices/internal/app"
	"github.com/kafmesh/kafmesh/examples/devices/internal/definitions"
	"github.com/kafmesh/kafmesh/examples/devices/internal/store"
)

func main() {
	brokers := flag.String("brokers", "localhost:9092", "Kafka seed brokers, comma-separated")
	grpcAddr := flag.String("grpc-addr", ":8443", "address of the gRPC server (gateway and kafmesh APIs)")
	httpAddr := flag.String("http-addr", ":8080", "address of /metrics, /healthz and /readyz; empty for none")
	dbPath := flag.String("db", "devices.db", "SQLite database file (customers, warehouse, customer health)")
	stateDir := flag.String("state-dir", "", "folder of the local state stores (default: under the user cache directory)")
	tokenFile := flag.String("watch-token-file", "", "file holding the bearer token that Watch callers (kafmesh discover --target-token-file) must send; without it only loopback callers may watch")
	tlsCert := flag.String("tls-cert", "", "PEM certificate of the gRPC server (with --tls-key); empty serves plaintext")
	tlsKey := flag.String("tls-key", "", "PEM private key of --tls-cert")
	instanceID := flag.String("instance-id", os.Getenv("POD_NAME"),
		"stable id of this instance, e.g. its pod name (default $POD_NAME): processors join their groups as static members under it, so a restart takes its partitions back at once; two running instances must never share one")
	leaveOnStop := flag.Bool("leave-groups-on-stop", false,
		"with --instance-id: leave the processors' groups on a clean stop, so the partitions move at once (a Deployment, whose pods come back under new names); leave off for a StatefulSet")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sec, err := security(*tokenFile, *tlsCert, *tlsKey)
	if err != nil {
		slog.Error("devices: bad flags", "error", err)
		os.Exit(2)
	}
	if *instanceID != "" {
		sec.options = append(sec.options, runner.WithInstanceID(*instanceID))
	}
	if *leaveOnStop {
		sec.options = append(sec.options, runner.WithLeaveGroupsOnStop())
	}
	if err := run(ctx, strings.Split(*brokers, ","), *grpcAddr, *httpAddr, *dbPath, *stateDir, sec); err != nil {
		slog.Error("devices stopped", "error", err)
		os.Exit(1)
	}
}

// serverSecurity is what the flags ask of the gRPC server: its TLS
// credentials and Watch's credential.
type serverSecurity struct {
	serverOptions []grpc.ServerOption
	options       []runner.Option
}

// security reads the token and certificate files named by the flags.
func security(tokenFile, certFile, keyFile string) (serverSecurity, error) {
	var sec serverSecurity
	if (certFile == "") != (keyFile == "") {
		return sec, errors.New("--tls-cert and --tls-key go together")
	}
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return sec, fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
		sec.serverOptions = append(sec.serverOptions, grpc.Creds(credentials.NewTLS(&tls.Config{
			Certificates: []tls.Certificate{cert},
			MinVersion:   tls.VersionTLS12,
		})))
	}
	if tokenFile != "" {
		b, err := os.ReadFile(tokenFile)
		if err != nil {
			return sec, fmt.Errorf("--watch-token-file: %w", err)
		}
		token := strings.TrimSpace(string(b))
		if token == "" {
			return sec, fmt.Errorf("--watch-token-file: %s is empty", tokenFile)
		}
		sec.options = append(sec.options, runner.WithWatchToken(token))
	}
	return sec, nil
}

func run(ctx context.Context, brokers []string, grpcAddr, httpAddr, dbPath, stateDir string, sec serverSecurity) error {
	db, err := store.Open(ctx, dbPath)
	if err != nil {
		return err
	}
	defer db.Close()

	// Traces when the OTEL_* environment asks for them (e.g.
	// OTEL_EXPORTER_OTLP_ENDPOINT): the records, and the gRPC server's calls.
	tp, err := runner.TracerProviderFromEnv(ctx, definitions.Definition().Name)
	if err != nil {
		return err
	}
	if tp != nil {
		defer func() {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			_ = tp.Shutdown(sctx)
		}()
		sec.serverOptions = append(sec.serverOptions, runner.GRPCServerTracing(tp))
		sec.options = append(sec.options, runner.WithTracerProvider(tp))
	}

	srv := grpc.NewServer(sec.serverOptions...)
	a, err := app.New(app.Config{Brokers: brokers, DB: db, StateDir: stateDir, GRPCServer: srv, HTTPAddr: httpAddr, Options: sec.options})
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
