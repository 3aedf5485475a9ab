package graph

//go:generate go tool gqlgen generate --config gqlgen.yml
//go:generate go run ./internal/schemahash
