package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kafmesh/kafmesh/internal/protoc"
	"github.com/kafmesh/kafmesh/internal/spec"
	"github.com/spf13/cobra"
)

// specCases is the spec package's table of definitions with their expected
// diagnostics.
const specCases = "../spec/testdata"

type result struct {
	code           int
	stdout, stderr string
}

func execute(t *testing.T, workDir string, gen Generator, newCmd func(*Env) *cobra.Command, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	env := &Env{Stdout: &stdout, Stderr: &stderr, WorkDir: workDir, Generator: gen}
	code := Execute(context.Background(), newCmd(env), args, env)
	return result{code, stdout.String(), stderr.String()}
}

// TestCheckSpecCases runs check, with the real .proto compile, on every
// definition of the spec tests: the diagnostics must be the expected ones
// (which the spec tests get from an in-memory message list) and the exit
// status 1 exactly when one of them is an error.
func TestCheckSpecCases(t *testing.T) {
	dirs, err := os.ReadDir(specCases)
	if err != nil {
		t.Fatal(err)
	}
	ran := 0
	for _, d := range dirs {
		dir, _ := filepath.Abs(filepath.Join(specCases, d.Name()))
		want, err := os.ReadFile(filepath.Join(dir, "expected.golden"))
		if err != nil {
			continue
		}
		ran++
		t.Run(d.Name(), func(t *testing.T) {
			r := execute(t, dir, nil, NewCheckCommand, "definition.yml")
			// The spec tests write the absolute testdata folder as
			// "<testdata>" so the golden files hold in every checkout.
			casesAbs, _ := filepath.Abs(specCases)
			r.stderr = strings.ReplaceAll(r.stderr, casesAbs, "<testdata>")
			if r.stderr != string(want) {
				t.Errorf("stderr:\n%s\nwant:\n%s", r.stderr, want)
			}
			wantCode := 0
			for _, line := range strings.Split(strings.TrimSpace(string(want)), "\n") {
				if line != "" && !strings.Contains(line, ": warning: ") {
					wantCode = 1
				}
			}
			if r.code != wantCode {
				t.Errorf("exit status %d, want %d", r.code, wantCode)
			}
			if r.stdout != "" {
				t.Errorf("check wrote to stdout: %q", r.stdout)
			}
		})
	}
	if ran < 20 {
		t.Fatalf("ran %d cases", ran)
	}
}

func TestCheckReportsProtoErrors(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"go.mod":                          "module example.com/svc\n",
		"docs/kafmesh/definition.yml":     "name: svc\noutput:\n  package: gen\n  path: gen\nmessages:\n  protobuf:\n    - protos\ncomponents:\n  - components/*.yaml\n",
		"docs/kafmesh/components/a.yaml":  "name: a\nsources:\n  - message: deviceId.heartbeat\n",
		"docs/kafmesh/protos/svc/a.proto": "syntax = \"proto3\";\npackage svc.deviceId;\nmessage Heartbeat {\n  strin id = 1;\n}\n",
	})
	r := execute(t, dir, nil, NewCheckCommand)
	if r.code != 1 {
		t.Errorf("exit status %d, want 1", r.code)
	}
	if !strings.HasPrefix(r.stderr, "docs/kafmesh/protos/svc/a.proto:4:3: ") {
		t.Errorf("the .proto error must be reported with its position, got:\n%s", r.stderr)
	}
}

