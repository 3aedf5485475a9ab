// Package api holds the gRPC contracts every kafmesh service serves: Ping,
// Discovery (also served as kafmesh.discover.v1.Discover) and Watch. The
// .proto sources are under proto/; the Go code generated from them is in
//
//	github.com/kafmesh/kafmesh/api/ping/v1      (package pingv1)
//	github.com/kafmesh/kafmesh/api/discovery/v1 (package discoveryv1)
//	github.com/kafmesh/kafmesh/api/discover/v1  (package discoverv1)
//	github.com/kafmesh/kafmesh/api/watch/v1     (package watchv1)
//
// Package names, service names, field names and numbers are those of the
// 2021 kafmesh, so services built with either kafmesh interoperate. After
// editing a .proto file run `go generate ./api`; a test fails while the
// committed code is stale.
package api

//go:generate go run ./internal/gen
