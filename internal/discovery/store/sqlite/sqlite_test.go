package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/kafmesh/kafmesh/internal/discovery/store"
	"github.com/kafmesh/kafmesh/internal/discovery/store/sqlite"
	"github.com/kafmesh/kafmesh/internal/discovery/store/storetest"
)

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) func(*testing.T) store.Store {
		path := filepath.Join(t.TempDir(), "mesh.db")
		return func(t *testing.T) store.Store {
			s, err := sqlite.Open(context.Background(), path)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
	})
}

func TestMigrationsAreRecordedAndRerunSafely(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "mesh.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if s.SchemaVersion() < 1 {
		t.Fatalf("schema version %d", s.SchemaVersion())
	}
	v := s.SchemaVersion()
	s.Close()
	s, err = sqlite.Open(ctx, path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	if s.SchemaVersion() != v {
		t.Errorf("version %d after reopen, want %d", s.SchemaVersion(), v)
	}
	s.Close()

	// A file from a newer kafmesh is refused with a clear error.
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err = sqlite.Open(ctx, path)
	if err == nil || !strings.Contains(err.Error(), "schema version 999 is newer") {
		t.Fatalf("opening a newer schema: %v", err)
	}
}

func TestOpenReportsAnUnusablePath(t *testing.T) {
	_, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "missing-dir", "x", "mesh.db"))
	if err == nil || !strings.Contains(err.Error(), "mesh.db") {
		t.Fatalf("err = %v, want one naming the file", err)
	}
}