func TestDefaultDefinitionPath(t *testing.T) {
	dir := t.TempDir()
	r := execute(t, dir, nil, NewCheckCommand)
	if r.code != 1 || !strings.Contains(r.stderr, "neither docs/kafmesh/definition.yml nor docs/kafmesh/definition.yaml exists") {
		t.Errorf("without a definition: exit %d, stderr %q", r.code, r.stderr)
	}
	writeFiles(t, dir, map[string]string{
		"go.mod":                         "module example.com/svc\n",
		"docs/kafmesh/definition.yaml":   "name: svc\noutput:\n  package: gen\n  path: gen\ncomponents:\n  - components/*.yaml\n",
		"docs/kafmesh/components/a.yaml": "name: a\nsources:\n  - message: deviceId.heartbeat\n    type: raw\n",
	})
	if r := execute(t, dir, nil, NewCheckCommand); r.code != 0 || r.stderr != "" {
		t.Errorf("with docs/kafmesh/definition.yaml: exit %d, stderr %q", r.code, r.stderr)
	}
	writeFiles(t, dir, map[string]string{"docs/kafmesh/definition.yml": "name: [\n"})
	if r := execute(t, dir, nil, NewCheckCommand); r.code != 1 || !strings.HasPrefix(r.stderr, "docs/kafmesh/definition.yml:") {
		t.Errorf("definition.yml must be preferred over .yaml: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestGenCallsGeneratorOnlyWhenValid(t *testing.T) {
	var calls []*spec.Service
	var protos *protoc.Set
	gen := GeneratorFunc(func(_ context.Context, svc *spec.Service, set *protoc.Set) error {
		calls = append(calls, svc)
		protos = set
		return nil
	})
	good, _ := filepath.Abs(filepath.Join(specCases, "good"))
	if r := execute(t, good, gen, NewGenCommand, "definition.yml"); r.code != 0 || r.stderr != "" {
		t.Fatalf("gen on a valid definition: exit %d, stderr %q", r.code, r.stderr)
	}
	if len(calls) != 1 || calls[0].Name != "kafmesh" || len(calls[0].Components) != 3 {
		t.Fatalf("generator calls = %v", calls)
	}
	if protos == nil {
		t.Fatal("the generator must get the compiled .proto files")
	}
	if _, ok := protos.Message("kafmesh.deviceId.EnrichedHeartbeatState"); !ok {
		t.Error("the compiled set lacks kafmesh.deviceId.EnrichedHeartbeatState")
	}

	broken, _ := filepath.Abs(filepath.Join(specCases, "copartition"))
	r := execute(t, broken, gen, NewGenCommand, "definition.yml")
	if r.code != 1 || len(calls) != 1 {
		t.Errorf("gen on a broken definition: exit %d, generator calls %d; want 1 and no new call", r.code, len(calls))
	}
	if !strings.HasPrefix(r.stderr, "components/heartbeats.yaml:13:9: processor \"heartbeat enricher\" is not co-partitioned") {
		t.Errorf("stderr = %q", r.stderr)
	}
}

// TestGenWritesCode runs gen with the default generator (internal/codegen)
// on a copy of the good spec case: it writes the service package, one
// package per component and the models, and a second run changes nothing.
func TestGenWritesCode(t *testing.T) {
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(filepath.Join(specCases, "good"))); err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(filepath.Join(dir, "protos"), os.DirFS(filepath.Join(specCases, "protos"))); err != nil {
		t.Fatal(err)
	}
	def := filepath.Join(dir, "definition.yml")
	src, err := os.ReadFile(def)
	if err != nil {
		t.Fatal(err)
	}
	// The case reads ../protos; the copy has them beside the definition.
	writeFiles(t, dir, map[string]string{
		"go.mod":         "module kafmesh-example\n",
		"definition.yml": strings.Replace(string(src), "../protos", "./protos", 1),
	})
	if r := execute(t, dir, nil, NewGenCommand, "definition.yml"); r.code != 0 || r.stderr != "" {
		t.Fatalf("gen: exit %d, stderr %q", r.code, r.stderr)
	}
	for _, f := range []string{
		"internal/definitions/service.km.go",
		"internal/definitions/topics.km.go",
		"internal/definitions/heartbeats/heartbeat_enricher_processor.km.go",
		"internal/definitions/models/kafmesh/deviceId/heartbeat.pb.go",
	} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("gen did not write %s: %v", f, err)
		}
	}
	before, err := os.ReadFile(filepath.Join(dir, "internal/definitions/service.km.go"))
	if err != nil {
		t.Fatal(err)
	}
	if r := execute(t, dir, nil, NewGenCommand, "definition.yml"); r.code != 0 || r.stderr != "" {
		t.Fatalf("second gen: exit %d, stderr %q", r.code, r.stderr)
	}
	after, _ := os.ReadFile(filepath.Join(dir, "internal/definitions/service.km.go"))
	if !bytes.Equal(before, after) {
		t.Error("a second gen changed service.km.go")
	}
}

