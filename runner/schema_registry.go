package runner

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// SchemaRegistry finds the schema id to write in Confluent framing. A
// franz-go sr client becomes one with [SchemaRegistryFromSR]; tests may
// give any implementation.
type SchemaRegistry interface {
	// SchemaID returns the id of the latest schema of subject.
	SchemaID(ctx context.Context, subject string) (int, error)
}

// SchemaIDResolver is implemented by registries that can tell whether a
// schema id exists. Reading uses it to accept a value that starts with the
// magic byte of a framing its topic is not configured for: the value is
// taken as framed only when its schema id resolves (see [Framing]).
type SchemaIDResolver interface {
	// HasSchemaID reports whether id names a schema in the registry.
	HasSchemaID(ctx context.Context, id uint32) (bool, error)
}

// SchemaRegistryFromSR uses a Confluent-compatible schema registry through
// the franz-go sr client. The service looks each topic's subject up once,
// at its first write: register the schemas (e.g. from CI) before the
// service writes, and restart it to pick up a new version.
func SchemaRegistryFromSR(cl *sr.Client) SchemaRegistry { return srRegistry{cl} }

type srRegistry struct{ cl *sr.Client }

func (r srRegistry) SchemaID(ctx context.Context, subject string) (int, error) {
	s, err := r.cl.SchemaByVersion(ctx, subject, -1) // -1: latest
	if err != nil {
		return 0, err
	}
	return s.ID, nil
}

func (r srRegistry) HasSchemaID(ctx context.Context, id uint32) (bool, error) {
	_, err := r.cl.SchemaByID(ctx, int(id))
	var re *sr.ResponseError
	if errors.As(err, &re) && re.StatusCode == 404 {
		return false, nil
	}
	return err == nil, err
}

// Kafmesh2021Registry gives the schema ids of the kafmesh 2021 framing
// (0x02, a 4-byte big-endian schema id, the protobuf payload), as the
// 2021 services got them from a proto-schema-registry: by content, one id
// per topic and message schema. The service asks once per topic, at the
// topic's first write, and caches the answer; no record waits for the
// registry after that. [NewProtoSchemaRegistry] asks a real registry;
// [StaticSchemaIDs] knows a fixed set.
type Kafmesh2021Registry interface {
	// SchemaID returns the id of the schema of the message desc describes
	// (with the types it uses) on topic, registering it if the registry
	// does that.
	SchemaID(ctx context.Context, topic string, desc protoreflect.MessageDescriptor) (uint32, error)
	SchemaIDResolver
}

// StaticSchemaIDs is a [Kafmesh2021Registry] that knows a fixed set of ids,
// by full message name ("deviceId.Details") whatever the topic: the ids the
// 2021 registry gave, when the service should not call the registry at all.
func StaticSchemaIDs(ids map[protoreflect.FullName]uint32) Kafmesh2021Registry {
	known := make(map[uint32]bool, len(ids))
	for _, id := range ids {
		known[id] = true
	}
	return staticIDs{ids: ids, known: known}
}

type staticIDs struct {
	ids   map[protoreflect.FullName]uint32
	known map[uint32]bool
}

func (s staticIDs) SchemaID(_ context.Context, _ string, d protoreflect.MessageDescriptor) (uint32, error) {
	id, ok := s.ids[d.FullName()]
	if !ok {
		return 0, fmt.Errorf("no schema id configured for %s", d.FullName())
	}
	return id, nil
}

func (s staticIDs) HasSchemaID(_ context.Context, id uint32) (bool, error) { return s.known[id], nil }

// framingConfig is the service's framing configuration.
type framingConfig struct {
	def    Framing            // "" when not set
	topics map[string]Framing // per-topic overrides
	k2021  Kafmesh2021Registry
}

// WithFraming sets the value framing the service writes to every topic
// without its own (see [WithTopicFraming]). The default is plain, or
// Confluent when [WithSchemaRegistry] is given. It also decides what the
// service accepts when it reads (see [Framing]).
func WithFraming(f Framing) Option { return func(c *serviceConfig) { c.framing.def = f } }

// WithTopicFraming sets the value framing of one topic, overriding
// [WithFraming]. State topics ("<group>-table") are topics like any other.
func WithTopicFraming(topic string, f Framing) Option {
	return func(c *serviceConfig) {
		if c.framing.topics == nil {
			c.framing.topics = map[string]Framing{}
		}
		c.framing.topics[topic] = f
	}
}

// WithKafmesh2021Registry sets where the schema ids of the kafmesh 2021
// framing come from. Writing that framing (explicitly or through
// FramingAuto) needs it; reading uses it to resolve ids.
func WithKafmesh2021Registry(r Kafmesh2021Registry) Option {
	return func(c *serviceConfig) { c.framing.k2021 = r }
}

