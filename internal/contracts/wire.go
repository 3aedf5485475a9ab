package contracts

import (
	"fmt"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// Rule describes one rule of the engine.
type Rule struct {
	ID       string
	Category Category
	Summary  string
}

// Rules lists every rule, in the order docs/contracts.md explains them.
var Rules = []Rule{
	{"FIELD_NUMBER_REUSED", Wire, "a field number is used for another field of a wire-incompatible type"},
	{"FIELD_TYPE_CHANGED", Wire, "a field's type changed to a wire-incompatible one"},
	{"FIELD_REMOVED", Wire, "the writer no longer has a field a reader still has, and does not reserve its number"},
	{"FIELD_CARDINALITY_CHANGED", Wire, "a field changed between singular and repeated"},
	{"FIELD_ONEOF_CHANGED", Wire, "a field moved into, out of or between oneofs"},
	{"ENUM_VALUE_REMOVED", Wire, "a reader's enum lost a value the writer still has"},
	{"FIELD_JSON_TYPE_CHANGED", WireJSON, "a field's type changed to one with the same binary but another JSON encoding"},
	{"FIELD_RENAMED", WireJSON, "a field's name (so its JSON name) changed"},
	{"FIELD_JSON_NAME_CHANGED", WireJSON, "a field's json_name changed"},
	{"FIELD_REMOVED_NAME_NOT_RESERVED", WireJSON, "a reader dropped a field the writer still sends, without reserving its name"},
	{"ENUM_VALUE_RENAMED", WireJSON, "an enum value's name changed"},
	{"MESSAGE_RENAMED", Topic, "the topic's value message was renamed"},
	{"TOPIC_VALUE_TYPE_CHANGED", Topic, "the topic's value is another message"},
	{"TOPIC_TYPE_CHANGED", Topic, "the topic's encoding changed between protobuf and raw bytes"},
	{"PARTITIONS_CHANGED", Topic, "the partition count of a co-partitioned topic changed"},
}

// walker compares a writer's message with a reader's, field by field and
// into nested messages.
type walker struct {
	p             *pair
	dir           string
	afterIsWriter bool
	seen          map[[2]protoreflect.FullName]bool
}

// afterDesc returns whichever of the two descriptors belongs to the
// changed side.
func (w *walker) afterDesc(writer, reader protoreflect.Descriptor) protoreflect.Descriptor {
	if w.afterIsWriter {
		return writer
	}
	return reader
}

func (w *walker) report(at protoreflect.Descriptor, cat Category, rule, format string, args ...any) {
	w.p.messageFinding(at, cat, rule, w.dir, fmt.Sprintf(format, args...))
}

// who names the writer and reader for messages.
func (w *walker) who() (writer, reader string) {
	if w.afterIsWriter {
		return w.p.after.Name, w.p.other.Name
	}
	return w.p.other.Name, w.p.after.Name
}

func (w *walker) messages(wm, rm protoreflect.MessageDescriptor, path string) {
	key := [2]protoreflect.FullName{wm.FullName(), rm.FullName()}
	if w.seen[key] {
		return
	}
	w.seen[key] = true
	writerName, readerName := w.who()
	afterMsg := w.afterDesc(wm, rm).(protoreflect.MessageDescriptor)

	rf := rm.Fields()
	for i := range rf.Len() {
		r := rf.Get(i)
		f := wm.Fields().ByNumber(r.Number())
		name := path + "." + string(r.Name())
		if f == nil {
			if w.afterIsWriter && !wm.ReservedRanges().Has(r.Number()) {
				w.report(afterMsg, Wire, "FIELD_REMOVED",
					"field %d %q of %s is not in %s (removed without reserving its number); %s still reads it and sees its zero value (and a later field with that number would be misread)",
					r.Number(), r.Name(), path, writerName, readerName)
			}
			continue
		}
		w.field(f, r, name, writerName, readerName)
	}
	// Fields only the writer has: a JSON reader rejects their names unless
	// it reserves them. Only a reader that dropped a field (the changed side
	// as reader) is a change; a writer adding fields is not.
	if !w.afterIsWriter {
		wf := wm.Fields()
		for i := range wf.Len() {
			f := wf.Get(i)
			if rm.Fields().ByNumber(f.Number()) != nil {
				continue
			}
			if rm.ReservedNames().Has(f.Name()) {
				continue
			}
			w.report(afterMsg, WireJSON, "FIELD_REMOVED_NAME_NOT_RESERVED",
				"field %d %q of %s is not in %s but %s still writes it; its name is not reserved, so JSON parsing rejects it as unknown",
				f.Number(), f.Name(), path, readerName, writerName)
		}
	}
}

func (w *walker) field(f, r protoreflect.FieldDescriptor, name, writerName, readerName string) {
	at := w.afterDesc(f, r)
	if !wireCompatible(f, r) {
		if f.Name() != r.Name() {
			w.report(at, Wire, "FIELD_NUMBER_REUSED",
				"field number %d is %q (%s) for %s but %q (%s) for %s; the bytes of one are misread or dropped as the other",
				f.Number(), f.Name(), typeName(f), writerName, r.Name(), typeName(r), readerName)
		} else {
			w.report(at, Wire, "FIELD_TYPE_CHANGED",
				"field %d %s is %s for %s but %s for %s, which are not wire-compatible",
				f.Number(), name, typeName(f), writerName, typeName(r), readerName)
		}
		return
	}
	if f.Name() != r.Name() {
		w.report(at, WireJSON, "FIELD_RENAMED",
			"field %d was renamed from %q to %q (%s writes %q, %s reads %q); the binary is unchanged, JSON uses the name",
			f.Number(), w.oldName(f, r), w.newName(f, r), writerName, f.Name(), readerName, r.Name())
	} else if f.JSONName() != r.JSONName() {
		w.report(at, WireJSON, "FIELD_JSON_NAME_CHANGED",
			"field %d %s has JSON name %q for %s but %q for %s",
			f.Number(), name, f.JSONName(), writerName, r.JSONName(), readerName)
	}
	if !jsonCompatible(f, r) {
		w.report(at, WireJSON, "FIELD_JSON_TYPE_CHANGED",
			"field %d %s is %s for %s but %s for %s: the same bytes on the wire, another JSON encoding",
			f.Number(), name, typeName(f), writerName, typeName(r), readerName)
	}
	if cardinality(f) != cardinality(r) {
		w.report(at, Wire, "FIELD_CARDINALITY_CHANGED",
			"field %d %s is %s for %s but %s for %s; a singular reader keeps only the last of repeated values, packed values are dropped",
			f.Number(), name, cardinality(f), writerName, cardinality(r), readerName)
	}
	if oneofName(f) != oneofName(r) {
		w.report(at, Wire, "FIELD_ONEOF_CHANGED",
			"field %d %s is %s for %s but %s for %s; setting a oneof member clears the others, so values are lost",
			f.Number(), name, oneofWords(f), writerName, oneofWords(r), readerName)
	}
	switch {
	case f.Message() != nil && r.Message() != nil:
		w.messages(f.Message(), r.Message(), name)
	case f.Enum() != nil && r.Enum() != nil:
		w.enums(f, r, name, writerName, readerName)
	}
}

func (w *walker) enums(f, r protoreflect.FieldDescriptor, name, writerName, readerName string) {
	we, re := f.Enum(), r.Enum()
	key := [2]protoreflect.FullName{we.FullName(), re.FullName()}
	if w.seen[key] {
		return
	}
	w.seen[key] = true
	wv := we.Values()
	for i := range wv.Len() {
		v := wv.Get(i)
		rv := re.Values().ByNumber(v.Number())
		if rv == nil {
			if !w.afterIsWriter {
				w.report(re, Wire, "ENUM_VALUE_REMOVED",
					"enum %s lost value %s = %d, which %s still writes (in %s); the reader sees an unknown number (closed enums move it to unknown fields)",
					re.FullName(), v.Name(), v.Number(), writerName, name)
			}
			continue
		}
		if rv.Name() != v.Name() {
			w.report(w.afterDesc(v, rv), WireJSON, "ENUM_VALUE_RENAMED",
				"value %d of enum %s is %s for %s but %s for %s; JSON carries the name",
				v.Number(), re.FullName(), v.Name(), writerName, rv.Name(), readerName)
		}
	}
}

func (w *walker) oldName(f, r protoreflect.FieldDescriptor) protoreflect.Name {
	if w.afterIsWriter {
		return r.Name()
	}
	return f.Name()
}

func (w *walker) newName(f, r protoreflect.FieldDescriptor) protoreflect.Name {
	if w.afterIsWriter {
		return f.Name()
	}
	return r.Name()
}

// wireGroup returns the group of kinds whose values decode as one another
// on the wire.
func wireGroup(k protoreflect.Kind) string {
	switch k {
	case protoreflect.Int32Kind, protoreflect.Uint32Kind, protoreflect.Int64Kind, protoreflect.Uint64Kind,
		protoreflect.BoolKind, protoreflect.EnumKind:
		return "varint"
	case protoreflect.Sint32Kind, protoreflect.Sint64Kind:
		return "zigzag"
	case protoreflect.Fixed32Kind, protoreflect.Sfixed32Kind:
		return "fixed32"
	case protoreflect.Fixed64Kind, protoreflect.Sfixed64Kind:
		return "fixed64"
	case protoreflect.StringKind, protoreflect.BytesKind:
		return "text"
	case protoreflect.MessageKind:
		return "message"
	}
	return k.String()
}

// wireCompatible reports whether a reader of r decodes what a writer of f
// writes without error or misreading the wire format. Integer widths may
// still truncate, as in buf's WIRE rules.
func wireCompatible(f, r protoreflect.FieldDescriptor) bool {
	fk, rk := f.Kind(), r.Kind()
	if fk == rk {
		return true
	}
	g1, g2 := wireGroup(fk), wireGroup(rk)
	if g1 == g2 {
		return true
	}
	// bytes carries any message, and a message reader can parse bytes that
	// hold one.
	if (fk == protoreflect.BytesKind && rk == protoreflect.MessageKind) || (fk == protoreflect.MessageKind && rk == protoreflect.BytesKind) {
		return true
	}
	return false
}

// jsonCompatible reports whether two wire-compatible fields also share the
// JSON encoding.
func jsonCompatible(f, r protoreflect.FieldDescriptor) bool {
	if f.IsMap() != r.IsMap() {
		return false
	}
	fk, rk := f.Kind(), r.Kind()
	if fk == rk {
		return true
	}
	numeric := func(k protoreflect.Kind) bool {
		switch k {
		case protoreflect.Int32Kind, protoreflect.Uint32Kind, protoreflect.Int64Kind, protoreflect.Uint64Kind,
			protoreflect.Sint32Kind, protoreflect.Sint64Kind, protoreflect.Fixed32Kind, protoreflect.Fixed64Kind,
			protoreflect.Sfixed32Kind, protoreflect.Sfixed64Kind:
			return true
		}
		return false
	}
	return numeric(fk) && numeric(rk)
}

func cardinality(f protoreflect.FieldDescriptor) string {
	if f.Cardinality() == protoreflect.Repeated {
		return "repeated"
	}
	return "singular"
}

func oneofName(f protoreflect.FieldDescriptor) string {
	if o := f.ContainingOneof(); o != nil && !o.IsSynthetic() {
		return string(o.Name())
	}
	return ""
}

func oneofWords(f protoreflect.FieldDescriptor) string {
	if n := oneofName(f); n != "" {
		return "in oneof " + n
	}
	return "in no oneof"
}

// typeName is the field's type as written in a .proto ("int64",
// "kafmesh.a.B", "map<string, int32>").
func typeName(f protoreflect.FieldDescriptor) string {
	if f.IsMap() {
		return fmt.Sprintf("map<%s, %s>", typeName(f.MapKey()), typeName(f.MapValue()))
	}
	var s string
	switch {
	case f.Message() != nil:
		s = string(f.Message().FullName())
	case f.Enum() != nil:
		s = "enum " + string(f.Enum().FullName())
	default:
		s = f.Kind().String()
	}
	if f.Cardinality() == protoreflect.Repeated {
		return "repeated " + s
	}
	return s
}

// RuleByID returns the rule with that id.
func RuleByID(id string) (Rule, bool) {
	for _, r := range Rules {
		if strings.EqualFold(r.ID, id) {
			return r, true
		}
	}
	return Rule{}, false
}
