package store

import (
	"context"
	"path/filepath"
	"testing"
)

func TestOpenCreatesTablesOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "devices.db")
	ctx := context.Background()
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO customers (id, name) VALUES (1, 'Acme')`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	// Opening again keeps the data.
	db, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var name string
	if err := db.QueryRow(`SELECT name FROM customers WHERE id = 1`).Scan(&name); err != nil || name != "Acme" {
		t.Errorf("name %q, %v", name, err)
	}
	for _, table := range []string{"enriched_details", "enriched_heartbeats", "customer_health"} {
		if _, err := db.Exec(`SELECT count(*) FROM ` + table); err != nil {
			t.Errorf("table %s: %v", table, err)
		}
	}
}

func TestOpenFailsOnADirectory(t *testing.T) {
	if _, err := Open(context.Background(), t.TempDir()); err == nil {
		t.Error("opening a directory as the database succeeded")
	}
}
