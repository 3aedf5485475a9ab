package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A definition as the 2021 kafmesh accepted it (dead keys, emitters, one
// component in two files): the strict check refuses it, check --compat
// kafmesh2021 accepts it with warnings that say the fix, migrate rewrites
// it and prints each change with its position, and then the strict check
// passes and a second migrate has nothing to do.
func TestCheckCompatAndMigrate(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "case")
	if err := os.CopyFS(dir, os.DirFS(filepath.Join(specCases, "compat2021_split"))); err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(filepath.Join(root, "protos"), os.DirFS(filepath.Join(specCases, "protos"))); err != nil {
		t.Fatal(err)
	}
	writeFiles(t, root, map[string]string{"go.mod": "module kafmesh-example\n"})
	if r := execute(t, dir, nil, NewCheckCommand, "definition.yml"); r.code != 1 {
		t.Fatalf("strict check: exit %d\n%s", r.code, r.stderr)
	}
	r := execute(t, dir, nil, NewCheckCommand, "--compat", "kafmesh2021", "definition.yml")
	if r.code != 0 {
		t.Fatalf("check --compat: exit %d\n%s", r.code, r.stderr)
	}
	for _, want := range []string{
		`definition.yml:6:3: warning: unknown key "mocks" in output`,
		`components/a.yaml:7:5: warning: unknown key "launchCount" in processor`,
		`components/b.yaml:2:1: warning: component "details" continues here from components/a.yaml:1:1`,
		"kafmesh migrate",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("check --compat output lacks %q:\n%s", want, r.stderr)
		}
	}
	if r := execute(t, dir, nil, NewCheckCommand, "--compat", "kafmesh2020"); r.code == 0 {
		t.Error("an unknown --compat was accepted")
	}

	if r := execute(t, dir, nil, NewMigrateCommand, "--dry-run", "definition.yml"); r.code != 0 || !strings.Contains(r.stdout, "removed unknown key") {
		t.Fatalf("migrate --dry-run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "components", "b.yaml")); err != nil {
		t.Fatal("--dry-run removed a file")
	}
	r = execute(t, dir, nil, NewMigrateCommand, "definition.yml")
	if r.code != 0 {
		t.Fatalf("migrate: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	want := `components/a.yaml:3:1: renamed emitters to sources
components/a.yaml:7:5: removed unknown key "launchCount" in processor
components/a.yaml:10:9: removed unknown key "codec" in input
components/b.yaml:2:1: merged component "details" into components/a.yaml and removed this file
definition.yml:6:3: removed unknown key "mocks" in output
`
	if r.stdout != want {
		t.Errorf("migrate printed:\n%s\nwant:\n%s", r.stdout, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "components", "b.yaml")); !os.IsNotExist(err) {
		t.Error("the merged file is still there")
	}
	a, _ := os.ReadFile(filepath.Join(dir, "components", "a.yaml"))
	for _, s := range []string{"sources:", "views:", "deviceId.customer", "deviceId.enrichedDetails"} {
		if !strings.Contains(string(a), s) {
			t.Errorf("merged a.yaml lacks %q:\n%s", s, a)
		}
	}
	if r := execute(t, dir, nil, NewCheckCommand, "definition.yml"); r.code != 0 || strings.Contains(r.stderr, "unknown key") {
		t.Errorf("strict check after migrate: exit %d\n%s", r.code, r.stderr)
	}
	if r := execute(t, dir, nil, NewMigrateCommand, "definition.yml"); r.code != 0 || r.stdout != "nothing to change\n" {
		t.Errorf("second migrate: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// A .proto whose package line differs from its directory: kafmesh 2021
// found its messages by the directory. The strict check refuses the ref;
// check --compat kafmesh2021 accepts it with a warning naming the file and
// the package line to write.
func TestCheckCompatProtoPackageVsDirectory(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"go.mod": "module legacy\n",
		"docs/kafmesh/definition.yml": `name: legacy
output:
  package: definitions
  path: internal/definitions
messages:
  protobuf:
    - ../protos
components:
  - ./components/*.yaml
`,
		"docs/kafmesh/components/pings.yaml": `name: pings
sources:
  - message: deviceId.ping
`,
		"docs/protos/legacy/deviceId/ping.proto": `syntax = "proto3";
package deviceId;
message Ping {
  string id = 1;
}
`,
	})
	r := execute(t, dir, nil, NewCheckCommand)
	if r.code != 1 || !strings.Contains(r.stderr, `message legacy.deviceId.Ping (from ref "deviceId.ping") is not defined`) {
		t.Fatalf("strict check: exit %d\n%s", r.code, r.stderr)
	}
	r = execute(t, dir, nil, NewCheckCommand, "--compat", "kafmesh2021")
	want := `docs/kafmesh/components/pings.yaml:3:14: warning: message legacy.deviceId.Ping (from ref "deviceId.ping") is message Ping in docs/protos/legacy/deviceId/ping.proto, whose package line (deviceId) differs from its directory; kafmesh 2021 went by the directory: write package legacy.deviceId; in that file (the wire format does not change)`
	if r.code != 0 || !strings.Contains(r.stderr, want) {
		t.Fatalf("check --compat: exit %d\n%s\nwant a line:\n%s", r.code, r.stderr, want)
	}
}
