package runner_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/md5"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bufbuild/protocompile"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/kafmesh/kafmesh/kafmeshtest"
	"github.com/kafmesh/kafmesh/runner"
	registryv1 "github.com/kafmesh/kafmesh/runner/internal/registryv1"
)

// fakePSR serves the 2021 proto-schema-registry's gRPC API
// (proto.schema.registry.v1.RegistryAPI) in process, as the registry
// behaves: per topic, the same schema bytes get the same id, new bytes a
// new id; a schema must be gzip holding a "message record"; an unknown id
// is an error, as in the registry's last release.
type fakePSR struct {
	mu        sync.Mutex
	byContent map[string]uint32 // topic + md5 -> id
	schemas   map[uint32][]byte
	texts     map[string]string // topic -> latest schema text
	registers int               // RegisterSchema calls
	refuse    string            // when set, RegisterSchema answers with this error
	unavail   bool              // when set, GetSchema fails with Unavailable
}

func startFakePSR(t *testing.T) (*fakePSR, *grpc.ClientConn) {
	t.Helper()
	f := &fakePSR{byContent: map[string]uint32{}, schemas: map[uint32][]byte{}, texts: map[string]string{}}
	srv := grpc.NewServer()
	srv.RegisterService(&grpc.ServiceDesc{
		ServiceName: "proto.schema.registry.v1.RegistryAPI",
		HandlerType: (*any)(nil),
		Methods: []grpc.MethodDesc{
			{MethodName: "RegisterSchema", Handler: func(_ any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
				req := &registryv1.RegisterSchemaRequest{}
				if err := dec(req); err != nil {
					return nil, err
				}
				return f.register(req), nil
			}},
			{MethodName: "GetSchema", Handler: func(_ any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
				req := &registryv1.GetSchemaRequest{}
				if err := dec(req); err != nil {
					return nil, err
				}
				return f.get(req)
			}},
			{MethodName: "Ping", Handler: func(_ any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
				return &registryv1.PingResponse{}, dec(&registryv1.PingRequest{})
			}},
		},
	}, f)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	cc, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return f, cc
}

func (f *fakePSR) register(req *registryv1.RegisterSchemaRequest) *registryv1.RegisterSchemaResponse {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.registers++
	refuse := func(msg string) *registryv1.RegisterSchemaResponse {
		return &registryv1.RegisterSchemaResponse{Response: &registryv1.RegisterSchemaResponse_ResponseError{
			ResponseError: &registryv1.RegisterSchemaError{Errors: []string{msg, "second reason"}}}}
	}
	if f.refuse != "" {
		return refuse(f.refuse)
	}
	zr, err := gzip.NewReader(bytes.NewReader(req.GetSchema()))
	if err != nil {
		return refuse("invalid gzip: " + err.Error())
	}
	text, err := io.ReadAll(zr)
	if err != nil {
		return refuse(err.Error())
	}
	if !strings.Contains(string(text), "message record {") {
		return refuse("proto has no record message")
	}
	key := fmt.Sprintf("%s/%x", req.GetTopic(), md5.Sum(req.GetSchema()))
	id, ok := f.byContent[key]
	if !ok {
		id = uint32(len(f.schemas) + 100)
		f.byContent[key] = id
		f.schemas[id] = req.GetSchema()
		f.texts[req.GetTopic()] = string(text)
	}
	return &registryv1.RegisterSchemaResponse{Response: &registryv1.RegisterSchemaResponse_ResponseSuccess{
		ResponseSuccess: &registryv1.RegisterSchemaSuccess{Id: id}}}
}

func (f *fakePSR) get(req *registryv1.GetSchemaRequest) (*registryv1.GetSchemaResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.unavail {
		return nil, status.Error(codes.Unavailable, "registry is restarting")
	}
	if req.GetId() == 99 { // an id an older registry says does not exist
		return &registryv1.GetSchemaResponse{Exists: false}, nil
	}
	s, ok := f.schemas[req.GetId()]
	if !ok {
		return nil, fmt.Errorf("failed to find schema for '%d'", req.GetId())
	}
	return &registryv1.GetSchemaResponse{Exists: true, Schema: s}, nil
}

func (f *fakePSR) calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.registers
}

// compileMessage compiles one .proto source (package deviceId) and returns
// its message name.
func compileMessage(t *testing.T, src, name string) protoreflect.MessageDescriptor {
	t.Helper()
	c := protocompile.Compiler{Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{
		Accessor: protocompile.SourceAccessorFromMap(map[string]string{"deviceId/details.proto": src}),
	})}
	files, err := c.Compile(context.Background(), "deviceId/details.proto")
	if err != nil {
		t.Fatal(err)
	}
	d := files[0].Messages().ByName(protoreflect.Name(name))
	if d == nil {
		t.Fatalf("no message %s", name)
	}
	return d
}

