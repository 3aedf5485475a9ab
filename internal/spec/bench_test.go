package spec

import (
	"context"
	"testing"
)

// BenchmarkLoad measures loading and validating the example service (three
// component files) with an in-memory message set.
func BenchmarkLoad(b *testing.B) {
	msgs := testMessages()
	for b.Loop() {
		_, diags, err := Load(context.Background(), "testdata/good/definition.yml", WithMessages(msgs))
		if err != nil || len(diags) > 0 {
			b.Fatalf("err=%v diags=%s", err, diags)
		}
	}
}
