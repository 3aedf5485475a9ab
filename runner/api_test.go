package runner_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	rpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/apipb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	discoveryv1 "github.com/kafmesh/kafmesh/api/discovery/v1"
	"github.com/kafmesh/kafmesh/runner"
)

// thingFile is a protobuf file that exists only in the definition, not
// among the files linked into the binary: GetServiceInfo must find it
// through Definition.Files.
func thingFile(t testing.TB) protoreflect.FileDescriptor {
	t.Helper()
	fdp := &descriptorpb.FileDescriptorProto{
		Name:       proto.String("kafmeshtest/thing.proto"),
		Package:    proto.String("kafmeshtest.things"),
		Syntax:     proto.String("proto3"),
		Dependency: []string{"google/protobuf/timestamp.proto"},
		MessageType: []*descriptorpb.DescriptorProto{{
			Name: proto.String("Thing"),
			Field: []*descriptorpb.FieldDescriptorProto{
				{Name: proto.String("name"), JsonName: proto.String("name"), Number: proto.Int32(1),
					Type: descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum(), Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum()},
				{Name: proto.String("at"), JsonName: proto.String("at"), Number: proto.Int32(2), TypeName: proto.String(".google.protobuf.Timestamp"),
					Type: descriptorpb.FieldDescriptorProto_TYPE_MESSAGE.Enum(), Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum()},
			},
		}},
	}
	fd, err := protodesc.NewFile(fdp, protoregistry.GlobalFiles)
	if err != nil {
		t.Fatal(err)
	}
	return fd
}

func ref(topic, message string) runner.TopicRef {
	if message == "" {
		return runner.TopicRef{Topic: topic, Type: runner.TopicRaw}
	}
	return runner.TopicRef{Topic: topic, Message: message, Type: runner.TopicProtobuf}
}

func td(topic, message string) *discoveryv1.TopicDefinition {
	if message == "" {
		return &discoveryv1.TopicDefinition{Topic: topic, Type: discoveryv1.TopicType_TOPIC_TYPE_RAW}
	}
	return &discoveryv1.TopicDefinition{Topic: topic, Message: message, Type: discoveryv1.TopicType_TOPIC_TYPE_PROTOBUF}
}

type noSink struct{}

func (noSink) Collect(runner.SinkContext, string, []byte) error { return nil }
func (noSink) Flush(context.Context) error                      { return nil }

type noViewSource struct{}

func (noViewSource) Sync(context.Context, runner.Updater[*wrapperspb.StringValue]) error { return nil }

type noViewSink struct{}

func (noViewSink) Sync(context.Context, runner.Reader[*wrapperspb.StringValue]) error { return nil }

