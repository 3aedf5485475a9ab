package export

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"

	"github.com/kafmesh/kafmesh/internal/protoc"
	"github.com/kafmesh/kafmesh/internal/spec"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/devices")

// devices loads the example service (examples/devices) with its compiled
// .proto files.
func devices(t testing.TB) *Mesh {
	t.Helper()
	def, err := filepath.Abs(filepath.Join("..", "..", "examples", "devices", "docs", "kafmesh", "definition.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var set *protoc.Set
	loader := func(ctx context.Context, dirs []string) (spec.Messages, spec.Diagnostics, error) {
		s, err := protoc.Compile(ctx, dirs)
		if err != nil {
			return nil, nil, err
		}
		set = s
		return spec.NewMessageSet(s.MessageNames()...), nil, nil
	}
	svc, diags, err := spec.Load(context.Background(), def, spec.WithMessageLoader(loader))
	if err != nil || diags.HasErrors() {
		t.Fatalf("load the example: %v %s", err, diags)
	}
	return FromSpec(svc, set)
}

var goldenTime = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "devices", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -run %s -update writes it)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file; if the change is intended, run go test ./internal/export -run %s -update and review the diff\n--- got (start)\n%s", path, t.Name(), head(got))
	}
}

func head(b []byte) string {
	if len(b) > 2000 {
		return string(b[:2000]) + "…"
	}
	return string(b)
}

