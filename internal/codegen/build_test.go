package codegen_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestGoldenBuilds generates every case into one temporary module,
// example.com/golden, that requires this checkout of kafmesh (a replace
// directive), with each case in the folder its module path names
// (example.com/golden/<case>), and runs go build and go vet on it: the
// generated code of every case, with the hand-written files beside it,
// compiles against the runtime as it is now, and the tests of the full
// case's hand-written handlers pass with the generated fakes.
func TestGoldenBuilds(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a temporary module with the go command; run without -short")
	}
	goTool := goCommand(t)
	module := t.TempDir()
	for _, name := range goldenCases(t) {
		moduleDir, _, _ := generateCase(t, name)
		gomod, err := os.ReadFile(filepath.Join(moduleDir, "go.mod"))
		if err != nil {
			t.Fatal(err)
		}
		if want := "module example.com/golden/" + name + "\n"; !strings.HasPrefix(string(gomod), want) {
			t.Fatalf("testdata/%s/go.mod must start with %q", name, want)
		}
		files := readTree(t, moduleDir, func(rel string) bool { return rel == "go.mod" })
		writeTree(t, filepath.Join(module, name), files)
	}
	writeTempModule(t, goTool, module, "example.com/golden")
	runGo(t, goTool, module, "build", "./...")
	runGo(t, goTool, module, "vet", "./...")
	// The full case has hand-written handlers whose tests use the fakes.
	if out := runGo(t, goTool, module, "test", "-count=1", "./full/handlers/"); !strings.Contains(out, "ok  \texample.com/golden/full/handlers") {
		t.Errorf("the handler tests of the full case did not run:\n%s", out)
	}
	// The compat2021 case has a service written against the kafmesh 2021
	// names, unchanged: it compiles against output.compat and its tests pass.
	if out := runGo(t, goTool, module, "test", "-count=1", "./compat2021/handlers2021/"); !strings.Contains(out, "ok  \texample.com/golden/compat2021/handlers2021") {
		t.Errorf("the 2021-style service's tests did not run:\n%s", out)
	}
}

// goCommand returns the go command, or skips the test without one.
func goCommand(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not on PATH; install Go to run this test")
	}
	return goTool
}

// checkoutRoot is the root of this kafmesh checkout.
func checkoutRoot(t testing.TB) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "runner", "service.go")); err != nil {
		t.Fatalf("%s is not the kafmesh checkout: %v", root, err)
	}
	return root
}

// writeTempModule writes go.mod (requiring this checkout through a replace
// directive) and go.sum (the checkout's, which covers every module needed,
// so nothing is verified over the network) into dir.
func writeTempModule(t testing.TB, goTool, dir, module string) {
	t.Helper()
	root := checkoutRoot(t)
	goVersion := strings.TrimSpace(runGoIn(t, goTool, root, "list", "-m", "-f", "{{.GoVersion}}"))
	writeTree(t, dir, map[string]string{
		"go.mod": fmt.Sprintf("module %s\n\ngo %s\n\nrequire github.com/kafmesh/kafmesh v0.0.0-00010101000000-000000000000\n\nreplace github.com/kafmesh/kafmesh => %s\n",
			module, goVersion, filepath.ToSlash(root)),
	})
	if sum, err := os.ReadFile(filepath.Join(root, "go.sum")); err == nil {
		writeTree(t, dir, map[string]string{"go.sum": string(sum)})
	}
}

// goEnv is the environment of go commands run in temporary modules:
// -mod=mod lets the go command complete go.mod from the module cache.
func goEnv() []string {
	return append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod -buildvcs=false")
}

func runGo(t testing.TB, goTool, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command(goTool, args...)
	cmd.Dir = dir
	cmd.Env = goEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go %s in %s: %v\n%s", strings.Join(args, " "), dir, err, out)
	}
	return string(out)
}

func runGoIn(t testing.TB, goTool, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command(goTool, args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go %s in %s: %v", strings.Join(args, " "), dir, err)
	}
	return string(out)
}

func commandIn(name, dir string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	return cmd
}
