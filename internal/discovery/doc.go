// Package discovery is `kafmesh discover`: it finds every kafmesh service
// (Kubernetes pods annotated kafmesh/scrape: "true", or a static list of
// addresses), scrapes each one's GetServiceInfo on a fixed interval, keeps
// the mesh graph in a store (SQLite by default, or Neo4j), and serves it as a
// read-only GraphQL API with a live watch through any processor.
//
// The work is cut by responsibility:
//
//	mesh      the graph model: stable ids, a pod's report as nodes and edges, derived views
//	targets   where targets come from: Kubernetes pod informer, static list and file
//	scrape    the scrape loop: bounded concurrency, per-call deadlines, metrics
//	store     the store interface and its contract; sqlite and neo4j implement it
//	watch     the watchProcessor fan-out to every pod running a processor
//	graph     the GraphQL schema (graph/schema.graphql) and its resolvers
//	server    HTTP: /query, /healthz, /readyz, /metrics, auth, CORS, UI mount
//	cli       the cobra command behind `kafmesh discover`
//
// This package ties them together: New builds a Service from options and Run
// runs scraping and serving until the context ends.
package discovery