// framer decides and caches the framing of each topic: the header written
// before every value, and which framed values reading accepts.
type framer struct {
	svc  *Service
	cfg  framingConfig
	reg  SchemaRegistry // Confluent; nil without WithSchemaRegistry
	warn error          // a configuration error, reported at first use

	// allPlain: every topic is written plain and nothing resolves ids,
	// so writing needs no lookup at all.
	allPlain bool

	mu sync.Mutex // serializes deciding a topic's header
	// headers maps topic to its header (nil: plain). Writers copy the map
	// under mu and publish it; readers load it without a lock.
	headers atomic.Pointer[map[string][]byte]
	ids     sync.Map // resolveKey -> bool
}

type resolveKey struct {
	magic byte
	id    uint32
}

func newFramer(s *Service) *framer {
	f := &framer{svc: s, cfg: s.cfg.framing, reg: s.cfg.registry}
	if f.cfg.def == "" {
		f.cfg.def = FramingPlain
		if f.reg != nil {
			f.cfg.def = FramingConfluent
		}
	}
	if _, err := ParseFraming(string(f.cfg.def)); err != nil {
		f.warn = err
	}
	for t, fr := range f.cfg.topics {
		if _, err := ParseFraming(string(fr)); err != nil {
			f.warn = fmt.Errorf("topic %s: %w", t, err)
		}
	}
	f.allPlain = f.cfg.def == FramingPlain && len(f.cfg.topics) == 0 && f.reg == nil && f.cfg.k2021 == nil && f.warn == nil
	return f
}

// configured is the framing topic is configured for.
func (f *framer) configured(topic string) Framing {
	if fr, ok := f.cfg.topics[topic]; ok {
		return fr
	}
	return f.cfg.def
}

// header returns the framing header to write before each value of topic,
// nil for plain. The first call per topic decides it (for FramingAuto, by
// reading the topic's latest records; for the registries, by one lookup);
// every later call is a map load.
func (f *framer) header(ctx context.Context, topic string, desc protoreflect.MessageDescriptor) ([]byte, error) {
	if f.allPlain {
		return nil, nil
	}
	if m := f.headers.Load(); m != nil {
		if h, ok := (*m)[topic]; ok {
			return h, nil
		}
	}
	return f.decideHeader(ctx, topic, desc)
}

// decideHeader is header's first call for a topic. It is a function of its
// own so that header, called for every value written, has no defers (a
// function with defers pays for running them on every return).
func (f *framer) decideHeader(ctx context.Context, topic string, desc protoreflect.MessageDescriptor) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if m := f.headers.Load(); m != nil {
		if h, ok := (*m)[topic]; ok {
			return h, nil
		}
	}
	if f.warn != nil {
		return nil, f.warn
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	fr := f.configured(topic)
	if fr == FramingAuto {
		var err error
		if fr, err = f.detect(ctx, topic); err != nil {
			return nil, fmt.Errorf("framing auto: topic %s: %w", topic, err)
		}
		f.svc.log.Info("framing auto: writing the framing of the topic's latest records", "topic", topic, "framing", fr)
	}
	var h []byte
	switch fr {
	case FramingConfluent:
		if f.reg == nil {
			return nil, fmt.Errorf("topic %s: Confluent framing needs runner.WithSchemaRegistry", topic)
		}
		subject := topic + "-value"
		id, err := f.reg.SchemaID(ctx, subject)
		if err != nil {
			return nil, fmt.Errorf("schema registry: subject %q: %w", subject, err)
		}
		h = appendConfluentHeader(nil, uint32(id), messageIndexes(desc))
	case FramingKafmesh2021:
		if f.cfg.k2021 == nil {
			return nil, fmt.Errorf("topic %s: kafmesh2021 framing needs runner.WithKafmesh2021Registry", topic)
		}
		id, err := f.cfg.k2021.SchemaID(ctx, topic, desc)
		if err != nil {
			return nil, fmt.Errorf("kafmesh 2021 registry: %s: %w", desc.FullName(), err)
		}
		h = appendKafmesh2021Header(nil, id)
	}
	next := map[string][]byte{topic: h}
	if m := f.headers.Load(); m != nil {
		for t, v := range *m {
			next[t] = v
		}
	}
	f.headers.Store(&next)
	return h, nil
}

