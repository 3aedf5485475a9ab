package api_test

import (
	"context"
	"net"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	discoverv1 "github.com/kafmesh/kafmesh/api/discover/v1"
	discoveryv1 "github.com/kafmesh/kafmesh/api/discovery/v1"
	pingv1 "github.com/kafmesh/kafmesh/api/ping/v1"
	watchv1 "github.com/kafmesh/kafmesh/api/watch/v1"
)

// field is one row of the WIRE.md tables: number, name, and the kind (a
// message or enum full name for those kinds).
type field struct {
	number protoreflect.FieldNumber
	name   string
	typ    string
	list   bool
}

func topic(n protoreflect.FieldNumber) field {
	return field{n, "topic", "kafmesh.discovery.v1.TopicDefinition", false}
}

func str(n protoreflect.FieldNumber, name string) field { return field{n, name, "string", false} }

// wire lists every message of the contracts, exactly as WIRE.md does.
var wire = map[string][]field{
	"kafmesh.ping.v1.PingRequest":                {},
	"kafmesh.ping.v1.PingResponse":               {},
	"kafmesh.discovery.v1.GetServiceInfoRequest": {},
	"kafmesh.discovery.v1.GetServiceInfoResponse": {
		{1, "service", "kafmesh.discovery.v1.Service", false},
	},
	"kafmesh.discovery.v1.Service": {
		str(1, "name"), str(2, "description"),
		{3, "components", "kafmesh.discovery.v1.Component", true},
		{4, "file_descriptor_set", "bytes", false},
	},
	"kafmesh.discovery.v1.Component": {
		str(1, "name"), str(2, "description"),
		{3, "sources", "kafmesh.discovery.v1.Source", true},
		{4, "processors", "kafmesh.discovery.v1.Processor", true},
		{5, "sinks", "kafmesh.discovery.v1.Sink", true},
		{6, "views", "kafmesh.discovery.v1.View", true},
		{7, "view_sources", "kafmesh.discovery.v1.ViewSource", true},
		{8, "view_sinks", "kafmesh.discovery.v1.ViewSink", true},
	},
	"kafmesh.discovery.v1.Processor": {
		str(1, "name"), str(2, "group_name"), str(3, "description"),
		{4, "inputs", "kafmesh.discovery.v1.Input", true},
		{5, "lookups", "kafmesh.discovery.v1.Lookup", true},
		{6, "joins", "kafmesh.discovery.v1.Join", true},
		{7, "outputs", "kafmesh.discovery.v1.Output", true},
		{8, "persistence", "kafmesh.discovery.v1.Persistence", false},
	},
	"kafmesh.discovery.v1.Input":       {topic(1)},
	"kafmesh.discovery.v1.Join":        {topic(1)},
	"kafmesh.discovery.v1.Lookup":      {topic(1)},
	"kafmesh.discovery.v1.Persistence": {topic(1)},
	"kafmesh.discovery.v1.Source":      {topic(1)},
	"kafmesh.discovery.v1.View":        {topic(1)},
	"kafmesh.discovery.v1.Output":      {topic(1), str(2, "description")},
	"kafmesh.discovery.v1.Sink":        {str(1, "name"), str(2, "description"), topic(3)},
	"kafmesh.discovery.v1.ViewSource":  {str(1, "name"), topic(2), str(3, "description")},
	"kafmesh.discovery.v1.ViewSink":    {str(1, "name"), topic(2), str(3, "description")},
	"kafmesh.discovery.v1.TopicDefinition": {
		str(1, "topic"), str(2, "message"),
		{3, "type", "kafmesh.discovery.v1.TopicType", false},
	},
	"kafmesh.watch.v1.ProcessorRequest": {str(1, "component"), str(2, "processor"), str(3, "key")},
	"kafmesh.watch.v1.ProcessorResponse": {
		{1, "operation", "kafmesh.watch.v1.Operation", false},
	},
	"kafmesh.watch.v1.Operation": {
		{1, "start_time", "google.protobuf.Timestamp", false},
		{2, "end_time", "google.protobuf.Timestamp", false},
		{3, "input", "kafmesh.watch.v1.Input", false},
		{4, "actions", "kafmesh.watch.v1.Action", true},
	},
	// Fields 4-7 and Header were added in kafmesh 2 (new numbers only).
	"kafmesh.watch.v1.Input": {str(1, "topic"), str(2, "message"), str(3, "value"),
		{4, "partition", "int32", false}, {5, "offset", "int64", false},
		{6, "timestamp", "google.protobuf.Timestamp", false},
		{7, "headers", "kafmesh.watch.v1.Header", true}},
	"kafmesh.watch.v1.Header":   {str(1, "key"), {2, "value", "bytes", false}},
	"kafmesh.watch.v1.Join":     {str(1, "topic"), str(2, "message"), str(3, "value")},
	"kafmesh.watch.v1.GetState": {str(1, "topic"), str(2, "message"), str(3, "value")},
	"kafmesh.watch.v1.SetState": {str(1, "topic"), str(2, "message"), str(3, "value")},
	"kafmesh.watch.v1.Lookup":   {str(1, "topic"), str(2, "message"), str(3, "key"), str(4, "value")},
	"kafmesh.watch.v1.Output":   {str(1, "topic"), str(2, "message"), str(3, "key"), str(4, "value")},
	"kafmesh.watch.v1.Action": {
		{1, "action_join", "kafmesh.watch.v1.Join", false},
		{2, "action_lookup", "kafmesh.watch.v1.Lookup", false},
		{3, "action_get_state", "kafmesh.watch.v1.GetState", false},
		{4, "action_set_state", "kafmesh.watch.v1.SetState", false},
		{5, "action_output", "kafmesh.watch.v1.Output", false},
	},
}

