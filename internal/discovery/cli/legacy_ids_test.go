package cli

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kafmesh/kafmesh/internal/discovery/internal/meshtest"
)

// discover --legacy-ids FILE answers a 2021 client's serviceById(id: 1);
// a malformed file stops discover at start with the file and line.
func TestDiscoverLegacyIDs(t *testing.T) {
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "ids.csv"), filepath.Join(dir, "bad.csv")
	if err := os.WriteFile(good, []byte("service,1,devices\ncomponent,2,devices,heartbeats\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("service,1,devices\nservice,one,alerts\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	devices := meshtest.Serve(t, meshtest.Devices())

	cmd := NewCommand(io.Discard)
	cmd.SetArgs([]string{"--listen", "127.0.0.1:0", "--store", filepath.Join(dir, "bad.db"), "--target", devices.Addr, "--legacy-ids", bad})
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	if err := cmd.ExecuteContext(context.Background()); err == nil || !strings.Contains(err.Error(), `bad.csv: line 2: "one" is not a numeric id`) {
		t.Errorf("bad legacy ids file: err %v", err)
	}

	url, _ := discover(t, "--listen", "127.0.0.1:0", "--store", filepath.Join(dir, "m.db"), "--scrape-interval", "200ms",
		"--target", devices.Addr, "--legacy-ids", good)
	waitMesh(t, url, 1)
	var got struct {
		S *struct{ ID, Name string } `json:"s"`
		C *struct{ ID, Name string } `json:"c"`
	}
	gql(t, url, `{ s: serviceById(id: 1) { id name } c: componentById(id: 2) { id name } }`, &got)
	if got.S == nil || got.S.Name != "devices" || got.C == nil || got.C.ID != "Component:devices/heartbeats" {
		t.Errorf("legacy ids answered %+v %+v", got.S, got.C)
	}
}
