package protoc

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// compileErrors compiles the given tree and returns its diagnostics,
// failing the test if compilation succeeds or fails another way.
func compileErrors(t *testing.T, files map[string]string) (Diagnostics, string) {
	t.Helper()
	dir := t.TempDir()
	writeTree(t, dir, files)
	set, err := Compile(context.Background(), []string{dir}, WithWorkingDir(dir))
	if err == nil {
		t.Fatalf("Compile succeeded with %d files, want errors", len(set.Files()))
	}
	var diags Diagnostics
	if !errors.As(err, &diags) {
		t.Fatalf("Compile error is %T (%v), want Diagnostics", err, err)
	}
	return diags, dir
}

func TestCompileErrorsCarryPositions(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{
			name: "syntax error",
			files: map[string]string{"a/broken.proto": `syntax = "proto3";
package a;
message A {
  string x = 1
}
`},
			want: []string{`a/broken.proto:5:1: syntax error: expecting ';'`},
		},
		{
			name: "unknown type",
			files: map[string]string{"a/unknown.proto": `syntax = "proto3";
package a;
message B {
  Nope n = 1;
    a.Missing m = 2;
}
`},
			want: []string{
				`a/unknown.proto:4:3: field a.B.n: unknown type Nope`,
				`a/unknown.proto:5:5: field a.B.m: unknown type a.Missing`,
			},
		},
		{
			name: "duplicate message",
			files: map[string]string{
				"a/one.proto": "syntax = \"proto3\";\npackage a;\nmessage Dup {}\n",
				"a/two.proto": "syntax = \"proto3\";\npackage a;\n\n  message Dup {}\n",
			},
			want: []string{`a/two.proto:4:11: symbol "a.Dup" already defined at a/one.proto:3:9`},
		},
		{
			name: "missing import",
			files: map[string]string{"a/imp.proto": `syntax = "proto3";
package a;
import "google/protobuf/timestamp.proto";
import "b/nothere.proto";
message C { google.protobuf.Timestamp t = 1; }
`},
			want: []string{`a/imp.proto:4:8: imported file "b/nothere.proto" not found (searched ROOT and the well-known types)`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			diags, dir := compileErrors(t, tt.files)
			var got []string
			for _, d := range diags {
				got = append(got, strings.ReplaceAll(d.String(), dir, "ROOT"))
			}
			want := make([]string, len(tt.want))
			for i, w := range tt.want {
				want[i] = filepath.FromSlash(w)
			}
			if !slices.Equal(got, want) {
				t.Errorf("diagnostics:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

// Every broken file is reported in one run, sorted, and a file that only
// imports a broken one is not blamed.
func TestCompileReportsAllErrorsSorted(t *testing.T) {
	diags, _ := compileErrors(t, map[string]string{
		"z.proto":      "syntax = \"proto3\";\npackage z;\nmessage Z { Unknown u = 1; }\n",
		"b.proto":      "syntax = \"proto3\";\npackage b;\nmessage B {\n",
		"a.proto":      "syntax = \"proto3\";\npackage a;\nimport \"gone.proto\";\n",
		"c/user.proto": "syntax = \"proto3\";\npackage c;\nimport \"b.proto\";\nmessage U { b.B b = 1; }\n",
		"d.proto":      "syntax = \"proto3\";\npackage d;\nimport \"missing/one.proto\";\nimport \"missing/two.proto\";\n",
	})
	want := []struct{ file, prefix string }{
		{"a.proto", `imported file "gone.proto" not found`},
		{"b.proto", "syntax error: unexpected"},
		{"d.proto", `imported file "missing/one.proto" not found`},
		{"d.proto", `imported file "missing/two.proto" not found`},
		{"z.proto", "field z.Z.u: unknown type Unknown"},
	}
	if len(diags) != len(want) {
		t.Fatalf("got %d diagnostics, want %d:\n%v", len(diags), len(want), diags)
	}
	for i, w := range want {
		if diags[i].File != w.file || !strings.HasPrefix(diags[i].Message, w.prefix) {
			t.Errorf("diagnostic %d = %v, want %s: %s...", i, diags[i], w.file, w.prefix)
		}
	}
	if diags[2].Line != 3 || diags[3].Line != 4 {
		t.Errorf("missing imports reported at lines %d and %d, want 3 and 4", diags[2].Line, diags[3].Line)
	}
}

func TestCompileDiagnosticPaths(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"msgs/x/bad.proto": "syntax = \"proto3\";\nmessage {\n"})
	root := filepath.Join(dir, "msgs")

	_, err := Compile(context.Background(), []string{root}, WithWorkingDir(dir))
	var diags Diagnostics
	if !errors.As(err, &diags) || len(diags) == 0 {
		t.Fatalf("want diagnostics, got %v", err)
	}
	if want := filepath.Join("msgs", "x", "bad.proto"); diags[0].File != want {
		t.Errorf("file relative to working dir = %q, want %q", diags[0].File, want)
	}

	_, err = Compile(context.Background(), []string{root}, WithWorkingDir(t.TempDir()))
	if !errors.As(err, &diags) || len(diags) == 0 {
		t.Fatalf("want diagnostics, got %v", err)
	}
	abs := filepath.Join(root, "x", "bad.proto")
	if diags[0].File != abs {
		t.Errorf("file outside working dir = %q, want absolute %q", diags[0].File, abs)
	}
	if !strings.HasPrefix(diags[0].String(), abs+":2:") {
		t.Errorf("String() = %q, want file:line:col prefix", diags[0].String())
	}
}

func TestCompileRootProblems(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"one/a/x.proto":                       "syntax = \"proto3\";\npackage a;\n",
		"two/a/x.proto":                       "syntax = \"proto3\";\npackage a;\n",
		"two/google/protobuf/timestamp.proto": "syntax = \"proto3\";\npackage google.protobuf;\n",
	})
	_, err := Compile(context.Background(), []string{
		filepath.Join(dir, "one"), filepath.Join(dir, "two"), filepath.Join(dir, "absent"),
	}, WithWorkingDir(dir))
	var diags Diagnostics
	if !errors.As(err, &diags) {
		t.Fatalf("want diagnostics, got %v", err)
	}
	got := diags.Error()
	for _, part := range []string{
		"absent: protobuf directory does not exist",
		filepath.Join("two", "a", "x.proto") + `: "a/x.proto" is also found at ` + filepath.Join("one", "a", "x.proto"),
		filepath.Join("two", "google", "protobuf", "timestamp.proto") + `: "google/protobuf/timestamp.proto" is a well-known type`,
	} {
		if !strings.Contains(got, part) {
			t.Errorf("diagnostics\n%s\nlack %q", got, part)
		}
	}
}

func TestCompileCancelled(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, sampleTree)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Compile(ctx, []string{dir}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Compile with cancelled context = %v, want context.Canceled", err)
	}
}