// TestAsyncAPIDevices checks the example service's AsyncAPI document
// against the golden file and validates it with a JSON Schema validator
// against testdata/asyncapi-3.0-kafmesh-subset.schema.json (written for
// these tests; see its description), and checks that every local $ref
// resolves.
func TestAsyncAPIDevices(t *testing.T) {
	m := devices(t)
	body, ctype, err := Render(m, "asyncapi", "", goldenTime, Options{})
	if err != nil || ctype != "application/json" {
		t.Fatalf("render: %v %s", err, ctype)
	}
	golden(t, "asyncapi.json", body)

	doc := validateAsyncAPI(t, body)
	ops := doc["operations"].(map[string]any)
	enricher, ok := ops["details.processor.enricher.input.kafmesh.deviceId.details"].(map[string]any)
	if !ok {
		t.Fatalf("no operation for the enricher's input; operations: %v", keys(ops))
	}
	if enricher["action"] != "receive" {
		t.Errorf("input action %v", enricher["action"])
	}
	group := enricher["bindings"].(map[string]any)["kafka"].(map[string]any)["groupId"].(map[string]any)["enum"].([]any)
	if len(group) != 1 || group[0] != "kafmesh.details.enricher" {
		t.Errorf("group id %v", group)
	}
	if out := ops["details.processor.enricher.output.kafmesh.deviceId.enrichedDetails"].(map[string]any); out["action"] != "send" {
		t.Errorf("output action %v", out["action"])
	}
	msg := doc["components"].(map[string]any)["messages"].(map[string]any)["kafmesh.deviceId.Heartbeat"].(map[string]any)
	payload := msg["payload"].(map[string]any)
	if payload["schemaFormat"] != ProtobufSchemaFormat || !strings.Contains(payload["schema"].(string), "bool is_healthy = 2;") {
		t.Errorf("heartbeat payload %v", payload)
	}
	// The protobuf rendering compiles: write it out and compile it.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "heartbeat.proto"), []byte(payload["schema"].(string)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := protoc.Compile(context.Background(), []string{dir}); err != nil {
		t.Errorf("the rendered .proto does not compile: %v\n%s", err, payload["schema"])
	}
	schema := doc["components"].(map[string]any)["schemas"].(map[string]any)["kafmesh.deviceId.Heartbeat"].(map[string]any)
	if schema["properties"].(map[string]any)["isHealthy"].(map[string]any)["type"] != "boolean" {
		t.Errorf("heartbeat JSON schema %v", schema)
	}
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// validateAsyncAPI validates body against the subset schema and resolves
// every local $ref; it returns the parsed document.
func validateAsyncAPI(t *testing.T, body []byte) map[string]any {
	t.Helper()
	c := jsonschema.NewCompiler()
	sch, err := c.Compile(filepath.Join("testdata", "asyncapi-3.0-kafmesh-subset.schema.json"))
	if err != nil {
		t.Fatalf("compile the schema: %v", err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(inst); err != nil {
		t.Fatalf("the AsyncAPI document is invalid: %v", err)
	}
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	var walk func(v any)
	refs := 0
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				refs++
				if resolve(doc, ref) == nil {
					t.Errorf("$ref %s does not resolve", ref)
				}
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc)
	if refs == 0 {
		t.Error("no $ref at all")
	}
	return doc
}

// resolve follows a local JSON pointer ("#/a/b~1c").
func resolve(doc map[string]any, ref string) any {
	if !strings.HasPrefix(ref, "#/") {
		return nil
	}
	var cur any = doc
	for _, tok := range strings.Split(ref[2:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[tok]
	}
	return cur
}

// TestAsyncAPIRejectsBrokenDocuments makes sure the validation catches what
// it should: a document without info, and an operation with a bad action.
func TestAsyncAPIRejectsBrokenDocuments(t *testing.T) {
	c := jsonschema.NewCompiler()
	sch, err := c.Compile(filepath.Join("testdata", "asyncapi-3.0-kafmesh-subset.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := AsyncAPI(devices(t), "kafmesh", Options{})
	if err != nil {
		t.Fatal(err)
	}
	for name, breakIt := range map[string]func(map[string]any){
		"no info": func(d map[string]any) { delete(d, "info") },
		"bad action": func(d map[string]any) {
			for _, op := range d["operations"].(map[string]any) {
				op.(map[string]any)["action"] = "publish"
				return
			}
		},
		"wrong version": func(d map[string]any) { d["asyncapi"] = "2.6.0" },
	} {
		b, _ := json.Marshal(doc)
		var d map[string]any
		_ = json.Unmarshal(b, &d)
		breakIt(d)
		b, _ = json.Marshal(d)
		inst, _ := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if sch.Validate(inst) == nil {
			t.Errorf("%s: validated", name)
		}
	}
	if _, err := AsyncAPI(devices(t), "nope", Options{}); err == nil {
		t.Error("an unknown service must be an error")
	}
}

// TestBackstageDevices checks the example's catalog against the golden
// file and its entities' shape and relations.
func TestBackstageDevices(t *testing.T) {
	body, _, err := Render(devices(t), "backstage", "", goldenTime, Options{Owner: "team-devices", System: "devices"})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "backstage.yaml", body)
	dec := yaml.NewDecoder(bytes.NewReader(body))
	kinds := map[string]int{}
	for {
		var e struct {
			APIVersion string         `yaml:"apiVersion"`
			Kind       string         `yaml:"kind"`
			Metadata   map[string]any `yaml:"metadata"`
			Spec       map[string]any `yaml:"spec"`
		}
		if err := dec.Decode(&e); err != nil {
			break
		}
		kinds[e.Kind]++
		if e.APIVersion != "backstage.io/v1alpha1" || e.Metadata["name"] == "" || e.Spec["owner"] != "team-devices" || e.Spec["system"] != "devices" {
			t.Errorf("entity %+v", e)
		}
		switch e.Kind {
		case "API":
			if e.Spec["type"] != "asyncapi" {
				t.Errorf("API type %v", e.Spec["type"])
			}
			validateAsyncAPI(t, []byte(e.Spec["definition"].(string)))
		case "Component":
			if pa := e.Spec["providesApis"].([]any); len(pa) != 1 || pa[0] != "kafmesh-events" {
				t.Errorf("providesApis %v", pa)
			}
		}
	}
	if kinds["Component"] != 1 || kinds["API"] != 1 || kinds["Resource"] != 10 {
		t.Errorf("entities %v, want 1 Component, 1 API, 10 Resources (the example's topics)", kinds)
	}
}

// TestOpenLineageDevices checks the example's run events against the
// golden file and their shape.
func TestOpenLineageDevices(t *testing.T) {
	m := devices(t)
	body, _, err := Render(m, "openlineage", "", goldenTime, Options{KafkaNamespace: "kafka://broker:9092"})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "openlineage.jsonl", body)
	lines := strings.Split(strings.TrimSpace(string(body)), "\n")
	var enricher map[string]any
	for _, l := range lines {
		var ev map[string]any
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatal(err)
		}
		if ev["eventType"] != "RUNNING" || ev["eventTime"] != "2026-01-02T03:04:05Z" || ev["producer"] != Producer {
			t.Errorf("event %v", ev)
		}
		if ev["job"].(map[string]any)["name"] == "kafmesh.details.enricher" {
			enricher = ev
		}
	}
	if len(lines) != 14 {
		t.Errorf("%d events, want one per part of the example (14)", len(lines))
	}
	if enricher == nil {
		t.Fatal("no event for the details enricher")
	}
	names := func(k string) []string {
		var out []string
		for _, d := range enricher[k].([]any) {
			ds := d.(map[string]any)
			if ds["namespace"] != "kafka://broker:9092" {
				t.Errorf("dataset namespace %v", ds["namespace"])
			}
			out = append(out, ds["name"].(string))
		}
		return out
	}
	if got := strings.Join(names("inputs"), ","); got != "kafmesh.deviceId.details,kafmesh.deviceId.customer,kafmesh.customerId.details,kafmesh.details.enricher-table" {
		t.Errorf("enricher inputs %s", got)
	}
	if got := strings.Join(names("outputs"), ","); got != "kafmesh.deviceId.enrichedDetails,kafmesh.details.enricher-table" {
		t.Errorf("enricher outputs %s", got)
	}
	// The run ids change with the mesh, not with the time.
	again, _, _ := Render(m, "openlineage", "", goldenTime.Add(time.Hour), Options{KafkaNamespace: "kafka://broker:9092"})
	if !strings.Contains(string(again), runID(MeshKey(m), "kafmesh/kafmesh.details.enricher")) {
		t.Error("run id not stable across times")
	}
}