// discoveryFixture is a service with one part of every kind, registered on
// a gRPC server of the test's own (WithGRPCServer), served on a loopback
// port. It does not Run: the APIs answer without Kafka. want is the
// response GetServiceInfo must give, without file_descriptor_set.
func discoveryFixture(t testing.TB) (svc *runner.Service, addr string, want *discoveryv1.GetServiceInfoResponse) {
	t.Helper()
	srv := grpc.NewServer()
	def := runner.Definition{
		Name: "shop", Description: "sells things",
		Components: []runner.ComponentInfo{
			{Name: "orders", Description: "order handling"},
			{Name: "catalog", Description: "what is for sale"},
			{Name: "idle", Description: "declared, nothing registered"},
		},
		Files: []protoreflect.FileDescriptor{thingFile(t)},
	}
	svc, err := runner.NewService(def, runner.WithBrokers("127.0.0.1:1"), runner.WithStateDir(t.TempDir()),
		runner.WithLogger(testLogger(t)), runner.WithGRPCServer(srv))
	if err != nil {
		t.Fatal(err)
	}
	const str, thing, api = "google.protobuf.StringValue", "kafmeshtest.things.Thing", "google.protobuf.Api"

	state := ref("shop.orders.counter-table", "google.protobuf.Int64Value")
	p := runner.NewProcessor(runner.ProcessorSpec{
		Component: "orders", Name: "counter", Description: "counts orders", Group: "shop.orders.counter",
		Inputs:  []runner.TopicRef{ref("shop.orders.placed", str)},
		Joins:   []runner.TopicRef{ref("shop.orders.customers", str)},
		Lookups: []runner.TopicRef{ref("shop.catalog.things", thing)},
		Outputs: []runner.OutputRef{{TopicRef: ref("shop.orders.counts", "google.protobuf.Int64Value"), Description: "running counts"}},
		State:   &state,
	})
	runner.HandleInput(p, 0, stringCodec, func(*runner.ProcessorContext, *wrapperspb.StringValue) error { return nil })
	if err := svc.Register(p); err != nil {
		t.Fatal(err)
	}
	if _, err := runner.NewSource(svc, runner.SourceSpec{Component: "orders", TopicRef: ref("shop.orders.apis", api)}, runner.Proto[apipb.Api]()); err != nil {
		t.Fatal(err)
	}
	if _, err := runner.NewView(svc, runner.ViewSpec{Component: "catalog", TopicRef: ref("shop.catalog.things", thing)}, runner.Raw()); err != nil {
		t.Fatal(err)
	}
	if err := runner.NewSink(svc, runner.SinkSpec{Component: "catalog", Name: "archive", Description: "raw archive", Group: "shop.catalog.archive",
		TopicRef: ref("shop.catalog.blobs", "")}, runner.Raw(), noSink{}); err != nil {
		t.Fatal(err)
	}
	if err := runner.NewViewSource(svc, runner.ViewSourceSpec{Component: "catalog", Name: "importer", Description: "from the ERP",
		TopicRef: ref("shop.catalog.names", str)}, stringCodec, noViewSource{}); err != nil {
		t.Fatal(err)
	}
	if err := runner.NewViewSink(svc, runner.ViewSinkSpec{Component: "catalog", Name: "exporter", Description: "to the warehouse",
		TopicRef: ref("shop.catalog.names", str)}, stringCodec, noViewSink{}); err != nil {
		t.Fatal(err)
	}
	// A component the definition does not list comes last.
	if _, err := runner.NewSource(svc, runner.SourceSpec{Component: "extra", TopicRef: ref("shop.extra.notes", str)}, stringCodec); err != nil {
		t.Fatal(err)
	}

	want = &discoveryv1.GetServiceInfoResponse{Service: &discoveryv1.Service{
		Name: "shop", Description: "sells things",
		Components: []*discoveryv1.Component{
			{
				Name: "orders", Description: "order handling",
				Processors: []*discoveryv1.Processor{{
					Name: "counter", GroupName: "shop.orders.counter", Description: "counts orders",
					Inputs:      []*discoveryv1.Input{{Topic: td("shop.orders.placed", str)}},
					Joins:       []*discoveryv1.Join{{Topic: td("shop.orders.customers", str)}},
					Lookups:     []*discoveryv1.Lookup{{Topic: td("shop.catalog.things", thing)}},
					Outputs:     []*discoveryv1.Output{{Topic: td("shop.orders.counts", "google.protobuf.Int64Value"), Description: "running counts"}},
					Persistence: &discoveryv1.Persistence{Topic: td("shop.orders.counter-table", "google.protobuf.Int64Value")},
				}},
				Sources: []*discoveryv1.Source{{Topic: td("shop.orders.apis", api)}},
			},
			{
				Name: "catalog", Description: "what is for sale",
				Views:       []*discoveryv1.View{{Topic: td("shop.catalog.things", thing)}},
				Sinks:       []*discoveryv1.Sink{{Name: "archive", Description: "raw archive", Topic: td("shop.catalog.blobs", "")}},
				ViewSources: []*discoveryv1.ViewSource{{Name: "importer", Description: "from the ERP", Topic: td("shop.catalog.names", str)}},
				ViewSinks:   []*discoveryv1.ViewSink{{Name: "exporter", Description: "to the warehouse", Topic: td("shop.catalog.names", str)}},
			},
			{Name: "idle", Description: "declared, nothing registered"},
			{Name: "extra", Sources: []*discoveryv1.Source{{Topic: td("shop.extra.notes", str)}}},
		},
	}}

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return svc, lis.Addr().String(), want
}

// reflectFiles asks the server's reflection service for the file that
// declares symbol and the files it depends on, as grpcurl does.
func reflectFiles(t testing.TB, conn *grpc.ClientConn, symbol string) *protoregistry.Files {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stream, err := rpb.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = stream.CloseSend() }()
	if err := stream.Send(&rpb.ServerReflectionRequest{MessageRequest: &rpb.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: symbol}}); err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if e := resp.GetErrorResponse(); e != nil {
		t.Fatalf("reflection of %s: %s", symbol, e.GetErrorMessage())
	}
	var set descriptorpb.FileDescriptorSet
	for _, b := range resp.GetFileDescriptorResponse().GetFileDescriptorProto() {
		fdp := &descriptorpb.FileDescriptorProto{}
		if err := proto.Unmarshal(b, fdp); err != nil {
			t.Fatal(err)
		}
		set.File = append(set.File, fdp)
	}
	files, err := protodesc.NewFiles(&set)
	if err != nil {
		t.Fatalf("files of %s from reflection: %v", symbol, err)
	}
	return files
}

