package devicedetails

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/kafmesh/kafmesh/examples/devices/internal/definitions/details"
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

type row struct {
	name     string
	timeMs   int64
	customer int64
	cname    string
}

func rows(t *testing.T, db *sql.DB) map[int64]row {
	t.Helper()
	rs, err := db.Query(`SELECT device_id, name, time_unix_ms, customer_id, customer_name FROM enriched_details`)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	out := map[int64]row{}
	for rs.Next() {
		var id int64
		var r row
		if err := rs.Scan(&id, &r.name, &r.timeMs, &r.customer, &r.cname); err != nil {
			t.Fatal(err)
		}
		out[id] = r
	}
	return out
}

func TestWarehouseUpsertsByDevice(t *testing.T) {
	db := openDB(t)
	w := NewWarehouse(db)
	ctx := &details.SinkContextFake{RecordTopic: "kafmesh.deviceId.enrichedDetails"}
	t0 := time.UnixMilli(1_700_000_000_000)
	collect := func(key string, m *deviceId.EnrichedDetails) {
		t.Helper()
		if err := w.Collect(ctx, key, m); err != nil {
			t.Fatal(err)
		}
	}
	collect("1", &deviceId.EnrichedDetails{Name: "a", Time: timestamppb.New(t0), CustomerId: 7, CustomerName: "Acme"})
	collect("2", &deviceId.EnrichedDetails{Name: "b", Time: timestamppb.New(t0)})
	collect("1", &deviceId.EnrichedDetails{Name: "a2", Time: timestamppb.New(t0.Add(time.Second)), CustomerId: 7, CustomerName: "Acme"})
	if err := w.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := map[int64]row{1: {"a2", t0.UnixMilli() + 1000, 7, "Acme"}, 2: {"b", t0.UnixMilli(), 0, ""}}
	if got := rows(t, db); len(got) != 2 || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("rows %v, want %v", got, want)
	}

	// At-least-once: the same records again (a redelivery after a crash)
	// leave the same rows, and a tombstone deletes its device.
	collect("2", &deviceId.EnrichedDetails{Name: "b", Time: timestamppb.New(t0)})
	collect("1", nil)
	if err := w.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := rows(t, db); len(got) != 1 || got[2] != want[2] {
		t.Errorf("rows after the redelivery and the delete: %v", got)
	}
}

func TestWarehouseKeepsAFailedBatch(t *testing.T) {
	db := openDB(t)
	w := NewWarehouse(db)
	if err := w.Collect(&details.SinkContextFake{}, "5", &deviceId.EnrichedDetails{Name: "kept", Time: timestamppb.Now()}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`ALTER TABLE enriched_details RENAME TO moved`); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(context.Background()); err == nil {
		t.Fatal("Flush without the table succeeded")
	}
	if _, err := db.Exec(`ALTER TABLE moved RENAME TO enriched_details`); err != nil {
		t.Fatal(err)
	}
	// The retry writes the batch that failed, without collecting it again.
	if err := w.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := rows(t, db); got[5].name != "kept" {
		t.Errorf("rows %v: the failed batch was lost", got)
	}
}

func TestWarehouseRefusesBadKeys(t *testing.T) {
	w := NewWarehouse(openDB(t))
	if err := w.Collect(&details.SinkContextFake{}, "device-1", &deviceId.EnrichedDetails{}); err == nil {
		t.Error("a key that is not a device id was collected")
	}
}
