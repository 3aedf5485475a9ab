package spec

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func loadGood(t *testing.T) *Service {
	t.Helper()
	svc, diags, err := Load(context.Background(), "testdata/good/definition.yml", WithMessages(testMessages()))
	if err != nil {
		t.Fatal(err)
	}
	if len(diags) > 0 {
		t.Fatalf("unexpected diagnostics:\n%s", diags)
	}
	return svc
}

func component(t *testing.T, svc *Service, name string) *Component {
	t.Helper()
	for _, c := range svc.Components {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no component %q", name)
	return nil
}

func TestLoadGoodService(t *testing.T) {
	svc := loadGood(t)
	repoRoot, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	protos, _ := filepath.Abs("testdata/protos")
	def, _ := filepath.Abs("testdata/good/definition.yml")

	checks := []struct{ what, got, want string }{
		{"name", svc.Name, "kafmesh"},
		{"topic prefix", svc.TopicPrefix, "kafmesh"},
		{"file", svc.File, def},
		{"module root", svc.ModuleRoot, repoRoot},
		{"output package", svc.Output.Package, "definitions"},
		{"output module", svc.Output.Module, "kafmesh-example"},
		{"output dir", svc.Output.Dir, filepath.Join(repoRoot, "internal", "definitions")},
		{"output import path", svc.Output.ImportPath, "kafmesh-example/internal/definitions"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.what, c.got, c.want)
		}
	}
	if !slices.Equal(svc.ProtoDirs, []string{protos}) {
		t.Errorf("proto dirs = %v, want [%s]", svc.ProtoDirs, protos)
	}
	wantDefaults := Defaults{Partitions: 10, Replicas: 1, Type: TypeProtobuf, Retention: 24 * time.Hour, Segment: 12 * time.Hour}
	if svc.Defaults != wantDefaults {
		t.Errorf("defaults = %+v, want %+v", svc.Defaults, wantDefaults)
	}
	var names []string
	for _, c := range svc.Components {
		names = append(names, c.Name)
	}
	if want := []string{"assignments", "details", "heartbeats"}; !slices.Equal(names, want) {
		t.Errorf("components = %v, want %v (sorted within the glob)", names, want)
	}
}

func TestLoadGoodHeartbeats(t *testing.T) {
	c := component(t, loadGood(t), "heartbeats")
	if c.Package != "heartbeats" || c.GoName != "Heartbeats" {
		t.Errorf("component package/GoName = %q/%q", c.Package, c.GoName)
	}
	if len(c.Sources) != 1 || c.Sources[0].GoName != "DeviceIDHeartbeat" || c.Sources[0].Entry.Topic != "kafmesh.deviceId.heartbeat" {
		t.Errorf("source = %+v", c.Sources[0])
	}

	p := c.Processors[0]
	procChecks := []struct{ what, got, want string }{
		{"GoName", p.GoName, "HeartbeatEnricher"},
		{"group (groupName as written)", p.Group, "deviceId.enrichedHeartbeat"},
		{"state topic", p.StateTopic, "deviceId.enrichedHeartbeat-table"},
		{"dead-letter topic", p.DeadLetterTopic, "deviceId.enrichedHeartbeat-dlq"},
		{"description", p.Description, "Provides enriched device heartbeats with customer information."},
	}
	for _, ch := range procChecks {
		if ch.got != ch.want {
			t.Errorf("processor %s = %q, want %q", ch.what, ch.got, ch.want)
		}
	}

	entries := []struct {
		e                                 *Entry
		role                              Role
		topic, message, goName, protoName string
		owned                             bool
	}{
		{p.Inputs[0], RoleInput, "kafmesh.deviceId.heartbeat", "kafmesh.deviceId.Heartbeat", "DeviceIDHeartbeat", "Heartbeat", true},
		{p.Joins[0], RoleJoin, "kafmesh.deviceId.customer", "kafmesh.deviceId.Customer", "DeviceIDCustomer", "Customer", true},
		{p.Lookups[0], RoleLookup, "kafmesh.customerId.details", "kafmesh.customerId.Details", "CustomerIDDetails", "Details", true},
		{p.Outputs[0], RoleOutput, "kafmesh.deviceId.enrichedHeartbeat", "kafmesh.deviceId.EnrichedHeartbeat", "DeviceIDEnrichedHeartbeat", "EnrichedHeartbeat", true},
		{p.Persistence, RoleState, "deviceId.enrichedHeartbeat-table", "kafmesh.deviceId.EnrichedHeartbeatState", "DeviceIDEnrichedHeartbeatState", "EnrichedHeartbeatState", true},
		{c.Sinks[0].Entry, RoleSink, "kafmesh.deviceId.enrichedHeartbeat", "kafmesh.deviceId.EnrichedHeartbeat", "DeviceIDEnrichedHeartbeat", "EnrichedHeartbeat", true},
		{c.Views[0].Entry, RoleView, "kafmesh.customerId.details", "kafmesh.customerId.Details", "CustomerIDDetails", "Details", true},
		{c.ViewSources[0].Entry, RoleViewSource, "kafmesh.customerId.egressEndpoint", "kafmesh.customerId.EgressEndpoint", "CustomerIDEgressEndpoint", "EgressEndpoint", true},
		{c.ViewSinks[0].Entry, RoleViewSink, "kafmesh.customerId.currentHealth", "kafmesh.customerId.CurrentHealth", "CustomerIDCurrentHealth", "CurrentHealth", false},
	}
	for _, w := range entries {
		e := w.e
		if e.Role != w.role || e.Topic != w.topic || e.Message != w.message || e.GoName != w.goName || e.ProtoName != w.protoName || e.Type != TypeProtobuf {
			t.Errorf("%s %q resolved to role=%s topic=%q message=%q go=%q proto=%q type=%s; want %s %q %q %q %q protobuf",
				w.role, e.Ref, e.Role, e.Topic, e.Message, e.GoName, e.ProtoName, e.Type, w.role, w.topic, w.message, w.goName, w.protoName)
		}
		if (e.Settings != nil) != w.owned {
			t.Errorf("%s %q: settings present = %v, want %v (owned by this service)", e.Role, e.Ref, e.Settings != nil, w.owned)
		}
	}
	if got := p.Outputs[0].Description; got != "Enriched device heartbeats" {
		t.Errorf("output description = %q", got)
	}
	if s := p.Persistence.Settings; s == nil || !s.Compact || s.Partitions != 10 {
		t.Errorf("state settings = %+v, want compacted with 10 partitions", s)
	}

	sink := c.Sinks[0]
	if sink.GoName != "EnrichedHeartbeatWarehouseSink" || sink.Group != "kafmesh.heartbeats.enrichedheartbeatwarehousesink-sink" {
		t.Errorf("sink GoName/group = %q/%q", sink.GoName, sink.Group)
	}
	if c.ViewSources[0].GoName != "Egress" || c.ViewSinks[0].GoName != "CurrentHealth" || c.Views[0].GoName != "CustomerIDDetails" {
		t.Errorf("view source/view sink/view Go names = %q/%q/%q", c.ViewSources[0].GoName, c.ViewSinks[0].GoName, c.Views[0].GoName)
	}
}

