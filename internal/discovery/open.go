package discovery

import (
	"context"
	"fmt"
	"strings"

	"github.com/kafmesh/kafmesh/internal/discovery/store"
	neo4jstore "github.com/kafmesh/kafmesh/internal/discovery/store/neo4j"
	"github.com/kafmesh/kafmesh/internal/discovery/store/sqlite"
)

// DefaultStore is the store used when none is named: an SQLite file in the
// working directory.
const DefaultStore = "kafmesh-discover.db"

// StoreConfig says which store to open.
type StoreConfig struct {
	// URL is a Neo4j URL (neo4j://, neo4j+s://, neo4j+ssc://, bolt://,
	// bolt+s://, bolt+ssc://) or an SQLite file (a path, or sqlite:PATH).
	URL string
	// Neo4j credentials and database (empty user: no authentication).
	User, Password, Database string
}

// IsNeo4j reports whether url names a Neo4j server.
func IsNeo4j(url string) bool {
	for _, p := range []string{"neo4j://", "neo4j+s://", "neo4j+ssc://", "bolt://", "bolt+s://", "bolt+ssc://"} {
		if strings.HasPrefix(url, p) {
			return true
		}
	}
	return false
}

// OpenStore opens the store cfg names.
func OpenStore(ctx context.Context, cfg StoreConfig) (store.Store, error) {
	url := cfg.URL
	if url == "" {
		url = DefaultStore
	}
	if IsNeo4j(url) {
		var opts []neo4jstore.Option
		if cfg.User != "" {
			opts = append(opts, neo4jstore.WithAuth(cfg.User, cfg.Password))
		}
		if cfg.Database != "" {
			opts = append(opts, neo4jstore.WithDatabase(cfg.Database))
		}
		return neo4jstore.Open(ctx, url, opts...)
	}
	if strings.Contains(url, "://") {
		return nil, fmt.Errorf("store %q: want an SQLite file path or a neo4j://, bolt:// URL", url)
	}
	return sqlite.Open(ctx, strings.TrimPrefix(url, "sqlite:"))
}
