// Package web is the web UI of kafmesh discover: a single-page app
// (TypeScript, cytoscape.js with a dagre layered layout) built into dist/
// and embedded in the binary, so `go build` needs no Node.
//
// The UI talks only to discovery's own API, on the same origin and relative
// to the page: POST ./query for queries, a websocket to ./query (wss: when
// the page is https) for the live watch. Routes live in the location hash
// (#/service/<id>, …), so the server only ever serves index.html, two
// assets and THIRD_PARTY_NOTICES.txt, under any path prefix.
//
// Rebuild dist/ after changing src/ with ./build.sh (npm packages pinned by
// package-lock.json); ./build.sh --check fails when the committed dist/ is
// not what the sources build to. docs/ui.md has the details.
package web

import (
	"embed"
	"io/fs"

	"github.com/kafmesh/kafmesh/internal/discovery/server"
)

//go:embed all:dist
var dist embed.FS

// Assets returns the built UI: index.html, app.js, app.css and
// THIRD_PARTY_NOTICES.txt (the licences of the npm packages in app.js).
func Assets() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // "dist" is a fixed, valid path: cannot fail
	}
	return sub
}

// ServerOptions mounts the UI on discovery's HTTP server at /.
func ServerOptions() []server.Option {
	return []server.Option{server.WithUI(Handler())}
}
