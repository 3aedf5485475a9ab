package protoc

import (
	"context"
	"testing"
)

// BenchmarkCompileAndGenerate measures a full `kafmesh gen` protobuf step on
// the small sample tree: compile three files (plus timestamp.proto) and
// generate their Go code and gRPC stubs.
func BenchmarkCompileAndGenerate(b *testing.B) {
	dir := b.TempDir()
	writeTree(b, dir, sampleTree)
	ctx := context.Background()
	layout := ModelsLayout("example.com/svc", "internal/definitions")
	b.ReportAllocs()
	for b.Loop() {
		set, err := Compile(ctx, []string{dir})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := set.Generate(ctx, layout); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCompile measures parsing and linking alone.
func BenchmarkCompile(b *testing.B) {
	dir := b.TempDir()
	writeTree(b, dir, sampleTree)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(ctx, []string{dir}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGenerate measures code generation from an already compiled set.
func BenchmarkGenerate(b *testing.B) {
	set := compileSample(b, nil)
	ctx := context.Background()
	layout := ModelsLayout("example.com/svc", "internal/definitions")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := set.Generate(ctx, layout); err != nil {
			b.Fatal(err)
		}
	}
}