func listServices(t testing.TB, conn *grpc.ClientConn) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stream, err := rpb.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = stream.CloseSend() }()
	if err := stream.Send(&rpb.ServerReflectionRequest{MessageRequest: &rpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	slices.Sort(names)
	return names
}

// callDynamic calls a unary method known only from reflection, with an
// empty request, and returns the response as a dynamic message.
func callDynamic(t testing.TB, conn *grpc.ClientConn, service, method string) *dynamicpb.Message {
	t.Helper()
	files := reflectFiles(t, conn, service)
	d, err := files.FindDescriptorByName(protoreflect.FullName(service))
	if err != nil {
		t.Fatalf("reflection lacks %s: %v", service, err)
	}
	md := d.(protoreflect.ServiceDescriptor).Methods().ByName(protoreflect.Name(method))
	if md == nil {
		t.Fatalf("%s has no method %s", service, method)
	}
	req, resp := dynamicpb.NewMessage(md.Input()), dynamicpb.NewMessage(md.Output())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := conn.Invoke(ctx, "/"+service+"/"+method, req, resp); err != nil {
		t.Fatalf("%s/%s: %v", service, method, err)
	}
	return resp
}

// field reads a field by name from a dynamic message.
func field(m protoreflect.Message, name string) protoreflect.Value {
	return m.Get(m.Descriptor().Fields().ByName(protoreflect.Name(name)))
}

// With reflection alone (no generated code on the client side), a client
// lists the services and calls both discovery names and Ping.
func TestReflectionServesDiscoveryWithoutProtoFiles(t *testing.T) {
	_, addr, want := discoveryFixture(t)
	conn := dial(t, addr)

	services := listServices(t, conn)
	for _, s := range []string{"grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection", "kafmesh.discover.v1.Discover",
		"kafmesh.discovery.v1.DiscoveryAPI", "kafmesh.ping.v1.PingAPI", "kafmesh.watch.v1.WatchAPI"} {
		if !slices.Contains(services, s) {
			t.Errorf("reflection lists %v, missing %s", services, s)
		}
	}

	callDynamic(t, conn, "kafmesh.ping.v1.PingAPI", "Ping")
	for _, service := range []string{"kafmesh.discovery.v1.DiscoveryAPI", "kafmesh.discover.v1.Discover"} {
		t.Run(service, func(t *testing.T) {
			resp := callDynamic(t, conn, service, "GetServiceInfo")
			svc := field(resp, "service").Message()
			if name := field(svc, "name").String(); name != "shop" {
				t.Errorf("service.name = %q", name)
			}
			comps := field(svc, "components").List()
			if comps.Len() != 4 || field(comps.Get(0).Message(), "name").String() != "orders" {
				t.Errorf("components read dynamically: %d, first %v", comps.Len(), comps.Get(0))
			}

			// The whole tree, compared after decoding the same bytes
			// with the generated type.
			b, err := proto.Marshal(resp)
			if err != nil {
				t.Fatal(err)
			}
			got := &discoveryv1.GetServiceInfoResponse{}
			if err := proto.Unmarshal(b, got); err != nil {
				t.Fatal(err)
			}
			fds := got.GetService().GetFileDescriptorSet()
			got.Service.FileDescriptorSet = nil
			if !proto.Equal(got, want) {
				t.Errorf("GetServiceInfo:\n%s\nwant:\n%s", prototext.Format(got), prototext.Format(want))
			}
			checkDescriptorSet(t, fds)
		})
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || h.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("health before Run = %v, %v; want NOT_SERVING", h, err)
	}
}

// checkDescriptorSet checks file_descriptor_set: every file of every named
// message with its imports, each once, imports first; and that it decodes
// a value of a message only the definition knows.
func checkDescriptorSet(t testing.TB, b []byte) {
	t.Helper()
	var set descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(b, &set); err != nil {
		t.Fatalf("file_descriptor_set: %v", err)
	}
	var names []string
	pos := map[string]int{}
	for i, f := range set.File {
		if _, dup := pos[f.GetName()]; dup {
			t.Errorf("file %s appears twice", f.GetName())
		}
		pos[f.GetName()] = i
		names = append(names, f.GetName())
	}
	for i, f := range set.File {
		for _, dep := range f.GetDependency() {
			if at, ok := pos[dep]; !ok || at > i {
				t.Errorf("%s imports %s, which is not before it (order %v)", f.GetName(), dep, names)
			}
		}
	}
	want := []string{"google/protobuf/any.proto", "google/protobuf/api.proto", "google/protobuf/source_context.proto",
		"google/protobuf/timestamp.proto", "google/protobuf/type.proto", "google/protobuf/wrappers.proto", "kafmeshtest/thing.proto"}
	sortedNames := slices.Sorted(slices.Values(names))
	if !slices.Equal(sortedNames, want) {
		t.Errorf("files %v, want %v", sortedNames, want)
	}

	files, err := protodesc.NewFiles(&set)
	if err != nil {
		t.Fatalf("the set does not resolve on its own: %v", err)
	}
	d, err := files.FindDescriptorByName("kafmeshtest.things.Thing")
	if err != nil {
		t.Fatal(err)
	}
	// Encode with the definition's descriptor, decode with the one a
	// tool got from GetServiceInfo.
	orig := thingFile(t).Messages().ByName("Thing")
	in := dynamicpb.NewMessage(orig)
	in.Set(orig.Fields().ByName("name"), protoreflect.ValueOfString("widget"))
	at := in.Mutable(orig.Fields().ByName("at")).Message()
	at.Set(at.Descriptor().Fields().ByName("seconds"), protoreflect.ValueOfInt64(42))
	value, err := proto.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	md := d.(protoreflect.MessageDescriptor)
	out := dynamicpb.NewMessage(md)
	if err := proto.Unmarshal(value, out); err != nil {
		t.Fatal(err)
	}
	gotAt := field(out, "at").Message()
	if field(out, "name").String() != "widget" || field(gotAt, "seconds").Int() != 42 {
		t.Errorf("decoded with the served descriptor: %v", out)
	}
}

// GetServiceInfo answers while parts register, and each answer holds a
// consistent prefix of the registrations.
func TestGetServiceInfoDuringRegistration(t *testing.T) {
	srv := grpc.NewServer()
	svc, err := runner.NewService(runner.Definition{Name: "busy"}, runner.WithBrokers("127.0.0.1:1"),
		runner.WithStateDir(t.TempDir()), runner.WithLogger(testLogger(t)), runner.WithGRPCServer(srv))
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	client := discoveryv1.NewDiscoveryAPIClient(dial(t, lis.Addr().String()))

	const writers, each = 4, 300
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				spec := runner.SourceSpec{Component: fmt.Sprintf("c%d", w), TopicRef: ref(fmt.Sprintf("t-%d-%d", w, i), "google.protobuf.StringValue")}
				if _, err := runner.NewSource(svc, spec, stringCodec); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()

	count := func() (int, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		resp, err := client.GetServiceInfo(ctx, &discoveryv1.GetServiceInfoRequest{})
		if err != nil {
			return 0, err
		}
		n := 0
		for _, c := range resp.GetService().GetComponents() {
			// Within a component, sources are in registration order.
			for i, s := range c.GetSources() {
				if want := fmt.Sprintf("t-%s-%d", c.GetName()[1:], i); s.GetTopic().GetTopic() != want {
					return 0, fmt.Errorf("component %s source %d is %s, want %s", c.GetName(), i, s.GetTopic().GetTopic(), want)
				}
			}
			n += len(c.GetSources())
		}
		return n, nil
	}
	last, calls := 0, 0
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
		}
		n, err := count()
		if err != nil {
			t.Fatal(err)
		}
		if n < last {
			t.Fatalf("GetServiceInfo went from %d to %d sources", last, n)
		}
		last = n
		calls++
	}
	if last != writers*each {
		t.Errorf("after registration GetServiceInfo lists %d sources, want %d", last, writers*each)
	}
	t.Logf("%d GetServiceInfo calls during registration", calls)
}

