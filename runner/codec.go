package runner

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Codec converts the values of one topic between Go and Kafka. Generated
// code declares one per message type with [Proto] or [Raw]; codecs are
// immutable and safe for concurrent use.
type Codec[M any] interface {
	// Type is how values are encoded.
	Type() TopicType
	// Descriptor is the protobuf message descriptor, nil for raw values.
	Descriptor() protoreflect.MessageDescriptor
	// Encode appends the plain encoding of m to dst.
	Encode(dst []byte, m M) ([]byte, error)
	// Decode decodes a plain encoding (framing already removed).
	Decode(src []byte) (M, error)
	// JSON renders m for people and tools (protojson for protobuf, with
	// default-valued fields included).
	JSON(m M) []byte
}

// Proto returns the codec of the protobuf message type *T.
//
//	var heartbeat = runner.Proto[deviceId.Heartbeat]()
func Proto[T any, M interface {
	*T
	proto.Message
}]() Codec[M] {
	var zero M
	desc := zero.ProtoReflect().Descriptor()
	maps, required := inspect(desc, nil)
	return protoCodec[T, M]{
		desc: desc,
		// Deterministic encoding (sorted map entries) costs about a third
		// more per message; only messages with maps need it for equal
		// values to encode to equal bytes (view sources write only changed
		// values). The check for missing required fields costs a walk of
		// every message; messages without any (all of proto3) skip it.
		marshal: proto.MarshalOptions{Deterministic: maps, AllowPartial: !required},
		// Merge: Decode unmarshals into a fresh message, which needs no
		// Reset first.
		unmarshal: proto.UnmarshalOptions{Merge: true, AllowPartial: !required},
	}
}

type protoCodec[T any, M interface {
	*T
	proto.Message
}] struct {
	desc      protoreflect.MessageDescriptor
	marshal   proto.MarshalOptions
	unmarshal proto.UnmarshalOptions
}

// inspect reports whether d or a message it contains has a map field, and
// whether any has a required (proto2) field.
func inspect(d protoreflect.MessageDescriptor, seen map[protoreflect.FullName]bool) (maps, required bool) {
	if seen == nil {
		seen = map[protoreflect.FullName]bool{}
	}
	if seen[d.FullName()] {
		return false, false
	}
	seen[d.FullName()] = true
	if d.RequiredNumbers().Len() > 0 {
		required = true
	}
	fields := d.Fields()
	for i := range fields.Len() {
		f := fields.Get(i)
		maps = maps || f.IsMap()
		if m := f.Message(); m != nil {
			mm, mr := inspect(m, seen)
			maps, required = maps || mm, required || mr
		}
	}
	return maps, required
}

func (protoCodec[T, M]) Type() TopicType                              { return TopicProtobuf }
func (c protoCodec[T, M]) Descriptor() protoreflect.MessageDescriptor { return c.desc }

func (c protoCodec[T, M]) Encode(dst []byte, m M) ([]byte, error) {
	if m == nil {
		return nil, errors.New("cannot encode a nil message; use a delete to write a tombstone")
	}
	return nonNil(c.marshal.MarshalAppend(dst, m))
}

// nonNil keeps an empty encoding from becoming a nil value, which Kafka
// stores as a tombstone (a delete).
func nonNil(b []byte, err error) ([]byte, error) {
	if b == nil && err == nil {
		b = []byte{}
	}
	return b, err
}

func (c protoCodec[T, M]) Decode(src []byte) (M, error) {
	m := M(new(T))
	if err := c.unmarshal.Unmarshal(src, m); err != nil {
		return nil, fmt.Errorf("decode %s: %w", c.desc.FullName(), err)
	}
	return m, nil
}

func (protoCodec[T, M]) JSON(m M) []byte {
	if m == nil {
		return []byte("null")
	}
	// EmitUnpopulated: a watcher must see `isHealthy: false`, not a
	// missing field it cannot tell from an unknown one.
	b, err := protojson.MarshalOptions{EmitUnpopulated: true}.Marshal(m)
	if err != nil {
		return fmt.Appendf(nil, "%q", err.Error())
	}
	return b
}

// Raw returns the codec of topics whose values are bytes kafmesh does not
// interpret.
//
// A processor's handler of a raw input gets the record's own bytes, not a
// copy (the client never reuses them, so they stay valid after the call):
// it must not modify them, because a retry, a dead letter and a watch of
// the record use the same bytes. Joins, lookups, state and views hand out
// copies.
func Raw() Codec[[]byte] { return rawCodec{} }

type rawCodec struct{}

func (rawCodec) Type() TopicType                            { return TopicRaw }
func (rawCodec) Descriptor() protoreflect.MessageDescriptor { return nil }
func (rawCodec) Encode(dst []byte, m []byte) ([]byte, error) {
	if m == nil {
		return nil, errors.New("cannot encode a nil value; use a delete to write a tombstone")
	}
	return nonNil(append(dst, m...), nil)
}
func (rawCodec) Decode(src []byte) ([]byte, error) { return append([]byte(nil), src...), nil }

// borrow is Decode without the copy: what an input handler gets (see Raw).
func (rawCodec) borrow(src []byte) []byte { return src }
func (rawCodec) JSON(m []byte) []byte {
	if m == nil {
		return []byte("null")
	}
	return fmt.Appendf(nil, "%q", base64.StdEncoding.EncodeToString(m))
}

