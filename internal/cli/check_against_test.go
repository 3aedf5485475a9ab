package cli

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/kafmesh/kafmesh/internal/contracts"
	"github.com/kafmesh/kafmesh/internal/protoc"
)

// orderService is a small service: a source of orders and a processor
// that reads them with a join and state (so the topic is co-partitioned).
func orderService(proto string, partitions int) map[string]string {
	return map[string]string{
		"go.mod":                      "module example.com/shop\n",
		"docs/kafmesh/definition.yml": "name: shop\noutput:\n  package: gen\n  path: gen\nmessages:\n  protobuf:\n    - protos\ncomponents:\n  - components/*.yaml\ndefaults:\n  partition: " + strconv.Itoa(partitions) + "\n",
		"docs/kafmesh/components/orders.yaml": `name: orders
sources:
  - message: orderId.order
processors:
  - name: totals
    inputs:
      - message: orderId.order
    outputs:
      - message: orderId.total
    persistence:
      message: orderId.total
`,
		"docs/kafmesh/protos/shop/orderId/order.proto": proto,
		"docs/kafmesh/protos/shop/orderId/total.proto": "syntax = \"proto3\";\npackage shop.orderId;\nmessage Total {\n  int64 cents = 1;\n}\n",
	}
}

const orderV1 = `syntax = "proto3";
package shop.orderId;
message Order {
  string id = 1;
  int64 cents = 2;
  string customer = 3;
}
`

// orderV2 changes cents to a string and drops customer.
const orderV2 = `syntax = "proto3";
package shop.orderId;
message Order {
  string id = 1;
  string cents = 2;
}
`

func gitRun(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}

