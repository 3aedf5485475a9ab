package mesh

import (
	"fmt"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

// MessageSchema describes a protobuf message as a service reported it in
// its file descriptor set.
type MessageSchema struct {
	// Name is the full message name.
	Name string
	// File is the .proto file that declares it.
	File string
	// Service is the id of the service whose descriptors were used.
	Service string
	Fields  []FieldSchema
}

// FieldSchema is one field of a message.
type FieldSchema struct {
	Name     string
	JSONName string
	Number   int
	// Type is the scalar kind ("string", "int64", …) or, for message and
	// enum fields, the full name of the message or enum.
	Type string
	// Label is "optional", "repeated" or "map" (then Type is the map entry's
	// value type and KeyType its key type).
	Label   string
	KeyType string
	// Oneof names the oneof the field belongs to, if any.
	Oneof string
}

// schemaIndex holds, per service with descriptors, its parsed files; a
// service whose descriptors do not parse is skipped (and its error kept).
type schemaIndex struct {
	files map[string]*protoregistry.Files // service id → files
	order []string                        // service ids, sorted by name
	errs  map[string]error
}

func (g *Graph) schemaIndex() *schemaIndex {
	g.schemasOnce.Do(func() {
		idx := &schemaIndex{files: map[string]*protoregistry.Files{}, errs: map[string]error{}}
		for _, s := range g.byKind[KindService] {
			if len(s.Descriptors) == 0 {
				continue
			}
			files, err := parseDescriptors(s.Descriptors)
			if err != nil {
				idx.errs[s.ID] = err
				continue
			}
			idx.files[s.ID] = files
			idx.order = append(idx.order, s.ID)
		}
		g.schemas = idx
	})
	return g.schemas
}

// ParseDescriptors parses a serialized FileDescriptorSet into a registry of
// files, failing with the reason when it is not a valid, complete set.
func parseDescriptors(b []byte) (*protoregistry.Files, error) {
	set := &descriptorpb.FileDescriptorSet{}
	if err := proto.Unmarshal(b, set); err != nil {
		return nil, fmt.Errorf("file descriptor set: %w", err)
	}
	files, err := protodesc.NewFiles(set)
	if err != nil {
		return nil, fmt.Errorf("file descriptor set: %w", err)
	}
	return files, nil
}

// ValidateDescriptors reports whether b is a valid serialized
// FileDescriptorSet (empty is valid: services of the 2021 kafmesh send none).
func ValidateDescriptors(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	_, err := parseDescriptors(b)
	return err
}

// MessageSchema returns the schema of the message with the full name, from
// the descriptors of the first service (by name) that declares it; a
// service that reports a topic of that message is preferred. It returns nil
// when no service sent descriptors declaring it.
func (g *Graph) MessageSchema(name string) *MessageSchema {
	md, svc := g.MessageDescriptor(name)
	if md == nil {
		return nil
	}
	return describeMessage(md, svc)
}

// MessageDescriptor returns the descriptor of the message with the full
// name and the id of the service whose descriptors declared it, chosen as
// MessageSchema chooses; nil and "" when no service sent descriptors
// declaring it. The descriptor's file and its imports resolve in
// MessageFiles of that service.
func (g *Graph) MessageDescriptor(name string) (protoreflect.MessageDescriptor, string) {
	if name == "" {
		return nil, ""
	}
	idx := g.schemaIndex()
	preferred := map[string]bool{}
	for _, t := range g.byKind[KindTopic] {
		if t.Message != name {
			continue
		}
		for _, p := range append(g.Producers(t.ID), g.Consumers(t.ID)...) {
			if s := g.ServiceOf(p.ID); s != nil {
				preferred[s.ID] = true
			}
		}
	}
	try := func(svc string) protoreflect.MessageDescriptor {
		d, err := idx.files[svc].FindDescriptorByName(protoreflect.FullName(name))
		if err != nil {
			return nil
		}
		md, _ := d.(protoreflect.MessageDescriptor)
		return md
	}
	for _, svc := range idx.order {
		if preferred[svc] {
			if md := try(svc); md != nil {
				return md, svc
			}
		}
	}
	for _, svc := range idx.order {
		if md := try(svc); md != nil {
			return md, svc
		}
	}
	return nil, ""
}

// MessageFiles returns the parsed descriptors the service with this id
// reported (nil when it sent none, or none that parse): what resolves the
// messages a value of MessageDescriptor may embed (google.protobuf.Any).
func (g *Graph) MessageFiles(service string) *protoregistry.Files {
	return g.schemaIndex().files[service]
}

func describeMessage(md protoreflect.MessageDescriptor, service string) *MessageSchema {
	s := &MessageSchema{Name: string(md.FullName()), File: md.ParentFile().Path(), Service: service}
	fields := md.Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		f := FieldSchema{Name: string(fd.Name()), JSONName: fd.JSONName(), Number: int(fd.Number()), Type: fieldType(fd), Label: "optional"}
		switch {
		case fd.IsMap():
			f.Label = "map"
			f.KeyType = fieldType(fd.MapKey())
			f.Type = fieldType(fd.MapValue())
		case fd.IsList():
			f.Label = "repeated"
		}
		if o := fd.ContainingOneof(); o != nil && !o.IsSynthetic() {
			f.Oneof = string(o.Name())
		}
		s.Fields = append(s.Fields, f)
	}
	return s
}

func fieldType(fd protoreflect.FieldDescriptor) string {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return string(fd.Message().FullName())
	case protoreflect.EnumKind:
		return string(fd.Enum().FullName())
	}
	return fd.Kind().String()
}