// Every message, field name, number and type of WIRE.md, read back from the
// descriptors the generated code registers.
func TestMessagesMatchWireTables(t *testing.T) {
	// Reference one type per package so all four are linked in.
	_ = []proto.Message{&pingv1.PingRequest{}, &discoveryv1.Service{}, &watchv1.Action{}}
	_ = discoverv1.Discover_ServiceDesc

	for name, fields := range wire {
		mt, err := protoregistry.GlobalTypes.FindMessageByName(protoreflect.FullName(name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		md := mt.Descriptor()
		if md.Fields().Len() != len(fields) {
			t.Errorf("%s has %d fields, WIRE.md lists %d", name, md.Fields().Len(), len(fields))
		}
		for _, want := range fields {
			fd := md.Fields().ByNumber(want.number)
			if fd == nil {
				t.Errorf("%s: no field %d (%s)", name, want.number, want.name)
				continue
			}
			if string(fd.Name()) != want.name {
				t.Errorf("%s field %d is %s, want %s", name, want.number, fd.Name(), want.name)
			}
			if got := fieldType(fd); got != want.typ {
				t.Errorf("%s.%s has type %s, want %s", name, want.name, got, want.typ)
			}
			if fd.IsList() != want.list {
				t.Errorf("%s.%s repeated = %v, want %v", name, want.name, fd.IsList(), want.list)
			}
		}
	}

	action := (&watchv1.Action{}).ProtoReflect().Descriptor()
	if oneof := action.Oneofs().ByName("action"); oneof == nil || oneof.Fields().Len() != 5 {
		t.Errorf("Action lacks the 5-way oneof action: %v", oneof)
	}

	topicType := discoveryv1.TopicType(0).Descriptor()
	for number, name := range map[protoreflect.EnumNumber]string{0: "TOPIC_TYPE_INVALID", 1: "TOPIC_TYPE_PROTOBUF", 2: "TOPIC_TYPE_RAW"} {
		if v := topicType.Values().ByNumber(number); v == nil || string(v.Name()) != name {
			t.Errorf("TopicType %d = %v, want %s", number, v, name)
		}
	}
	if topicType.Values().Len() != 3 {
		t.Errorf("TopicType has %d values, want 3", topicType.Values().Len())
	}
}

func fieldType(fd protoreflect.FieldDescriptor) string {
	switch fd.Kind() {
	case protoreflect.MessageKind:
		return string(fd.Message().FullName())
	case protoreflect.EnumKind:
		return string(fd.Enum().FullName())
	}
	return fd.Kind().String()
}

// Services and methods under the names clients call.
func TestServicesMatchWire(t *testing.T) {
	for _, tc := range []struct {
		desc            grpc.ServiceDesc
		service, method string
		in, out         string
		serverStreams   bool
	}{
		{pingv1.PingAPI_ServiceDesc, "kafmesh.ping.v1.PingAPI", "Ping", "kafmesh.ping.v1.PingRequest", "kafmesh.ping.v1.PingResponse", false},
		{discoveryv1.DiscoveryAPI_ServiceDesc, "kafmesh.discovery.v1.DiscoveryAPI", "GetServiceInfo", "kafmesh.discovery.v1.GetServiceInfoRequest", "kafmesh.discovery.v1.GetServiceInfoResponse", false},
		{discoverv1.Discover_ServiceDesc, "kafmesh.discover.v1.Discover", "GetServiceInfo", "kafmesh.discovery.v1.GetServiceInfoRequest", "kafmesh.discovery.v1.GetServiceInfoResponse", false},
		{watchv1.WatchAPI_ServiceDesc, "kafmesh.watch.v1.WatchAPI", "Processor", "kafmesh.watch.v1.ProcessorRequest", "kafmesh.watch.v1.ProcessorResponse", true},
	} {
		if tc.desc.ServiceName != tc.service {
			t.Errorf("service desc name %s, want %s", tc.desc.ServiceName, tc.service)
		}
		d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(tc.service))
		if err != nil {
			t.Errorf("%s not registered: %v", tc.service, err)
			continue
		}
		sd := d.(protoreflect.ServiceDescriptor)
		if sd.Methods().Len() != 1 {
			t.Errorf("%s has %d methods, want 1", tc.service, sd.Methods().Len())
		}
		m := sd.Methods().ByName(protoreflect.Name(tc.method))
		if m == nil {
			t.Errorf("%s lacks %s", tc.service, tc.method)
			continue
		}
		if string(m.Input().FullName()) != tc.in || string(m.Output().FullName()) != tc.out {
			t.Errorf("%s/%s: %s -> %s, want %s -> %s", tc.service, tc.method, m.Input().FullName(), m.Output().FullName(), tc.in, tc.out)
		}
		if m.IsStreamingServer() != tc.serverStreams || m.IsStreamingClient() {
			t.Errorf("%s/%s streaming (client %v, server %v), want server %v", tc.service, tc.method, m.IsStreamingClient(), m.IsStreamingServer(), tc.serverStreams)
		}
		if tc.serverStreams {
			if len(tc.desc.Streams) != 1 || tc.desc.Streams[0].StreamName != tc.method || !tc.desc.Streams[0].ServerStreams {
				t.Errorf("%s stream desc %+v", tc.service, tc.desc.Streams)
			}
		} else if len(tc.desc.Methods) != 1 || tc.desc.Methods[0].MethodName != tc.method {
			t.Errorf("%s method desc %+v", tc.service, tc.desc.Methods)
		}
	}
}

// A full response survives the wire, and its bytes carry the numbers of
// WIRE.md: checked on the encoded bytes, not just through generated code.
func TestGetServiceInfoResponseRoundTrip(t *testing.T) {
	fds, err := proto.Marshal(&descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{{Name: proto.String("x.proto")}}})
	if err != nil {
		t.Fatal(err)
	}
	td := func(name string) *discoveryv1.TopicDefinition {
		return &discoveryv1.TopicDefinition{Topic: name, Message: "kafmesh.deviceId.Heartbeat", Type: discoveryv1.TopicType_TOPIC_TYPE_PROTOBUF}
	}
	in := &discoveryv1.GetServiceInfoResponse{Service: &discoveryv1.Service{
		Name: "svc", Description: "a service", FileDescriptorSet: fds,
		Components: []*discoveryv1.Component{{
			Name:    "devices",
			Sources: []*discoveryv1.Source{{Topic: td("a")}},
			Processors: []*discoveryv1.Processor{{
				Name: "p", GroupName: "svc.devices.p",
				Inputs:      []*discoveryv1.Input{{Topic: td("in")}},
				Lookups:     []*discoveryv1.Lookup{{Topic: td("l")}},
				Joins:       []*discoveryv1.Join{{Topic: td("j")}},
				Outputs:     []*discoveryv1.Output{{Topic: td("o"), Description: "out"}},
				Persistence: &discoveryv1.Persistence{Topic: td("svc.devices.p-table")},
			}},
			Sinks:       []*discoveryv1.Sink{{Name: "s", Topic: td("s")}},
			Views:       []*discoveryv1.View{{Topic: td("v")}},
			ViewSources: []*discoveryv1.ViewSource{{Name: "vs", Topic: td("vs")}},
			ViewSinks:   []*discoveryv1.ViewSink{{Name: "vk", Topic: &discoveryv1.TopicDefinition{Topic: "raw", Type: discoveryv1.TopicType_TOPIC_TYPE_RAW}}},
		}},
	}}
	data, err := proto.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	out := &discoveryv1.GetServiceInfoResponse{}
	if err := proto.Unmarshal(data, out); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(in, out) {
		t.Fatal("round trip changed the response")
	}

	// Walk the bytes by number: response.1 (service) → service.3
	// (components) → component.4 (processors) → processor.8 (persistence)
	// → persistence.1 (topic) → topic.1 (name).
	path := []protowire.Number{1, 3, 4, 8, 1, 1}
	b := data
	for _, num := range path {
		b = fieldBytes(t, b, num)
	}
	if string(b) != "svc.devices.p-table" {
		t.Errorf("bytes at path %v = %q, want the persistence topic", path, b)
	}
	if got := fieldBytes(t, fieldBytes(t, data, 1), 4); string(got) != string(fds) {
		t.Error("file_descriptor_set is not field 4 of Service")
	}
}

