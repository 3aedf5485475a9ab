// Package hostile holds the hostile-input suite of `kafmesh discover`: a
// real discover (SQLite store, real HTTP on loopback, scraping real gRPC
// targets) attacked the ways an operator and an attacker would. Each test
// asserts the refusal, a bound on time and a bound on memory growth; the
// benchmarks measure the same attacks precisely (docs/benchmarks.md).
package hostile
