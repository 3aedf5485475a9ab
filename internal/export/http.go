package export

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/kafmesh/kafmesh/internal/discovery/mesh"
)

// Formats are the export formats, as /export/<format> and `kafmesh export
// <format>` name them.
var Formats = []string{"asyncapi", "backstage", "openlineage"}

// MeshKey is a digest of everything the exports say about m (not the
// time): it changes exactly when an export would. OpenLineage run ids are
// derived from it.
func MeshKey(m *Mesh) string {
	h := sha256.New()
	for _, s := range m.Services {
		doc, _ := AsyncAPI(m, s.Name, Options{})
		b, _ := json.Marshal(doc)
		h.Write(b)
		for _, p := range s.Pods {
			h.Write([]byte(p))
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Render writes m in format. For asyncapi, service selects one service's
// document; "" gives, for a mesh of one service, that service's document
// and otherwise a JSON object of every service's document by name.
// OpenLineage is JSON Lines, one run event a line.
func Render(m *Mesh, format, service string, at time.Time, opts Options) (body []byte, contentType string, err error) {
	switch format {
	case "asyncapi":
		if service == "" && len(m.Services) == 1 {
			service = m.Services[0].Name
		}
		if service != "" {
			doc, err := AsyncAPI(m, service, opts)
			if err != nil {
				return nil, "", err
			}
			b, err := MarshalJSON(doc)
			return b, "application/json", err
		}
		all := map[string]any{}
		for _, s := range m.Services {
			doc, err := AsyncAPI(m, s.Name, opts)
			if err != nil {
				return nil, "", err
			}
			all[s.Name] = doc
		}
		b, err := MarshalJSON(all)
		return b, "application/json", err
	case "backstage":
		b, err := Backstage(m, opts)
		return b, "application/yaml", err
	case "openlineage":
		var buf bytes.Buffer
		for _, ev := range OpenLineage(m, at, MeshKey(m), opts) {
			b, err := json.Marshal(ev)
			if err != nil {
				return nil, "", err
			}
			buf.Write(b)
			buf.WriteByte('\n')
		}
		return buf.Bytes(), "application/x-ndjson", nil
	}
	return nil, "", fmt.Errorf("unknown export format %q; use %v", format, Formats)
}

// GraphSource is what the HTTP handler and the emitter read: the mesh as
// discovery knows it, and the topics' partition counts when known.
type GraphSource struct {
	Snapshot   func(context.Context) (*mesh.Graph, error)
	Partitions func(topic string) int32
}

func (g GraphSource) mesh(ctx context.Context) (*Mesh, error) {
	gr, err := g.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	return FromGraph(gr, g.Partitions), nil
}

// Handler serves GET /export/{format} (asyncapi, backstage, openlineage)
// for the whole mesh; asyncapi takes ?service=NAME for one service's
// document. An unknown format or service is a 404 with the reason.
func Handler(src GraphSource, opts Options) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		format := r.PathValue("format")
		if !slices.Contains(Formats, format) {
			http.Error(w, fmt.Sprintf("unknown export format %q; use one of %v", format, Formats), http.StatusNotFound)
			return
		}
		m, err := src.mesh(r.Context())
		if err != nil {
			http.Error(w, "reading the mesh: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		body, ctype, err := Render(m, format, r.URL.Query().Get("service"), time.Now(), opts)
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", ctype)
		_, _ = w.Write(body)
	})
}
