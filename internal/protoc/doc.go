// Package protoc compiles .proto files and generates Go code from them
// without the protoc binary or any plugin on PATH.
//
// [Compile] parses and links every .proto file found under one or more root
// directories with github.com/bufbuild/protocompile; the well-known types
// (google/protobuf/timestamp.proto and friends) are always importable. The
// resulting [Set] answers lookups by message full name, and [Set.Generate]
// writes, in memory, the .pb.go files (through protoc-gen-go's own generator
// run in-process) and gRPC service stubs (_grpc.pb.go) for the files under
// the roots. Where the Go code goes is decided by a [Layout]: either the
// kafmesh models layout (<module>/<output>/models/<dir>) or each file's own
// go_package option.
//
// Compile errors are returned as [Diagnostics]: every error found, each with
// the file path as the user would open it and a 1-based line and column.
package protoc
