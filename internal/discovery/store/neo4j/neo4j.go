// Package neo4j is the discovery store on a Neo4j 5 server, the mesh as a
// property graph a user can explore with Cypher in Neo4j Browser.
//
// Nodes carry the labels Service, Component, Processor, Source, Sink, View,
// ViewSource, ViewSink, Topic and Pod, each with a unique id property (the
// mesh's stable ids; uniqueness constraints are created at Open, and again
// before a write whenever the server lost them: after any failure, and at
// least every 30 s).
// Relationships: HAS_COMPONENT, HAS_PART, READS, WRITES, JOINS, LOOKS_UP,
// PERSISTS_TO as reported; (node)-[:REPORTED_BY]->(Pod) for every node a pod
// reports; (Service)-[:DEPENDS_ON]->(Service), derived, recomputed whenever
// the graph changes. Every scrape is written in one transaction with
// idempotent MERGEs, and what a pod stopped reporting is removed in the same
// transaction.
package neo4j

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"
	neo4jconfig "github.com/neo4j/neo4j-go-driver/v5/neo4j/config"

	"github.com/kafmesh/kafmesh/internal/discovery/mesh"
	"github.com/kafmesh/kafmesh/internal/discovery/store"
)

// Store is a store.Store on a Neo4j server.
type Store struct {
	driver   neo4j.DriverWithContext
	database string
	// writes serializes this process's write transactions: scrapes of
	// pods of the same mesh touch the same topic and service nodes, and
	// concurrent transactions on them only deadlock and retry.
	writes sync.Mutex

	// Constraints are checked (and recreated when missing) before a write
	// after any failure, and at least every constraintCheckEvery: a server
	// that came back empty, or whose connection was replaced, gets them
	// back before the next write.
	constraintsMu sync.Mutex
	checkedAt     time.Time
	suspect       atomic.Bool
	ensured       atomic.Int64 // times the constraints were recreated; for tests
	checks        atomic.Int64 // times they were checked; for tests
}

// constraintCheckEvery is the longest a write goes without checking the
// constraints exist.
const constraintCheckEvery = 30 * time.Second

// Driver timeouts: a server that is down or unreachable gives an error in
// seconds, not after the driver's default minute of retries.
const (
	connectTimeout = 3 * time.Second
	acquireTimeout = 5 * time.Second
	retryTime      = 3 * time.Second
)

var _ store.Store = (*Store)(nil)

// Option configures Open.
type Option func(*config)

type config struct {
	user, password string
	database       string
}

// WithAuth authenticates with a user name and password (basic auth). Without
// it the driver connects with no authentication.
func WithAuth(user, password string) Option {
	return func(c *config) { c.user, c.password = user, password }
}

// WithDatabase selects the database (default: the server's default).
func WithDatabase(name string) Option { return func(c *config) { c.database = name } }

// Open connects to the server at uri (neo4j://, neo4j+s://, bolt://, …),
// checks it answers, and creates the uniqueness constraints on id.
func Open(ctx context.Context, uri string, opts ...Option) (*Store, error) {
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	auth := neo4j.NoAuth()
	if cfg.user != "" {
		auth = neo4j.BasicAuth(cfg.user, cfg.password, "")
	}
	driver, err := neo4j.NewDriverWithContext(uri, auth, func(c *neo4jconfig.Config) {
		c.SocketConnectTimeout = connectTimeout
		c.ConnectionAcquisitionTimeout = acquireTimeout
		c.MaxTransactionRetryTime = retryTime
	})
	if err != nil {
		return nil, fmt.Errorf("neo4j store %s: %w", uri, err)
	}
	s := &Store{driver: driver, database: cfg.database}
	if err := driver.VerifyConnectivity(ctx); err != nil {
		_ = driver.Close(ctx)
		return nil, fmt.Errorf("neo4j store %s: %w", uri, err)
	}
	if err := s.createConstraints(ctx); err != nil {
		_ = driver.Close(ctx)
		return nil, fmt.Errorf("neo4j store %s: %w", uri, err)
	}
	s.checkedAt = time.Now()
	return s, nil
}