func TestGraph(t *testing.T) {
	good, _ := filepath.Abs(filepath.Join(specCases, "good"))
	r := execute(t, good, nil, NewGraphCommand, "definition.yml")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	// Topics are numbered in name order: t0 is the state topic, t10 the
	// heartbeat topic, ... (see TestLoadGoodTopics in internal/spec).
	for _, line := range []string{
		"flowchart LR",
		`  subgraph c2["heartbeats"]`,
		`    c2_processor0["processor: heartbeat enricher"]`,
		`  t0[("deviceId.enrichedHeartbeat-table")]`,
		`  c2_source0 -->|source| t10`,
		`  t10 -->|input| c2_processor0`,
		`  t7 -->|join| c2_processor0`,
		`  t2 -->|lookup| c2_processor0`,
		`  c2_processor0 -->|output| t9`,
		`  c2_processor0 -->|state| t0`,
		`  t9 -->|sink| c2_sink0`,
		`  t2 -->|view| c2_view0`,
		`  c2_viewSource0 -->|viewSource| t3`,
		`  t1 -->|viewSink| c2_viewSink0`,
		`  t11 -->|lookup| c1_processor0`,
	} {
		if !strings.Contains(r.stdout, line+"\n") {
			t.Errorf("mermaid graph lacks %q:\n%s", line, r.stdout)
		}
	}
	if n := strings.Count(r.stdout, "-->|"); n != 20 {
		t.Errorf("mermaid graph has %d edges, want 20 (one per entry)", n)
	}

	r = execute(t, good, nil, NewGraphCommand, "definition.yml", "--format", "dot")
	if r.code != 0 {
		t.Fatalf("dot: exit %d, stderr %q", r.code, r.stderr)
	}
	for _, line := range []string{
		`digraph "kafmesh" {`,
		`  subgraph cluster_2 {`,
		`    c2_sink0 [label="sink: Enriched Heartbeat Warehouse Sink", shape=box];`,
		`  t10 [label="kafmesh.deviceId.heartbeat", shape=cylinder];`,
		`  t10 -> c2_processor0 [label="input"];`,
		`  c2_processor0 -> t0 [label="state"];`,
	} {
		if !strings.Contains(r.stdout, line+"\n") {
			t.Errorf("dot graph lacks %q:\n%s", line, r.stdout)
		}
	}
	if strings.Count(r.stdout, "{") != strings.Count(r.stdout, "}") || !strings.HasSuffix(r.stdout, "}\n") {
		t.Errorf("dot graph braces unbalanced:\n%s", r.stdout)
	}

	if r := execute(t, good, nil, NewGraphCommand, "definition.yml", "--format", "svg"); r.code != 1 || !strings.Contains(r.stderr, `unknown format "svg"`) {
		t.Errorf("--format svg: exit %d, stderr %q", r.code, r.stderr)
	}
	broken, _ := filepath.Abs(filepath.Join(specCases, "duplicate_key"))
	if r := execute(t, broken, nil, NewGraphCommand, "definition.yml"); r.code != 1 || r.stdout != "" {
		t.Errorf("graph of a broken definition: exit %d, stdout %q", r.code, r.stdout)
	}
}

func TestGraphLabelsAreEscaped(t *testing.T) {
	m := mesh{
		service:    `my "svc"`,
		components: []meshComponent{{name: `a"b`, parts: []meshNode{{id: "c0_sink0", label: `sink: x\y "z"`}}}},
	}
	if got := renderMermaid(m); !strings.Contains(got, `c0_sink0["sink: x\y #quot;z#quot;"]`) {
		t.Errorf("mermaid:\n%s", got)
	}
	if got := renderDot(m); !strings.Contains(got, `digraph "my \"svc\"" {`) || !strings.Contains(got, `label="sink: x\\y \"z\""`) {
		t.Errorf("dot:\n%s", got)
	}
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
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
