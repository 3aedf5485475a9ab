package codegen_test

import (
	"context"
	"testing"

	"github.com/kafmesh/kafmesh/internal/codegen"
)

// BenchmarkGenerateExample measures what `kafmesh gen` does for
// examples/devices, in memory: load and validate the definition and its
// three components, compile the 11 .proto files, and render the models,
// the gRPC stubs and every kafmesh file. Only writing to disk is left out
// (it writes nothing when nothing changed).
func BenchmarkGenerateExample(b *testing.B) {
	def := exampleDefinition(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		svc, set, diags, err := loadDefinition(ctx, def)
		if err != nil || diags.HasErrors() {
			b.Fatal(err, diags)
		}
		if _, err := codegen.Files(ctx, svc, set); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRenderExample measures the kafmesh part alone: the component
// and service packages and the models from an already loaded definition.
func BenchmarkRenderExample(b *testing.B) {
	svc, set := load(b, exampleDefinition(b))
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := codegen.Files(ctx, svc, set); err != nil {
			b.Fatal(err)
		}
	}
}
