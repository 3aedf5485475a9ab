package spec

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/<case>/expected.golden from the current diagnostics")

// testMessages are the messages the .proto files under testdata/protos
// define.
func testMessages() *MessageSet {
	return NewMessageSet(
		"kafmesh.deviceId.Heartbeat",
		"kafmesh.deviceId.Customer",
		"kafmesh.deviceId.EnrichedHeartbeat",
		"kafmesh.deviceId.EnrichedHeartbeatState",
		"kafmesh.deviceId.Details",
		"kafmesh.deviceId.EnrichedDetails",
		"kafmesh.deviceId.EnrichedDetailsState",
		"kafmesh.customerId.Details",
		"kafmesh.customerId.EgressEndpoint",
		"kafmesh.customerId.CurrentHealth",
		"other.deviceId.Details",
	)
}

// TestDefinitionCases loads every testdata/<case>/definition.yml and
// compares the diagnostics, exact text and position, with
// testdata/<case>/expected.golden. Cases named good, good_* or warn_* must
// have no error; every other case must have at least one.
func TestDefinitionCases(t *testing.T) {
	dirs, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	ran := 0
	for _, d := range dirs {
		name := d.Name()
		dir := filepath.Join("testdata", name)
		if _, err := os.Stat(filepath.Join(dir, "definition.yml")); err != nil {
			continue
		}
		ran++
		t.Run(name, func(t *testing.T) {
			_, diags, err := Load(context.Background(), "definition.yml", WithWorkDir(dir), WithMessages(testMessages()))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			got := portable(t, diags.String(), "testdata")
			golden := filepath.Join(dir, "expected.golden")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -run TestDefinitionCases -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("diagnostics differ from %s\n--- got\n%s--- want\n%s", golden, got, want)
			}
			clean := name == "good" || strings.HasPrefix(name, "good_") || strings.HasPrefix(name, "warn_")
			if clean && diags.HasErrors() {
				t.Errorf("case %s must have no errors, got:\n%s", name, diags.Errors())
			}
			if !clean && !diags.HasErrors() {
				t.Errorf("case %s must have errors, got none", name)
			}
			if strings.HasPrefix(name, "warn_") && len(diags.Warnings()) == 0 {
				t.Errorf("case %s must have warnings, got none", name)
			}
		})
	}
	if ran < 20 {
		t.Fatalf("found only %d cases under testdata", ran)
	}
}

// portable replaces the absolute path of the testdata folder, which
// diagnostics show for files outside a case's folder, with "<testdata>", so
// the golden files hold in every checkout.
func portable(t *testing.T, diags, testdata string) string {
	t.Helper()
	abs, err := filepath.Abs(testdata)
	if err != nil {
		t.Fatal(err)
	}
	return strings.ReplaceAll(diags, abs, "<testdata>")
}
