package codegen_test

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/kafmesh/kafmesh/internal/codegen"
)

var update = flag.Bool("update", false, "rewrite the expected/ trees of testdata from the generator's output")

// goldenCases lists the directories of testdata, each a module with a
// definition at docs/kafmesh/definition.yml and the expected output tree
// in expected/.
func goldenCases(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	var cases []string
	for _, e := range entries {
		if e.IsDir() {
			cases = append(cases, e.Name())
		}
	}
	if len(cases) < 7 {
		t.Fatalf("found %d golden cases in testdata, want at least 7", len(cases))
	}
	return cases
}

// isModel reports whether a path of the output tree is a generated model:
// internal/protoc writes and tests those; the golden files hold the rest.
func isModel(rel string) bool {
	return strings.HasPrefix(rel, "models/") && strings.HasSuffix(rel, ".pb.go")
}

// generateCase copies a case to a temporary module, runs the generator on
// it and returns the module directory and the output directory.
func generateCase(t *testing.T, name string) (moduleDir, outDir string, res codegen.Result) {
	t.Helper()
	moduleDir = copyCase(t, filepath.Join("testdata", name))
	svc, set := load(t, filepath.Join(moduleDir, "docs", "kafmesh", "definition.yml"))
	files, err := codegen.Files(context.Background(), svc, set)
	if err != nil {
		t.Fatal(err)
	}
	res, err = codegen.Write(context.Background(), svc, files)
	if err != nil {
		t.Fatal(err)
	}
	return moduleDir, svc.Output.Dir, res
}

// TestGolden generates every case and compares the output directory (the
// models aside) with the case's expected/ tree; with -update it rewrites
// expected/ instead. Hand-written files in the output directory are part of
// the tree, so the stale case shows what gen keeps.
func TestGolden(t *testing.T) {
	for _, name := range goldenCases(t) {
		t.Run(name, func(t *testing.T) {
			_, outDir, _ := generateCase(t, name)
			got := readTree(t, outDir, isModel)
			expectedDir := filepath.Join("testdata", name, "expected")
			if *update {
				if err := os.RemoveAll(expectedDir); err != nil {
					t.Fatal(err)
				}
				writeTree(t, expectedDir, got)
				return
			}
			want := readTree(t, expectedDir, nil)
			if len(want) == 0 {
				t.Fatalf("%s is empty; run go test ./internal/codegen -run TestGolden -update", expectedDir)
			}
			for _, p := range sortedKeys(want) {
				if _, ok := got[p]; !ok {
					t.Errorf("gen did not write %s", p)
				}
			}
			for _, p := range sortedKeys(got) {
				w, ok := want[p]
				switch {
				case !ok:
					t.Errorf("gen wrote %s, which expected/ does not have", p)
				case w != got[p]:
					t.Errorf("%s differs from expected/ (go test ./internal/codegen -run TestGolden -update rewrites it):\n%s", p, firstDifference(w, got[p]))
				}
			}
		})
	}
}

// TestDeterministic generates every case twice: the files are
// byte-identical, and writing them again changes nothing on disk.
func TestDeterministic(t *testing.T) {
	for _, name := range goldenCases(t) {
		t.Run(name, func(t *testing.T) {
			moduleDir, outDir, _ := generateCase(t, name)
			before := readTree(t, outDir, nil)
			svc, set := load(t, filepath.Join(moduleDir, "docs", "kafmesh", "definition.yml"))
			first, err := codegen.Files(context.Background(), svc, set)
			if err != nil {
				t.Fatal(err)
			}
			svc2, set2 := load(t, filepath.Join(moduleDir, "docs", "kafmesh", "definition.yml"))
			second, err := codegen.Files(context.Background(), svc2, set2)
			if err != nil {
				t.Fatal(err)
			}
			if len(first) != len(second) {
				t.Fatalf("%d files, then %d", len(first), len(second))
			}
			for i := range first {
				if first[i].Path != second[i].Path || !bytes.Equal(first[i].Content, second[i].Content) {
					t.Errorf("%s differs between two runs", first[i].Path)
				}
			}
			res, err := codegen.Write(context.Background(), svc, second)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Written) > 0 || len(res.Removed) > 0 || res.Unchanged != len(second) {
				t.Errorf("second write: %+v, want nothing written or removed and %d unchanged", res, len(second))
			}
			if after := readTree(t, outDir, nil); !equalTrees(before, after) {
				t.Error("the output tree changed on the second run")
			}
		})
	}
}

// TestStaleFiles checks what gen does to the files it finds in the stale
// case: generated files of parts, components and .proto files that are
// gone are removed (with the folders they leave empty), outdated generated
// files are rewritten, and hand-written files stay, even one named .km.go,
// as do other tools' generated files in the models folder.
func TestStaleFiles(t *testing.T) {
	caseDir := filepath.Join("testdata", "stale", "internal", "definitions")
	_, outDir, res := generateCase(t, "stale")
	wantRemoved := []string{
		"internal/definitions/details/enricher_processor.km.mock.go",
		"internal/definitions/details/old_source.km.go",
		"internal/definitions/legacy/gone_view.km.go",
		"internal/definitions/models/kafmesh/old/old.pb.go",
		"internal/definitions/removed/gone_source.km.go",
	}
	if !slices.Equal(res.Removed, wantRemoved) {
		t.Errorf("removed %q\nwant %q", res.Removed, wantRemoved)
	}
	for _, p := range []string{"details/device_id_details_source.km.go", "service.km.go", "models/kafmesh/deviceId/details.pb.go"} {
		if !slices.Contains(res.Written, "internal/definitions/"+p) {
			t.Errorf("outdated %s was not rewritten (written: %q)", p, res.Written)
		}
	}
	for _, p := range []string{"details/handler.go", "details/notes.km.go", "legacy/README.md", "models/kafmesh/deviceId/extra.go", "models/kafmesh/deviceId/details_mock.go"} {
		want, err := os.ReadFile(filepath.Join(caseDir, p))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(outDir, p))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("hand-written %s was not kept as it was: %v", p, err)
		}
	}
	for _, dir := range []string{"removed", "models/kafmesh/old"} {
		if _, err := os.Stat(filepath.Join(outDir, dir)); !os.IsNotExist(err) {
			t.Errorf("folder %s should be gone with its last generated file: %v", dir, err)
		}
	}
}

func sortedKeys(m map[string]string) []string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func equalTrees(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// firstDifference shows the first differing line of two texts.
func firstDifference(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return "line " + strconv.Itoa(i+1) + ":\n  want: " + w + "\n  got:  " + g
		}
	}
	return "(same lines, different bytes)"
}
