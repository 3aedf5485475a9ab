package customers

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"

	"github.com/kafmesh/kafmesh/examples/devices/internal/definitions/assignments"
	"github.com/kafmesh/kafmesh/examples/devices/internal/store"
)

func openTable(t *testing.T) Table {
	t.Helper()
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "devices.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return Table{DB: db}
}

func TestSyncReportsTheWholeTable(t *testing.T) {
	ctx := context.Background()
	table := openTable(t)
	for id, name := range map[int64]string{12: "Globex", 3: "Acme", 7: "Initech"} {
		if err := table.Upsert(ctx, id, name); err != nil {
			t.Fatal(err)
		}
	}
	if err := table.Upsert(ctx, 7, "Initrode"); err != nil { // a rename
		t.Fatal(err)
	}
	if err := table.Delete(ctx, 12); err != nil {
		t.Fatal(err)
	}

	up := &assignments.CustomerDetailsUpdaterFake{}
	if err := (ViewSource{table}).Sync(ctx, up); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(up.Keys, []string{"3", "7"}) {
		t.Errorf("reported keys %q, want 3 and 7 in id order", up.Keys)
	}
	if up.Values["3"].GetName() != "Acme" || up.Values["7"].GetName() != "Initrode" {
		t.Errorf("reported values %v", up.Values)
	}
}

func TestSyncStopsOnTheFirstUpdateError(t *testing.T) {
	ctx := context.Background()
	table := openTable(t)
	if err := table.Upsert(ctx, 1, "Acme"); err != nil {
		t.Fatal(err)
	}
	refused := errors.New("sync timed out")
	up := &assignments.CustomerDetailsUpdaterFake{Err: refused}
	if err := (ViewSource{table}).Sync(ctx, up); !errors.Is(err, refused) {
		t.Errorf("Sync = %v, want the updater's error", err)
	}
}

func TestSyncReportsAnUnreadableTable(t *testing.T) {
	table := openTable(t)
	table.DB.Close()
	if err := (ViewSource{table}).Sync(context.Background(), &assignments.CustomerDetailsUpdaterFake{}); err == nil {
		t.Error("Sync on a closed database succeeded")
	}
}