// Value framing. Plain protobuf never starts with 0x00 or 0x02: both would
// be a tag for field number 0, which is invalid.
const (
	magicConfluent = 0x00 // 0x00, 4-byte schema id, message indexes, payload
	magicKafmesh   = 0x02 // 0x02, 4-byte schema id, payload (kafmesh 2021)
)

// ErrFraming is wrapped by errors about a value whose framing header is
// truncated or malformed.
var ErrFraming = errors.New("malformed value framing")

// Unframe returns the plain protobuf payload of a record value written in
// any of the three framings kafmesh reads: plain protobuf, Confluent
// (magic byte 0) and the older kafmesh framing (magic byte 2). It also
// returns the schema id, 0 for plain values.
func Unframe(value []byte) (payload []byte, schemaID uint32, err error) {
	if len(value) == 0 {
		return value, 0, nil
	}
	switch value[0] {
	case magicKafmesh:
		if len(value) < 5 {
			return nil, 0, fmt.Errorf("%w: kafmesh header needs 5 bytes, have %d", ErrFraming, len(value))
		}
		return value[5:], binary.BigEndian.Uint32(value[1:5]), nil
	case magicConfluent:
		if len(value) < 6 {
			return nil, 0, fmt.Errorf("%w: confluent header needs at least 6 bytes, have %d", ErrFraming, len(value))
		}
		id := binary.BigEndian.Uint32(value[1:5])
		rest := value[5:]
		// Message indexes: a zig-zag varint count, then that many
		// zig-zag varint indexes; a count of 0 means [0].
		n, w := binary.Varint(rest)
		if w <= 0 || n < 0 || n > 1<<10 {
			return nil, 0, fmt.Errorf("%w: bad confluent message index count", ErrFraming)
		}
		rest = rest[w:]
		for i := int64(0); i < n; i++ {
			idx, w := binary.Varint(rest)
			if w <= 0 || idx < 0 {
				return nil, 0, fmt.Errorf("%w: bad confluent message index", ErrFraming)
			}
			rest = rest[w:]
		}
		return rest, id, nil
	}
	return value, 0, nil
}

// appendConfluentHeader appends the Confluent framing header for the
// message at the given index path of its file.
func appendConfluentHeader(dst []byte, schemaID uint32, indexes []int) []byte {
	dst = append(dst, magicConfluent)
	dst = binary.BigEndian.AppendUint32(dst, schemaID)
	if len(indexes) == 1 && indexes[0] == 0 {
		return binary.AppendVarint(dst, 0)
	}
	dst = binary.AppendVarint(dst, int64(len(indexes)))
	for _, i := range indexes {
		dst = binary.AppendVarint(dst, int64(i))
	}
	return dst
}

// messageIndexes is the Confluent index path of a message in its file:
// the position of each enclosing message, outermost first.
func messageIndexes(d protoreflect.MessageDescriptor) []int {
	var path []int
	for {
		path = append(path, d.Index())
		parent, ok := d.Parent().(protoreflect.MessageDescriptor)
		if !ok {
			break
		}
		d = parent
	}
	for i, j := 0, len(path)-1; i < j; i, j = i+1, j-1 {
		path[i], path[j] = path[j], path[i]
	}
	return path
}

// decodeValue decodes a record value read from topic, of a topic of
// codec's type. A nil value is a tombstone and decodes to the zero M with
// deleted set. f decides which framings topic accepts (see
// [framer.unframe]); a nil f accepts plain values only.
func decodeValue[M any](f *framer, topic string, c Codec[M], value []byte) (m M, deleted bool, err error) {
	if value == nil {
		return m, true, nil
	}
	if c.Type() == TopicProtobuf {
		if f == nil {
			f = &framer{cfg: framingConfig{def: FramingPlain}}
		}
		value, err = f.unframe(topic, value)
		if err != nil {
			return m, false, err
		}
	}
	m, err = c.Decode(value)
	return m, false, err
}

// Framing is how protobuf values are laid out in a topic. Every framing
// is read whatever a topic is configured for when the value's first byte
// is unambiguous: plain protobuf never starts with 0x00 or 0x02. A value
// that starts with one of them is taken as framed only when its topic is
// configured for that framing (or FramingAuto), or its schema id resolves
// in the service's registry ([SchemaIDResolver]); anything else is a
// decode error, never a guess.
type Framing string

const (
	// FramingPlain writes the protobuf encoding alone: the default for
	// new topics.
	FramingPlain Framing = "plain"
	// FramingConfluent writes 0x00, the 4-byte schema id of the subject
	// "<topic>-value", the message indexes, then the payload. It needs
	// [WithSchemaRegistry].
	FramingConfluent Framing = "confluent"
	// FramingKafmesh2021 writes 0x02, the 4-byte big-endian schema id of
	// the message, then the payload: what kafmesh 2021 services read
	// (their decoder strips 5 bytes without checking). It needs
	// [WithKafmesh2021Registry].
	FramingKafmesh2021 Framing = "kafmesh2021"
	// FramingAuto writes the framing the topic's latest records use,
	// decided once per topic at its first write (plain for an empty
	// topic), so 2021 readers keep working until they are migrated. It
	// accepts every framing when reading.
	FramingAuto Framing = "auto"
)

// ParseFraming checks a framing name ("plain", "confluent",
// "kafmesh2021", "auto").
func ParseFraming(s string) (Framing, error) {
	switch f := Framing(s); f {
	case FramingPlain, FramingConfluent, FramingKafmesh2021, FramingAuto:
		return f, nil
	}
	return "", fmt.Errorf("unknown framing %q (want plain, confluent, kafmesh2021 or auto)", s)
}
