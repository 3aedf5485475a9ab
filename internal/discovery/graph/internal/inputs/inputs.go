// Package inputs hashes the inputs of gqlgen generate.
package inputs

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
)

// Files are gqlgen's inputs, relative to discovery/graph.
var Files = []string{"schema.graphql", "gqlgen.yml", "records.graphql"}

// Hash is the SHA-256 of the inputs' contents, in order, under dir.
func Hash(dir string) (string, error) {
	h := sha256.New()
	for _, f := range Files {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			return "", err
		}
		h.Write([]byte(f))
		h.Write([]byte{0})
		h.Write(b)
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
