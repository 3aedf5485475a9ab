package deviceheartbeats

import (
	"context"
	"database/sql"
	"fmt"
	"sync"

	"github.com/kafmesh/kafmesh/runner"

	"github.com/kafmesh/kafmesh/examples/devices/internal/definitions/heartbeats"
	"github.com/kafmesh/kafmesh/examples/devices/internal/definitions/models/kafmesh/deviceId"
	"github.com/kafmesh/kafmesh/examples/devices/internal/keys"
)

// Warehouse is sink "enriched heartbeat warehouse": one row per heartbeat
// in table enriched_heartbeats, keyed by device id and heartbeat time.
// Writing a heartbeat twice (a redelivery) replaces its row with the same
// values, so Flush is idempotent. Tombstones are ignored: heartbeats are
// events, never deleted.
type Warehouse struct {
	db *sql.DB

	mu    sync.Mutex
	batch []heartbeatRow
}

type heartbeatRow struct {
	device int64
	msg    *deviceId.EnrichedHeartbeat
}

var _ heartbeats.EnrichedHeartbeatWarehouseSink = (*Warehouse)(nil)

// NewWarehouse returns the sink writing to db.
func NewWarehouse(db *sql.DB) *Warehouse { return &Warehouse{db: db} }

// Collect adds a heartbeat to the batch.
func (w *Warehouse) Collect(ctx runner.SinkContext, key string, msg *deviceId.EnrichedHeartbeat) error {
	if msg == nil {
		return nil
	}
	device, err := keys.Parse(key)
	if err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.batch = append(w.batch, heartbeatRow{device, msg})
	return nil
}

// Flush writes the batch in one transaction, and keeps it when that fails.
func (w *Warehouse) Flush(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.batch) == 0 {
		return nil
	}
	tx, err := w.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("flush enriched heartbeats: %w", err)
	}
	defer tx.Rollback()
	for _, r := range w.batch {
		_, err := tx.ExecContext(ctx, `
INSERT INTO enriched_heartbeats (device_id, time_unix_ms, is_healthy, customer_id, customer_name) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (device_id, time_unix_ms) DO UPDATE SET
	is_healthy = excluded.is_healthy, customer_id = excluded.customer_id, customer_name = excluded.customer_name`,
			r.device, r.msg.GetTime().AsTime().UnixMilli(), r.msg.GetIsHealthy(), r.msg.GetCustomerId(), r.msg.GetCustomerName())
		if err != nil {
			return fmt.Errorf("flush the heartbeat of device %d: %w", r.device, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("flush enriched heartbeats: %w", err)
	}
	w.batch = w.batch[:0]
	return nil
}
