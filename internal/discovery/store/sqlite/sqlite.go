// Package sqlite is the embedded discovery store: the whole mesh in one
// SQLite file, through the pure-Go modernc.org/sqlite driver (no cgo,
// nothing to start). The schema is versioned (migrations/), so a file keeps
// its history across restarts and kafmesh upgrades.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/kafmesh/kafmesh/internal/discovery/mesh"
	"github.com/kafmesh/kafmesh/internal/discovery/store"
)

// Store is a store.Store in one SQLite file.
type Store struct {
	db      *sql.DB
	version int
}

var _ store.Store = (*Store)(nil)

// Open opens (creating if needed) the database at path and migrates it to
// the newest schema. path ":memory:" gives a private in-memory database.
// Writes are serialized through one connection; the file is in WAL mode.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("sqlite store: no path")
	}
	q := url.Values{}
	for _, p := range []string{"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(NORMAL)", "foreign_keys(1)"} {
		q.Add("_pragma", p)
	}
	dsn := "file:" + path + "?" + q.Encode()
	if path == ":memory:" {
		dsn = "file::memory:?" + q.Encode()
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite store %s: %w", path, err)
	}
	// One connection: SQLite has one writer anyway, and an in-memory
	// database lives in its connection.
	db.SetMaxOpenConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("sqlite store %s: %w", path, err)
	}
	v, err := migrate(ctx, db)
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("sqlite store %s: %w", path, err)
	}
	return &Store{db: db, version: v}, nil
}

// SchemaVersion is the schema version the database is at.
func (s *Store) SchemaVersion() int { return s.version }

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Ping checks the database answers.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	return s.db.QueryRowContext(ctx, `SELECT 1`).Scan(&one)
}

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// inTx runs f in a transaction, rolling back on error.
func (s *Store) inTx(ctx context.Context, f func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// upsertPod writes the pod's identity and the scrape's timestamps and
// returns the fingerprint stored for it before.
func upsertPod(ctx context.Context, tx *sql.Tx, p mesh.Pod, at time.Time, ok bool, reason string) (string, error) {
	lastSeen := "last_seen"
	if ok {
		lastSeen = "excluded.last_seen"
	}
	var seen int64
	if ok {
		seen = nanos(at)
	}
	var fp string
	err := tx.QueryRowContext(ctx, `INSERT INTO pods (id, namespace, name, uid, address, source, first_seen, last_seen, last_scrape, last_error)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT(id) DO UPDATE SET namespace = excluded.namespace, name = excluded.name, uid = excluded.uid,
			address = excluded.address, source = excluded.source, last_seen = `+lastSeen+`,
			last_scrape = excluded.last_scrape, last_error = excluded.last_error
		RETURNING fingerprint`,
		p.ID, p.Namespace, p.Name, p.UID, p.Address, p.Source, nanos(at), seen, nanos(at), reason).Scan(&fp)
	return fp, err
}

// Report implements store.Store.
func (s *Store) Report(ctx context.Context, p mesh.Pod, at time.Time, tree *mesh.Tree) (store.Change, error) {
	var c store.Change
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		c = store.Change{}
		old, err := upsertPod(ctx, tx, p, at, true, "")
		if err != nil {
			return err
		}
		fp := tree.Fingerprint()
		if old == fp {
			c.Unchanged = true
			return nil
		}
		if err := writeNodes(ctx, tx, p.ID, at, tree.Nodes, &c); err != nil {
			return err
		}
		if err := writeEdges(ctx, tx, p.ID, at, tree.Edges, &c); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE pods SET fingerprint = ? WHERE id = ?`, fp, p.ID)
		return err
	})
	if err != nil {
		return store.Change{}, fmt.Errorf("sqlite store: report %s: %w", p.ID, err)
	}
	return c, nil
}

func stringSet(ctx context.Context, tx *sql.Tx, query string, args ...any) (map[string]bool, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out[s] = true
	}
	return out, rows.Err()
}

// placeholders returns "?, ?, …" for n values.
func placeholders(n int) string {
	if n == 0 {
		return ""
	}
	return strings.Repeat("?, ", n-1) + "?"
}

// existingNodes reads the stored nodes among ids, in one query.
func existingNodes(ctx context.Context, tx *sql.Tx, ids []any) (map[string]mesh.Node, error) {
	out := map[string]mesh.Node{}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := tx.QueryContext(ctx, `SELECT id, kind, name, description, group_name, message, topic_type, descriptors FROM nodes WHERE id IN (`+placeholders(len(ids))+`)`, ids...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var n mesh.Node
		if err := rows.Scan(&n.ID, &n.Kind, &n.Name, &n.Description, &n.GroupName, &n.Message, &n.TopicType, &n.Descriptors); err != nil {
			return nil, err
		}
		out[n.ID] = n
	}
	return out, rows.Err()
}

func writeNodes(ctx context.Context, tx *sql.Tx, pod string, at time.Time, nodes []mesh.Node, c *store.Change) error {
	had, err := stringSet(ctx, tx, `SELECT node_id FROM pod_nodes WHERE pod_id = ?`, pod)
	if err != nil {
		return err
	}
	ids := make([]any, len(nodes))
	for i, n := range nodes {
		ids[i] = n.ID
	}
	existing, err := existingNodes(ctx, tx, ids)
	if err != nil {
		return err
	}
	for _, n := range nodes {
		cur, ok := existing[n.ID]
		switch {
		case !ok:
			if _, err := tx.ExecContext(ctx, `INSERT INTO nodes (id, kind, name, description, group_name, message, topic_type, descriptors, updated_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, n.ID, n.Kind, n.Name, n.Description, n.GroupName, n.Message, n.TopicType, n.Descriptors, nanos(at)); err != nil {
				return err
			}
			c.NodesAdded++
		case !store.SameNode(cur, n):
			if _, err := tx.ExecContext(ctx, `UPDATE nodes SET kind = ?, name = ?, description = ?, group_name = ?, message = ?, topic_type = ?, descriptors = ?, updated_at = ?
				WHERE id = ?`, n.Kind, n.Name, n.Description, n.GroupName, n.Message, n.TopicType, n.Descriptors, nanos(at), n.ID); err != nil {
				return err
			}
			c.NodesUpdated++
		}
		if had[n.ID] {
			delete(had, n.ID)
			continue
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO pod_nodes (pod_id, node_id) VALUES (?, ?)`, pod, n.ID); err != nil {
			return err
		}
	}
	// What the pod reported before and no longer does.
	for id := range had {
		if _, err := tx.ExecContext(ctx, `DELETE FROM pod_nodes WHERE pod_id = ? AND node_id = ?`, pod, id); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM nodes WHERE id = ? AND NOT EXISTS (SELECT 1 FROM pod_nodes WHERE node_id = ?)`, id, id)
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		c.NodesRemoved += int(n)
	}
	return nil
}