const detailsProto = `syntax = "proto3";
package deviceId;
import "google/protobuf/timestamp.proto";

enum Status { STATUS_UNKNOWN = 0; STATUS_OK = 1; }

message Location {
  double lat = 1;
  double lon = 2;
  enum Source { SOURCE_GPS = 0; SOURCE_CELL = 1; }
  Source source = 3;
}

message Details {
  string name = 1;
  google.protobuf.Timestamp time = 2;
  Status status = 3;
  Location location = 4;
  repeated string tags = 5;
  map<string, int64> counts = 6;
  oneof contact {
    string email = 7;
    string phone = 8;
  }
  Location.Source source = 9;
  bytes raw = 10;
  message Inner { message Deep { int32 x = 1; } }
}

message Tree { repeated Tree children = 1; }
message Holder { Details.Inner.Deep deep = 1; }
`

// The schema text is the 2021 client's: the used types first, each once,
// named by full name with underscores; the message itself named "record";
// its own enums inside it; a oneof as "oneof oneof_<index>".
func TestKafmesh2021SchemaIsThe2021Text(t *testing.T) {
	got, err := runner.Kafmesh2021Schema(compileMessage(t, detailsProto, "Details"))
	if err != nil {
		t.Fatal(err)
	}
	want := `syntax = "proto3";
package gen;
message google_protobuf_Timestamp {
	int64 seconds = 1;
	int32 nanos = 2;
}
enum deviceId_Status {
	STATUS_UNKNOWN = 0;
	STATUS_OK = 1;
}
message deviceId_Location {
	double lat = 1;
	double lon = 2;
	Source source = 3;
	enum Source {
		SOURCE_GPS = 0;
		SOURCE_CELL = 1;
	}
}
message deviceId_Details_CountsEntry {
	string key = 1;
	int64 value = 2;
}
message record {
	string name = 1;
	google_protobuf_Timestamp time = 2;
	deviceId_Status status = 3;
	deviceId_Location location = 4;
	repeated string tags = 5;
	repeated deviceId_Details_CountsEntry counts = 6;
	oneof oneof_0 {
		string email = 7;
		string phone = 8;
	}
	deviceId_Location.Source source = 9;
	bytes raw = 10;
}
`
	if got != want {
		t.Errorf("schema text:\n%s\nwant:\n%s", got, want)
	}
	for name, wantErr := range map[string]string{
		"Tree":   "recursive",
		"Holder": "nested too deep",
	} {
		if _, err := runner.Kafmesh2021Schema(compileMessage(t, detailsProto, name)); err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("%s: err = %v; want one saying %q", name, err, wantErr)
		}
	}
	inner := compileMessage(t, detailsProto, "Details").Messages().ByName("Inner")
	if _, err := runner.Kafmesh2021Schema(inner); err == nil || !strings.Contains(err.Error(), "top-level") {
		t.Errorf("nested message: err = %v", err)
	}
}

// The client registers a schema once per topic and content, however many
// callers ask at once, and caches the id; ids are per topic; a refusal
// carries the registry's reasons and is not cached.
func TestProtoSchemaRegistryLooksUpOncePerSchema(t *testing.T) {
	fake, cc := startFakePSR(t)
	reg := runner.NewProtoSchemaRegistry(cc)
	ctx := context.Background()
	if err := reg.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	details := compileMessage(t, detailsProto, "Details")
	var wg sync.WaitGroup
	ids := make([]uint32, 20)
	errs := make([]error, 20)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ids[i], errs[i] = reg.SchemaID(ctx, "deviceId.details", details)
		}()
	}
	wg.Wait()
	for i := range ids {
		if errs[i] != nil || ids[i] != ids[0] {
			t.Fatalf("call %d: id %d, %v; want %d", i, ids[i], errs[i], ids[0])
		}
	}
	if n := fake.calls(); n != 1 {
		t.Fatalf("%d RegisterSchema calls for 20 lookups of one schema; want 1", n)
	}
	want, _ := runner.Kafmesh2021Schema(details)
	if got := fake.texts["deviceId.details"]; got != want {
		t.Errorf("registered text:\n%s\nwant:\n%s", got, want)
	}
	// Another topic is another registration, with its own id; a new client
	// (a restarted service) gets the same id for the same bytes.
	other, err := reg.SchemaID(ctx, "deviceId.other", details)
	if err != nil || other == ids[0] || fake.calls() != 2 {
		t.Fatalf("other topic: id %d (first %d), %v, %d calls", other, ids[0], err, fake.calls())
	}
	again, err := runner.NewProtoSchemaRegistry(cc).SchemaID(ctx, "deviceId.details", details)
	if err != nil || again != ids[0] {
		t.Fatalf("restarted client: id %d, %v; want %d", again, err, ids[0])
	}
	// Refused: the reasons reach the caller, and the next call asks again.
	fake.mu.Lock()
	fake.refuse = "field 1 changed type"
	fake.mu.Unlock()
	loc := compileMessage(t, detailsProto, "Location")
	if _, err := reg.SchemaID(ctx, "deviceId.location", loc); err == nil || !strings.Contains(err.Error(), "field 1 changed type; second reason") {
		t.Fatalf("refused schema: err = %v", err)
	}
	fake.mu.Lock()
	fake.refuse = ""
	fake.mu.Unlock()
	if _, err := reg.SchemaID(ctx, "deviceId.location", loc); err != nil {
		t.Fatalf("after the refusal: %v", err)
	}
	// Ids resolve: known, unknown (both ways the registry says it), and an
	// outage is an error, not "no".
	for id, want := range map[uint32]bool{ids[0]: true, 99: false, 5000: false} {
		if got, err := reg.HasSchemaID(ctx, id); err != nil || got != want {
			t.Errorf("HasSchemaID(%d) = %v, %v; want %v", id, got, err, want)
		}
	}
	fake.mu.Lock()
	fake.unavail = true
	fake.mu.Unlock()
	if _, err := reg.HasSchemaID(ctx, 5000); err == nil {
		t.Error("HasSchemaID during an outage: no error")
	}
	if ok, err := reg.HasSchemaID(ctx, ids[0]); !ok || err != nil {
		t.Errorf("a found id is cached: %v, %v", ok, err)
	}
}

