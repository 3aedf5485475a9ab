package runner

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/apipb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// autoFramer accepts every framing, as a topic configured FramingAuto does.
var autoFramer = &framer{cfg: framingConfig{def: FramingAuto}}

func TestDecodeReadsEveryFraming(t *testing.T) {
	codec := Proto[wrapperspb.StringValue]()
	plain, _ := proto.Marshal(wrapperspb.String("hello"))
	kafmesh := append([]byte{magicKafmesh, 0, 0, 0, 7}, plain...)
	confluentFirst := append(appendConfluentHeader(nil, 42, []int{0}), plain...)
	confluentNested := append(appendConfluentHeader(nil, 42, []int{2, 1}), plain...)
	for name, value := range map[string][]byte{
		"plain": plain, "kafmesh": kafmesh, "confluent": confluentFirst, "confluent nested": confluentNested,
	} {
		m, deleted, err := decodeValue(autoFramer, "t", codec, value)
		if err != nil || deleted || m.GetValue() != "hello" {
			t.Errorf("%s: %v deleted=%v err=%v", name, m, deleted, err)
		}
	}
	if _, id, _ := Unframe(kafmesh); id != 7 {
		t.Errorf("kafmesh schema id = %d", id)
	}
	if _, id, _ := Unframe(confluentNested); id != 42 {
		t.Errorf("confluent schema id = %d", id)
	}
	if !bytes.Equal(confluentFirst[5:6], []byte{0}) {
		t.Errorf("index [0] is written as a single 0 byte, got %x", confluentFirst[5:])
	}
}

func TestDecodeTombstoneAndErrors(t *testing.T) {
	codec := Proto[wrapperspb.StringValue]()
	m, deleted, err := decodeValue(nil, "t", codec, nil)
	if err != nil || !deleted || m != nil {
		t.Fatalf("nil value: %v %v %v; want a tombstone", m, deleted, err)
	}
	// An empty, non-nil value is an empty message, not a delete.
	if m, deleted, err := decodeValue(nil, "t", codec, []byte{}); err != nil || deleted || m == nil {
		t.Fatalf("empty value: %v %v %v", m, deleted, err)
	}
	for name, value := range map[string][]byte{
		"short kafmesh header":   {magicKafmesh, 0, 1},
		"short confluent header": {magicConfluent, 0, 0, 0, 1},
		"bad index count":        {magicConfluent, 0, 0, 0, 1, 0x80},
	} {
		if _, _, err := decodeValue(autoFramer, "t", codec, value); !errors.Is(err, ErrFraming) {
			t.Errorf("%s: err %v, want ErrFraming", name, err)
		}
	}
	if _, _, err := decodeValue(nil, "t", codec, []byte{0xff, 0xff}); err == nil {
		t.Error("garbage decoded without error")
	}
}

// An empty message encodes to an empty value, never to nil, which Kafka
// would store as a tombstone.
func TestEmptyMessageIsNotATombstone(t *testing.T) {
	b, err := Proto[wrapperspb.StringValue]().Encode(nil, &wrapperspb.StringValue{})
	if err != nil || b == nil {
		t.Fatalf("empty message encoded to %v (%v)", b, err)
	}
	if b, _ := Raw().Encode(nil, []byte{}); b == nil {
		t.Fatal("empty raw value encoded to nil")
	}
}

func TestEncodeRefusesNil(t *testing.T) {
	if _, err := Proto[wrapperspb.StringValue]().Encode(nil, nil); err == nil {
		t.Error("nil message encoded")
	}
	if _, err := Raw().Encode(nil, nil); err == nil {
		t.Error("nil raw value encoded")
	}
}

func TestMessageIndexes(t *testing.T) {
	// google.protobuf.Struct is message 0 of struct.proto, Value 1, ListValue 2.
	if got := messageIndexes((&structpb.ListValue{}).ProtoReflect().Descriptor()); len(got) != 1 || got[0] != 2 {
		t.Fatalf("ListValue indexes %v, want [2]", got)
	}
	h := appendConfluentHeader(nil, 9, []int{2, 1})
	if h[0] != magicConfluent || binary.BigEndian.Uint32(h[1:5]) != 9 {
		t.Fatalf("header %x", h)
	}
	if n, w := binary.Varint(h[5:]); n != 2 || w != 1 {
		t.Fatalf("count %d", n)
	}
}

func TestRawCodecIsBytes(t *testing.T) {
	c := Raw()
	m, deleted, err := decodeValue(nil, "t", c, []byte{0x00, 0x02, 0xff})
	if err != nil || deleted || !bytes.Equal(m, []byte{0x00, 0x02, 0xff}) {
		t.Fatalf("raw values are never unframed: %x %v %v", m, deleted, err)
	}
}

