package contracts

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/kafmesh/kafmesh/internal/protoc"
	"github.com/kafmesh/kafmesh/internal/spec"
)

// BenchmarkCompareExample compares the example service (10 topics, every
// part kind) with a baseline of itself in both directions: the cost of
// `kafmesh check --against` once the schemas are compiled.
func BenchmarkCompareExample(b *testing.B) {
	def, _ := filepath.Abs(filepath.Join("..", "..", "examples", "devices", "docs", "kafmesh", "definition.yml"))
	var set *protoc.Set
	loader := func(ctx context.Context, dirs []string) (spec.Messages, spec.Diagnostics, error) {
		s, err := protoc.Compile(ctx, dirs)
		set = s
		if err != nil {
			return nil, nil, err
		}
		return spec.NewMessageSet(s.MessageNames()...), nil, nil
	}
	svc, diags, err := spec.Load(context.Background(), def, spec.WithMessageLoader(loader))
	if err != nil || diags.HasErrors() {
		b.Fatalf("%v %s", err, diags)
	}
	after := FromService("after", svc, set)
	before := FromService("before", svc, set)
	before.Both = true
	b.ReportAllocs()
	for b.Loop() {
		if f := Compare(after, before); len(f) != 0 {
			b.Fatalf("findings %v", f)
		}
	}
}