// End to end: a service with framing kafmesh2021 and the registry client
// writes source records, processor outputs and state to a broker (the
// real one with KAFMESH_TEST_BROKERS); the 2021 decoder reads every value,
// with the id the registry gave for that topic, and the registry was asked
// once per topic, not per record.
func TestFramingKafmesh2021WithTheRegistry(t *testing.T) {
	brokers := kafmeshtest.StartBroker(t)
	fake, cc := startFakePSR(t)
	c := newCounter(t)
	table := c.group + "-table"
	kafmeshtest.CreateTopic(t, brokers, c.in, 2, false)
	kafmeshtest.CreateTopic(t, brokers, c.out, 2, false)
	kafmeshtest.CreateTopic(t, brokers, table, 2, true)
	reg := runner.NewProtoSchemaRegistry(cc)
	s := newService(t, brokers, "framing2021registry", t.TempDir(),
		runner.WithFraming(runner.FramingKafmesh2021), runner.WithKafmesh2021Registry(reg))
	src, err := runner.NewSource(s, runner.SourceSpec{Component: "c", TopicRef: runner.TopicRef{Topic: c.in, Type: runner.TopicProtobuf}}, stringCodec)
	if err != nil {
		t.Fatal(err)
	}
	c.register(t, s)
	running(t, s)
	const n, keys = 60, 4
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range n {
		if err := src.Emit(ctx, fmt.Sprintf("key-%d", i%keys), wrapperspb.String(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	idOf := func(topic string, m protoreflect.ProtoMessage) uint32 {
		id, err := reg.SchemaID(ctx, topic, m.ProtoReflect().Descriptor())
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	check := func(topic string, rs []*kgo.Record, m protoreflect.ProtoMessage) {
		want := idOf(topic, m)
		for _, r := range rs {
			if id, err := decode2021(r.Value, m); err != nil || id != want {
				t.Fatalf("%s record %x: id %d, %v; want id %d", topic, r.Value, id, err, want)
			}
		}
	}
	check(c.in, consumeN(t, brokers, c.in, n, 30*time.Second), &wrapperspb.StringValue{})
	outs := consumeN(t, brokers, c.out, n, 60*time.Second)
	check(c.out, outs, &wrapperspb.Int64Value{})
	states := consumeQuiet(t, brokers, table, 2*time.Second)
	if len(states) < keys {
		t.Fatalf("%d state records; want at least %d", len(states), keys)
	}
	check(table, states, &wrapperspb.Int64Value{})
	counts := map[string]int64{}
	for _, r := range outs {
		var v wrapperspb.Int64Value
		if _, err := decode2021(r.Value, &v); err != nil {
			t.Fatal(err)
		}
		counts[string(r.Key)] = max(counts[string(r.Key)], v.Value)
	}
	expectCounts(t, counts, n, keys)
	// Three topics, three registrations, for 60 + 60 + several records
	// (the lookups idOf made above were answered from the cache).
	if got := fake.calls(); got != 3 {
		t.Errorf("%d RegisterSchema calls; want 3 (one per topic)", got)
	}
	if ids := map[uint32]bool{idOf(c.in, &wrapperspb.StringValue{}): true, idOf(c.out, &wrapperspb.Int64Value{}): true, idOf(table, &wrapperspb.Int64Value{}): true}; len(ids) != 3 {
		t.Errorf("ids per topic %v; want three different ids", ids)
	}
}