func TestLoadGoodDetails(t *testing.T) {
	c := component(t, loadGood(t), "details")
	p := c.Processors[0]
	if p.GoName != "DetailsEnricher" || p.Group != "kafmesh.details.detailsEnricher" || p.StateTopic != "kafmesh.details.detailsEnricher-table" {
		t.Errorf("default group naming: GoName=%q group=%q state=%q", p.GoName, p.Group, p.StateTopic)
	}
	lookup := p.Lookups[0]
	if lookup.Topic != "other.deviceId.details" || lookup.Message != "other.deviceId.Details" || lookup.GoName != "OtherDeviceIDDetails" {
		t.Errorf("three-fragment ref resolved to topic=%q message=%q go=%q", lookup.Topic, lookup.Message, lookup.GoName)
	}
	if lookup.Settings != nil {
		t.Errorf("another service's topic must have no settings, got %+v", lookup.Settings)
	}
	out := p.Outputs[0]
	if out.Topic != "kafmesh.details.enriched" || out.GoName != "DeviceIDEnrichedDetails" {
		t.Errorf("topic override: topic=%q go=%q", out.Topic, out.GoName)
	}
	if want := (TopicSettings{Partitions: 20, Replicas: 3, Retention: 24 * time.Hour, Segment: 12 * time.Hour}); *out.Settings != want {
		t.Errorf("output settings = %+v, want %+v", *out.Settings, want)
	}
	if s := p.Inputs[0].Settings; s == nil || s.Partitions != 20 || s.Retention != 48*time.Hour {
		t.Errorf("input settings (declared by the source) = %+v", s)
	}
	sink := c.Sinks[0]
	if sink.Entry.Type != TypeRaw || !sink.Entry.IsRaw() || sink.Group != "kafmesh.details.rawauditsink-sink" {
		t.Errorf("raw sink: type=%s group=%q", sink.Entry.Type, sink.Group)
	}
}