// constraintCount counts the kafmesh_ uniqueness constraints on the server.
func (s *Store) constraintCount(ctx context.Context) (int, error) {
	res, err := neo4j.ExecuteQuery(ctx, s.driver, "SHOW CONSTRAINTS YIELD name WHERE name STARTS WITH 'kafmesh_' RETURN count(*)",
		nil, neo4j.EagerResultTransformer, neo4j.ExecuteQueryWithDatabase(s.database), neo4j.ExecuteQueryWithReadersRouting())
	if err != nil {
		return 0, err
	}
	if len(res.Records) == 0 {
		return 0, nil
	}
	n, _ := res.Records[0].Values[0].(int64)
	return int(n), nil
}

// ensureConstraints recreates missing constraints when a failure was seen
// since the last check or the last check is older than
// constraintCheckEvery.
func (s *Store) ensureConstraints(ctx context.Context) error {
	s.constraintsMu.Lock()
	defer s.constraintsMu.Unlock()
	if !s.suspect.Load() && time.Since(s.checkedAt) < constraintCheckEvery {
		return nil
	}
	s.checks.Add(1)
	n, err := s.constraintCount(ctx)
	if err != nil {
		s.suspect.Store(true)
		return err
	}
	if n < len(mesh.NodeKinds)+1 {
		if err := s.createConstraints(ctx); err != nil {
			s.suspect.Store(true)
			return err
		}
		s.ensured.Add(1)
	}
	s.checkedAt = time.Now()
	s.suspect.Store(false)
	return nil
}

// failed marks the store suspect after an error, so the constraints are
// checked before the next write.
func (s *Store) failed(err error) error {
	if err != nil {
		s.suspect.Store(true)
	}
	return err
}

func (s *Store) createConstraints(ctx context.Context) error {
	for _, k := range append(append([]mesh.Kind{}, mesh.NodeKinds...), mesh.KindPod) {
		q := fmt.Sprintf("CREATE CONSTRAINT kafmesh_%s_id IF NOT EXISTS FOR (n:%s) REQUIRE n.id IS UNIQUE", k, k)
		if _, err := neo4j.ExecuteQuery(ctx, s.driver, q, nil, neo4j.EagerResultTransformer, neo4j.ExecuteQueryWithDatabase(s.database)); err != nil {
			return fmt.Errorf("create constraint on %s.id: %w", k, err)
		}
	}
	return nil
}

// Close closes the driver.
func (s *Store) Close() error { return s.driver.Close(context.Background()) }

// Ping checks the server answers.
// After a failure, a successful ping also brings back missing constraints.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.failed(s.driver.VerifyConnectivity(ctx)); err != nil {
		return err
	}
	if s.suspect.Load() {
		return s.ensureConstraints(ctx)
	}
	return nil
}

func (s *Store) write(ctx context.Context, f func(neo4j.ManagedTransaction) error) error {
	s.writes.Lock()
	defer s.writes.Unlock()
	if err := s.ensureConstraints(ctx); err != nil {
		return fmt.Errorf("recreate constraints: %w", err)
	}
	sess := s.driver.NewSession(ctx, neo4j.SessionConfig{DatabaseName: s.database, AccessMode: neo4j.AccessModeWrite})
	defer sess.Close(ctx)
	_, err := sess.ExecuteWrite(ctx, func(tx neo4j.ManagedTransaction) (any, error) { return nil, f(tx) })
	return s.failed(err)
}

func (s *Store) read(ctx context.Context, f func(neo4j.ManagedTransaction) error) error {
	sess := s.driver.NewSession(ctx, neo4j.SessionConfig{DatabaseName: s.database, AccessMode: neo4j.AccessModeRead})
	defer sess.Close(ctx)
	_, err := sess.ExecuteRead(ctx, func(tx neo4j.ManagedTransaction) (any, error) { return nil, f(tx) })
	return s.failed(err)
}

// run runs one query and collects its records.
func run(ctx context.Context, tx neo4j.ManagedTransaction, q string, params map[string]any) ([]*neo4j.Record, error) {
	res, err := tx.Run(ctx, q, params)
	if err != nil {
		return nil, err
	}
	return res.Collect(ctx)
}

