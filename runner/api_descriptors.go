package runner

import (
	"slices"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

// descriptorSet returns the serialized FileDescriptorSet of the files that
// declare the protobuf messages of refs, with every file they import,
// transitively: each file after the files it imports, each file once.
// Messages are looked up in files (the definition's) first, then among the
// files linked into the binary. It also returns the names it found no
// descriptor for, sorted.
func descriptorSet(files []protoreflect.FileDescriptor, refs []TopicRef) ([]byte, []string, error) {
	byPath := map[string]protoreflect.FileDescriptor{}
	for _, f := range files {
		if _, ok := byPath[f.Path()]; !ok {
			byPath[f.Path()] = f
		}
	}
	findFile := func(path string) protoreflect.FileDescriptor {
		if f, ok := byPath[path]; ok {
			return f
		}
		if f, err := protoregistry.GlobalFiles.FindFileByPath(path); err == nil {
			return f
		}
		return nil
	}

	var set descriptorpb.FileDescriptorSet
	added := map[string]bool{}
	var add func(f protoreflect.FileDescriptor)
	add = func(f protoreflect.FileDescriptor) {
		if added[f.Path()] {
			return
		}
		added[f.Path()] = true
		imports := f.Imports()
		for i := 0; i < imports.Len(); i++ {
			dep := imports.Get(i).FileDescriptor
			if dep.IsPlaceholder() {
				if dep = findFile(dep.Path()); dep == nil {
					continue // unknown import: the file still lists it by name
				}
			}
			add(dep)
		}
		set.File = append(set.File, protodesc.ToFileDescriptorProto(f))
	}

	var missing []string
	seen := map[string]bool{}
	for _, r := range refs {
		if r.Type != TopicProtobuf || r.Message == "" || seen[r.Message] {
			continue
		}
		seen[r.Message] = true
		f := messageFile(files, protoreflect.FullName(r.Message))
		if f == nil {
			missing = append(missing, r.Message)
			continue
		}
		add(f)
	}
	slices.Sort(missing)
	if len(set.File) == 0 {
		return nil, missing, nil
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(&set)
	return b, missing, err
}

// messageFile returns the file that declares message name: one of files,
// or one linked into the binary.
func messageFile(files []protoreflect.FileDescriptor, name protoreflect.FullName) protoreflect.FileDescriptor {
	for _, f := range files {
		if !inPackage(f.Package(), name) {
			continue
		}
		if md := findMessage(f.Messages(), name); md != nil {
			return f
		}
	}
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(name)
	if err != nil {
		return nil
	}
	if md, ok := d.(protoreflect.MessageDescriptor); ok {
		return md.ParentFile()
	}
	return nil
}

func inPackage(pkg, name protoreflect.FullName) bool {
	return pkg == "" || (len(name) > len(pkg) && name[:len(pkg)] == pkg && name[len(pkg)] == '.')
}

// findMessage finds a message, nested ones included, by full name.
func findMessage(ms protoreflect.MessageDescriptors, name protoreflect.FullName) protoreflect.MessageDescriptor {
	for i := 0; i < ms.Len(); i++ {
		m := ms.Get(i)
		if m.FullName() == name {
			return m
		}
		if n := m.FullName(); len(name) > len(n) && name[:len(n)] == n && name[len(n)] == '.' {
			if nested := findMessage(m.Messages(), name); nested != nil {
				return nested
			}
		}
	}
	return nil
}