func TestLoadGoodTopics(t *testing.T) {
	svc := loadGood(t)
	type topic struct {
		name     string
		settings TopicSettings
	}
	d := func(partitions int32, compact bool) TopicSettings {
		return TopicSettings{Partitions: partitions, Replicas: 1, Compact: compact, Retention: 24 * time.Hour, Segment: 12 * time.Hour}
	}
	want := []topic{
		{"deviceId.enrichedHeartbeat-table", d(10, true)},
		{"kafmesh.customerId.details", d(10, true)},
		{"kafmesh.customerId.egressEndpoint", d(10, true)},
		{"kafmesh.details.detailsEnricher-table", d(20, true)},
		{"kafmesh.details.enriched", TopicSettings{Partitions: 20, Replicas: 3, Retention: 24 * time.Hour, Segment: 12 * time.Hour}},
		{"kafmesh.deviceId.customer", d(10, true)},
		{"kafmesh.deviceId.details", TopicSettings{Partitions: 20, Replicas: 1, Retention: 48 * time.Hour, Segment: 12 * time.Hour}},
		{"kafmesh.deviceId.enrichedHeartbeat", d(10, false)},
		{"kafmesh.deviceId.heartbeat", d(10, false)},
	}
	var got []topic
	for _, tp := range svc.OwnedTopics() {
		got = append(got, topic{tp.Name, tp.Settings})
	}
	if !slices.Equal(got, want) {
		t.Errorf("owned topics:\n got %+v\nwant %+v", got, want)
	}
	var external []string
	for _, tp := range svc.Topics {
		if !tp.Owned {
			external = append(external, tp.Name)
		}
	}
	if want := []string{"kafmesh.customerId.currentHealth", "kafmesh.deviceId.audit", "other.deviceId.details"}; !slices.Equal(external, want) {
		t.Errorf("topics read only = %v, want %v", external, want)
	}
	if tp := svc.Topic("kafmesh.deviceId.heartbeat"); tp == nil || len(tp.Uses) != 2 {
		t.Errorf("Topic(heartbeat) = %+v, want a topic with 2 uses (source and input)", tp)
	}
}

func TestLoadMergeKeys(t *testing.T) {
	svc, diags, err := Load(context.Background(), "testdata/good_merge/definition.yml", WithMessages(testMessages()))
	if err != nil || len(diags) > 0 {
		t.Fatalf("err=%v diags:\n%s", err, diags)
	}
	procs := svc.Components[0].Processors
	if len(procs) != 2 {
		t.Fatalf("processors = %d", len(procs))
	}
	second := procs[1]
	if second.Name != "second enricher" || second.Group != "kafmesh.heartbeats.secondEnricher" {
		t.Errorf("keys set beside the merge key must win: name=%q group=%q", second.Name, second.Group)
	}
	if len(second.Inputs) != 1 || second.Inputs[0].Topic != "kafmesh.deviceId.heartbeat" {
		t.Errorf("inputs must come from the merged processor: %+v", second.Inputs)
	}
	out := second.Outputs[0]
	if out.Topic != "kafmesh.heartbeats.second" || out.Ref != "deviceId.enrichedHeartbeat" || out.Description != "Enriched device heartbeats" {
		t.Errorf("merged output: topic=%q ref=%q description=%q", out.Topic, out.Ref, out.Description)
	}
	if procs[0].Outputs[0].Topic != "kafmesh.deviceId.enrichedHeartbeat" {
		t.Errorf("the anchored output must keep its own topic, got %q", procs[0].Outputs[0].Topic)
	}
}

// writeTree writes files (slash paths relative to dir) into dir.
func writeTree(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

const minimalDefinition = `name: my service
output:
  package: gen
  path: internal/gen
messages:
  protobuf:
    - protos
components:
  - components/**/*.yaml
`

const minimalComponent = `name: beats
sources:
  - message: deviceId.heartbeat
`

func TestLoadModuleFromGoMod(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"go.mod":                           "// comment\nmodule \"example.com/svc\" // trailing\n\ngo 1.26\n",
		"docs/kafmesh/definition.yml":      minimalDefinition,
		"docs/kafmesh/components/a/b.yaml": minimalComponent,
		"docs/kafmesh/protos/x.proto":      "syntax = \"proto3\";\n",
	})
	def := filepath.Join(root, "docs", "kafmesh", "definition.yml")
	other := t.TempDir()
	for _, tc := range []struct {
		name string
		path string
		opts []Option
	}{
		{"absolute", def, []Option{WithWorkDir(other)}},
		{"relative", filepath.Join("docs", "kafmesh", "definition.yml"), []Option{WithWorkDir(root)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svc, diags, err := Load(context.Background(), tc.path, tc.opts...)
			if err != nil || len(diags) > 0 {
				t.Fatalf("err=%v diags:\n%s", err, diags)
			}
			if svc.ModuleRoot != root || svc.Output.Module != "example.com/svc" || svc.Output.ImportPath != "example.com/svc/internal/gen" {
				t.Errorf("module root=%q module=%q import=%q", svc.ModuleRoot, svc.Output.Module, svc.Output.ImportPath)
			}
			if svc.Output.Dir != filepath.Join(root, "internal", "gen") {
				t.Errorf("output dir = %q (output.path is relative to the module root)", svc.Output.Dir)
			}
			if want := filepath.Join(root, "docs", "kafmesh", "protos"); !slices.Equal(svc.ProtoDirs, []string{want}) {
				t.Errorf("proto dirs = %v, want [%s] (relative to the definition)", svc.ProtoDirs, want)
			}
			if len(svc.Components) != 1 || svc.Components[0].Sources[0].Entry.Topic != "myService.deviceId.heartbeat" {
				t.Errorf("component from the ** glob not loaded, or prefix wrong: %+v", svc.Components)
			}
		})
	}
}

