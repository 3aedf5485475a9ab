package runner

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"strings"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"

	registryv1 "github.com/kafmesh/kafmesh/runner/internal/registryv1"
)

// The methods of the 2021 registry's gRPC API, by their wire names.
const (
	psrRegisterSchema = "/proto.schema.registry.v1.RegistryAPI/RegisterSchema"
	psrGetSchema      = "/proto.schema.registry.v1.RegistryAPI/GetSchema"
	psrPing           = "/proto.schema.registry.v1.RegistryAPI/Ping"
)

// ProtoSchemaRegistry is a [Kafmesh2021Registry] that asks the registry the
// 2021 kafmesh used (syncromatics/proto-schema-registry, gRPC API
// proto.schema.registry.v1.RegistryAPI) for the schema ids of the kafmesh
// 2021 framing, by content, the way 2021 services did: it registers the
// message's schema for the topic (RegisterSchema), and the registry answers
// with the id it already holds for those exact bytes, or checks the schema
// against the topic's latest for breaking changes and stores it under a new
// id.
//
// The schema sent is the one a 2021 service sent for the same message
// (the message and the types it uses written as one proto3 file, package
// gen, the message named "record", gzip-compressed at the fastest level),
// so a migrated service gets the id its 2021 predecessor got rather than a
// new version.
//
// Answers are cached: one RegisterSchema call per topic and schema for the
// client's life, however many services and records use it (and the runner
// asks once per topic, at the topic's first write). A failed lookup is not
// cached; the write that needed it fails with the registry's reason and
// the next write asks again. Safe for concurrent use.
type ProtoSchemaRegistry struct {
	cc grpc.ClientConnInterface

	mu    sync.Mutex
	ids   map[psrKey]*psrLookup
	known map[uint32]bool // ids GetSchema found
}

type psrKey struct{ topic, schema string }

// psrLookup is one RegisterSchema call; callers of the same key wait for it.
type psrLookup struct {
	done chan struct{}
	id   uint32
	err  error
}

// NewProtoSchemaRegistry returns a client of the proto-schema-registry
// reached through cc, for example a *grpc.ClientConn from
// grpc.NewClient("schema-registry:443", grpc.WithTransportCredentials(...)).
// The caller owns cc and closes it after the services that use the client
// have stopped.
func NewProtoSchemaRegistry(cc grpc.ClientConnInterface) *ProtoSchemaRegistry {
	return &ProtoSchemaRegistry{cc: cc, ids: map[psrKey]*psrLookup{}, known: map[uint32]bool{}}
}

