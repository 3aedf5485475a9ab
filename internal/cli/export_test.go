package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExportCommand runs `kafmesh export` on the example service: each
// format prints exactly the golden output the export package's tests keep
// (same options), and a bad format or time is a clear error.
func TestExportCommand(t *testing.T) {
	dir, err := filepath.Abs(filepath.Join("..", "..", "examples", "devices"))
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("..", "export", "testdata", "devices")
	for format, c := range map[string]struct {
		file string
		args []string
	}{
		"asyncapi":    {"asyncapi.json", nil},
		"backstage":   {"backstage.yaml", []string{"--owner", "team-devices", "--system", "devices"}},
		"openlineage": {"openlineage.jsonl", []string{"--event-time", "2026-01-02T03:04:05Z", "--kafka-namespace", "kafka://broker:9092"}},
	} {
		r := execute(t, dir, nil, NewExportCommand, append([]string{format}, c.args...)...)
		if r.code != 0 {
			t.Errorf("%s: exit %d, stderr %s", format, r.code, r.stderr)
			continue
		}
		want, err := os.ReadFile(filepath.Join(golden, c.file))
		if err != nil {
			t.Fatal(err)
		}
		if r.stdout != string(want) {
			t.Errorf("%s: output differs from %s", format, c.file)
		}
	}
	if r := execute(t, dir, nil, NewExportCommand, "swagger"); r.code != 1 || !strings.Contains(r.stderr, `unknown format "swagger"`) {
		t.Errorf("bad format: %d %s", r.code, r.stderr)
	}
	if r := execute(t, dir, nil, NewExportCommand, "openlineage", "--event-time", "yesterday"); r.code != 1 || !strings.Contains(r.stderr, "want RFC 3339") {
		t.Errorf("bad time: %d %s", r.code, r.stderr)
	}
}
