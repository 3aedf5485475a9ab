package export

import (
	"fmt"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

func parseSet(b []byte) (*protoregistry.Files, error) {
	set := &descriptorpb.FileDescriptorSet{}
	if err := proto.Unmarshal(b, set); err != nil {
		return nil, err
	}
	return protodesc.NewFiles(set)
}

// protoText renders, as .proto source, the message and every message and
// enum it refers to (transitively, well-known types excepted): one
// self-contained schema with fully qualified type names, grouped by
// package. It is regenerated from descriptors, so comments and options are
// not kept.
func protoText(md protoreflect.MessageDescriptor) string {
	var order []protoreflect.Descriptor
	seen := map[protoreflect.FullName]bool{}
	imports := map[string]bool{}
	var visit func(d protoreflect.Descriptor)
	visit = func(d protoreflect.Descriptor) {
		top := topLevel(d)
		if seen[top.FullName()] {
			return
		}
		if strings.HasPrefix(string(top.ParentFile().Package()), "google.protobuf") {
			imports[top.ParentFile().Path()] = true
			seen[top.FullName()] = true
			return
		}
		seen[top.FullName()] = true
		order = append(order, top)
		walkTypes(top, visit)
	}
	visit(md)
	var b strings.Builder
	b.WriteString("syntax = \"proto3\";\n")
	for _, imp := range sortedSet(imports) {
		fmt.Fprintf(&b, "import %q;\n", imp)
	}
	// Group by package: a .proto file declares one package, so each
	// package's types are printed under a package comment with fully
	// qualified references, readable by a human and by protobuf tools
	// once split per package.
	slices.SortStableFunc(order, func(a, b protoreflect.Descriptor) int {
		return strings.Compare(string(a.ParentFile().Package()), string(b.ParentFile().Package()))
	})
	pkg := protoreflect.FullName("-")
	for _, d := range order {
		if p := d.ParentFile().Package(); p != pkg {
			pkg = p
			fmt.Fprintf(&b, "\npackage %s;\n", p)
		}
		b.WriteByte('\n')
		printDecl(&b, d, "")
	}
	return b.String()
}

func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// topLevel returns the outermost message or enum that declares d.
func topLevel(d protoreflect.Descriptor) protoreflect.Descriptor {
	for {
		p, ok := d.Parent().(protoreflect.MessageDescriptor)
		if !ok {
			return d
		}
		d = p
	}
}

// walkTypes calls visit for every message and enum the fields of d (and
// of its nested messages) refer to.
func walkTypes(d protoreflect.Descriptor, visit func(protoreflect.Descriptor)) {
	md, ok := d.(protoreflect.MessageDescriptor)
	if !ok {
		return
	}
	fields := md.Fields()
	for i := range fields.Len() {
		f := fields.Get(i)
		if f.IsMap() {
			f = f.MapValue()
		}
		if f.Message() != nil {
			visit(f.Message())
		}
		if f.Enum() != nil {
			visit(f.Enum())
		}
	}
	nested := md.Messages()
	for i := range nested.Len() {
		walkTypes(nested.Get(i), visit)
	}
}

func printDecl(b *strings.Builder, d protoreflect.Descriptor, indent string) {
	switch d := d.(type) {
	case protoreflect.EnumDescriptor:
		fmt.Fprintf(b, "%senum %s {\n", indent, d.Name())
		vals := d.Values()
		for i := range vals.Len() {
			v := vals.Get(i)
			fmt.Fprintf(b, "%s  %s = %d;\n", indent, v.Name(), v.Number())
		}
		fmt.Fprintf(b, "%s}\n", indent)
	case protoreflect.MessageDescriptor:
		fmt.Fprintf(b, "%smessage %s {\n", indent, d.Name())
		in := indent + "  "
		nested := d.Messages()
		for i := range nested.Len() {
			if !nested.Get(i).IsMapEntry() {
				printDecl(b, nested.Get(i), in)
			}
		}
		enums := d.Enums()
		for i := range enums.Len() {
			printDecl(b, enums.Get(i), in)
		}
		fields := d.Fields()
		printed := map[protoreflect.Name]bool{}
		for i := range fields.Len() {
			f := fields.Get(i)
			o := f.ContainingOneof()
			if o != nil && !o.IsSynthetic() {
				if printed[o.Name()] {
					continue
				}
				printed[o.Name()] = true
				fmt.Fprintf(b, "%soneof %s {\n", in, o.Name())
				of := o.Fields()
				for j := range of.Len() {
					fmt.Fprintf(b, "%s  %s %s = %d;\n", in, fieldType(of.Get(j)), of.Get(j).Name(), of.Get(j).Number())
				}
				fmt.Fprintf(b, "%s}\n", in)
				continue
			}
			label := ""
			switch {
			case f.IsMap():
			case f.Cardinality() == protoreflect.Repeated:
				label = "repeated "
			case f.HasOptionalKeyword():
				label = "optional "
			}
			fmt.Fprintf(b, "%s%s%s %s = %d;\n", in, label, fieldType(f), f.Name(), f.Number())
		}
		rr := d.ReservedRanges()
		for i := range rr.Len() {
			r := rr.Get(i)
			if r[1]-1 == r[0] {
				fmt.Fprintf(b, "%sreserved %d;\n", in, r[0])
			} else {
				fmt.Fprintf(b, "%sreserved %d to %d;\n", in, r[0], r[1]-1)
			}
		}
		rn := d.ReservedNames()
		for i := range rn.Len() {
			fmt.Fprintf(b, "%sreserved %q;\n", in, rn.Get(i))
		}
		fmt.Fprintf(b, "%s}\n", indent)
	}
}

func fieldType(f protoreflect.FieldDescriptor) string {
	if f.IsMap() {
		return fmt.Sprintf("map<%s, %s>", fieldType(f.MapKey()), fieldType(f.MapValue()))
	}
	switch {
	case f.Message() != nil:
		return "." + string(f.Message().FullName())
	case f.Enum() != nil:
		return "." + string(f.Enum().FullName())
	}
	return f.Kind().String()
}

// jsonSchemas renders md and every message it refers to as JSON Schemas of
// their protobuf JSON mapping, keyed by full name, with references as
// "#/components/schemas/<full name>" (the AsyncAPI components layout).
func jsonSchemas(md protoreflect.MessageDescriptor, out map[string]any) {
	name := string(md.FullName())
	if _, done := out[name]; done {
		return
	}
	if wk := wellKnown(md); wk != nil {
		out[name] = wk
		return
	}
	props := map[string]any{}
	schema := map[string]any{"type": "object", "title": name, "properties": props}
	out[name] = schema
	fields := md.Fields()
	for i := range fields.Len() {
		f := fields.Get(i)
		props[f.JSONName()] = fieldSchema(f, out)
	}
}

func fieldSchema(f protoreflect.FieldDescriptor, out map[string]any) any {
	if f.IsMap() {
		return map[string]any{"type": "object", "additionalProperties": valueSchema(f.MapValue(), out)}
	}
	v := valueSchema(f, out)
	if f.Cardinality() == protoreflect.Repeated {
		return map[string]any{"type": "array", "items": v}
	}
	return v
}

func valueSchema(f protoreflect.FieldDescriptor, out map[string]any) any {
	switch f.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		jsonSchemas(f.Message(), out)
		return map[string]any{"$ref": "#/components/schemas/" + string(f.Message().FullName())}
	case protoreflect.EnumKind:
		vals := f.Enum().Values()
		names := make([]any, 0, vals.Len())
		for i := range vals.Len() {
			names = append(names, string(vals.Get(i).Name()))
		}
		return map[string]any{"type": "string", "enum": names}
	case protoreflect.BoolKind:
		return map[string]any{"type": "boolean"}
	case protoreflect.StringKind:
		return map[string]any{"type": "string"}
	case protoreflect.BytesKind:
		return map[string]any{"type": "string", "contentEncoding": "base64"}
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return map[string]any{"type": "number"}
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind,
		protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		// protobuf JSON writes 64-bit integers as strings.
		return map[string]any{"type": "string", "pattern": "^-?[0-9]+$"}
	default:
		return map[string]any{"type": "integer", "format": f.Kind().String()}
	}
}

