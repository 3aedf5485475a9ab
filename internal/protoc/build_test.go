package protoc

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// roundTripTest is a test, run inside the temporary module, that marshals a
// generated message and calls every kind of rpc over an in-memory gRPC
// connection.
//
//go:embed testdata/roundtrip_test.go.txt
var roundTripTest []byte

// TestGeneratedCodeBuildsAndRuns writes the generated code of sampleTree into
// a fresh module that requires the protobuf and grpc versions of this
// repository, then runs go build, go vet and go test there.
func TestGeneratedCodeBuildsAndRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a temporary module with the go command; run without -short")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not on PATH; install Go to run this test")
	}

	const module = "example.com/meshcheck"
	files, err := compileSample(t, nil).Generate(context.Background(), ModelsLayout(module, "internal/definitions"))
	if err != nil {
		t.Fatal(err)
	}

	mainGoVersion, mainGoSum := mainModuleInfo(t, goTool)
	protobufVersion := moduleVersion(t, goTool, "google.golang.org/protobuf")
	grpcVersion := moduleVersion(t, goTool, "google.golang.org/grpc")

	dir := t.TempDir()
	tree := map[string]string{
		"go.mod": fmt.Sprintf("module %s\n\ngo %s\n\nrequire (\n\tgoogle.golang.org/grpc %s\n\tgoogle.golang.org/protobuf %s\n)\n",
			module, mainGoVersion, grpcVersion, protobufVersion),
		"internal/definitions/roundtrip_test.go": string(roundTripTest),
	}
	// The main module's go.sum covers every module the temporary one needs,
	// so nothing has to be verified over the network.
	if sum, err := os.ReadFile(mainGoSum); err == nil {
		tree["go.sum"] = string(sum)
	}
	for _, f := range files {
		tree[f.Path] = string(f.Content)
	}
	writeTree(t, dir, tree)

	env := append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod -buildvcs=false")
	for _, args := range [][]string{{"build", "./..."}, {"vet", "./..."}, {"test", "-count=1", "./..."}} {
		cmd := exec.Command(goTool, args...)
		cmd.Dir = dir
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go %s failed: %v\n%s", strings.Join(args, " "), err, out)
		}
		if args[0] == "test" && !bytes.Contains(out, []byte("ok  \t"+module+"/internal/definitions")) {
			t.Fatalf("go test did not run the round-trip test:\n%s", out)
		}
	}
}

// mainModuleInfo returns the go directive and go.sum path of the module this
// package belongs to.
func mainModuleInfo(t *testing.T, goTool string) (goVersion, goSum string) {
	t.Helper()
	out := goList(t, goTool, "-m", "-f", "{{.GoVersion}} {{.GoMod}}")
	version, goMod, ok := strings.Cut(out, " ")
	if !ok {
		t.Fatalf("unexpected go list output %q", out)
	}
	return version, filepath.Join(filepath.Dir(goMod), "go.sum")
}

// moduleVersion returns the version of a module this repository requires.
func moduleVersion(t *testing.T, goTool, module string) string {
	t.Helper()
	return goList(t, goTool, "-m", "-f", "{{.Version}}", module)
}

func goList(t *testing.T, goTool string, args ...string) string {
	t.Helper()
	out, err := exec.Command(goTool, append([]string{"list"}, args...)...).Output()
	if err != nil {
		t.Fatalf("go list %v: %v", args, err)
	}
	return strings.TrimSpace(string(out))
}
