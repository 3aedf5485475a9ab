package mesh

import "google.golang.org/protobuf/reflect/protoreflect"

// MessageDescriptorOf returns the descriptor of the message with the full
// name, chosen as MessageSchema chooses (a service reporting a topic of
// that message first), or nil when no service sent descriptors declaring
// it. Operator pages decode record values with it.
func (g *Graph) MessageDescriptorOf(name string) protoreflect.MessageDescriptor {
	if name == "" {
		return nil
	}
	s := g.MessageSchema(name)
	if s == nil {
		return nil
	}
	files := g.schemaIndex().files[s.Service]
	if files == nil {
		return nil
	}
	d, err := files.FindDescriptorByName(protoreflect.FullName(name))
	if err != nil {
		return nil
	}
	md, _ := d.(protoreflect.MessageDescriptor)
	return md
}
