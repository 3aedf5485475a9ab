package protoc

import (
	"fmt"
	"slices"
	"strings"

	"github.com/bufbuild/protocompile/linker"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// Set is a compiled, linked set of .proto files: the files found under the
// root directories plus the well-known types they import. A Set is immutable
// and safe for concurrent use.
type Set struct {
	// local holds the files under the roots, sorted by name.
	local []protoreflect.FileDescriptor
	// order holds every file's name, each after its imports.
	order []string
	// protos holds every file's descriptor proto (with source info for the
	// files under the roots). Never handed out without cloning.
	protos map[string]*descriptorpb.FileDescriptorProto
	// displays maps a local file's name to its path as the user opens it.
	displays map[string]string
	// messages indexes every message of every file, nested ones included.
	messages map[protoreflect.FullName]protoreflect.MessageDescriptor
	// localNames lists the messages declared under the roots, sorted.
	localNames []string
}

func newSet(linked linker.Files, displays map[string]string) (*Set, error) {
	s := &Set{
		protos:   map[string]*descriptorpb.FileDescriptorProto{},
		displays: displays,
		messages: map[protoreflect.FullName]protoreflect.MessageDescriptor{},
	}
	for _, f := range linked {
		s.local = append(s.local, f)
	}
	slices.SortFunc(s.local, func(a, b protoreflect.FileDescriptor) int {
		return strings.Compare(a.Path(), b.Path())
	})
	for _, f := range s.local {
		if err := s.add(f); err != nil {
			return nil, err
		}
		indexMessages(f.Messages(), func(md protoreflect.MessageDescriptor) {
			s.localNames = append(s.localNames, string(md.FullName()))
		})
	}
	slices.Sort(s.localNames)
	return s, nil
}

// add records f after its imports (depth first), so that order lists every
// file after its dependencies.
func (s *Set) add(f protoreflect.FileDescriptor) error {
	if _, done := s.protos[f.Path()]; done {
		return nil
	}
	imports := f.Imports()
	for i := range imports.Len() {
		if err := s.add(imports.Get(i).FileDescriptor); err != nil {
			return err
		}
	}
	var fdp *descriptorpb.FileDescriptorProto
	if res, ok := f.(linker.Result); ok {
		fdp = proto.Clone(res.FileDescriptorProto()).(*descriptorpb.FileDescriptorProto)
	} else {
		fdp = protodesc.ToFileDescriptorProto(f)
	}
	if fdp == nil {
		return fmt.Errorf("no descriptor for %q", f.Path())
	}
	s.protos[f.Path()] = fdp
	s.order = append(s.order, f.Path())
	indexMessages(f.Messages(), func(md protoreflect.MessageDescriptor) {
		s.messages[md.FullName()] = md
	})
	return nil
}

// indexMessages calls fn for every message in msgs and, recursively, the
// messages nested in them, leaving out synthetic map-entry messages.
func indexMessages(msgs protoreflect.MessageDescriptors, fn func(protoreflect.MessageDescriptor)) {
	for i := range msgs.Len() {
		md := msgs.Get(i)
		if md.IsMapEntry() {
			continue
		}
		fn(md)
		indexMessages(md.Messages(), fn)
	}
}

// Message returns the descriptor of the message with the given full name
// (for example "kafmesh.deviceId.Heartbeat"), looking in the files under the
// roots and in the well-known types they import.
func (s *Set) Message(fullName string) (protoreflect.MessageDescriptor, bool) {
	md, ok := s.messages[protoreflect.FullName(fullName)]
	return md, ok
}

// MessageNames returns the full names of every message declared in the files
// under the roots (nested messages included, well-known types not), sorted.
// Callers use it to suggest the closest name for a misspelt reference.
func (s *Set) MessageNames() []string {
	return slices.Clone(s.localNames)
}

// FileOf returns the descriptor of the file that declares the message with
// the given full name.
func (s *Set) FileOf(fullName string) (protoreflect.FileDescriptor, bool) {
	md, ok := s.Message(fullName)
	if !ok {
		return nil, false
	}
	return md.ParentFile(), true
}

// Files returns the files under the roots, sorted by name.
func (s *Set) Files() []protoreflect.FileDescriptor {
	return slices.Clone(s.local)
}

// SourcePath returns the path, as the user would open it, of the file under
// the roots with the given name (for example "kafmesh/deviceId/heartbeat.proto"),
// or "" when no such file was compiled.
func (s *Set) SourcePath(fileName string) string {
	return s.displays[fileName]
}

// DescriptorSet returns a FileDescriptorSet holding the files that declare
// the named messages and every file they import, transitively, each after
// its imports. It is what a reader needs to decode those messages without
// their generated code. Source info is left out. An unknown name is an error.
func (s *Set) DescriptorSet(messages ...string) (*descriptorpb.FileDescriptorSet, error) {
	need := map[string]bool{}
	var mark func(f protoreflect.FileDescriptor)
	mark = func(f protoreflect.FileDescriptor) {
		if need[f.Path()] {
			return
		}
		need[f.Path()] = true
		for i := range f.Imports().Len() {
			mark(f.Imports().Get(i).FileDescriptor)
		}
	}
	for _, name := range messages {
		f, ok := s.FileOf(name)
		if !ok {
			return nil, fmt.Errorf("unknown message %q", name)
		}
		mark(f)
	}
	set := &descriptorpb.FileDescriptorSet{}
	for _, name := range s.order {
		if !need[name] {
			continue
		}
		fdp := proto.Clone(s.protos[name]).(*descriptorpb.FileDescriptorProto)
		fdp.SourceCodeInfo = nil
		set.File = append(set.File, fdp)
	}
	return set, nil
}

// requestProtos returns fresh copies of every file's descriptor proto, each
// after its imports, for a code generator to own (protogen may rewrite them).
func (s *Set) requestProtos() []*descriptorpb.FileDescriptorProto {
	out := make([]*descriptorpb.FileDescriptorProto, len(s.order))
	for i, name := range s.order {
		out[i] = proto.Clone(s.protos[name]).(*descriptorpb.FileDescriptorProto)
	}
	return out
}