// The real grpcurl, with no .proto files, lists the services and calls
// both discovery names. It runs when KAFMESH_GRPCURL names the binary.
func TestGrpcurl(t *testing.T) {
	bin := os.Getenv("KAFMESH_GRPCURL")
	if bin == "" {
		t.Skip("set KAFMESH_GRPCURL to a grpcurl binary to run this test " +
			"(GOBIN=/tmp/bin go install github.com/fullstorydev/grpcurl/cmd/grpcurl@v1.9.3)")
	}
	_, addr, want := discoveryFixture(t)
	grpcurl := func(args ...string) []byte {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, bin, append([]string{"-plaintext", addr}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("grpcurl %v: %v\n%s", args, err, out)
		}
		return out
	}
	listed := strings.Fields(string(grpcurl("list")))
	for _, s := range []string{"kafmesh.discover.v1.Discover", "kafmesh.discovery.v1.DiscoveryAPI", "kafmesh.ping.v1.PingAPI", "kafmesh.watch.v1.WatchAPI"} {
		if !slices.Contains(listed, s) {
			t.Errorf("grpcurl list: %v, missing %s", listed, s)
		}
	}
	for _, method := range []string{"kafmesh.discover.v1.Discover/GetServiceInfo", "kafmesh.discovery.v1.DiscoveryAPI/GetServiceInfo"} {
		got := &discoveryv1.GetServiceInfoResponse{}
		if err := protojson.Unmarshal(grpcurl(method), got); err != nil {
			t.Fatalf("grpcurl %s output: %v", method, err)
		}
		fds := got.GetService().GetFileDescriptorSet()
		got.Service.FileDescriptorSet = nil
		if !proto.Equal(got, want) {
			t.Errorf("grpcurl %s:\n%s\nwant:\n%s", method, prototext.Format(got), prototext.Format(want))
		}
		checkDescriptorSet(t, fds)
	}
}
