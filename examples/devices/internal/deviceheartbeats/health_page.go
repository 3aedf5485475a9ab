package deviceheartbeats

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/kafmesh/kafmesh/runner"

	"github.com/kafmesh/kafmesh/examples/devices/internal/definitions/heartbeats"
	"github.com/kafmesh/kafmesh/examples/devices/internal/definitions/models/kafmesh/customerId"
	"github.com/kafmesh/kafmesh/examples/devices/internal/keys"
)

// HealthPage is view sink "current health": each sync makes table
// customer_health equal to the kafmesh.customerId.currentHealth table, in
// one transaction (rows upserted, customers no longer in the table
// deleted).
type HealthPage struct{ DB *sql.DB }

var _ heartbeats.CurrentHealthViewSink = HealthPage{}

// Sync copies the table.
func (p HealthPage) Sync(ctx context.Context, view runner.Reader[*customerId.CurrentHealth]) error {
	tx, err := p.DB.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sync customer health: %w", err)
	}
	defer tx.Rollback()
	seen := map[int64]bool{}
	var failed error
	rangeErr := view.Range(func(key string, h *customerId.CurrentHealth) bool {
		customer, err := keys.Parse(key)
		if err != nil {
			failed = err
			return false
		}
		seen[customer] = true
		_, err = tx.ExecContext(ctx, `
INSERT INTO customer_health (customer_id, healthy_devices, unhealthy_devices, time_unix_ms) VALUES (?, ?, ?, ?)
ON CONFLICT (customer_id) DO UPDATE SET
	healthy_devices = excluded.healthy_devices, unhealthy_devices = excluded.unhealthy_devices, time_unix_ms = excluded.time_unix_ms`,
			customer, h.GetHealthyDevices(), h.GetUnhealthyDevices(), h.GetTime().AsTime().UnixMilli())
		if err != nil {
			failed = fmt.Errorf("sync the health of customer %d: %w", customer, err)
			return false
		}
		return true
	})
	switch {
	case rangeErr != nil:
		return fmt.Errorf("sync customer health: read the table: %w", rangeErr)
	case failed != nil:
		return failed
	}
	gone, err := staleCustomers(ctx, tx, seen)
	if err != nil {
		return err
	}
	for _, customer := range gone {
		if _, err := tx.ExecContext(ctx, `DELETE FROM customer_health WHERE customer_id = ?`, customer); err != nil {
			return fmt.Errorf("sync customer health: %w", err)
		}
	}
	return tx.Commit()
}

// staleCustomers lists the customers of table customer_health that seen
// does not have.
func staleCustomers(ctx context.Context, tx *sql.Tx, seen map[int64]bool) ([]int64, error) {
	rows, err := tx.QueryContext(ctx, `SELECT customer_id FROM customer_health`)
	if err != nil {
		return nil, fmt.Errorf("sync customer health: %w", err)
	}
	defer rows.Close()
	var gone []int64
	for rows.Next() {
		var customer int64
		if err := rows.Scan(&customer); err != nil {
			return nil, fmt.Errorf("sync customer health: %w", err)
		}
		if !seen[customer] {
			gone = append(gone, customer)
		}
	}
	return gone, rows.Err()
}
