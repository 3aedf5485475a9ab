package runner

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

type resolverFunc struct {
	known map[uint32]bool
	asked int
}

func (r *resolverFunc) SchemaID(context.Context, string, protoreflect.MessageDescriptor) (uint32, error) {
	return 0, errors.New("unused")
}

func (r *resolverFunc) HasSchemaID(_ context.Context, id uint32) (bool, error) {
	r.asked++
	return r.known[id], nil
}

func testFramer(cfg framingConfig) *framer {
	s := &Service{log: slog.New(slog.DiscardHandler)}
	s.cfg.framing = cfg
	return newFramer(s)
}

// Random bytes that start with 0x00 or 0x02 are never taken as framed
// values by guessing: only when the topic is configured for that framing,
// or the schema id resolves in the registry.
func TestFramingDetectionDoesNotGuess(t *testing.T) {
	codec := Proto[wrapperspb.StringValue]()
	payload, _ := proto.Marshal(wrapperspb.String("looks valid"))
	// A 0x02 header with an id no registry knows, then a payload that
	// decodes: the worst case for a guesser.
	unknown := append([]byte{magicKafmesh, 0, 0, 0x30, 0x39}, payload...)
	known := append([]byte{magicKafmesh, 0, 0, 0, 7}, payload...)
	confluent := append(appendConfluentHeader(nil, 12345, []int{0}), payload...)

	reg := &resolverFunc{known: map[uint32]bool{7: true}}
	plain := testFramer(framingConfig{k2021: reg})
	for name, v := range map[string][]byte{"0x02 unknown id": unknown, "0x00 without registry": confluent} {
		if _, _, err := decodeValue(plain, "t", codec, v); !errors.Is(err, ErrFraming) {
			t.Errorf("%s on a plain topic: err %v; want ErrFraming", name, err)
		}
	}
	if m, _, err := decodeValue(plain, "t", codec, known); err != nil || m.GetValue() != "looks valid" {
		t.Errorf("0x02 with an id the registry knows: %v %v", m, err)
	}
	for range 3 {
		_, _, _ = decodeValue(plain, "t", codec, unknown)
	}
	if reg.asked != 2 {
		t.Errorf("registry asked %d times; want 2 (each id once, then cached)", reg.asked)
	}

	configured := testFramer(framingConfig{topics: map[string]Framing{"old": FramingKafmesh2021, "conf": FramingConfluent}})
	if _, _, err := decodeValue(configured, "old", codec, unknown); err != nil {
		t.Errorf("0x02 on a kafmesh2021 topic: %v", err)
	}
	if _, _, err := decodeValue(configured, "conf", codec, confluent); err != nil {
		t.Errorf("0x00 on a confluent topic: %v", err)
	}
	if _, _, err := decodeValue(configured, "old", codec, confluent); !errors.Is(err, ErrFraming) {
		t.Errorf("0x00 on a kafmesh2021 topic: %v; want ErrFraming", err)
	}

	// Poison: 10,000 random values starting 0x00 or 0x02 on a plain topic
	// without a registry: none decodes.
	none := testFramer(framingConfig{})
	rnd := rand.New(rand.NewPCG(1, 2))
	for i := range 10000 {
		v := make([]byte, 1+rnd.IntN(40))
		for j := range v {
			v[j] = byte(rnd.Uint32())
		}
		v[0] = []byte{magicConfluent, magicKafmesh}[i%2]
		if m, _, err := decodeValue(none, "t", codec, v); err == nil {
			t.Fatalf("random value %x decoded as %v", v, m)
		}
	}
}

func TestParseFraming(t *testing.T) {
	for _, s := range []string{"plain", "confluent", "kafmesh2021", "auto"} {
		if f, err := ParseFraming(s); err != nil || string(f) != s {
			t.Errorf("%s: %v", s, err)
		}
	}
	if _, err := ParseFraming("kafmesh"); err == nil {
		t.Error("an unknown framing parsed")
	}
	// A bad configured framing stops NewService.
	if _, err := NewService(Definition{Name: "x"}, WithBrokers("127.0.0.1:1"), WithStateDir(t.TempDir()), WithTopicFraming("t", "bogus")); err == nil {
		t.Error("NewService accepted a bogus framing")
	}
}

// BenchmarkFraming measures what framing costs per record once the topic's
// header is cached: the header lookup on write and the framing check on
// read, for plain and kafmesh2021 topics.
func BenchmarkFraming(b *testing.B) {
	codec := Proto[wrapperspb.StringValue]()
	msg := wrapperspb.String("a value of a realistic size for a keyed event")
	desc := msg.ProtoReflect().Descriptor()
	b.Run("codec-only/encode", func(b *testing.B) {
		buf := make([]byte, 0, 128)
		for b.Loop() {
			var err error
			if buf, err = codec.Encode(buf[:0], msg); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, fr := range []Framing{FramingPlain, FramingKafmesh2021} {
		f := testFramer(framingConfig{def: fr, k2021: StaticSchemaIDs(map[protoreflect.FullName]uint32{desc.FullName(): 7})})
		// Another topic's option keeps plain off the allPlain fast path,
		// as in a service that configures any framing.
		f.allPlain = false
		b.Run(string(fr)+"/encode", func(b *testing.B) {
			buf := make([]byte, 0, 128)
			for b.Loop() {
				h, err := f.header(context.Background(), "t", desc)
				if err != nil {
					b.Fatal(err)
				}
				if buf, err = codec.Encode(append(buf[:0], h...), msg); err != nil {
					b.Fatal(err)
				}
			}
		})
		h, _ := f.header(context.Background(), "t", desc)
		value, _ := codec.Encode(h, msg)
		b.Run(string(fr)+"/decode", func(b *testing.B) {
			for b.Loop() {
				if _, _, err := decodeValue(f, "t", codec, value); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