// count runs a query returning one row with one integer column.
func count(ctx context.Context, tx neo4j.ManagedTransaction, q string, params map[string]any) (int, error) {
	recs, err := run(ctx, tx, q, params)
	if err != nil {
		return 0, err
	}
	if len(recs) == 0 {
		return 0, nil
	}
	n, ok := recs[0].Values[0].(int64)
	if !ok {
		return 0, fmt.Errorf("count: got %T", recs[0].Values[0])
	}
	return int(n), nil
}

func podProps(p mesh.Pod) map[string]any {
	return map[string]any{"id": p.ID, "namespace": p.Namespace, "name": p.Name, "uid": p.UID, "address": p.Address, "source": p.Source}
}

// upsertPod writes the pod and the scrape's timestamps; it returns the
// fingerprint stored before.
func upsertPod(ctx context.Context, tx neo4j.ManagedTransaction, p mesh.Pod, at time.Time, ok bool, reason string) (string, error) {
	q := `MERGE (p:Pod {id: $pod.id})
		ON CREATE SET p.firstSeen = $at, p.fingerprint = ''
		SET p += $pod, p.lastScrape = $at, p.lastError = $reason`
	if ok {
		q += `, p.lastSeen = $at`
	}
	q += ` RETURN p.fingerprint`
	recs, err := run(ctx, tx, q, map[string]any{"pod": podProps(p), "at": at.UTC(), "reason": reason})
	if err != nil {
		return "", err
	}
	fp, _ := recs[0].Values[0].(string)
	return fp, nil
}

// Fail implements store.Store.
func (s *Store) Fail(ctx context.Context, p mesh.Pod, at time.Time, reason string) error {
	if reason == "" {
		reason = "scrape failed"
	}
	err := s.write(ctx, func(tx neo4j.ManagedTransaction) error {
		_, err := upsertPod(ctx, tx, p, at, false, reason)
		return err
	})
	if err != nil {
		return fmt.Errorf("neo4j store: fail %s: %w", p.ID, err)
	}
	return nil
}

// dependsOn recomputes the derived (Service)-[:DEPENDS_ON]->(Service) edges.
const dependsOn = `MATCH (a:Service)-[:HAS_COMPONENT]->(:Component)-[:HAS_PART]->()-[:READS|JOINS|LOOKS_UP]->(:Topic)
	<-[:WRITES|PERSISTS_TO]-()<-[:HAS_PART]-(:Component)<-[:HAS_COMPONENT]-(b:Service)
	WHERE a <> b
	MERGE (a)-[:DEPENDS_ON]->(b)`

// serviceDependencies recomputes the DEPENDS_ON edges from and to one
// service: a report changes only its own service's parts, so only edges
// with that service at one end can change.
const serviceDependencies = `MATCH (s:Service {id: $service})
OPTIONAL MATCH (s)-[d:DEPENDS_ON]-(:Service)
DELETE d
WITH DISTINCT s
CALL {
	WITH s
	MATCH (s)-[:HAS_COMPONENT]->(:Component)-[:HAS_PART]->()-[:READS|JOINS|LOOKS_UP]->(:Topic)
		<-[:WRITES|PERSISTS_TO]-()<-[:HAS_PART]-(:Component)<-[:HAS_COMPONENT]-(b:Service)
	WHERE b <> s
	WITH DISTINCT s, b
	MERGE (s)-[:DEPENDS_ON]->(b)
}
CALL {
	WITH s
	MATCH (a:Service)-[:HAS_COMPONENT]->(:Component)-[:HAS_PART]->()-[:READS|JOINS|LOOKS_UP]->(:Topic)
		<-[:WRITES|PERSISTS_TO]-()<-[:HAS_PART]-(:Component)<-[:HAS_COMPONENT]-(s)
	WHERE a <> s
	WITH DISTINCT a, s
	MERGE (a)-[:DEPENDS_ON]->(s)
}
RETURN count(*)`

func recomputeServiceDependencies(ctx context.Context, tx neo4j.ManagedTransaction, service string) error {
	_, err := run(ctx, tx, serviceDependencies, map[string]any{"service": service})
	return err
}

func recomputeDependencies(ctx context.Context, tx neo4j.ManagedTransaction) error {
	_, err := run(ctx, tx, `OPTIONAL MATCH (:Service)-[d:DEPENDS_ON]->(:Service) DELETE d WITH count(*) AS dropped `+dependsOn, nil)
	return err
}
