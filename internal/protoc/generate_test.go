package protoc

import (
	"bytes"
	"context"
	"go/format"
	"slices"
	"strings"
	"testing"
)

// compileSample compiles sampleTree (plus extra files) in a temp dir.
func compileSample(t testing.TB, extra map[string]string) *Set {
	t.Helper()
	dir := t.TempDir()
	writeTree(t, dir, sampleTree)
	writeTree(t, dir, extra)
	set, err := Compile(context.Background(), []string{dir})
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func fileByPath(files []File, path string) (File, bool) {
	i := slices.IndexFunc(files, func(f File) bool { return f.Path == path })
	if i < 0 {
		return File{}, false
	}
	return files[i], true
}

func TestGenerateModelsLayout(t *testing.T) {
	set := compileSample(t, map[string]string{
		// A file at the root of the tree lands in models itself; a directory
		// that is not an identifier gets a sanitized package name.
		"top.proto":            "syntax = \"proto3\";\npackage top;\nmessage Top { string a = 1; }\n",
		"weird-dir/w.proto":    "syntax = \"proto3\";\npackage weird;\noption go_package = \"ignored.example/whatever;nope\";\nmessage W { string a = 1; }\n",
		"kafmesh/type/t.proto": "syntax = \"proto3\";\npackage kafmesh.typ;\nmessage T { string a = 1; }\n",
	})
	files, err := set.Generate(context.Background(), ModelsLayout("example.com/svc", "internal/definitions"))
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, f := range files {
		paths = append(paths, f.Path)
	}
	wantPaths := []string{
		"internal/definitions/models/kafmesh/api/v1/devices.pb.go",
		"internal/definitions/models/kafmesh/api/v1/devices_grpc.pb.go",
		"internal/definitions/models/kafmesh/deviceId/details.pb.go",
		"internal/definitions/models/kafmesh/deviceId/heartbeat.pb.go",
		"internal/definitions/models/kafmesh/type/t.pb.go",
		"internal/definitions/models/top.pb.go",
		"internal/definitions/models/weird-dir/w.pb.go",
	}
	if !slices.Equal(paths, wantPaths) {
		t.Fatalf("paths:\n%s\nwant:\n%s", strings.Join(paths, "\n"), strings.Join(wantPaths, "\n"))
	}

	wantPackage := map[string]string{
		"internal/definitions/models/kafmesh/api/v1/devices.pb.go":      "package v1\n",
		"internal/definitions/models/kafmesh/api/v1/devices_grpc.pb.go": "package v1\n",
		"internal/definitions/models/kafmesh/deviceId/heartbeat.pb.go":  "package deviceId\n",
		"internal/definitions/models/kafmesh/type/t.pb.go":              "package type_\n",
		"internal/definitions/models/top.pb.go":                         "package models\n",
		"internal/definitions/models/weird-dir/w.pb.go":                 "package weird_dir\n",
	}
	for path, pkg := range wantPackage {
		f, _ := fileByPath(files, path)
		if !bytes.Contains(f.Content, []byte("\n"+pkg)) {
			t.Errorf("%s does not declare %q", path, strings.TrimSpace(pkg))
		}
	}

	devices, _ := fileByPath(files, "internal/definitions/models/kafmesh/api/v1/devices.pb.go")
	heartbeat, _ := fileByPath(files, "internal/definitions/models/kafmesh/deviceId/heartbeat.pb.go")
	for _, check := range []struct {
		file File
		want string
	}{
		{devices, `"example.com/svc/internal/definitions/models/kafmesh/deviceId"`},
		{heartbeat, `"google.golang.org/protobuf/types/known/timestamppb"`},
		{heartbeat, "type Heartbeat_Location struct"},
		{heartbeat, "Status_STATUS_FAILING Status = 2"},
		{heartbeat, "// Heartbeat is sent by a device every few seconds."},
	} {
		if !bytes.Contains(check.file.Content, []byte(check.want)) {
			t.Errorf("%s lacks %s", check.file.Path, check.want)
		}
	}

	for _, f := range files {
		formatted, err := format.Source(f.Content)
		if err != nil {
			t.Errorf("%s does not parse: %v", f.Path, err)
		} else if !bytes.Equal(formatted, f.Content) {
			t.Errorf("%s is not gofmt-clean", f.Path)
		}
		if bytes.Contains(f.Content, []byte("protoc  ")) || bytes.Contains(f.Content, []byte("(unknown)")) {
			t.Errorf("%s keeps the protoc version line", f.Path)
		}
		if !bytes.HasPrefix(f.Content, []byte("// Code generated ")) || !bytes.Contains(f.Content, []byte(" DO NOT EDIT.\n")) {
			t.Errorf("%s lacks the generated-code header", f.Path)
		}
	}
}

func TestGenerateGRPCStubs(t *testing.T) {
	set := compileSample(t, nil)
	files, err := set.Generate(context.Background(), ModelsLayout("example.com/svc", "gen"))
	if err != nil {
		t.Fatal(err)
	}
	stubs, ok := fileByPath(files, "gen/models/kafmesh/api/v1/devices_grpc.pb.go")
	if !ok {
		t.Fatal("no _grpc.pb.go for the file with a service")
	}
	src := string(stubs.Content)
	for _, want := range []string{
		"const _ = grpc.SupportPackageIsVersion9",
		`Devices_Get_FullMethodName    = "/kafmesh.api.v1.Devices/Get"`,
		"func NewDevicesClient(cc grpc.ClientConnInterface) DevicesClient",
		"Get(ctx context.Context, in *GetRequest, opts ...grpc.CallOption) (*deviceId.Heartbeat, error)",
		"Watch(ctx context.Context, in *GetRequest, opts ...grpc.CallOption) (grpc.ServerStreamingClient[deviceId.Heartbeat], error)",
		"Upload(ctx context.Context, opts ...grpc.CallOption) (grpc.ClientStreamingClient[deviceId.Heartbeat, Count], error)",
		"Echo(ctx context.Context, opts ...grpc.CallOption) (grpc.BidiStreamingClient[GetRequest, GetRequest], error)",
		"Watch(*GetRequest, grpc.ServerStreamingServer[deviceId.Heartbeat]) error",
		"type UnimplementedDevicesServer struct{}",
		"func RegisterDevicesServer(s grpc.ServiceRegistrar, srv DevicesServer)",
		`ServiceName: "kafmesh.api.v1.Devices"`,
		`{MethodName: "Get", Handler: handleDevicesGet}`,
		`{StreamName: "Watch", Handler: handleDevicesWatch, ServerStreams: true, ClientStreams: false}`,
		`{StreamName: "Echo", Handler: handleDevicesEcho, ServerStreams: true, ClientStreams: true}`,
		"&Devices_ServiceDesc.Streams[2], Devices_Echo_FullMethodName",
		`Metadata: "kafmesh/api/v1/devices.proto"`,
		"\t// Get returns the last heartbeat of a device.\n\tGet(",
		"\t// Deprecated: Do not use.\n\tOld(",
		"// Devices serves device data.\ntype DevicesClient interface",
	} {
		if !strings.Contains(src, want) {
			t.Errorf("stubs lack %q", want)
		}
	}
	for _, f := range files {
		if strings.HasSuffix(f.Path, "_grpc.pb.go") && f.Path != stubs.Path {
			t.Errorf("stubs generated for a file without services: %s", f.Path)
		}
	}
}

func TestGenerateIsDeterministic(t *testing.T) {
	layout := ModelsLayout("example.com/svc", "internal/definitions")
	first, err := compileSample(t, nil).Generate(context.Background(), layout)
	if err != nil {
		t.Fatal(err)
	}
	// A fresh compile (another temp dir, so another absolute root) must
	// not change a byte; nor must generating twice from one Set.
	set := compileSample(t, nil)
	for range 3 {
		again, err := set.Generate(context.Background(), layout)
		if err != nil {
			t.Fatal(err)
		}
		if len(again) != len(first) {
			t.Fatalf("%d files, then %d", len(first), len(again))
		}
		for i := range first {
			if first[i].Path != again[i].Path || !bytes.Equal(first[i].Content, again[i].Content) {
				t.Fatalf("%s differs between runs", first[i].Path)
			}
		}
	}
}

func TestGenerateGoPackageLayout(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{
		"acme/a/v1/a.proto": `syntax = "proto3";
package acme.a.v1;
option go_package = "example.com/acme/api/a/v1;av1";
import "google/protobuf/empty.proto";
message A { string x = 1; }
service AService { rpc Do(google.protobuf.Empty) returns (A); }
`,
		"acme/b/v1/b.proto": `syntax = "proto3";
package acme.b.v1;
option go_package = "example.com/acme/api/b/v1";
import "acme/a/v1/a.proto";
service BService { rpc Get(acme.a.v1.A) returns (acme.a.v1.A); }
`,
	})
	set, err := Compile(context.Background(), []string{dir})
	if err != nil {
		t.Fatal(err)
	}
	files, err := set.Generate(context.Background(), GoPackageLayout("example.com/acme"))
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, f := range files {
		paths = append(paths, f.Path)
	}
	want := []string{"api/a/v1/a.pb.go", "api/a/v1/a_grpc.pb.go", "api/b/v1/b.pb.go", "api/b/v1/b_grpc.pb.go"}
	if !slices.Equal(paths, want) {
		t.Fatalf("paths = %v, want %v", paths, want)
	}
	b, _ := fileByPath(files, "api/b/v1/b_grpc.pb.go")
	for _, s := range []string{"package v1\n", `v1 "example.com/acme/api/a/v1"`, "Get(ctx context.Context, in *v1.A"} {
		if !bytes.Contains(b.Content, []byte(s)) {
			t.Errorf("b_grpc.pb.go lacks %q", s)
		}
	}
	a, _ := fileByPath(files, "api/a/v1/a_grpc.pb.go")
	if !bytes.Contains(a.Content, []byte("\npackage av1\n")) {
		t.Error("a_grpc.pb.go does not use the package name from go_package")
	}
	if !bytes.Contains(a.Content, []byte(`emptypb "google.golang.org/protobuf/types/known/emptypb"`)) {
		t.Error("a_grpc.pb.go does not use emptypb for google.protobuf.Empty")
	}

	if _, err := set.Generate(context.Background(), GoPackageLayout("example.com/other")); err == nil ||
		!strings.Contains(err.Error(), `go_package "example.com/acme/api/a/v1" is outside module "example.com/other"`) {
		t.Errorf("go_package outside the module: err = %v", err)
	}
}

