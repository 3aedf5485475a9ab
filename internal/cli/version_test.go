package cli

import (
	"encoding/json"
	"runtime"
	"strings"
	"testing"

	"github.com/kafmesh/kafmesh/internal/buildinfo"
)

// The test binary is built like any binary of the module: `version` prints
// what buildinfo reads from it, on one line or as JSON.
func TestVersion(t *testing.T) {
	r := execute(t, "", nil, NewVersionCommand)
	want := "kafmesh " + buildinfo.Read().String() + "\n"
	if r.code != 0 || r.stdout != want || Version() == "" {
		t.Errorf("exit %d, stdout %q, want %q", r.code, r.stdout, want)
	}
	if !strings.HasPrefix(r.stdout, "kafmesh "+Version()+" ") || !strings.Contains(r.stdout, runtime.Version()) {
		t.Errorf("stdout %q does not start with the version %q and name %s", r.stdout, Version(), runtime.Version())
	}
}

func TestVersionJSON(t *testing.T) {
	r := execute(t, "", nil, NewVersionCommand, "--json")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, r.stdout)
	}
	if got["version"] != Version() || got["goVersion"] != runtime.Version() ||
		got["platform"] != runtime.GOOS+"/"+runtime.GOARCH {
		t.Errorf("JSON %v", got)
	}
	if _, ok := got["modified"].(bool); !ok {
		t.Errorf("modified is not a boolean: %v", got)
	}
}

func TestVersionRejectsArguments(t *testing.T) {
	if r := execute(t, "", nil, NewVersionCommand, "extra"); r.code == 0 {
		t.Errorf("version extra: exit 0, stdout %q", r.stdout)
	}
}
