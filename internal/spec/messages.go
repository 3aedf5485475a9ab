package spec

import (
	"context"
	"slices"
	"strings"
)

// Messages answers which protobuf messages exist. internal/protoc provides
// one from the compiled .proto files; [NewMessageSet] is a fixed list.
type Messages interface {
	// Has reports whether a message of that full name
	// ("kafmesh.deviceId.Heartbeat") exists.
	Has(fullName string) bool
	// Names lists the full names of all messages, used to suggest the
	// closest ones when a ref names none.
	Names() []string
}

// MessagesByDirectory is implemented by Messages that know the directory of
// each .proto file. kafmesh 2021 found the message of a ref by the file's
// directory (protos/kafmesh/deviceId/) and not by its package line; with
// WithCompat(CompatKafmesh2021) a ref found only that way is a warning that
// says how to fix the package line, not an error.
type MessagesByDirectory interface {
	// InDirectory finds the top-level message called name in the .proto
	// files of dir (slash-separated, relative to a protobuf root, e.g.
	// "kafmesh/deviceId"). It returns the file as shown to the user and
	// the package its package line declares.
	InDirectory(dir, name string) (file, pkg string, ok bool)
}

// MessageLoader compiles the .proto files under the service's
// messages.protobuf directories (absolute paths, in the order written) and
// returns their messages. Problems in the .proto files are returned as
// diagnostics (they are merged with the definition's); an error is for
// failures that are not the user's input (a cancelled context). A loader
// that returns nil Messages makes [Load] skip the message checks.
type MessageLoader func(ctx context.Context, protoDirs []string) (Messages, Diagnostics, error)

// MessageSet is a fixed set of message full names.
type MessageSet struct {
	names []string
}

// NewMessageSet returns a set holding the given full names.
func NewMessageSet(fullNames ...string) *MessageSet {
	names := slices.Clone(fullNames)
	slices.Sort(names)
	return &MessageSet{names: slices.Compact(names)}
}

// Has reports whether the set holds fullName.
func (s *MessageSet) Has(fullName string) bool {
	_, ok := slices.BinarySearch(s.names, fullName)
	return ok
}

// Names returns the names, sorted.
func (s *MessageSet) Names() []string { return slices.Clone(s.names) }

// suggestMessages returns up to three known messages close to fullName: near
// typos of the whole name first, then messages of the same short name in
// other packages.
func suggestMessages(fullName string, known []string) []string {
	out := closestWithin(fullName, known, 3, func(c string) int { return max(2, len(c)/5) })
	short := fullName[strings.LastIndexByte(fullName, '.')+1:]
	for _, k := range known {
		if len(out) == 3 {
			break
		}
		if strings.EqualFold(k[strings.LastIndexByte(k, '.')+1:], short) && !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out
}