// wellKnown returns the JSON Schema of a well-known type with a special
// JSON mapping, or nil.
func wellKnown(md protoreflect.MessageDescriptor) map[string]any {
	switch md.FullName() {
	case "google.protobuf.Timestamp":
		return map[string]any{"type": "string", "format": "date-time", "title": "google.protobuf.Timestamp"}
	case "google.protobuf.Duration":
		return map[string]any{"type": "string", "pattern": "^-?[0-9]+(\\.[0-9]+)?s$", "title": "google.protobuf.Duration"}
	case "google.protobuf.Struct", "google.protobuf.Any":
		return map[string]any{"type": "object", "title": string(md.FullName())}
	case "google.protobuf.Value":
		return map[string]any{"title": "google.protobuf.Value"}
	case "google.protobuf.StringValue", "google.protobuf.BytesValue":
		return map[string]any{"type": "string", "title": string(md.FullName())}
	case "google.protobuf.BoolValue":
		return map[string]any{"type": "boolean", "title": string(md.FullName())}
	case "google.protobuf.DoubleValue", "google.protobuf.FloatValue":
		return map[string]any{"type": "number", "title": string(md.FullName())}
	case "google.protobuf.Int32Value", "google.protobuf.UInt32Value":
		return map[string]any{"type": "integer", "title": string(md.FullName())}
	case "google.protobuf.Int64Value", "google.protobuf.UInt64Value":
		return map[string]any{"type": "string", "title": string(md.FullName())}
	case "google.protobuf.Empty":
		return map[string]any{"type": "object", "title": "google.protobuf.Empty"}
	}
	return nil
}