func writeEdges(ctx context.Context, tx *sql.Tx, pod string, at time.Time, edges []mesh.Edge, c *store.Change) error {
	had, err := stringSet(ctx, tx, `SELECT edge_key FROM pod_edges WHERE pod_id = ?`, pod)
	if err != nil {
		return err
	}
	keys := make([]any, len(edges))
	for i, e := range edges {
		keys[i] = e.Key()
	}
	desc := map[string]string{}
	if len(keys) > 0 {
		rows, err := tx.QueryContext(ctx, `SELECT key, description FROM edges WHERE key IN (`+placeholders(len(keys))+`)`, keys...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var k, d string
			if err := rows.Scan(&k, &d); err != nil {
				rows.Close()
				return err
			}
			desc[k] = d
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	for _, e := range edges {
		key := e.Key()
		d, ok := desc[key]
		switch {
		case !ok:
			if _, err := tx.ExecContext(ctx, `INSERT INTO edges (key, src, dst, rel, description, updated_at) VALUES (?, ?, ?, ?, ?, ?)`,
				key, e.From, e.To, e.Rel, e.Description, nanos(at)); err != nil {
				return err
			}
			c.EdgesAdded++
		case d != e.Description:
			if _, err := tx.ExecContext(ctx, `UPDATE edges SET description = ?, updated_at = ? WHERE key = ?`, e.Description, nanos(at), key); err != nil {
				return err
			}
			c.EdgesUpdated++
		}
		if had[key] {
			delete(had, key)
			continue
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO pod_edges (pod_id, edge_key) VALUES (?, ?)`, pod, key); err != nil {
			return err
		}
	}
	for key := range had {
		if _, err := tx.ExecContext(ctx, `DELETE FROM pod_edges WHERE pod_id = ? AND edge_key = ?`, pod, key); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM edges WHERE key = ? AND NOT EXISTS (SELECT 1 FROM pod_edges WHERE edge_key = ?)`, key, key)
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		c.EdgesRemoved += int(n)
	}
	return nil
}

// Fail implements store.Store.
func (s *Store) Fail(ctx context.Context, p mesh.Pod, at time.Time, reason string) error {
	if reason == "" {
		reason = "scrape failed"
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := upsertPod(ctx, tx, p, at, false, reason)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite store: fail %s: %w", p.ID, err)
	}
	return nil
}

// Retain implements store.Store.
func (s *Store) Retain(ctx context.Context, keep []string) (store.Change, error) {
	var c store.Change
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		c = store.Change{}
		all, err := stringSet(ctx, tx, `SELECT id FROM pods`)
		if err != nil {
			return err
		}
		for _, id := range keep {
			delete(all, id)
		}
		if len(all) == 0 {
			return nil
		}
		for id := range all {
			if _, err := tx.ExecContext(ctx, `DELETE FROM pods WHERE id = ?`, id); err != nil {
				return err
			}
			c.PodsRemoved++
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM nodes WHERE NOT EXISTS (SELECT 1 FROM pod_nodes WHERE node_id = nodes.id)`)
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		c.NodesRemoved = int(n)
		res, err = tx.ExecContext(ctx, `DELETE FROM edges WHERE NOT EXISTS (SELECT 1 FROM pod_edges WHERE edge_key = edges.key)`)
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		c.EdgesRemoved = int(n)
		// A removed pod may have been the one whose properties a shared node
		// carries: compare every remaining pod's next report row by row.
		_, err = tx.ExecContext(ctx, `UPDATE pods SET fingerprint = ''`)
		return err
	})
	if err != nil {
		return store.Change{}, fmt.Errorf("sqlite store: retain: %w", err)
	}
	return c, nil
}

// Graph implements store.Store.
func (s *Store) Graph(ctx context.Context) (*mesh.Graph, error) {
	var (
		nodes   []mesh.Node
		edges   []mesh.Edge
		pods    []mesh.Pod
		reports = map[string][]string{}
	)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT id, kind, name, description, group_name, message, topic_type, descriptors FROM nodes`)
		if err != nil {
			return err
		}
		for rows.Next() {
			var n mesh.Node
			if err := rows.Scan(&n.ID, &n.Kind, &n.Name, &n.Description, &n.GroupName, &n.Message, &n.TopicType, &n.Descriptors); err != nil {
				rows.Close()
				return err
			}
			nodes = append(nodes, n)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		rows, err = tx.QueryContext(ctx, `SELECT src, dst, rel, description FROM edges`)
		if err != nil {
			return err
		}
		for rows.Next() {
			var e mesh.Edge
			if err := rows.Scan(&e.From, &e.To, &e.Rel, &e.Description); err != nil {
				rows.Close()
				return err
			}
			edges = append(edges, e)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		rows, err = tx.QueryContext(ctx, `SELECT id, namespace, name, uid, address, source, first_seen, last_seen, last_scrape, last_error FROM pods`)
		if err != nil {
			return err
		}
		for rows.Next() {
			var p mesh.Pod
			var first, seen, scrape int64
			if err := rows.Scan(&p.ID, &p.Namespace, &p.Name, &p.UID, &p.Address, &p.Source, &first, &seen, &scrape, &p.LastError); err != nil {
				rows.Close()
				return err
			}
			p.FirstSeen, p.LastSeen, p.LastScrape = fromNanos(first), fromNanos(seen), fromNanos(scrape)
			pods = append(pods, p)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		rows, err = tx.QueryContext(ctx, `SELECT pod_id, node_id FROM pod_nodes`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var pod, node string
			if err := rows.Scan(&pod, &node); err != nil {
				return err
			}
			reports[pod] = append(reports[pod], node)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite store: read graph: %w", err)
	}
	return mesh.NewGraph(nodes, edges, pods, reports), nil
}