// fieldBytes returns the payload of the first length-delimited field num in b.
func fieldBytes(t *testing.T, b []byte, num protowire.Number) []byte {
	t.Helper()
	for len(b) > 0 {
		n, typ, size := protowire.ConsumeTag(b)
		if size < 0 {
			t.Fatalf("bad tag: %v", protowire.ParseError(size))
		}
		b = b[size:]
		if n == num && typ == protowire.BytesType {
			v, size := protowire.ConsumeBytes(b)
			if size < 0 {
				t.Fatalf("bad bytes: %v", protowire.ParseError(size))
			}
			return v
		}
		size = protowire.ConsumeFieldValue(n, typ, b)
		if size < 0 {
			t.Fatalf("bad value: %v", protowire.ParseError(size))
		}
		b = b[size:]
	}
	t.Fatalf("field %d not found", num)
	return nil
}

// The Watch oneof encodes action_output as field 5.
func TestWatchActionEncoding(t *testing.T) {
	op := &watchv1.ProcessorResponse{Operation: &watchv1.Operation{
		StartTime: timestamppb.Now(),
		Input:     &watchv1.Input{Topic: "in", Message: "m", Value: `{"a":1}`},
		Actions: []*watchv1.Action{
			{Action: &watchv1.Action_ActionOutput{ActionOutput: &watchv1.Output{Topic: "out", Key: "k"}}},
		},
	}}
	data, err := proto.Marshal(op)
	if err != nil {
		t.Fatal(err)
	}
	action := fieldBytes(t, fieldBytes(t, data, 1), 4)
	output := fieldBytes(t, action, 5)
	if got := fieldBytes(t, output, 3); string(got) != "k" {
		t.Errorf("Output.key (3) = %q", got)
	}
}