func TestLookup(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, sampleTree)
	set, err := Compile(context.Background(), []string{dir})
	if err != nil {
		t.Fatal(err)
	}

	wantNames := []string{
		"kafmesh.api.v1.Count",
		"kafmesh.api.v1.GetRequest",
		"kafmesh.deviceId.Details",
		"kafmesh.deviceId.Heartbeat",
		"kafmesh.deviceId.Heartbeat.Location",
	}
	if got := set.MessageNames(); !slices.Equal(got, wantNames) {
		t.Errorf("MessageNames() = %v, want %v", got, wantNames)
	}

	md, ok := set.Message("kafmesh.deviceId.Heartbeat")
	if !ok {
		t.Fatal("Heartbeat not found")
	}
	if f := md.Fields().ByName("time"); f == nil || f.Message().FullName() != "google.protobuf.Timestamp" {
		t.Errorf("Heartbeat.time does not resolve to google.protobuf.Timestamp: %v", f)
	}
	if f := md.Fields().ByName("status"); f == nil || f.Kind() != protoreflect.EnumKind || f.Enum().Values().Len() != 3 {
		t.Errorf("Heartbeat.status is not the 3-value Status enum: %v", f)
	}
	if _, ok := set.Message("google.protobuf.Timestamp"); !ok {
		t.Error("well-known type google.protobuf.Timestamp not found by Message")
	}
	if _, ok := set.Message("kafmesh.deviceId.heartbeat"); ok {
		t.Error("lookup must be exact; found lowercase heartbeat")
	}
	if _, ok := set.Message("kafmesh.deviceId.Heartbeat.CountersEntry"); ok {
		t.Error("map entry messages must not be listed")
	}

	fd, ok := set.FileOf("kafmesh.deviceId.Heartbeat.Location")
	if !ok || fd.Path() != "kafmesh/deviceId/heartbeat.proto" {
		t.Errorf("FileOf(Location) = %v, %v", fd, ok)
	}
	if want := filepath.Join(dir, "kafmesh", "deviceId", "heartbeat.proto"); set.SourcePath(fd.Path()) != want {
		t.Errorf("SourcePath = %q, want %q", set.SourcePath(fd.Path()), want)
	}
	if loc := fd.SourceLocations().ByDescriptor(md); loc.StartLine != 6 {
		t.Errorf("source info: Heartbeat starts on 0-based line %d, want 6", loc.StartLine)
	}

	var paths []string
	for _, f := range set.Files() {
		paths = append(paths, f.Path())
	}
	if want := []string{"kafmesh/api/v1/devices.proto", "kafmesh/deviceId/details.proto", "kafmesh/deviceId/heartbeat.proto"}; !slices.Equal(paths, want) {
		t.Errorf("Files() = %v, want %v", paths, want)
	}
}

func TestDescriptorSet(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, sampleTree)
	set, err := Compile(context.Background(), []string{dir})
	if err != nil {
		t.Fatal(err)
	}
	fds, err := set.DescriptorSet("kafmesh.api.v1.Count")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range fds.File {
		names = append(names, f.GetName())
		if f.SourceCodeInfo != nil {
			t.Errorf("%s keeps source info", f.GetName())
		}
	}
	want := []string{"google/protobuf/timestamp.proto", "kafmesh/deviceId/heartbeat.proto", "kafmesh/api/v1/devices.proto"}
	if !slices.Equal(names, want) {
		t.Errorf("files = %v, want %v (dependencies first)", names, want)
	}
	// The set must stand on its own: build a registry from it and find the
	// message's field types.
	files, err := protodesc.NewFiles(fds)
	if err != nil {
		t.Fatalf("descriptor set does not stand alone: %v", err)
	}
	d, err := files.FindDescriptorByName("kafmesh.deviceId.Heartbeat")
	if err != nil || d.(protoreflect.MessageDescriptor).Fields().Len() != 4 {
		t.Errorf("Heartbeat from descriptor set: %v, %v", d, err)
	}
	if _, err := set.DescriptorSet("kafmesh.nope"); err == nil {
		t.Error("unknown message accepted")
	}
}
