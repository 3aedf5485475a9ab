package harness

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteDocsCreatesTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "benchmarks.md")
	if err := WriteDocs(path, SectionHeading+"\n\nfirst\n"); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(b), "# Benchmarks\n") || !strings.Contains(string(b), SectionHeading+"\n\nfirst\n") {
		t.Fatalf("new file:\n%s", b)
	}
}

func TestWriteDocsReplacesOnlyItsSection(t *testing.T) {
	path := filepath.Join(t.TempDir(), "benchmarks.md")
	before := "# Benchmarks\n\n## Runtime\n\nrunner numbers\n\n" + SectionHeading + "\n\nold table\n### Method\nold\n\n## Codegen\n\ngen numbers\n"
	if err := os.WriteFile(path, []byte(before), 0o644); err != nil {
		t.Fatal(err)
	}
	for range 2 { // replacing twice changes nothing more
		if err := WriteDocs(path, SectionHeading+"\n\nnew table\n"); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := os.ReadFile(path)
	want := "# Benchmarks\n\n## Runtime\n\nrunner numbers\n\n" + SectionHeading + "\n\nnew table\n\n## Codegen\n\ngen numbers\n"
	if string(b) != want {
		t.Fatalf("got:\n%s\nwant:\n%s", b, want)
	}
}

func TestWriteDocsAppendsWhenMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "benchmarks.md")
	if err := os.WriteFile(path, []byte("# Benchmarks\n\n## Runtime\n\nx\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteDocs(path, SectionHeading+"\n\nnew\n"); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if string(b) != "# Benchmarks\n\n## Runtime\n\nx\n\n"+SectionHeading+"\n\nnew\n" {
		t.Fatalf("got:\n%s", b)
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}
