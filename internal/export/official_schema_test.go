package export

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// TestAsyncAPIOfficialSchema validates the example service's AsyncAPI
// document against the AsyncAPI Initiative's own 3.0.0 JSON Schema, from
// the npm package @asyncapi/specs (fetched by scripts/asyncapi-schema.sh
// into the kafmesh cache; scripts/test.sh sets KAFMESH_ASYNCAPI_SCHEMA), and
// checks that the schema refuses a broken copy, so a pass means something.
func TestAsyncAPIOfficialSchema(t *testing.T) {
	path := os.Getenv("KAFMESH_ASYNCAPI_SCHEMA")
	if path == "" {
		t.Skip("KAFMESH_ASYNCAPI_SCHEMA is not set: run scripts/asyncapi-schema.sh install and set it to the path it prints (scripts/test.sh does)")
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	schemaDoc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("asyncapi-3.0.0.json", schemaDoc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("asyncapi-3.0.0.json")
	if err != nil {
		t.Fatalf("compile the official schema: %v", err)
	}

	doc, err := AsyncAPI(devices(t), "kafmesh", Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	validate := func(b []byte) error {
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		return sch.Validate(inst)
	}
	if err := validate(b); err != nil {
		t.Fatalf("the example's AsyncAPI document does not validate against the official 3.0.0 schema:\n%v", err)
	}

	var broken map[string]any
	if err := json.Unmarshal(b, &broken); err != nil {
		t.Fatal(err)
	}
	for _, op := range broken["operations"].(map[string]any) {
		op.(map[string]any)["action"] = "publish" // AsyncAPI 2's verb
		break
	}
	b, _ = json.Marshal(broken)
	if validate(b) == nil {
		t.Error("an operation with action \"publish\" validated: the schema check proves nothing")
	}
}
