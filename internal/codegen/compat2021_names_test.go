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
// clash), which keeps only the qualified one. <Sink> is the part's name as
// written, suffix and all: 2021 called sink "raw audit sink"
// RawAuditSink_Sink, though the new handler type is RawAuditSink (not
// RawAuditSinkSink); likewise for view sources and view sinks.
func TestCompat2021SinkNames(t *testing.T) {
	dir := t.TempDir()
	sink := func(comp, name string) string {
		return "name: " + comp + "\nsinks:\n  - name: " + name + "\n    message: deviceId.heartbeat\n"
	}
	writeTree(t, dir, map[string]string{
		"go.mod":                         "module example.com/svc\n",
		"docs/kafmesh/definition.yml":    "name: svc\noutput:\n  package: definitions\n  path: internal/definitions\n  compat: kafmesh2021\ncomponents:\n  - components/*.yaml\ndefaults:\n  type: raw\n",
		"docs/kafmesh/components/a.yaml": sink("a", "archive") + "  - name: audit\n    message: deviceId.status\n",
		"docs/kafmesh/components/b.yaml": sink("b", "archive") + "  - name: raw audit sink\n    message: deviceId.status\n" +
			"viewSources:\n  - name: customer view source\n    message: deviceId.heartbeat\n" +
			"viewSinks:\n  - name: status view sink\n    message: deviceId.status\n",
	})
	svc, set := load(t, filepath.Join(dir, "docs", "kafmesh", "definition.yml"))
	files, err := codegen.Files(context.Background(), svc, set)
	if err != nil {
		t.Fatal(err)
	}
	var top, compB string
	for _, f := range files {
		switch f.Path {
		case "internal/definitions/compat2021.km.go":
			top = string(f.Content)
		case "internal/definitions/b/compat2021.km.go":
			compB = string(f.Content)
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
		// Suffixed names keep the suffix.
		"func Register_RawAuditSink_Sink(":               true,
		"func Register_B_RawAuditSink_Sink(":             true,
		"func Register_B_CustomerViewSource_ViewSource(": true,
		"func Register_B_StatusViewSink_ViewSink(":       true,
		"func Register_RawAudit_Sink(":                   false,
		"func Register_B_RawAudit_Sink(":                 false,
		"func Register_B_Customer_ViewSource(":           false,
		"func Register_B_Status_ViewSink(":               false,
	} {
		if strings.Contains(top, decl) != want {
			t.Errorf("declares %s: %v; want %v", decl, !want, want)
		}
	}
	if compB == "" {
		t.Fatal("no compat2021.km.go in component b")
	}
	for decl, want := range map[string]bool{
		"type RawAuditSink_Sink interface":                     true,
		"type CustomerViewSource_ViewSource interface":         true,
		"type CustomerViewSource_ViewSource_Context interface": true,
		"type StatusViewSink_ViewSink interface":               true,
		"type StatusViewSink_ViewSink_Context interface":       true,
		"type RawAudit_Sink interface":                         false,
		"type Customer_ViewSource interface":                   false,
		"type Status_ViewSink interface":                       false,
	} {
		if strings.Contains(compB, decl) != want {
			t.Errorf("component b declares %s: %v; want %v", decl, !want, want)
		}
	}
}
