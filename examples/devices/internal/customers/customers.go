// Package customers is the customer data set of record: the customers
// table of the device database. Table writes customers there, and
// ViewSource (view source "customer details" of component assignments)
// mirrors the table into kafmesh.customerId.details.
package customers

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/kafmesh/kafmesh/runner"

	"github.com/kafmesh/kafmesh/examples/devices/internal/definitions/assignments"
	"github.com/kafmesh/kafmesh/examples/devices/internal/definitions/models/kafmesh/customerId"
	"github.com/kafmesh/kafmesh/examples/devices/internal/keys"
)

// Table is the customers table.
type Table struct{ DB *sql.DB }

// Upsert creates customer id or renames it.
func (t Table) Upsert(ctx context.Context, id int64, name string) error {
	_, err := t.DB.ExecContext(ctx,
		`INSERT INTO customers (id, name) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET name = excluded.name`, id, name)
	if err != nil {
		return fmt.Errorf("upsert customer %d: %w", id, err)
	}
	return nil
}

// Delete removes customer id; the view source then deletes it from the
// topic at its next sync.
func (t Table) Delete(ctx context.Context, id int64) error {
	if _, err := t.DB.ExecContext(ctx, `DELETE FROM customers WHERE id = ?`, id); err != nil {
		return fmt.Errorf("delete customer %d: %w", id, err)
	}
	return nil
}

// ViewSource reports every row of the customers table to the "customer
// details" view source, which writes what changed to
// kafmesh.customerId.details and deletes the customers the table no
// longer has.
type ViewSource struct{ Table Table }

var _ assignments.CustomerDetailsViewSource = ViewSource{}

// Sync reports the whole table, in id order.
func (v ViewSource) Sync(ctx context.Context, up runner.Updater[*customerId.Details]) error {
	rows, err := v.Table.DB.QueryContext(ctx, `SELECT id, name FROM customers ORDER BY id`)
	if err != nil {
		return fmt.Errorf("read customers: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var name string
		if err := rows.Scan(&id, &name); err != nil {
			return fmt.Errorf("read customers: %w", err)
		}
		if err := up.Update(keys.Format(id), &customerId.Details{Name: name}); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read customers: %w", err)
	}
	return nil
}
