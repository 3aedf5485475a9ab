package devicedetails

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/kafmesh/kafmesh/runner"

	"github.com/kafmesh/kafmesh/examples/devices/internal/definitions/details"
	"github.com/kafmesh/kafmesh/examples/devices/internal/definitions/models/kafmesh/deviceId"
	"github.com/kafmesh/kafmesh/examples/devices/internal/keys"
)

// Warehouse is sink "enriched detail warehouse": it keeps one row per
// device in table enriched_details.
//
// Flush is idempotent, as a sink's must be: records come again after a
// crash or a failed flush, and each one is an upsert keyed by the device
// id (a tombstone a delete), so writing a batch twice leaves the same rows.
// Within a batch only the last value of each device is written.
type Warehouse struct {
	db *sql.DB

	mu    sync.Mutex
	batch map[int64]*deviceId.EnrichedDetails // nil value: delete
}

var _ details.EnrichedDetailWarehouseSink = (*Warehouse)(nil)

// NewWarehouse returns the sink writing to db.
func NewWarehouse(db *sql.DB) *Warehouse {
	return &Warehouse{db: db, batch: map[int64]*deviceId.EnrichedDetails{}}
}

// Collect adds a record to the batch.
func (w *Warehouse) Collect(ctx runner.SinkContext, key string, msg *deviceId.EnrichedDetails) error {
	id, err := keys.Parse(key)
	if err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.batch[id] = msg
	return nil
}

// Flush writes the batch in one transaction. When it fails the batch is
// kept for the next Flush.
func (w *Warehouse) Flush(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.batch) == 0 {
		return nil
	}
	tx, err := w.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("flush enriched details: %w", err)
	}
	defer tx.Rollback()
	for _, id := range slices.Sorted(maps.Keys(w.batch)) {
		m := w.batch[id]
		if m == nil {
			_, err = tx.ExecContext(ctx, `DELETE FROM enriched_details WHERE device_id = ?`, id)
		} else {
			_, err = tx.ExecContext(ctx, `
INSERT INTO enriched_details (device_id, name, time_unix_ms, customer_id, customer_name) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (device_id) DO UPDATE SET
	name = excluded.name, time_unix_ms = excluded.time_unix_ms,
	customer_id = excluded.customer_id, customer_name = excluded.customer_name`,
				id, m.GetName(), m.GetTime().AsTime().UnixMilli(), m.GetCustomerId(), m.GetCustomerName())
		}
		if err != nil {
			return fmt.Errorf("flush enriched details of device %d: %w", id, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("flush enriched details: %w", err)
	}
	clear(w.batch)
	return nil
}
