package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The summary of a real `go test -json` run of a package with passing,
// failing and skipped tests and subtests, and of a package that does not build.
func TestSummarizesRealGoTestJSON(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go test on a generated module; skipped with -short")
	}
	dir := t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module example.com/sample\n\ngo 1.22\n")
	write("sample_test.go", `package sample

import "testing"

func TestPasses(t *testing.T) { t.Log("quiet when passing") }
func TestFails(t *testing.T)  { t.Log("context for the failure"); t.Error("boom") }
func TestSkips(t *testing.T)  { t.Skip("needs KAFMESH_TEST_NEO4J") }
func TestParent(t *testing.T) {
	t.Run("ok", func(t *testing.T) {})
	t.Run("bad", func(t *testing.T) { t.Error("sub boom") })
}
`)
	if err := os.Mkdir(filepath.Join(dir, "broken"), 0o755); err != nil {
		t.Fatal(err)
	}
	write("broken/broken_test.go", "package broken\n\nvar x int = \"not an int\"\n")
	cmd := exec.Command("go", "test", "-json", "-count=1", "./...")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=", "GOWORK=off")
	raw, _ := cmd.Output() // fails, as the sample does

	var out bytes.Buffer
	s := newSummarizer(&out, false)
	if err := s.run(bytes.NewReader(raw)); err != nil {
		t.Fatalf("run: %v\ninput:\n%s", err, raw)
	}
	got := out.String()
	lines := strings.Split(strings.TrimSpace(got), "\n")
	if last := lines[len(lines)-1]; last != "tests: 2 passed, 4 failed, 1 skipped" {
		t.Errorf("closing line = %q, want %q\n%s", last, "tests: 2 passed, 4 failed, 1 skipped", got)
	}
	for _, want := range []string{"boom", "context for the failure", "sub boom", "needs KAFMESH_TEST_NEO4J", "FAIL\texample.com/sample", "broken_test.go:3", "FAIL\texample.com/sample/broken [build failed]"} {
		if !strings.Contains(got, want) {
			t.Errorf("summary lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "quiet when passing") {
		t.Errorf("summary shows a passing test's log:\n%s", got)
	}
}

func TestRejectsInputThatIsNotJSON(t *testing.T) {
	var out bytes.Buffer
	s := newSummarizer(&out, false)
	err := s.run(strings.NewReader("{not json\n"))
	if err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("run on broken JSON: got %v, want an error naming line 1", err)
	}
}
