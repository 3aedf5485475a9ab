package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestMain(m *testing.M) {
	if os.Getenv("KAFMESH_GEN_RUN_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// TestBrokenDefinition runs kafmesh-gen as the 2021 tool was invoked, with
// the definition path as its one argument.
func TestBrokenDefinition(t *testing.T) {
	dir, _ := filepath.Abs("../../internal/spec/testdata/processor_no_inputs")
	want, err := os.ReadFile(filepath.Join(dir, "expected.golden"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "definition.yml")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "KAFMESH_GEN_RUN_MAIN=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("want exit status 1, got %v", err)
	}
	if stderr.String() != string(want) {
		t.Errorf("stderr:\n%s\nwant:\n%s", stderr.String(), want)
	}
	if !strings.HasPrefix(stderr.String(), "components/heartbeats.yaml:3:5: ") {
		t.Errorf("stderr = %q", stderr.String())
	}
}
