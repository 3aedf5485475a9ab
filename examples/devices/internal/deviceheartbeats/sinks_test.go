package deviceheartbeats

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/kafmesh/kafmesh/examples/devices/internal/definitions/heartbeats"
	"github.com/kafmesh/kafmesh/examples/devices/internal/definitions/models/kafmesh/customerId"
	"github.com/kafmesh/kafmesh/examples/devices/internal/definitions/models/kafmesh/deviceId"
	"github.com/kafmesh/kafmesh/examples/devices/internal/store"
)

func openDB(t *testing.T) *sql.DB {
	t.Helper()
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "devices.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func count(t *testing.T, db *sql.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestWarehouseStoresEachHeartbeatOnce(t *testing.T) {
	db := openDB(t)
	w := NewWarehouse(db)
	ctx := &heartbeats.SinkContextFake{}
	hb := func(after time.Duration, healthy bool) *deviceId.EnrichedHeartbeat {
		return &deviceId.EnrichedHeartbeat{Time: timestamppb.New(at.AsTime().Add(after)), IsHealthy: healthy, CustomerId: 7, CustomerName: "Acme"}
	}
	for range 2 { // the second round is a redelivery of the same records
		for i, m := range []*deviceId.EnrichedHeartbeat{hb(0, true), hb(time.Second, false), nil} {
			if err := w.Collect(ctx, "42", m); err != nil {
				t.Fatalf("record %d: %v", i, err)
			}
		}
		if err := w.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		if n := count(t, db, `SELECT count(*) FROM enriched_heartbeats WHERE device_id = 42 AND customer_id = 7`); n != 2 {
			t.Fatalf("%d rows, want 2 (one per heartbeat time)", n)
		}
	}
	if n := count(t, db, `SELECT count(*) FROM enriched_heartbeats WHERE is_healthy = 0`); n != 1 {
		t.Errorf("%d unhealthy rows, want 1", n)
	}
}

func TestHealthPageMirrorsTheTable(t *testing.T) {
	db := openDB(t)
	page := HealthPage{DB: db}
	view := &heartbeats.CurrentHealthReaderFake{Values: map[string]*customerId.CurrentHealth{
		"7": {HealthyDevices: 2, UnhealthyDevices: 1, Time: at},
		"8": {HealthyDevices: 1, Time: at},
	}}
	if err := page.Sync(context.Background(), view); err != nil {
		t.Fatal(err)
	}
	if n := count(t, db, `SELECT count(*) FROM customer_health WHERE customer_id = 7 AND healthy_devices = 2 AND unhealthy_devices = 1 AND time_unix_ms = ?`, at.AsTime().UnixMilli()); n != 1 {
		t.Error("customer 7 was not written")
	}

	// Customer 8 left the table and 7 changed.
	view.Values = map[string]*customerId.CurrentHealth{"7": {HealthyDevices: 3, Time: at}}
	if err := page.Sync(context.Background(), view); err != nil {
		t.Fatal(err)
	}
	if n := count(t, db, `SELECT count(*) FROM customer_health`); n != 1 {
		t.Errorf("%d rows, want customer 8 deleted", n)
	}
	if n := count(t, db, `SELECT healthy_devices FROM customer_health WHERE customer_id = 7`); n != 3 {
		t.Errorf("customer 7 has %d healthy devices, want 3", n)
	}
}

func TestHealthPageKeepsTheTableWhenTheViewFails(t *testing.T) {
	db := openDB(t)
	page := HealthPage{DB: db}
	view := &heartbeats.CurrentHealthReaderFake{Values: map[string]*customerId.CurrentHealth{"7": {HealthyDevices: 1, Time: at}}}
	if err := page.Sync(context.Background(), view); err != nil {
		t.Fatal(err)
	}
	view.Err = errors.New("store closed")
	view.Values = nil
	if err := page.Sync(context.Background(), view); err == nil {
		t.Fatal("Sync succeeded although the view failed")
	}
	if n := count(t, db, `SELECT count(*) FROM customer_health`); n != 1 {
		t.Errorf("a failed sync changed the table: %d rows", n)
	}
}