// SchemaID returns the registry's id of desc's schema on topic, registering
// it if the registry does not hold those bytes for the topic yet. It fails
// when desc cannot be written in the 2021 schema form (see
// [Kafmesh2021Schema]), when the registry refuses the schema (its reasons,
// e.g. a breaking change against the topic's latest schema, are in the
// error), or when the registry cannot be reached before ctx ends.
func (r *ProtoSchemaRegistry) SchemaID(ctx context.Context, topic string, desc protoreflect.MessageDescriptor) (uint32, error) {
	text, err := Kafmesh2021Schema(desc)
	if err != nil {
		return 0, err
	}
	key := psrKey{topic, text}
	r.mu.Lock()
	l, ok := r.ids[key]
	if !ok {
		l = &psrLookup{done: make(chan struct{})}
		r.ids[key] = l
		r.mu.Unlock()
		l.id, l.err = r.register(ctx, topic, text)
		if l.err != nil {
			r.mu.Lock()
			delete(r.ids, key)
			r.mu.Unlock()
		}
		close(l.done)
	} else {
		r.mu.Unlock()
	}
	select {
	case <-l.done:
		return l.id, l.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

func (r *ProtoSchemaRegistry) register(ctx context.Context, topic, text string) (uint32, error) {
	var gz bytes.Buffer
	w, err := gzip.NewWriterLevel(&gz, gzip.BestSpeed)
	if err != nil {
		return 0, err
	}
	if _, err := w.Write([]byte(text)); err != nil {
		return 0, err
	}
	if err := w.Close(); err != nil {
		return 0, err
	}
	resp := &registryv1.RegisterSchemaResponse{}
	req := &registryv1.RegisterSchemaRequest{Topic: topic, Schema: gz.Bytes()}
	if err := r.cc.Invoke(ctx, psrRegisterSchema, req, resp); err != nil {
		return 0, fmt.Errorf("proto-schema-registry: register schema for topic %s: %w", topic, err)
	}
	switch v := resp.GetResponse().(type) {
	case *registryv1.RegisterSchemaResponse_ResponseSuccess:
		return v.ResponseSuccess.GetId(), nil
	case *registryv1.RegisterSchemaResponse_ResponseError:
		return 0, fmt.Errorf("proto-schema-registry refused the schema for topic %s: %s", topic, strings.Join(v.ResponseError.GetErrors(), "; "))
	default:
		return 0, fmt.Errorf("proto-schema-registry: register schema for topic %s: the answer holds neither an id nor errors", topic)
	}
}

// HasSchemaID reports whether the registry holds a schema with id. Found
// ids are cached. The registry's last release answers an unknown id with
// an error ("failed to find schema for ...") rather than exists=false;
// both mean false here. Any other error is returned, meaning "unknown".
func (r *ProtoSchemaRegistry) HasSchemaID(ctx context.Context, id uint32) (bool, error) {
	r.mu.Lock()
	found := r.known[id]
	r.mu.Unlock()
	if found {
		return true, nil
	}
	resp := &registryv1.GetSchemaResponse{}
	if err := r.cc.Invoke(ctx, psrGetSchema, &registryv1.GetSchemaRequest{Id: id}, resp); err != nil {
		if s, ok := status.FromError(err); ok && strings.Contains(s.Message(), "failed to find schema") {
			return false, nil
		}
		return false, fmt.Errorf("proto-schema-registry: get schema %d: %w", id, err)
	}
	if resp.GetExists() {
		r.mu.Lock()
		r.known[id] = true
		r.mu.Unlock()
	}
	return resp.GetExists(), nil
}

// Ping returns nil when the registry answers its Ping call.
func (r *ProtoSchemaRegistry) Ping(ctx context.Context) error {
	if err := r.cc.Invoke(ctx, psrPing, &registryv1.PingRequest{}, &registryv1.PingResponse{}); err != nil {
		return fmt.Errorf("proto-schema-registry: ping: %w", err)
	}
	return nil
}

// Kafmesh2021Schema returns the schema text a 2021 kafmesh service
// registered for the message desc describes: one proto3 file, package gen,
// holding the message renamed "record" and, before it, every message and
// enum its fields use (transitively), each named by its full name with
// dots turned into underscores ("deviceId.Details" becomes
// "deviceId_Details"); a message's own enums stay inside it.
//
// The text reproduces what the 2021 registry client wrote, byte for byte,
// including its oddities (fields of one oneof, and of oneofs next to each
// other, share one "oneof oneof_<n>" block; a message whose field uses an
// enum declared in that message stops adding the types of its later
// fields), because the registry finds an existing id only for identical
// bytes. What the 2021 client could not write is an error here too: a
// message that is not top-level, a file without a package, types nested
// two levels deep, recursive messages, and proto2 groups.
func Kafmesh2021Schema(desc protoreflect.MessageDescriptor) (string, error) {
	if _, ok := desc.Parent().(protoreflect.FileDescriptor); !ok {
		return "", fmt.Errorf("kafmesh 2021 schema of %s: only top-level messages have one", desc.FullName())
	}
	w := &schema2021{
		root:     desc.FullName(),
		messages: map[protoreflect.FullName]protoreflect.MessageDescriptor{},
		enums:    map[protoreflect.FullName]enum2021{},
		files:    map[string]bool{},
		seen:     map[protoreflect.FullName]bool{},
	}
	if err := w.collect(desc.ParentFile()); err != nil {
		return "", fmt.Errorf("kafmesh 2021 schema of %s: %w", desc.FullName(), err)
	}
	root := &node2021{name: desc.FullName()}
	if err := w.tree(root, desc, map[protoreflect.FullName]bool{}); err != nil {
		return "", fmt.Errorf("kafmesh 2021 schema of %s: %w", desc.FullName(), err)
	}
	w.b.WriteString("syntax = \"proto3\";\npackage gen;\n")
	if err := w.write(root); err != nil {
		return "", fmt.Errorf("kafmesh 2021 schema of %s: %w", desc.FullName(), err)
	}
	return w.b.String(), nil
}

// schema2021 builds one Kafmesh2021Schema text.
type schema2021 struct {
	root     protoreflect.FullName
	messages map[protoreflect.FullName]protoreflect.MessageDescriptor
	enums    map[protoreflect.FullName]enum2021
	files    map[string]bool
	seen     map[protoreflect.FullName]bool
	b        strings.Builder
}

// enum2021 is an enum the schema can name: declared in a file, or in a
// top-level message (its parent).
type enum2021 struct {
	desc   protoreflect.EnumDescriptor
	parent protoreflect.FullName // "" for a file-level enum
	pkg    protoreflect.FullName
}

// node2021 is a type in the tree of the types the root uses.
type node2021 struct {
	name   protoreflect.FullName
	leaves []*node2021
}

// collect finds the types a schema can name, as the 2021 client did: in
// the root's file and every file it imports, the top-level messages and
// enums, the messages nested one level in a top-level message and its
// enums.
func (w *schema2021) collect(f protoreflect.FileDescriptor) error {
	if w.files[f.Path()] {
		return nil
	}
	w.files[f.Path()] = true
	if f.Package() == "" {
		return fmt.Errorf("%s declares no package", f.Path())
	}
	for i := range f.Messages().Len() {
		m := f.Messages().Get(i)
		w.messages[m.FullName()] = m
		for j := range m.Messages().Len() {
			w.messages[m.Messages().Get(j).FullName()] = m.Messages().Get(j)
		}
		for j := range m.Enums().Len() {
			e := m.Enums().Get(j)
			w.enums[e.FullName()] = enum2021{desc: e, parent: m.FullName(), pkg: f.Package()}
		}
	}
	for i := range f.Enums().Len() {
		e := f.Enums().Get(i)
		w.enums[e.FullName()] = enum2021{desc: e, pkg: f.Package()}
	}
	for i := range f.Imports().Len() {
		if err := w.collect(f.Imports().Get(i).FileDescriptor); err != nil {
			return err
		}
	}
	return nil
}

// tree adds to n the types m's fields use, depth first. path holds the
// messages being expanded, to refuse recursion (the 2021 client never
// returned from it).
func (w *schema2021) tree(n *node2021, m protoreflect.MessageDescriptor, path map[protoreflect.FullName]bool) error {
	if path[m.FullName()] {
		return fmt.Errorf("message %s contains itself; the 2021 schema form cannot express recursive messages", m.FullName())
	}
	path[m.FullName()] = true
	defer delete(path, m.FullName())
	fields := m.Fields()
	for i := range fields.Len() {
		f := fields.Get(i)
		switch f.Kind() {
		case protoreflect.MessageKind:
			name := f.Message().FullName()
			t, ok := w.messages[name]
			if !ok {
				return fmt.Errorf("field %s: type %s is nested too deep for the 2021 schema form", f.FullName(), name)
			}
			leaf := &node2021{name: name}
			n.leaves = append(n.leaves, leaf)
			if err := w.tree(leaf, t, path); err != nil {
				return err
			}
		case protoreflect.EnumKind:
			e, ok := w.enums[f.Enum().FullName()]
			if !ok {
				return fmt.Errorf("field %s: enum %s is nested too deep for the 2021 schema form", f.FullName(), f.Enum().FullName())
			}
			if e.parent == "" {
				n.leaves = append(n.leaves, &node2021{name: f.Enum().FullName()})
				continue
			}
			if e.pkg+"."+protoreflect.FullName(m.Name()) == e.parent {
				// The 2021 client stopped here: the enum is written
				// inside m anyway, and later fields add no types.
				return nil
			}
			// The 2021 client walked the enum's parent but did not add
			// it: its types are found, the parent itself is not written.
			if err := w.tree(&node2021{name: e.parent}, w.messages[e.parent], path); err != nil {
				return err
			}
		case protoreflect.GroupKind:
			return fmt.Errorf("field %s: proto2 groups have no 2021 schema form", f.FullName())
		}
	}
	return nil
}

// write writes n's types, then n, each type once.
func (w *schema2021) write(n *node2021) error {
	for _, l := range n.leaves {
		if err := w.write(l); err != nil {
			return err
		}
	}
	if w.seen[n.name] {
		return nil
	}
	w.seen[n.name] = true
	m, ok := w.messages[n.name]
	if !ok {
		e := w.enums[n.name]
		fmt.Fprintf(&w.b, "enum %s {\n", underscored(n.name))
		values := e.desc.Values()
		for i := range values.Len() {
			fmt.Fprintf(&w.b, "\t%s = %d;\n", values.Get(i).Name(), values.Get(i).Number())
		}
		w.b.WriteString("}\n")
		return nil
	}
	name := underscored(n.name)
	if n.name == w.root {
		name = "record"
	}
	fmt.Fprintf(&w.b, "message %s {\n", name)
	inOneof := false
	fields := m.Fields()
	for i := range fields.Len() {
		f := fields.Get(i)
		oneof := f.ContainingOneof()
		if oneof != nil && !inOneof {
			fmt.Fprintf(&w.b, "\toneof oneof_%d {\n", oneof.Index())
			inOneof = true
		}
		if oneof != nil {
			w.b.WriteString("\t")
		}
		if oneof == nil && inOneof {
			w.b.WriteString("\t}\n")
			inOneof = false
		}
		w.b.WriteString("\t")
		if f.Cardinality() == protoreflect.Repeated {
			w.b.WriteString("repeated ")
		}
		switch f.Kind() {
		case protoreflect.MessageKind:
			w.b.WriteString(underscored(f.Message().FullName()))
		case protoreflect.EnumKind:
			e := w.enums[f.Enum().FullName()]
			switch {
			case e.parent == "":
				w.b.WriteString(underscored(f.Enum().FullName()))
			case e.parent == n.name:
				w.b.WriteString(string(f.Enum().Name()))
			default:
				w.b.WriteString(underscored(e.parent) + "." + string(f.Enum().Name()))
			}
		default:
			// The scalar kinds' names are the proto keywords.
			w.b.WriteString(f.Kind().String())
		}
		fmt.Fprintf(&w.b, " %s = %d;\n", f.Name(), f.Number())
	}
	if inOneof {
		w.b.WriteString("\t}\n")
	}
	enums := m.Enums()
	for i := range enums.Len() {
		e := enums.Get(i)
		fmt.Fprintf(&w.b, "\tenum %s {\n", e.Name())
		for j := range e.Values().Len() {
			fmt.Fprintf(&w.b, "\t\t%s = %d;\n", e.Values().Get(j).Name(), e.Values().Get(j).Number())
		}
		w.b.WriteString("\t}\n")
	}
	w.b.WriteString("}\n")
	return nil
}

// underscored is a full name with its dots turned into underscores.
func underscored(n protoreflect.FullName) string { return strings.ReplaceAll(string(n), ".", "_") }