func TestLoadDisplayPaths(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, map[string]string{
		"go.mod":                          "module example.com/svc\n",
		"def/definition.yml":              minimalDefinition,
		"def/protos/x.proto":              "",
		"def/components/beats.yaml":       minimalComponent + "emitters: []\n",
		"def/components/extra/more.yaml":  "name: more\nsources:\n  - message: deviceId.more\n",
		"def/components/extra/other.yaml": "name: other\n",
	})
	def := filepath.Join(root, "def", "definition.yml")

	_, diags, err := Load(context.Background(), def, WithWorkDir(filepath.Join(root, "def")))
	if err != nil {
		t.Fatal(err)
	}
	if want := "components/beats.yaml:4:1: warning: emitters was renamed sources and is ignored; rename it\n"; diags.String() != want {
		t.Errorf("under the working directory paths are relative:\n got %q\nwant %q", diags.String(), want)
	}

	elsewhere := t.TempDir()
	_, diags, _ = Load(context.Background(), def, WithWorkDir(elsewhere))
	want := filepath.Join(root, "def", "components", "beats.yaml") + ":4:1: warning: emitters was renamed sources and is ignored; rename it\n"
	if diags.String() != want {
		t.Errorf("outside the working directory paths are absolute:\n got %q\nwant %q", diags.String(), want)
	}
}

func TestLoadWithoutGoMod(t *testing.T) {
	root := t.TempDir()
	if _, _, found, _ := findModule(root); found {
		t.Skip("a go.mod above the temporary directory makes this test meaningless")
	}
	writeTree(t, root, map[string]string{
		"definition.yml":        minimalDefinition,
		"protos/x.proto":        "",
		"components/beats.yaml": minimalComponent,
	})
	_, diags, err := Load(context.Background(), "definition.yml", WithWorkDir(root))
	if err != nil {
		t.Fatal(err)
	}
	want := "definition.yml:2:1: no go.mod in " + root + " or any directory above it; output.path is relative to the Go module root: create the module (go mod init) or move the definition into one\n"
	if diags.String() != want {
		t.Errorf("got %q\nwant %q", diags.String(), want)
	}
}

func TestLoadMissingDefinitionIsAnError(t *testing.T) {
	_, _, err := Load(context.Background(), "testdata/no-such/definition.yml")
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("err = %v, want one wrapping os.ErrNotExist", err)
	}
}

func TestLoadMessageLoader(t *testing.T) {
	var gotDirs []string
	loader := func(_ context.Context, dirs []string) (Messages, Diagnostics, error) {
		gotDirs = dirs
		return NewMessageSet("kafmesh.deviceId.Heartbeat"), Diagnostics{
			{Severity: Error, Position: Position{File: "a.proto", Line: 3, Col: 1}, Message: "syntax error"},
		}, nil
	}
	_, diags, err := Load(context.Background(), "testdata/good/definition.yml", WithMessageLoader(loader))
	if err != nil {
		t.Fatal(err)
	}
	protos, _ := filepath.Abs("testdata/protos")
	if !slices.Equal(gotDirs, []string{protos}) {
		t.Errorf("loader got dirs %v, want [%s]", gotDirs, protos)
	}
	if len(diags) == 0 || diags[0].String() != "a.proto:3:1: syntax error" {
		t.Errorf("the loader's diagnostics must be merged and sorted first, got:\n%s", diags)
	}
	if !strings.Contains(diags.String(), `message kafmesh.deviceId.Customer (from ref "deviceId.customer") is not defined in the .proto files`) {
		t.Errorf("refs must be checked against the loaded messages, got:\n%s", diags)
	}

	failing := func(context.Context, []string) (Messages, Diagnostics, error) {
		return nil, nil, context.Canceled
	}
	if _, _, err := Load(context.Background(), "testdata/good/definition.yml", WithMessageLoader(failing)); !errors.Is(err, context.Canceled) {
		t.Errorf("a loader failure must be returned as the error, got %v", err)
	}
}
