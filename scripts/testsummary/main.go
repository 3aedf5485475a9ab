// Command testsummary turns the event stream of `go test -json` into the
// output people read, and ends it with the counts:
//
//	go test -json ./... | testsummary [-v]
//
// It prints each package's result line (ok, FAIL, no test files), build
// errors, the full output of every failed test and the reason of every
// skipped top-level test, then one closing line:
//
//	tests: 41 passed, 0 failed, 3 skipped
//
// Subtests count like tests; a package that fails without a failing test
// (it does not build, or panics outside a test) counts as one failure, so the
// closing line never says "0 failed" about a failed run. With -v it also prints the output of tests that
// passed. It exits 0 whatever the tests did (the caller takes the result
// from go test's exit code) and 2 if its input is not a go test -json stream.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// event is one line of `go test -json` (see `go doc test2json`).
type event struct {
	Action     string
	Package    string
	ImportPath string // build-output and build-fail events
	Test       string
	Output     string
}

type counts struct{ passed, failed, skipped int }

// summarizer keeps each running test's output until the test ends, so only
// the output of failed (and skipped) tests is printed.
type summarizer struct {
	out     io.Writer
	verbose bool
	pending map[string][]string // package + "\x00" + test -> output lines
	counts  counts
	// failedTests counts each package's failed tests, so a package that
	// fails without one (build error, panic in init, TestMain) still counts.
	failedTests map[string]int
}

func main() {
	verbose := flag.Bool("v", false, "also print the output of passing tests")
	flag.Parse()
	s := newSummarizer(os.Stdout, *verbose)
	if err := s.run(os.Stdin); err != nil {
		fmt.Fprintf(os.Stderr, "testsummary: %v\n", err)
		os.Exit(2)
	}
}

func newSummarizer(out io.Writer, verbose bool) *summarizer {
	return &summarizer{out: out, verbose: verbose, pending: map[string][]string{}, failedTests: map[string]int{}}
}

func (s *summarizer) run(in io.Reader) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	line := 0
	for sc.Scan() {
		line++
		raw := sc.Bytes()
		if len(raw) == 0 || raw[0] != '{' {
			// go test prints some errors (e.g. bad flags) as plain text.
			fmt.Fprintln(s.out, string(raw))
			continue
		}
		var ev event
		if err := json.Unmarshal(raw, &ev); err != nil {
			return fmt.Errorf("line %d: not a go test -json event: %v", line, err)
		}
		s.handle(ev)
	}
	if err := sc.Err(); err != nil {
		return err
	}
	fmt.Fprintf(s.out, "tests: %d passed, %d failed, %d skipped\n", s.counts.passed, s.counts.failed, s.counts.skipped)
	return nil
}

func (s *summarizer) handle(ev event) {
	switch {
	case ev.Action == "build-output":
		fmt.Fprint(s.out, ev.Output)
	case ev.Test == "" && ev.Action == "output":
		// Package-level lines: "ok  pkg 1.2s", "FAIL pkg", panics, TestMain
		// output. The bare PASS/FAIL go test prints before them is noise.
		if ev.Output != "PASS\n" && ev.Output != "FAIL\n" {
			fmt.Fprint(s.out, ev.Output)
		}
	case ev.Test == "" && ev.Action == "fail":
		// A package failed: show what its unfinished tests printed (a
		// timeout or panic ends them without a result event), and count
		// the package as one failure if no test of it failed.
		s.flushPackage(ev.Package)
		if s.failedTests[ev.Package] == 0 {
			s.counts.failed++
		}
	case ev.Test != "":
		s.handleTest(ev)
	}
}

func (s *summarizer) handleTest(ev event) {
	key := ev.Package + "\x00" + ev.Test
	switch ev.Action {
	case "output":
		if s.verbose {
			fmt.Fprint(s.out, ev.Output)
			return
		}
		s.pending[key] = append(s.pending[key], ev.Output)
	case "pass":
		s.counts.passed++
		delete(s.pending, key)
	case "fail":
		s.counts.failed++
		s.failedTests[ev.Package]++
		s.print(ev.Package, s.pending[key])
		delete(s.pending, key)
	case "skip":
		s.counts.skipped++
		if !strings.Contains(ev.Test, "/") {
			s.print(ev.Package, withoutRunLines(s.pending[key]))
		}
		delete(s.pending, key)
	}
}

// flushPackage prints and forgets the output of tests of pkg that never ended.
func (s *summarizer) flushPackage(pkg string) {
	for key, lines := range s.pending {
		if strings.HasPrefix(key, pkg+"\x00") {
			s.print(pkg, lines)
			delete(s.pending, key)
		}
	}
}

func (s *summarizer) print(pkg string, lines []string) {
	if len(lines) == 0 {
		return
	}
	fmt.Fprintf(s.out, "# %s\n", pkg)
	for _, l := range lines {
		fmt.Fprint(s.out, l)
	}
}

func withoutRunLines(lines []string) []string {
	var kept []string
	for _, l := range lines {
		if !strings.HasPrefix(l, "=== ") {
			kept = append(kept, l)
		}
	}
	return kept
}