func TestGenerateGoPackageMissing(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"x/x.proto": "syntax = \"proto3\";\npackage x;\nmessage X {}\n"})
	set, err := Compile(context.Background(), []string{dir})
	if err != nil {
		t.Fatal(err)
	}
	_, err = set.Generate(context.Background(), GoPackageLayout("example.com/m"))
	if err == nil || !strings.Contains(err.Error(), "x.proto: no go_package option") {
		t.Errorf("err = %v, want a missing go_package error naming the file", err)
	}
}

func TestLayoutValidation(t *testing.T) {
	set := compileSample(t, nil)
	for _, layout := range []Layout{
		ModelsLayout("", "internal/definitions"),
		ModelsLayout("example.com/m", ""),
		ModelsLayout("example.com/m", "../outside"),
		ModelsLayout("example.com/m", "/abs"),
		ModelsLayout("example.com/m", "a//b"),
		GoPackageLayout(""),
	} {
		if _, err := set.Generate(context.Background(), layout); err == nil {
			t.Errorf("layout %+v accepted", layout)
		}
	}
}

func TestGoTypes(t *testing.T) {
	set := compileSample(t, nil)
	types, err := set.GoTypes(ModelsLayout("example.com/svc", "internal/definitions"))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]GoType{
		"kafmesh.deviceId.Heartbeat":          {"example.com/svc/internal/definitions/models/kafmesh/deviceId", "deviceId", "Heartbeat"},
		"kafmesh.deviceId.Heartbeat.Location": {"example.com/svc/internal/definitions/models/kafmesh/deviceId", "deviceId", "Heartbeat_Location"},
		"kafmesh.api.v1.GetRequest":           {"example.com/svc/internal/definitions/models/kafmesh/api/v1", "v1", "GetRequest"},
		"google.protobuf.Timestamp":           {"google.golang.org/protobuf/types/known/timestamppb", "timestamppb", "Timestamp"},
	} {
		if got := types[name]; got != want {
			t.Errorf("GoTypes()[%s] = %+v, want %+v", name, got, want)
		}
	}
	if _, ok := types["kafmesh.deviceId.Heartbeat.CountersEntry"]; ok {
		t.Error("map entry listed")
	}
}

func TestGoIdentifier(t *testing.T) {
	for in, want := range map[string]string{
		"deviceId": "deviceId", "v1": "v1", "1x": "_1x", "a-b.c": "a_b_c", "type": "type_", "": "_", "héllo": "héllo",
	} {
		if got := goIdentifier(in); got != want {
			t.Errorf("goIdentifier(%q) = %q, want %q", in, got, want)
		}
	}
}
