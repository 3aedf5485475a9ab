package records

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/kafmesh/kafmesh/runner"
)

// Framings of a protobuf value, as Decoded.Framing names them.
const (
	FramingPlain       = "plain"
	FramingConfluent   = "confluent"
	FramingKafmesh2021 = "kafmesh2021"
)

// Decoded is a record value decoded with its topic's message schema.
type Decoded struct {
	// JSON is the message as protojson writes it, every field shown (unset
	// fields with their default values), indented; "" when the value did
	// not decode.
	JSON string
	// Framing is how the value was laid out: plain, confluent or
	// kafmesh2021; "" when its header was malformed.
	Framing string
	// SchemaID is the schema id of a framed value (0 for plain).
	SchemaID uint32
	// Err says why the value did not decode; nil when it did.
	Err error
	// Warning, when the value decoded, says it held fields the schema does
	// not declare (JSON leaves them out); "" otherwise.
	Warning string
}

// unknownBytes counts the bytes of fields m's schema does not declare, in
// m and the messages it holds.
func unknownBytes(m protoreflect.Message) int {
	n := len(m.GetUnknown())
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsMap():
			if fd.MapValue().Message() != nil {
				v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
					n += unknownBytes(mv.Message())
					return true
				})
			}
		case fd.IsList():
			if fd.Message() != nil {
				for i := 0; i < v.List().Len(); i++ {
					n += unknownBytes(v.List().Get(i).Message())
				}
			}
		case fd.Message() != nil:
			n += unknownBytes(v.Message())
		}
		return true
	})
	return n
}

// Decode decodes a record value of a topic whose values are the message
// md, in any of the framings kafmesh reads (plain protobuf, Confluent with
// magic byte 0, kafmesh 2021 with magic byte 2: runner.Unframe). files,
// when not nil, resolves the messages a google.protobuf.Any field holds.
// A nil value is a tombstone: Decode is not meant for it and reports it as
// an error.
func Decode(value []byte, md protoreflect.MessageDescriptor, files *protoregistry.Files) Decoded {
	if value == nil {
		return Decoded{Err: fmt.Errorf("the record has no value (a tombstone)")}
	}
	payload, id, err := runner.Unframe(value)
	if err != nil {
		return Decoded{Err: err}
	}
	d := Decoded{Framing: FramingPlain, SchemaID: id}
	if len(value) > 0 {
		switch value[0] {
		case 0x00:
			d.Framing = FramingConfluent
		case 0x02:
			d.Framing = FramingKafmesh2021
		}
	}
	m := dynamicpb.NewMessage(md)
	var types interface {
		protoregistry.MessageTypeResolver
		protoregistry.ExtensionTypeResolver
	} = protoregistry.GlobalTypes
	if files != nil {
		types = dynamicpb.NewTypes(files)
	}
	if err := (proto.UnmarshalOptions{Resolver: types}).Unmarshal(payload, m); err != nil {
		d.Err = fmt.Errorf("not a valid %s (%s framing): %w", md.FullName(), d.Framing, err)
		return d
	}
	if n := unknownBytes(m); n > 0 {
		d.Warning = fmt.Sprintf("%d bytes of the value are fields %s does not declare: a newer schema wrote them, or the value is not a %s", n, md.FullName(), md.FullName())
	}
	b, err := protojson.MarshalOptions{EmitUnpopulated: true, Resolver: types}.Marshal(m)
	if err != nil {
		d.Err = fmt.Errorf("%s does not convert to JSON: %w", md.FullName(), err)
		return d
	}
	// protojson varies its whitespace on purpose; indenting with
	// encoding/json makes the text stable (same value, same text).
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		d.Err = fmt.Errorf("%s does not convert to JSON: %w", md.FullName(), err)
		return d
	}
	d.JSON = out.String()
	return d
}

// Printable renders bytes as text for a person: valid UTF-8 with every
// control or non-printing rune (and every byte of invalid UTF-8) replaced
// by '.', as hex dumps do.
func Printable(b []byte) string {
	out := make([]rune, 0, len(b))
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n <= 1 || !unicode.IsPrint(r) && r != ' ' {
			r = '.'
		}
		out = append(out, r)
		b = b[n:]
	}
	return string(out)
}
