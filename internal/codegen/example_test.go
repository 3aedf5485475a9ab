package codegen_test

import (
	"bytes"
	"context"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/kafmesh/kafmesh/cmd/kafmesh/cli"
	"github.com/kafmesh/kafmesh/internal/codegen"
)

// exampleDir is the example service, a module of its own
// (github.com/kafmesh/kafmesh/examples/devices) that requires this one
// through a replace directive. Root `go test ./...` does not enter it; the
// tests below do.
const exampleDir = "../../examples/devices"

func exampleDefinition(t testing.TB) string {
	t.Helper()
	def, err := filepath.Abs(filepath.Join(exampleDir, "docs", "kafmesh", "definition.yml"))
	if err != nil {
		t.Fatal(err)
	}
	return def
}

// TestExampleUpToDate checks that the generated code committed in
// examples/devices is what the generator writes now, and that no stale
// generated file is left beside it: regenerate with
// `go run ./cmd/kafmesh gen` in examples/devices (or `cd examples/devices
// && go run github.com/kafmesh/kafmesh/cmd/kafmesh gen`).
func TestExampleUpToDate(t *testing.T) {
	svc, set := load(t, exampleDefinition(t))
	files, err := codegen.Files(context.Background(), svc, set)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, f := range files {
		want[f.Path] = true
		got, err := os.ReadFile(filepath.Join(svc.ModuleRoot, filepath.FromSlash(f.Path)))
		if err != nil || !bytes.Equal(got, f.Content) {
			t.Errorf("examples/devices/%s is not what kafmesh gen writes now (%v); run kafmesh gen in examples/devices", f.Path, err)
		}
	}
	onDisk := readTree(t, svc.Output.Dir, nil)
	for rel, content := range onDisk {
		path := "internal/definitions/" + rel
		if !want[path] && strings.Contains(content, "DO NOT EDIT.") {
			t.Errorf("examples/devices/%s is a stale generated file; run kafmesh gen in examples/devices", path)
		}
	}
}

// TestExampleBuildsAndPasses runs go build, go vet and go test in the
// example module, against this checkout: the handler unit tests with the
// generated fakes, and the end-to-end test of the whole service against a
// broker (KAFMESH_TEST_BROKERS, else in-process kfake). scripts/test.sh can
// run the same directly: (cd examples/devices && go test ./...).
func TestExampleBuildsAndPasses(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go build, vet and test in examples/devices (a minute); run without -short")
	}
	goTool := goCommand(t)
	dir, err := filepath.Abs(exampleDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"build", "./..."}, {"vet", "./..."}, {"test", "-count=1", "./..."}} {
		out := runGoExample(t, goTool, dir, args...)
		if args[0] == "test" {
			for _, pkg := range []string{"internal/app", "internal/gateway", "internal/devicedetails", "internal/deviceheartbeats", "internal/customers"} {
				if !regexp.MustCompile(`(?m)^ok\s+github.com/kafmesh/kafmesh/examples/devices/` + pkg + `\s`).MatchString(out) {
					t.Errorf("go test did not pass %s:\n%s", pkg, out)
				}
			}
		}
	}
}

// runGoExample runs the go command in the example module as a developer
// would: with its own go.mod and go.sum, no -mod=mod.
func runGoExample(t *testing.T, goTool, dir string, args ...string) string {
	t.Helper()
	cmd := commandIn(goTool, dir, args...)
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-buildvcs=false")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go %s in examples/devices: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestExampleFromScratch copies examples/devices into a fresh module
// without its generated code, runs `kafmesh gen` there (the CLI command,
// in process), then go build and go vet; a second gen changes nothing.
func TestExampleFromScratch(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the example in a fresh module; run without -short")
	}
	goTool := goCommand(t)
	root := checkoutRoot(t)

	dir := t.TempDir()
	files := readTree(t, exampleDir, func(rel string) bool {
		return strings.HasPrefix(rel, "internal/definitions/") || rel == "go.mod"
	})
	writeTree(t, dir, files)
	gomod, err := os.ReadFile(filepath.Join(exampleDir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	writeTree(t, dir, map[string]string{"go.mod": strings.Replace(string(gomod),
		"replace github.com/kafmesh/kafmesh => ../..", "replace github.com/kafmesh/kafmesh => "+filepath.ToSlash(root), 1)})

	gen := func() {
		t.Helper()
		var out bytes.Buffer
		env := &cli.Env{Stdout: &out, Stderr: &out, WorkDir: dir}
		if code := cli.Execute(context.Background(), cli.NewGenCommand(env), nil, env); code != 0 || out.Len() > 0 {
			t.Fatalf("kafmesh gen: exit status %d\n%s", code, out.String())
		}
	}
	gen()
	first := readTree(t, dir, nil)
	runGo(t, goTool, dir, "build", "./...")
	runGo(t, goTool, dir, "vet", "./...")
	gen()
	second := readTree(t, dir, nil)
	for _, p := range slices.Sorted(maps.Keys(second)) {
		if first[p] != second[p] && !strings.HasPrefix(p, "go.") {
			t.Errorf("the second gen changed %s", p)
		}
	}
	if len(first) > len(second) {
		t.Error("the second gen removed files")
	}
}