// TestCheckAgainstGit commits a service, changes a message and checks the
// working tree against git:HEAD: the type change and the removed field are
// reported at their position in the changed .proto, the exit status is 1;
// against the unchanged tree it is 0.
func TestCheckAgainstGit(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	dir := t.TempDir()
	writeFiles(t, dir, orderService(orderV1, 4))
	gitRun(t, dir, "init", "-q", "-b", "main")
	gitRun(t, dir, "add", ".")
	gitRun(t, dir, "commit", "-q", "-m", "v1")

	if r := execute(t, dir, nil, NewCheckCommand, "--against", "git:main"); r.code != 0 || r.stdout != "" {
		t.Fatalf("unchanged: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	writeFiles(t, dir, orderService(orderV2, 8))
	r := execute(t, dir, nil, NewCheckCommand, "--against", "git:main")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1; stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		"docs/kafmesh/protos/shop/orderId/order.proto:5:3: WIRE FIELD_TYPE_CHANGED: field 2 Order.cents is string for the changed schema but int64 for git:main",
		"docs/kafmesh/protos/shop/orderId/order.proto:3:1: WIRE FIELD_REMOVED: field 3 \"customer\" of Order is not in the changed schema",
		"TOPIC PARTITIONS_CHANGED: partition count 8, git:main has 4",
		"(topic shop.orderId.order, read by git:main)",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("missing %q in:\n%s", want, r.stdout)
		}
	}
	if !strings.Contains(r.stderr, "breaking change(s) against git:main") {
		t.Errorf("stderr %q", r.stderr)
	}

	if r := execute(t, dir, nil, NewCheckCommand, "--against", "git:nosuchref"); r.code != 1 || !strings.Contains(r.stderr, `no commit "nosuchref"`) {
		t.Errorf("unknown ref: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := execute(t, dir, nil, NewCheckCommand, "--against", "git:--output=/tmp/x"); r.code != 1 || !strings.Contains(r.stderr, "is not a git ref") {
		t.Errorf("option as ref: exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestCheckAgainstDescriptorSet writes the old messages as a
// FileDescriptorSet and checks the changed service against it, in JSON.
func TestCheckAgainstDescriptorSet(t *testing.T) {
	old := t.TempDir()
	writeFiles(t, old, orderService(orderV1, 4))
	set, err := protoc.Compile(context.Background(), []string{filepath.Join(old, "docs/kafmesh/protos")})
	if err != nil {
		t.Fatal(err)
	}
	fds, err := set.DescriptorSet("shop.orderId.Order", "shop.orderId.Total")
	if err != nil {
		t.Fatal(err)
	}
	b, err := proto.Marshal(fds)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeFiles(t, dir, orderService(orderV2, 4))
	if err := os.WriteFile(filepath.Join(dir, "old.binpb"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	r := execute(t, dir, nil, NewCheckCommand, "--against", "old.binpb", "--format", "json")
	if r.code != 1 {
		t.Fatalf("exit %d; stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	var out struct {
		Against  []string            `json:"against"`
		Findings []contracts.Finding `json:"findings"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, r.stdout)
	}
	rules := map[string]bool{}
	for _, f := range out.Findings {
		rules[f.Rule] = true
		if f.File != "docs/kafmesh/protos/shop/orderId/order.proto" || f.Line == 0 || f.Topic != "shop.orderId.order" || f.Other != "old.binpb" {
			t.Errorf("finding %+v", f)
		}
	}
	if !rules["FIELD_TYPE_CHANGED"] || !rules["FIELD_REMOVED"] || len(out.Against) != 1 {
		t.Errorf("findings %+v", out)
	}
	// Only the JSON mapping category: the wire findings are left out.
	r = execute(t, dir, nil, NewCheckCommand, "--against", "old.binpb", "--category", "WIRE_JSON")
	if strings.Contains(r.stdout, "WIRE FIELD") || !strings.Contains(r.stdout, "FIELD_REMOVED_NAME_NOT_RESERVED") {
		t.Errorf("--category WIRE_JSON: %s", r.stdout)
	}

	if err := os.WriteFile(filepath.Join(dir, "bad.binpb"), []byte("not a descriptor set"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := execute(t, dir, nil, NewCheckCommand, "--against", "bad.binpb"); r.code != 1 || !strings.Contains(r.stderr, "--against bad.binpb: not a serialized FileDescriptorSet") {
		t.Errorf("bad file: exit %d stderr %q", r.code, r.stderr)
	}
	if r := execute(t, dir, nil, NewCheckCommand, "--against", "old.binpb", "--format", "yaml"); r.code != 1 || !strings.Contains(r.stderr, "unknown format") {
		t.Errorf("bad format: exit %d stderr %q", r.code, r.stderr)
	}
}

// copyTree copies the regular files under src to dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestCheckAgainstDiscover runs kafmesh dev in process (the example
// service on an embedded broker, scraped by a real discover), then checks
// a copy of the example's definition with a changed heartbeat against
// discover's GraphQL API: the live service and its pod are named as the
// reader and writer the change breaks.
func TestCheckAgainstDiscover(t *testing.T) {
	if testing.Short() {
		t.Skip("starts kafmesh dev")
	}
	info := startDevMesh(t)

	dir := t.TempDir()
	copyTree(t, filepath.Join("..", "..", "examples", "devices", "docs"), filepath.Join(dir, "docs"))
	writeFiles(t, dir, map[string]string{"go.mod": "module example.com/devices\n"})
	if r := execute(t, dir, nil, NewCheckCommand, "--against", info); r.code != 0 {
		t.Fatalf("the unchanged example against its own live service: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	hb := filepath.Join(dir, "docs", "protos", "kafmesh", "deviceId", "heartbeat.proto")
	b, err := os.ReadFile(hb)
	if err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(string(b), "bool is_healthy = 2;", "string is_healthy = 2;", 1)
	if changed == string(b) {
		t.Fatal("heartbeat.proto changed upstream; update the test")
	}
	writeFiles(t, dir, map[string]string{"docs/protos/kafmesh/deviceId/heartbeat.proto": changed})
	r := execute(t, dir, nil, NewCheckCommand, "--against", info, "--format", "json")
	if r.code != 1 {
		t.Fatalf("exit %d; stdout %s stderr %s", r.code, r.stdout, r.stderr)
	}
	var out struct {
		Findings []contracts.Finding `json:"findings"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatal(err)
	}
	var readBy, writtenBy bool
	for _, f := range out.Findings {
		if f.Rule != "FIELD_TYPE_CHANGED" || f.Topic != "kafmesh.deviceId.heartbeat" {
			t.Errorf("unexpected finding %+v", f)
			continue
		}
		if f.File != "docs/protos/kafmesh/deviceId/heartbeat.proto" || f.Line != 10 || f.Col != 3 {
			t.Errorf("position %s:%d:%d", f.File, f.Line, f.Col)
		}
		if !strings.HasPrefix(f.Other, "service kafmesh (pods 127.0.0.1:") {
			t.Errorf("other side %q, want the live service with its pod", f.Other)
		}
		readBy = readBy || f.Direction == "writes-to"
		writtenBy = writtenBy || f.Direction == "reads-from"
	}
	if !readBy || !writtenBy {
		t.Errorf("want both directions (the live source writes, the live enricher reads): %+v", out.Findings)
	}

	if r := execute(t, dir, nil, NewCheckCommand, "--against", "http://127.0.0.1:1"); r.code != 1 || !strings.Contains(r.stderr, "query discover") {
		t.Errorf("unreachable discover: exit %d stderr %q", r.code, r.stderr)
	}
}
