package harness

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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

// The standing compares medians against the goals and, with repeats, gives
// each round's ratio against the bare loop's run of the same round.
func TestStandingVerdictsAndRounds(t *testing.T) {
	res := func(name, label string, walls ...time.Duration) Result {
		var runs []Result
		for _, w := range walls {
			runs = append(runs, Result{Workload: "w1", Contender: Contender{Name: name, Label: label}, Items: 1000, Wall: w})
		}
		return median(runs)
	}
	rep := &Report{Results: []Result{
		// 1000/s, 500/s, 250/s: median 500/s
		res("kafmesh", "kafmesh at-least-once", time.Second, 2*time.Second, 4*time.Second),
		// 250/s in every round
		res("kafmesh-eos", "kafmesh exactly-once", 4*time.Second, 4*time.Second, 4*time.Second),
		// 1000/s, 1000/s, 500/s: median 1000/s
		res("franz", "franz-go loop", time.Second, time.Second, 2*time.Second),
		// 500/s in every round
		res("franz-eos", "franz-go transactional loop", 2*time.Second, 2*time.Second, 2*time.Second),
	}}
	got := rep.Standing()
	for _, want := range []string{
		"kafmesh at-least-once runs W1 at 0.50× the bare franz-go loop: it **misses the goal of 0.85×**.",
		"kafmesh exactly-once runs W1 at 0.50× the bare transactional loop: it **misses the goal of 0.85×**.",
		"Round by round, against the bare loop's run of the same round: kafmesh at-least-once 1.00×, 0.50×, 0.50×; kafmesh exactly-once 0.25×, 0.25×, 0.50×.",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("standing lacks %q:\n%s", want, got)
		}
	}
	rep.Results[0] = res("kafmesh", "kafmesh at-least-once", time.Second, time.Second, time.Second)
	if got := rep.Standing(); !strings.Contains(got, "runs W1 at 1.00× the bare franz-go loop: it meets the goal of 0.85×.") {
		t.Errorf("a kafmesh as fast as the loop does not meet the bar:\n%s", got)
	}
}
