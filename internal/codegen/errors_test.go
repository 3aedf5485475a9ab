package codegen_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kafmesh/kafmesh/internal/codegen"
)

// minimalModule writes a service with the given component file into a new
// module and returns the module directory.
func minimalModule(t *testing.T, component string) string {
	t.Helper()
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"go.mod":                         "module example.com/svc\n",
		"docs/kafmesh/definition.yml":    "name: svc\noutput:\n  package: definitions\n  path: internal/definitions\ncomponents:\n  - components/*.yaml\ndefaults:\n  type: raw\n",
		"docs/kafmesh/components/c.yaml": component,
	})
	return dir
}

// Identifiers that two parts would both declare are definition problems
// only generation finds: reported at the part, with the other one named,
// and nothing is written.
func TestIdentifierClash(t *testing.T) {
	for _, tc := range []struct {
		name, component, want string
	}{{
		name: "processor named like a source type",
		component: `name: c
sources:
  - message: device.heartbeat
processors:
  - name: device heartbeat source
    inputs:
      - message: device.heartbeat
`,
		want: `components/c.yaml:5:5: processor "device heartbeat source" would declare DeviceHeartbeatSource, DeviceHeartbeatSourceSpec, RegisterDeviceHeartbeatSource in generated package c, but source "device.heartbeat" (at components/c.yaml:3:5) declares them too; rename one of them`,
	}, {
		name: "processor named sink beside a sink",
		component: `name: c
sinks:
  - name: archive
    message: deviceId.heartbeat
processors:
  - name: sink
    inputs:
      - message: deviceId.heartbeat
`,
		want: `components/c.yaml:3:5: the fake sink context (generated for the sinks) would declare SinkContextFake in generated package c, but processor "sink" (at components/c.yaml:6:5) declares it too; rename one of them`,
	}, {
		name: "join whose fake field is another join's method",
		component: `name: c
processors:
  - name: p
    inputs:
      - message: deviceId.heartbeat
    joins:
      - message: deviceId.owner
      - message: deviceId.ownerValue
`,
		want: `components/c.yaml:8:9: join "deviceId.ownerValue" of processor "p" gives the generated member JoinDeviceIDOwnerValue, which the processor's context or its fake already has; use another spelling of the ref`,
	}, {
		name: "component named models",
		component: `name: models
sources:
  - message: deviceId.heartbeat
`,
		want: `components/c.yaml:1:1: component "models" would be generated into internal/definitions/models, where the models are generated; rename the component`,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := minimalModule(t, tc.component)
			svc, set := load(t, filepath.Join(dir, "docs", "kafmesh", "definition.yml"))
			_, err := codegen.Files(context.Background(), svc, set)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("error:\n%v\nwant:\n%s", err, tc.want)
			}
			if err := codegen.Generate(context.Background(), svc, set); err == nil {
				t.Fatal("Generate succeeded")
			}
			if _, err := os.Stat(filepath.Join(dir, "internal")); !os.IsNotExist(err) {
				t.Errorf("Generate wrote something although it failed: %v", err)
			}
		})
	}
}

// A hand-written file where a generated one must go stops the whole
// generation before anything is written.
func TestHandWrittenFileInTheWay(t *testing.T) {
	dir := minimalModule(t, "name: c\nsources:\n  - message: deviceId.heartbeat\n")
	handWritten := "package c\n\n// Mine.\n"
	writeTree(t, dir, map[string]string{"internal/definitions/c/device_id_heartbeat_source.km.go": handWritten})
	svc, set := load(t, filepath.Join(dir, "docs", "kafmesh", "definition.yml"))
	err := codegen.Generate(context.Background(), svc, set)
	if err == nil || !strings.Contains(err.Error(), "nothing was written:\ninternal/definitions/c/device_id_heartbeat_source.km.go exists and is not generated") {
		t.Fatalf("error: %v", err)
	}
	got := readTree(t, filepath.Join(dir, "internal"), nil)
	if len(got) != 1 || got["definitions/c/device_id_heartbeat_source.km.go"] != handWritten {
		t.Errorf("the output tree changed: %v", got)
	}
}

// A protobuf entry needs the compiled .proto set.
func TestProtobufWithoutProtos(t *testing.T) {
	dir := minimalModule(t, "name: c\nsources:\n  - message: deviceId.heartbeat\n    type: protobuf\n")
	svc, _, diags, err := loadDefinition(context.Background(), filepath.Join(dir, "docs", "kafmesh", "definition.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if !diags.HasErrors() {
		// The definition check reports the missing protobuf directory;
		// generation must refuse on its own too if it is called anyway.
		t.Log("the definition loaded without errors")
	}
	_, err = codegen.Files(context.Background(), svc, nil)
	if err == nil || !strings.Contains(err.Error(), "components/c.yaml:3:5: message svc.deviceId.Heartbeat has no generated Go type") {
		t.Fatalf("error: %v", err)
	}
}