// discovery answers GetServiceInfo; registered under both service names.
type discovery struct {
	discoveryv1.UnimplementedDiscoveryAPIServer
}

func (discovery) GetServiceInfo(context.Context, *discoveryv1.GetServiceInfoRequest) (*discoveryv1.GetServiceInfoResponse, error) {
	return &discoveryv1.GetServiceInfoResponse{Service: &discoveryv1.Service{Name: "svc"}}, nil
}

type discover struct {
	discoverv1.UnimplementedDiscoverServer
	discovery
}

func (d discover) GetServiceInfo(ctx context.Context, in *discoveryv1.GetServiceInfoRequest) (*discoveryv1.GetServiceInfoResponse, error) {
	return d.discovery.GetServiceInfo(ctx, in)
}

// Both discovery names answer over a real gRPC connection.
func TestDiscoveryServedUnderBothNames(t *testing.T) {
	lis := bufconn.Listen(1 << 16)
	srv := grpc.NewServer()
	discoveryv1.RegisterDiscoveryAPIServer(srv, discovery{})
	discoverv1.RegisterDiscoverServer(srv, discover{})
	pingv1.RegisterPingAPIServer(srv, pingv1.UnimplementedPingAPIServer{})
	go func() { _ = srv.Serve(lis) }()
	defer srv.Stop()

	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx := context.Background()

	a, err := discoveryv1.NewDiscoveryAPIClient(conn).GetServiceInfo(ctx, &discoveryv1.GetServiceInfoRequest{})
	if err != nil || a.GetService().GetName() != "svc" {
		t.Fatalf("DiscoveryAPI/GetServiceInfo = %v, %v", a, err)
	}
	b, err := discoverv1.NewDiscoverClient(conn).GetServiceInfo(ctx, &discoveryv1.GetServiceInfoRequest{})
	if err != nil || b.GetService().GetName() != "svc" {
		t.Fatalf("Discover/GetServiceInfo = %v, %v", b, err)
	}
	// The raw method names, as grpcurl would call them.
	for _, method := range []string{"/kafmesh.discovery.v1.DiscoveryAPI/GetServiceInfo", "/kafmesh.discover.v1.Discover/GetServiceInfo"} {
		out := &discoveryv1.GetServiceInfoResponse{}
		if err := conn.Invoke(ctx, method, &discoveryv1.GetServiceInfoRequest{}, out); err != nil || out.GetService().GetName() != "svc" {
			t.Errorf("%s = %v, %v", method, out, err)
		}
	}
}
