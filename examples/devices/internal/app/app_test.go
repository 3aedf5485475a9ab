package app_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"

	discoveryv1 "github.com/kafmesh/kafmesh/api/discovery/v1"
	"github.com/kafmesh/kafmesh/kafmeshtest"

	"github.com/kafmesh/kafmesh/examples/devices/internal/app"
	gatewayv1 "github.com/kafmesh/kafmesh/examples/devices/internal/definitions/models/kafmesh/gateway/v1"
	"github.com/kafmesh/kafmesh/examples/devices/internal/keys"
	"github.com/kafmesh/kafmesh/examples/devices/internal/store"
)

// running is one run of the service: the app, its gRPC server, and a
// client of the gateway on it.
type running struct {
	app     *app.App
	gateway gatewayv1.GatewayAPIClient
	conn    *grpc.ClientConn
	stop    func() error
}

// start runs the service until stop is called or the test ends.
func start(t *testing.T, brokers []string, db *sql.DB, stateDir string) *running {
	t.Helper()
	srv := grpc.NewServer()
	a, err := app.New(app.Config{
		Brokers:       brokers,
		DB:            db,
		StateDir:      stateDir,
		GRPCServer:    srv,
		HTTPAddr:      "127.0.0.1:0",
		SyncInterval:  200 * time.Millisecond,
		FlushInterval: 200 * time.Millisecond,
		Logger:        slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(lis)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	stopped := false
	r := &running{app: a, gateway: gatewayv1.NewGatewayAPIClient(conn), conn: conn}
	r.stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		var err error
		select {
		case err = <-done:
		case <-time.After(90 * time.Second):
			err = fmt.Errorf("Run did not return within 90s of the cancel")
		}
		conn.Close()
		srv.Stop()
		return err
	}
	t.Cleanup(func() {
		if err := r.stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return r
}

// testWriter sends log lines to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// eventually calls check until it returns nil, and fails the test with
// its last error after a minute.
func eventually(t *testing.T, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still not true after 60s: %v", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestDevicesEndToEnd runs the example service against a Kafka broker
// (kafmeshtest: the real one of scripts/test.sh, else in-process kfake)
// through its generated code and gateway, and checks every part kind:
// the view source mirrors the customers table, sources take gateway calls,
// both enrichers join and look up, the views answer GetDevice, both sinks
// and the view sink write SQLite, and the health processor's state
// survives a restart.
func TestDevicesEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the service against a broker for a minute; run without -short")
	}
	brokers := kafmeshtest.StartBroker(t)
	dir := t.TempDir()
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(dir, "devices.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() }) // after the service stopped: cleanups run last-in first-out
	stateDir := filepath.Join(dir, "state")

	// The topic names are the definition's, so a real broker keeps the
	// data of earlier runs: ids unique to this run keep them apart.
	base := time.Now().UnixMilli() % 1_000_000_000 * 100
	acme, globex := base+1, base+2
	sensor1, sensor2 := base+11, base+12

	r := start(t, brokers, db, stateDir)

	// View source: a customer written to the customers table only reaches
	// the topic, and so the customer view, through the view source.
	if _, err := db.Exec(`INSERT INTO customers (id, name) VALUES (?, 'Acme')`, acme); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the view source copies Acme into the customer view", func() error {
		return viewHasCustomer(r, acme, "Acme")
	})
	// Source: UpsertCustomer emits at once (and writes the table).
	if _, err := r.gateway.UpsertCustomer(ctx, &gatewayv1.UpsertCustomerRequest{CustomerId: globex, Name: "Globex"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "Globex reaches the customer view", func() error { return viewHasCustomer(r, globex, "Globex") })

	// The running service's /metrics has the runtime's, the Go runtime's,
	// the process's and franz-go's client metrics.
	eventually(t, "/metrics has the kafmesh, go, process and kafka families", func() error {
		addr := r.app.Service.HTTPAddr()
		if addr == "" {
			return fmt.Errorf("no HTTP server yet")
		}
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		for _, family := range []string{"kafmesh_source_records_total", "kafmesh_processor_handler_seconds", "go_goroutines", "process_cpu_seconds_total", "kafmesh_kafka_connects_total"} {
			if !strings.Contains(string(body), "\n"+family) {
				return fmt.Errorf("no %s", family)
			}
		}
		return nil
	})

	for _, device := range []int64{sensor1, sensor2} {
		eventually(t, "assigning a device to Acme", func() error {
			_, err := r.gateway.Assign(ctx, &gatewayv1.AssignRequest{DeviceId: device, CustomerId: acme})
			return err
		})
	}

	// Processor enricher (join and lookup), view of enriched details. The
	// processor's join table follows the assignments on its own, so the
	// details are reported until the enriched version names the customer.
	eventually(t, "sensor 1's enriched details name Acme", func() error {
		if _, err := r.gateway.Details(ctx, &gatewayv1.DetailsRequest{DeviceId: sensor1, Name: "sensor one"}); err != nil {
			return err
		}
		got, err := r.gateway.GetDevice(ctx, &gatewayv1.GetDeviceRequest{DeviceId: sensor1})
		if err != nil {
			return err
		}
		if got.GetCustomerId() != acme || got.GetCustomerName() != "Acme" || got.GetDetails().GetCustomerName() != "Acme" || got.GetDetails().GetName() != "sensor one" {
			return fmt.Errorf("GetDevice = %v", got)
		}
		return nil
	})
	// Sink: the warehouse row.
	eventually(t, "the enriched detail warehouse has sensor 1", func() error {
		var name, customer string
		err := db.QueryRow(`SELECT name, customer_name FROM enriched_details WHERE device_id = ?`, sensor1).Scan(&name, &customer)
		if err == nil && (name != "sensor one" || customer != "Acme") {
			err = fmt.Errorf("row (%q, %q)", name, customer)
		}
		return err
	})

	// Processors heartbeat enricher and health, the heartbeat sink and the
	// view sink: an unhealthy sensor 1 makes Acme 0 healthy, 1 unhealthy.
	eventually(t, "an enriched heartbeat of sensor 1 in the warehouse", func() error {
		if _, err := r.gateway.Heartbeat(ctx, &gatewayv1.HeartbeatRequest{DeviceId: sensor1, IsHealthy: false}); err != nil {
			return err
		}
		return countRows(db, 1, `SELECT count(*) FROM enriched_heartbeats WHERE device_id = ? AND customer_id = ? AND customer_name = 'Acme'`, sensor1, acme)
	})
	eventually(t, "the current health view sink writes Acme's health", func() error {
		return health(db, acme, 0, 1)
	})

	checkDiscovery(t, r.conn)

	// Restart with the same state folder and database.
	if err := r.stop(); err != nil {
		t.Fatalf("Run after the cancel: %v", err)
	}
	r = start(t, brokers, db, stateDir)

	// Sensor 2 turns up healthy: the health processor still knows sensor 1
	// from its state, so Acme has one healthy and one unhealthy device.
	eventually(t, "sensor 2's heartbeat counted next to sensor 1's", func() error {
		if _, err := r.gateway.Heartbeat(ctx, &gatewayv1.HeartbeatRequest{DeviceId: sensor2, IsHealthy: true}); err != nil {
			return err
		}
		return health(db, acme, 1, 1)
	})

	// The view source deletes what the customers table no longer has.
	if _, err := db.Exec(`DELETE FROM customers WHERE id = ?`, globex); err != nil {
		t.Fatal(err)
	}
	eventually(t, "Globex leaves the customer view", func() error {
		if _, found, err := r.app.Gateway.CustomerView.Get(keys.Format(globex)); err != nil || found {
			return fmt.Errorf("found %v, err %v", found, err)
		}
		return nil
	})
	if err := r.stop(); err != nil {
		t.Fatalf("Run after the cancel: %v", err)
	}
}

func viewHasCustomer(r *running, id int64, name string) error {
	got, found, err := r.app.Gateway.CustomerView.Get(keys.Format(id))
	switch {
	case err != nil:
		return err
	case !found:
		return fmt.Errorf("customer %d not in the view", id)
	case got.GetName() != name:
		return fmt.Errorf("customer %d is %q", id, got.GetName())
	}
	return nil
}

func countRows(db *sql.DB, want int, query string, args ...any) error {
	var n int
	if err := db.QueryRow(query, args...).Scan(&n); err != nil {
		return err
	}
	if n < want {
		return fmt.Errorf("%d rows, want %d", n, want)
	}
	return nil
}

func health(db *sql.DB, customer, healthy, unhealthy int64) error {
	var h, u int64
	err := db.QueryRow(`SELECT healthy_devices, unhealthy_devices FROM customer_health WHERE customer_id = ?`, customer).Scan(&h, &u)
	if err == nil && (h != healthy || u != unhealthy) {
		err = fmt.Errorf("customer %d: %d healthy, %d unhealthy; want %d, %d", customer, h, u, healthy, unhealthy)
	}
	return err
}

// checkDiscovery asks the service's discovery API what it runs: the tree of
// the definition, and the descriptors of every message a part uses (with
// their imports), so tools can decode any value.
func checkDiscovery(t *testing.T, conn *grpc.ClientConn) {
	t.Helper()
	resp, err := discoveryv1.NewDiscoveryAPIClient(conn).GetServiceInfo(context.Background(), &discoveryv1.GetServiceInfoRequest{})
	if err != nil {
		t.Fatal(err)
	}
	svc := resp.GetService()
	var parts []string
	for _, c := range svc.GetComponents() {
		parts = append(parts, fmt.Sprintf("%s: %d sources, %d processors, %d sinks, %d views, %d view sources, %d view sinks",
			c.GetName(), len(c.GetSources()), len(c.GetProcessors()), len(c.GetSinks()), len(c.GetViews()), len(c.GetViewSources()), len(c.GetViewSinks())))
	}
	want := []string{
		"assignments: 2 sources, 0 processors, 0 sinks, 2 views, 1 view sources, 0 view sinks",
		"details: 1 sources, 1 processors, 1 sinks, 1 views, 0 view sources, 0 view sinks",
		"heartbeats: 1 sources, 2 processors, 1 sinks, 0 views, 0 view sources, 1 view sinks",
	}
	if svc.GetName() != "kafmesh" || strings.Join(parts, "\n") != strings.Join(want, "\n") {
		t.Errorf("discovery: service %q\n%s\nwant\n%s", svc.GetName(), strings.Join(parts, "\n"), strings.Join(want, "\n"))
	}
	var fds descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(svc.GetFileDescriptorSet(), &fds); err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, f := range fds.GetFile() {
		files = append(files, f.GetName())
	}
	for _, f := range []string{"kafmesh/customerId/health_state.proto", "kafmesh/deviceId/enriched_details_state.proto", "google/protobuf/timestamp.proto"} {
		if !strings.Contains(strings.Join(files, " "), f) {
			t.Errorf("the descriptor set lacks %s: %v", f, files)
		}
	}
}
