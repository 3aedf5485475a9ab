-- The mesh as pods reported it. Times are Unix nanoseconds (0 = never).

CREATE TABLE pods (
	id          TEXT PRIMARY KEY,
	namespace   TEXT NOT NULL,
	name        TEXT NOT NULL,
	uid         TEXT NOT NULL,
	address     TEXT NOT NULL,
	source      TEXT NOT NULL,
	first_seen  INTEGER NOT NULL,
	last_seen   INTEGER NOT NULL DEFAULT 0,
	last_scrape INTEGER NOT NULL DEFAULT 0,
	last_error  TEXT NOT NULL DEFAULT '',
	-- mesh.Tree.Fingerprint of the last tree written for the pod; '' forces
	-- the next report to be compared row by row.
	fingerprint TEXT NOT NULL DEFAULT ''
);

CREATE TABLE nodes (
	id          TEXT PRIMARY KEY,
	kind        TEXT NOT NULL,
	name        TEXT NOT NULL,
	description TEXT NOT NULL,
	group_name  TEXT NOT NULL,
	message     TEXT NOT NULL,
	topic_type  TEXT NOT NULL,
	descriptors BLOB,
	updated_at  INTEGER NOT NULL
);
CREATE INDEX nodes_kind ON nodes(kind);

CREATE TABLE edges (
	key         TEXT PRIMARY KEY,
	src         TEXT NOT NULL,
	dst         TEXT NOT NULL,
	rel         TEXT NOT NULL,
	description TEXT NOT NULL,
	updated_at  INTEGER NOT NULL
);

-- Which pod reports which node and edge: a node or edge lives while a row
-- here points to it.
CREATE TABLE pod_nodes (
	pod_id  TEXT NOT NULL REFERENCES pods(id) ON DELETE CASCADE,
	node_id TEXT NOT NULL,
	PRIMARY KEY (pod_id, node_id)
) WITHOUT ROWID;
CREATE INDEX pod_nodes_node ON pod_nodes(node_id);

CREATE TABLE pod_edges (
	pod_id   TEXT NOT NULL REFERENCES pods(id) ON DELETE CASCADE,
	edge_key TEXT NOT NULL,
	PRIMARY KEY (pod_id, edge_key)
) WITHOUT ROWID;
CREATE INDEX pod_edges_edge ON pod_edges(edge_key);
