package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestMain lets the tests run this binary as the real kafmesh command: with
// KAFMESH_RUN_MAIN=1 the test binary is main.
func TestMain(m *testing.M) {
	if os.Getenv("KAFMESH_RUN_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// kafmesh runs the command as a separate process in dir.
func kafmesh(t *testing.T, dir string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "KAFMESH_RUN_MAIN=1")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		code = exit.ExitCode()
	default:
		t.Fatal(err)
	}
	return code, out.String(), errOut.String()
}

var diagnosticLine = regexp.MustCompile(`^[^:\s]+:\d+:\d+: .+$`)

func TestCheckExitStatus(t *testing.T) {
	cases, _ := filepath.Abs("../../internal/spec/testdata")

	code, stdout, stderr := kafmesh(t, filepath.Join(cases, "topic_conflict"), "check", "definition.yml")
	if code != 1 {
		t.Errorf("exit status %d, want 1", code)
	}
	if stdout != "" {
		t.Errorf("stdout %q", stdout)
	}
	lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 diagnostics, got:\n%s", stderr)
	}
	for _, l := range lines {
		if !diagnosticLine.MatchString(l) {
			t.Errorf("not a file:line:col: message line: %q", l)
		}
	}
	if !strings.HasPrefix(lines[0], "components/b.yaml:8:21: topic \"kafmesh.deviceId.heartbeat\" has conflicting partitions") ||
		!strings.HasPrefix(lines[1], "components/b.yaml:11:5: topic \"kafmesh.customerId.egressEndpoint\" has conflicting compact") {
		t.Errorf("unexpected diagnostics:\n%s", stderr)
	}

	// An absolute path works from anywhere.
	code, _, stderr = kafmesh(t, t.TempDir(), "check", filepath.Join(cases, "warn_table_not_compacted", "definition.yml"))
	if code != 0 || !strings.Contains(stderr, ": warning: join topic \"kafmesh.deviceId.customer\" is read as a table") {
		t.Errorf("warnings only: exit %d, stderr:\n%s", code, stderr)
	}
	if !strings.HasPrefix(stderr, filepath.Join(cases, "warn_table_not_compacted", "components", "assignments.yaml")+":10:9: ") {
		t.Errorf("a file outside the working directory is shown with its absolute path:\n%s", stderr)
	}
}

func TestUnknownCommand(t *testing.T) {
	code, _, stderr := kafmesh(t, t.TempDir(), "chek")
	if code != 1 || !strings.Contains(stderr, `unknown command "chek"`) {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}
