package spec

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// FuzzLoad feeds arbitrary definition and component bytes to the loader:
// it must never panic, always name a file and a line for a problem, and
// return a usable service whenever it reports no error.
//
// Run it with a short minimization budget, since every input reads files:
//
//	go test ./internal/spec -run '^$' -fuzz FuzzLoad -fuzzminimizetime 50x
func FuzzLoad(f *testing.F) {
	for _, c := range []string{"good", "warn_compat", "unknown_key", "bad_values", "yaml_syntax"} {
		def, err := os.ReadFile(filepath.Join("testdata", c, "definition.yml"))
		if err != nil {
			f.Fatal(err)
		}
		comps, _ := filepath.Glob(filepath.Join("testdata", c, "components", "*.yaml"))
		for _, comp := range comps {
			src, err := os.ReadFile(comp)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(def, src)
		}
	}
	f.Add([]byte(""), []byte(""))
	f.Add([]byte("a: &x [*x]\n"), []byte("<<: *nope"))
	f.Add([]byte(minimalDefinition), []byte("name: x\nprocessors:\n  - &p {name: a, inputs: [{message: a.b}]}\n  - *p\n"))

	// One directory per fuzzing process, rewritten for every input: the
	// files that do not change are written once.
	// The seeds' "../protos" and minimalDefinition's "protos" both exist.
	root := f.TempDir()
	dir := filepath.Join(root, "case")
	writeTree(f, root, map[string]string{
		"go.mod":                     "module example.com/fuzz\n",
		"protos/kafmesh/.keep":       "",
		"case/protos/.keep":          "",
		"case/components/other.yaml": minimalComponent,
	})
	f.Fuzz(func(t *testing.T, def, comp []byte) {
		writeTree(t, dir, map[string]string{
			"definition.yml":    string(def),
			"components/c.yaml": string(comp),
		})
		start := time.Now()
		svc, diags, err := Load(context.Background(), "definition.yml", WithWorkDir(dir), WithMessages(testMessages()))
		if took := time.Since(start); took > 2*time.Second {
			t.Fatalf("Load took %v", took)
		}
		if err != nil {
			t.Fatalf("Load returned an error for a readable definition: %v", err)
		}
		for _, d := range diags {
			if d.File == "" || d.Line < 1 || d.Col < 1 || d.Message == "" {
				t.Errorf("diagnostic without a place or message: %#v", d)
			}
		}
		if !slices.IsSortedFunc(diags, func(a, b Diagnostic) int {
			if a.File != b.File {
				return map[bool]int{true: -1, false: 1}[a.File < b.File]
			}
			return (a.Line*1_000_000 + a.Col) - (b.Line*1_000_000 + b.Col)
		}) {
			t.Errorf("diagnostics not sorted:\n%s", diags)
		}
		if diags.HasErrors() {
			return
		}
		if svc == nil {
			t.Fatal("no error but no service")
		}
		for _, c := range svc.Components {
			if goPackageProblem(c.Package) != "" {
				t.Errorf("component package %q accepted", c.Package)
			}
			for _, p := range c.Processors {
				if p.GoName == "" || p.Group == "" || len(p.Inputs) == 0 {
					t.Errorf("processor accepted without Go name, group or inputs: %+v", p)
				}
			}
		}
		for _, tp := range svc.Topics {
			if topicProblem(tp.Name) != "" {
				t.Errorf("topic %q accepted", tp.Name)
			}
			for _, e := range tp.Uses {
				if e.GoName == "" || (tp.Owned && e.Settings == nil) {
					t.Errorf("entry %+v accepted without a Go name or settings", e)
				}
			}
		}
	})
}
