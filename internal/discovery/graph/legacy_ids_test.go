package graph_test

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kafmesh/kafmesh/internal/discovery/graph"
	"github.com/kafmesh/kafmesh/internal/discovery/internal/meshtest"
	"github.com/kafmesh/kafmesh/internal/discovery/scrape"
	"github.com/kafmesh/kafmesh/internal/discovery/store/sqlite"
	"github.com/kafmesh/kafmesh/internal/discovery/targets"
)

// legacyServer serves the devices mesh with the given legacy ids (nil: none).
func legacyServer(t *testing.T, ids *graph.LegacyIDs) string {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "mesh.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	src, err := targets.NewStatic([]string{meshtest.Serve(t, meshtest.Devices()).Addr}, "")
	if err != nil {
		t.Fatal(err)
	}
	if r := scrape.New(st, []targets.Source{src}, scrape.WithTimeout(2*time.Second)).Round(ctx); r.Failed() != 0 {
		t.Fatalf("scrape: %d failed", r.Failed())
	}
	srv := httptest.NewServer(graph.NewHandler(graph.HandlerConfig{Snapshot: st.Graph, MaxDepth: 15, LegacyIDs: ids}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// A 2021 client's serviceById(id: 1) and componentById(id: 3) answer
// through the legacy id file; a number the file does not map, or any
// number without the file, is an error saying what ids are now and how to
// find them; string ids work as before.
func TestLegacyNumericIDs(t *testing.T) {
	ids, err := graph.ParseLegacyIDs(strings.NewReader(`# exported from the 2021 Postgres
service,1,devices
service,2,alerts

component,3,devices,heartbeats
component, 4 ,devices,details
`))
	if err != nil {
		t.Fatal(err)
	}
	if ids.Len() != 4 {
		t.Fatalf("%d ids; want 4", ids.Len())
	}
	url := legacyServer(t, ids)
	var got struct {
		S    *named `json:"s"`
		C    *named `json:"c"`
		Str  *named `json:"str"`
		Gone *named `json:"gone"`
	}
	// id: 1 is an Int literal, which GraphQL coerces to ID as 2021 clients
	// sent it; alerts (2) is mapped but not in the mesh: null, as any
	// unknown id.
	query(t, url, `{ s: serviceById(id: 1) { id name } c: componentById(id: "4") { id name } str: serviceById(id: "Service:devices") { id } gone: serviceById(id: 2) { id } }`, nil, &got)
	if got.S == nil || got.S.ID != "Service:devices" || got.C == nil || got.C.ID != "Component:devices/details" || got.Str == nil || got.Gone != nil {
		t.Fatalf("got %+v %+v %+v %+v", got.S, got.C, got.Str, got.Gone)
	}
	resp := post(t, url, `{ serviceById(id: 7) { id } }`, nil)
	if len(resp.Errors) != 1 || !strings.Contains(resp.Errors[0].Message, `service id "7" is a numeric id of the 2021 discovery; ids are strings now (like "Service:devices")`) ||
		!strings.Contains(resp.Errors[0].Message, "the --legacy-ids file maps no service 7") {
		t.Errorf("unmapped number: %+v", resp.Errors)
	}

	bare := legacyServer(t, nil)
	resp = post(t, bare, `{ componentById(id: 3) { id } }`, nil)
	if len(resp.Errors) != 1 || !strings.Contains(resp.Errors[0].Message, "services { name components { id name } }") ||
		!strings.Contains(resp.Errors[0].Message, "start discover with --legacy-ids") {
		t.Errorf("number without legacy ids: %+v", resp.Errors)
	}
}

func TestParseLegacyIDsRejectsBadLines(t *testing.T) {
	for in, want := range map[string]string{
		"service,1,devices\nservice,1,alerts\n": "line 2: service id 1 given twice",
		"pod,1,x\n":                             "line 1: want service,<id>,<name>",
		"service,x1,devices\n":                  `line 1: "x1" is not a numeric id`,
		"component,3,devices\n":                 "line 1: want",
		"service,1,\n":                          "line 1: want",
	} {
		if _, err := graph.ParseLegacyIDs(strings.NewReader(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v; want %q", in, err, want)
		}
	}
}
