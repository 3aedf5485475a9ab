package graph

import (
	"testing"

	"github.com/kafmesh/kafmesh/internal/discovery/graph/internal/inputs"
)

// generated.go must come from the current schema.graphql and gqlgen.yml.
func TestGeneratedCodeIsFresh(t *testing.T) {
	sum, err := inputs.Hash(".")
	if err != nil {
		t.Fatal(err)
	}
	if sum != generatedFrom {
		t.Fatal("schema.graphql or gqlgen.yml changed since the code was generated: run `go generate ./internal/discovery/graph` and commit the result")
	}
}
