// Package store opens the device database of the example service, a SQLite
// file (through modernc.org/sqlite, pure Go). It holds:
//
//   - customers: the customer data set of record, which the "customer
//     details" view source mirrors into kafmesh.customerId.details;
//   - enriched_details: one row per device, upserted by the "enriched
//     detail warehouse" sink;
//   - enriched_heartbeats: one row per heartbeat, written by the "enriched
//     heartbeat warehouse" sink;
//   - customer_health: one row per customer, kept equal to
//     kafmesh.customerId.currentHealth by the "current health" view sink.
package store

import (
	"context"
	"database/sql"
	"fmt"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver
)

const schema = `
CREATE TABLE IF NOT EXISTS customers (
	id   INTEGER PRIMARY KEY,
	name TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS enriched_details (
	device_id     INTEGER PRIMARY KEY,
	name          TEXT NOT NULL,
	time_unix_ms  INTEGER NOT NULL,
	customer_id   INTEGER NOT NULL,
	customer_name TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS enriched_heartbeats (
	device_id     INTEGER NOT NULL,
	time_unix_ms  INTEGER NOT NULL,
	is_healthy    INTEGER NOT NULL,
	customer_id   INTEGER NOT NULL,
	customer_name TEXT NOT NULL,
	PRIMARY KEY (device_id, time_unix_ms)
);
CREATE TABLE IF NOT EXISTS customer_health (
	customer_id       INTEGER PRIMARY KEY,
	healthy_devices   INTEGER NOT NULL,
	unhealthy_devices INTEGER NOT NULL,
	time_unix_ms      INTEGER NOT NULL
);
`

// Open opens (creating it if needed) the database file at path and makes
// sure every table exists. The parts of the service write from several
// goroutines; the database allows one connection, with a busy timeout, so
// they take turns instead of failing with "database is locked".
func Open(ctx context.Context, path string) (*sql.DB, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)")
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("create the tables in %s: %w", path, err)
	}
	return db, nil
}