func FuzzDecode(f *testing.F) {
	plain, _ := proto.Marshal(wrapperspb.String("seed"))
	f.Add(plain)
	f.Add(append([]byte{magicKafmesh, 0, 0, 0, 1}, plain...))
	f.Add(append(appendConfluentHeader(nil, 1, []int{3, 4}), plain...))
	f.Add([]byte{magicConfluent})
	codec := Proto[structpb.Struct]()
	f.Fuzz(func(t *testing.T, value []byte) {
		payload, _, err := Unframe(value)
		if err == nil && len(payload) > len(value) {
			t.Fatal("payload longer than value")
		}
		m, deleted, err := decodeValue(nil, "t", codec, value)
		if deleted {
			t.Fatal("a non-nil value decoded as a tombstone")
		}
		if err == nil {
			// Anything that decodes re-encodes and decodes to the same message.
			b, err := codec.Encode(nil, m)
			if err != nil {
				t.Fatal(err)
			}
			m2, _, err := decodeValue(nil, "t", codec, b)
			if err != nil || !proto.Equal(m, m2) {
				t.Fatalf("round trip: %v", err)
			}
		}
	})
}

// Messages with maps encode deterministically (equal values, equal bytes,
// so view sources see no change); others take the faster plain encoding.
func TestDeterministicOnlyWithMaps(t *testing.T) {
	if !Proto[structpb.Struct]().(protoCodec[structpb.Struct, *structpb.Struct]).marshal.Deterministic {
		t.Error("Struct has a map field but encodes non-deterministically")
	}
	if !Proto[structpb.Value]().(protoCodec[structpb.Value, *structpb.Value]).marshal.Deterministic {
		t.Error("Value contains a Struct (a map) but encodes non-deterministically")
	}
	if Proto[wrapperspb.StringValue]().(protoCodec[wrapperspb.StringValue, *wrapperspb.StringValue]).marshal.Deterministic {
		t.Error("StringValue has no map yet encodes deterministically")
	}
	codec := Proto[structpb.Struct]()
	m, _ := structpb.NewStruct(map[string]any{"a": 1, "b": 2, "c": 3, "d": 4, "e": 5})
	first, _ := codec.Encode(nil, m)
	for range 50 {
		if b, _ := codec.Encode(nil, m); !bytes.Equal(b, first) {
			t.Fatal("a map encoded to different bytes")
		}
	}
}

// Messages without required fields skip protobuf's initialization check;
// messages with them (proto2), also nested ones, still get it.
func TestRequiredFieldsStillChecked(t *testing.T) {
	part := Proto[descriptorpb.UninterpretedOption_NamePart]()
	if _, err := part.Decode(nil); err == nil {
		t.Error("decoding a NamePart without its required fields succeeded")
	}
	if _, err := part.Encode(nil, &descriptorpb.UninterpretedOption_NamePart{}); err == nil {
		t.Error("encoding a NamePart without its required fields succeeded")
	}
	ok := &descriptorpb.UninterpretedOption_NamePart{NamePart: proto.String("a"), IsExtension: proto.Bool(false)}
	b, err := part.Encode(nil, ok)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := part.Decode(b); err != nil || got.GetNamePart() != "a" {
		t.Errorf("round trip: %v, %v", got, err)
	}
	// UninterpretedOption has no required field itself, but its NamePart does.
	opt := Proto[descriptorpb.UninterpretedOption]()
	bad, _ := proto.MarshalOptions{AllowPartial: true}.Marshal(&descriptorpb.UninterpretedOption{Name: []*descriptorpb.UninterpretedOption_NamePart{{}}})
	if _, err := opt.Decode(bad); err == nil {
		t.Error("decoding an UninterpretedOption with an incomplete NamePart succeeded")
	}
	if c := Proto[wrapperspb.Int64Value]().(protoCodec[wrapperspb.Int64Value, *wrapperspb.Int64Value]); !c.unmarshal.AllowPartial || !c.marshal.AllowPartial {
		t.Error("Int64Value has no required fields but is checked for them")
	}
}

// The JSON a watcher sees keeps default-valued fields: `false`, 0 and ""
// are shown, not dropped (protojson's EmitUnpopulated).
func TestJSONKeepsDefaultValues(t *testing.T) {
	codec := Proto[apipb.Method]()
	got := string(codec.JSON(&apipb.Method{Name: "Heartbeat", RequestStreaming: false}))
	for _, want := range []string{`"requestStreaming":false`, `"responseStreaming":false`, `"requestTypeUrl":""`, `"name":"Heartbeat"`} {
		if !strings.Contains(strings.ReplaceAll(got, " ", ""), want) {
			t.Errorf("JSON %s lacks %s", got, want)
		}
	}
}
