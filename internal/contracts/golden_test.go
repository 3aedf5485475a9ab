package contracts

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kafmesh/kafmesh/internal/protoc"
)

var update = flag.Bool("update", false, "rewrite the expected findings of testdata/*/expected.txt")

// caseSpec is testdata/<case>/case.json: how each side uses the topic.
// Missing file or fields take the defaults of defaultCase.
type caseSpec struct {
	Topic  string   `json:"topic"`
	After  sideSpec `json:"after"`
	Before sideSpec `json:"before"`
}

type sideSpec struct {
	Message       string `json:"message"`
	Reads         bool   `json:"reads"`
	Writes        bool   `json:"writes"`
	Both          bool   `json:"both"`
	Raw           bool   `json:"raw"`
	Partitions    int32  `json:"partitions"`
	CoPartitioned bool   `json:"coPartitioned"`
}

func defaultCase() caseSpec {
	return caseSpec{
		Topic:  "test.orders",
		After:  sideSpec{Message: "test.Order", Writes: true, Reads: true},
		Before: sideSpec{Message: "test.Order", Both: true},
	}
}

func compileDir(t *testing.T, dir string) *protoc.Set {
	t.Helper()
	set, err := protoc.Compile(context.Background(), []string{dir}, protoc.WithWorkingDir(filepath.Dir(filepath.Dir(dir))))
	if err != nil {
		t.Fatalf("compile %s: %v", dir, err)
	}
	return set
}

func contractOf(name string, side sideSpec, topic string, set *protoc.Set) *Contract {
	return &Contract{
		Name: name, Both: side.Both, Descriptors: setResolver{set}, DisplayPath: set.SourcePath,
		Topics: map[string]*TopicUse{topic: {
			Topic: topic, Message: side.Message, Raw: side.Raw, Reads: side.Reads, Writes: side.Writes,
			Partitions: side.Partitions, CoPartitioned: side.CoPartitioned,
			File: "definition.yml", Line: 1, Col: 1,
		}},
	}
}

// TestGolden runs every case of testdata: it compiles before/ and after/,
// compares them as the case.json says and checks the findings against
// expected.txt (go test -run TestGolden -update rewrites them).
func TestGolden(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("testdata", "*"))
	if err != nil {
		t.Fatal(err)
	}
	cases := 0
	rules := map[string]bool{}
	for _, dir := range dirs {
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			continue
		}
		cases++
		t.Run(filepath.Base(dir), func(t *testing.T) {
			spec := defaultCase()
			if b, err := os.ReadFile(filepath.Join(dir, "case.json")); err == nil {
				spec = caseSpec{Topic: spec.Topic}
				if err := json.Unmarshal(b, &spec); err != nil {
					t.Fatalf("case.json: %v", err)
				}
			} else if !errors.Is(err, os.ErrNotExist) {
				t.Fatal(err)
			}
			before := contractOf("baseline", spec.Before, spec.Topic, compileDir(t, filepath.Join(dir, "before")))
			after := contractOf("the changed schema", spec.After, spec.Topic, compileDir(t, filepath.Join(dir, "after")))
			findings := Compare(after, before)
			var b strings.Builder
			for _, f := range findings {
				rules[f.Rule] = true
				b.WriteString(f.String())
				b.WriteByte('\n')
				if f.Category == "" || f.Rule == "" || f.Topic == "" || f.Other == "" {
					t.Errorf("incomplete finding %+v", f)
				}
			}
			got := b.String()
			path := filepath.Join(dir, "expected.txt")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -run TestGolden -update)", err)
			}
			if got != string(want) {
				t.Errorf("findings differ from %s\n--- got\n%s--- want\n%s", path, got, want)
			}
		})
	}
	if cases < 20 {
		t.Errorf("only %d golden cases, want at least 20", cases)
	}
	if !*update {
		for _, r := range Rules {
			if !rules[r.ID] {
				t.Errorf("no golden case produces rule %s", r.ID)
			}
		}
	}
}
