package app_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/kafmesh/kafmesh/kafmeshtest"
	"github.com/kafmesh/kafmesh/runner"

	"github.com/kafmesh/kafmesh/examples/devices/internal/app"
	"github.com/kafmesh/kafmesh/examples/devices/internal/definitions/models/kafmesh/customerId"
	"github.com/kafmesh/kafmesh/examples/devices/internal/definitions/models/kafmesh/deviceId"
	gatewayv1 "github.com/kafmesh/kafmesh/examples/devices/internal/definitions/models/kafmesh/gateway/v1"
	"github.com/kafmesh/kafmesh/examples/devices/internal/keys"
	"github.com/kafmesh/kafmesh/examples/devices/internal/store"
)

// TestDevicesInMemory runs the whole example — every part registered by
// app.New, the real handlers and SQLite — on kafmeshtest's in-memory driver
// over 4 partitions, with no broker: each gateway call has had all its
// effects when it returns.
func TestDevicesInMemory(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "devices.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	d := kafmeshtest.NewDriver(t, 4)
	a, err := app.New(app.Config{DB: db, Cluster: d.MemoryCluster})
	if err != nil {
		t.Fatal(err)
	}
	gw := a.Gateway
	const acme, sensor1, sensor2 = 7, 101, 102

	// View source: a customer row reaches the customer view at the sync.
	if _, err := db.Exec(`INSERT INTO customers (id, name) VALUES (?, 'Acme')`, acme); err != nil {
		t.Fatal(err)
	}
	if err := d.SyncViewSources(ctx); err != nil {
		t.Fatal(err)
	}
	customers := kafmeshtest.Latest(t, d, "kafmesh.customerId.details", runner.Proto[customerId.Details]())
	if customers[keys.Format(acme)].GetName() != "Acme" {
		t.Fatalf("customer topic after the view source sync: %v", customers)
	}

	for _, device := range []int64{sensor1, sensor2} {
		if _, err := gw.Assign(ctx, &gatewayv1.AssignRequest{DeviceId: device, CustomerId: acme}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := gw.Details(ctx, &gatewayv1.DetailsRequest{DeviceId: sensor1, Name: "sensor one"}); err != nil {
		t.Fatal(err)
	}

	// The enricher joined the assignment and looked the customer up; its
	// output fed the enriched-details view and the warehouse sink.
	enriched := kafmeshtest.Read(t, d, "kafmesh.deviceId.enrichedDetails", runner.Proto[deviceId.EnrichedDetails]())
	if len(enriched) != 1 || enriched[0].Value.GetCustomerName() != "Acme" || enriched[0].Value.GetName() != "sensor one" {
		t.Fatalf("enriched details: %v", enriched)
	}
	got, err := gw.GetDevice(ctx, &gatewayv1.GetDeviceRequest{DeviceId: sensor1})
	if err != nil || got.GetDetails().GetCustomerName() != "Acme" || got.GetCustomerName() != "Acme" {
		t.Fatalf("GetDevice = %v, %v", got, err)
	}
	if err := countRows(db, 1, `SELECT count(*) FROM enriched_details WHERE device_id = ? AND customer_name = 'Acme'`, sensor1); err != nil {
		t.Fatalf("warehouse: %v", err)
	}

	// Heartbeats: enriched, re-keyed by customer, counted by the health
	// processor in its state, written by the sink, and by the view sink at
	// its sync.
	// Distinct times: the warehouse keeps one row per device and time, and
	// in memory three heartbeats fit in one millisecond.
	start := time.Now()
	for i, hb := range []struct {
		device  int64
		healthy bool
	}{{sensor1, false}, {sensor2, true}, {sensor2, true}} {
		at := timestamppb.New(start.Add(time.Duration(i) * time.Second))
		if _, err := gw.Heartbeat(ctx, &gatewayv1.HeartbeatRequest{DeviceId: hb.device, IsHealthy: hb.healthy, Time: at}); err != nil {
			t.Fatal(err)
		}
	}
	if err := countRows(db, 3, `SELECT count(*) FROM enriched_heartbeats WHERE customer_id = ?`, acme); err != nil {
		t.Fatalf("heartbeat warehouse: %v", err)
	}
	if err := d.SyncViewSinks(ctx); err != nil {
		t.Fatal(err)
	}
	if err := health(db, acme, 1, 1); err != nil {
		t.Fatalf("current health page: %v", err)
	}
	// Nothing failed along the way: no dead letters.
	for _, topic := range d.Topics() {
		if len(topic) > 4 && topic[len(topic)-4:] == "-dlq" {
			t.Errorf("dead letters in %s: %d", topic, len(d.Records(topic)))
		}
	}
}
