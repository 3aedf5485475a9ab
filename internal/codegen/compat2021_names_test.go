package codegen_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kafmesh/kafmesh/internal/codegen"
)

// The 2021 top-level sink entry point is Register_<Sink>_Sink, without the
// component: the compat output declares it beside the component-qualified
// name, except for a sink name two components share (the names would
// clash), which keeps only the qualified one.
func TestCompat2021SinkNames(t *testing.T) {
	dir := t.TempDir()
	sink := func(comp, name string) string {
		return "name: " + comp + "\nsinks:\n  - name: " + name + "\n    message: deviceId.heartbeat\n"
	}
	writeTree(t, dir, map[string]string{
		"go.mod":                         "module example.com/svc\n",
		"docs/kafmesh/definition.yml":    "name: svc\noutput:\n  package: definitions\n  path: internal/definitions\n  compat: kafmesh2021\ncomponents:\n  - components/*.yaml\ndefaults:\n  type: raw\n",
		"docs/kafmesh/components/a.yaml": sink("a", "archive") + "  - name: audit\n    message: deviceId.status\n",
		"docs/kafmesh/components/b.yaml": sink("b", "archive"),
	})
	svc, set := load(t, filepath.Join(dir, "docs", "kafmesh", "definition.yml"))
	files, err := codegen.Files(context.Background(), svc, set)
	if err != nil {
		t.Fatal(err)
	}
	var top string
	for _, f := range files {
		if f.Path == "internal/definitions/compat2021.km.go" {
			top = string(f.Content)
		}
	}
	if top == "" {
		t.Fatal("no top-level compat2021.km.go")
	}
	for decl, want := range map[string]bool{
		"func Register_A_Archive_Sink(": true,
		"func Register_B_Archive_Sink(": true,
		"func Register_A_Audit_Sink(":   true,
		"func Register_Audit_Sink(":     true,
		"func Register_Archive_Sink(":   false,
	} {
		if strings.Contains(top, decl) != want {
			t.Errorf("declares %s: %v; want %v", decl, !want, want)
		}
	}
}