// detect returns the framing of the newest non-tombstone record among the
// last record of each partition of topic; plain for an empty topic.
func (f *framer) detect(ctx context.Context, topic string) (Framing, error) {
	var latest *kgo.Record
	consider := func(r *kgo.Record) {
		if r.Value != nil && (latest == nil || r.Timestamp.After(latest.Timestamp)) {
			latest = r
		}
	}
	if f.svc.mem != nil {
		for _, r := range f.svc.mem.Records(topic) {
			consider(r)
		}
	} else if err := f.readLast(ctx, topic, consider); err != nil {
		return "", err
	}
	if latest == nil {
		return FramingPlain, nil
	}
	return framingOf(latest.Value), nil
}

// framingOf names the framing a value's first byte says it has.
func framingOf(value []byte) Framing {
	if len(value) > 0 {
		switch value[0] {
		case magicKafmesh:
			return FramingKafmesh2021
		case magicConfluent:
			return FramingConfluent
		}
	}
	return FramingPlain
}

// readLast calls fn with the last data record of every non-empty partition
// of topic. It reads the last records of each partition, not only the one
// at the end offset minus one: there, in a topic written transactionally,
// sits a commit marker.
func (f *framer) readLast(ctx context.Context, topic string, fn func(*kgo.Record)) error {
	cl, err := kgo.NewClient(f.svc.clientOpts()...)
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return fmt.Errorf("list start offsets: %w", err)
	}
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return fmt.Errorf("list end offsets: %w", err)
	}
	const window = 32 // records read back from the end of each partition
	want := map[int32]kgo.Offset{}
	end := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if s, ok := starts.Lookup(o.Topic, o.Partition); ok && o.Offset > s.Offset {
			want[o.Partition] = kgo.NewOffset().At(max(s.Offset, o.Offset-window))
			end[o.Partition] = o.Offset
		}
	})
	if len(want) == 0 {
		return nil
	}
	rd, err := kgo.NewClient(f.svc.clientOpts(kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: want}))...)
	if err != nil {
		return err
	}
	defer rd.Close()
	last := map[int32]*kgo.Record{}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		pctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		fetches := rd.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		n, done := 0, true
		fetches.EachRecord(func(r *kgo.Record) {
			n++
			if r.Offset < end[r.Partition] {
				last[r.Partition] = r
			}
		})
		for p, e := range end {
			// Done with a partition once its last offset was read, or
			// (a control record at the end) once nothing more comes.
			if r := last[p]; r == nil || r.Offset < e-1 {
				done = false
			}
		}
		if done || (n == 0 && len(last) > 0) {
			break
		}
	}
	for _, r := range last {
		fn(r)
	}
	return nil
}

// resolves reports whether the schema id of a value framed with magic
// names a schema in the matching registry; answers are cached, so each
// id is looked up once.
func (f *framer) resolves(magic byte, id uint32) bool {
	k := resolveKey{magic, id}
	if v, ok := f.ids.Load(k); ok {
		return v.(bool)
	}
	var r SchemaIDResolver
	switch magic {
	case magicKafmesh:
		if f.cfg.k2021 != nil {
			r = f.cfg.k2021
		}
	case magicConfluent:
		r, _ = f.reg.(SchemaIDResolver)
	}
	if r == nil {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ok, err := r.HasSchemaID(ctx, id)
	if err != nil {
		// Unknown, not "no": do not cache, ask again next time.
		f.svc.log.Warn("cannot resolve schema id", "id", id, "err", err)
		return false
	}
	f.ids.Store(k, ok)
	return ok
}

// unframe returns the protobuf payload of a value read from topic. A value
// starting with 0x00 or 0x02 is taken as framed only when topic is
// configured for that framing (or FramingAuto) or its schema id resolves;
// otherwise it is an error: such a value is not valid plain protobuf
// either, and guessing would turn random bytes into messages.
func (f *framer) unframe(topic string, value []byte) ([]byte, error) {
	if len(value) == 0 || (value[0] != magicKafmesh && value[0] != magicConfluent) {
		return value, nil
	}
	payload, id, err := Unframe(value)
	if err != nil {
		return nil, err
	}
	fr := f.configured(topic)
	if fr == FramingAuto || fr == framingOf(value) || f.resolves(value[0], id) {
		return payload, nil
	}
	return nil, fmt.Errorf("%w: value starts with 0x%02x (%s framing, schema id %d), but topic %s is configured for %s framing and the id does not resolve in a registry; configure the topic's framing (runner.WithTopicFraming, definition key framing:)",
		ErrFraming, value[0], framingOf(value), id, topic, fr)
}

// appendKafmesh2021Header appends the kafmesh 2021 framing header.
func appendKafmesh2021Header(dst []byte, id uint32) []byte {
	return binary.BigEndian.AppendUint32(append(dst, magicKafmesh), id)
}
