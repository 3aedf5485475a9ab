package meshtest

import (
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	discoveryv1 "github.com/kafmesh/kafmesh/api/discovery/v1"
)

// Topic names of the example mesh.
const (
	TopicHeartbeat = "kafmesh.deviceId.Heartbeat"
	TopicDetails   = "kafmesh.deviceId.Details"
	TopicCustomers = "kafmesh.customerId.Details"
	TopicEnriched  = "kafmesh.deviceId.EnrichedHeartbeat"
	TopicState     = "devices.heartbeats.enricher-table"
	TopicAlerts    = "alerts.deviceId.Alert"
)

func td(topic, message string) *discoveryv1.TopicDefinition {
	return &discoveryv1.TopicDefinition{Topic: topic, Message: message, Type: discoveryv1.TopicType_TOPIC_TYPE_PROTOBUF}
}

// Devices is a service with every part kind: component "heartbeats" has a
// source, a processor (input, join, lookup, output, persistence) and a sink;
// component "details" has a view source, a view and a view sink. Its file
// descriptor set declares kafmesh.deviceId.Heartbeat (with a
// google.protobuf.Timestamp field, so the set carries an import).
func Devices() *discoveryv1.Service {
	return &discoveryv1.Service{
		Name:              "devices",
		Description:       "tracks devices",
		FileDescriptorSet: DevicesDescriptors(),
		Components: []*discoveryv1.Component{
			{
				Name:        "heartbeats",
				Description: "device heartbeats",
				Sources:     []*discoveryv1.Source{{Topic: td(TopicHeartbeat, "kafmesh.deviceId.Heartbeat")}},
				Processors: []*discoveryv1.Processor{{
					Name:        "enricher",
					GroupName:   "devices.heartbeats.enricher",
					Description: "adds details to heartbeats",
					Inputs:      []*discoveryv1.Input{{Topic: td(TopicHeartbeat, "kafmesh.deviceId.Heartbeat")}},
					Joins:       []*discoveryv1.Join{{Topic: td(TopicDetails, "kafmesh.deviceId.Details")}},
					Lookups:     []*discoveryv1.Lookup{{Topic: td(TopicCustomers, "kafmesh.customerId.Details")}},
					Outputs:     []*discoveryv1.Output{{Topic: td(TopicEnriched, "kafmesh.deviceId.EnrichedHeartbeat"), Description: "enriched heartbeats"}},
					Persistence: &discoveryv1.Persistence{Topic: td(TopicState, "kafmesh.deviceId.EnricherState")},
				}},
				Sinks: []*discoveryv1.Sink{{Name: "warehouse", Description: "to the warehouse", Topic: td(TopicEnriched, "kafmesh.deviceId.EnrichedHeartbeat")}},
			},
			{
				Name:        "details",
				Description: "device details",
				ViewSources: []*discoveryv1.ViewSource{{Name: "registry", Description: "from the registry", Topic: td(TopicDetails, "kafmesh.deviceId.Details")}},
				Views:       []*discoveryv1.View{{Topic: td(TopicDetails, "kafmesh.deviceId.Details")}},
				ViewSinks:   []*discoveryv1.ViewSink{{Name: "cache", Description: "to the cache", Topic: td(TopicDetails, "kafmesh.deviceId.Details")}},
			},
		},
	}
}

// Alerts is a service that reads devices' enriched heartbeats, so it
// depends on devices.
func Alerts() *discoveryv1.Service {
	return &discoveryv1.Service{
		Name:        "alerts",
		Description: "raises alerts",
		Components: []*discoveryv1.Component{{
			Name: "rules",
			Processors: []*discoveryv1.Processor{{
				Name:      "checker",
				GroupName: "alerts.rules.checker",
				Inputs:    []*discoveryv1.Input{{Topic: td(TopicEnriched, "kafmesh.deviceId.EnrichedHeartbeat")}},
				Outputs:   []*discoveryv1.Output{{Topic: td(TopicAlerts, "alerts.deviceId.Alert")}},
			}},
		}},
	}
}

// DevicesDescriptors is a serialized FileDescriptorSet declaring
// kafmesh.deviceId.Heartbeat { string device_id = 1;
// google.protobuf.Timestamp time = 2; repeated string tags = 3;
// map<string, int64> counters = 4; oneof where { double lat = 5; } }.
func DevicesDescriptors() []byte {
	ts := protodesc.ToFileDescriptorProto(timestamppb.File_google_protobuf_timestamp_proto)
	opt := descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL
	rep := descriptorpb.FieldDescriptorProto_LABEL_REPEATED
	str := descriptorpb.FieldDescriptorProto_TYPE_STRING
	msg := descriptorpb.FieldDescriptorProto_TYPE_MESSAGE
	i64 := descriptorpb.FieldDescriptorProto_TYPE_INT64
	dbl := descriptorpb.FieldDescriptorProto_TYPE_DOUBLE
	field := func(name string, n int32, l descriptorpb.FieldDescriptorProto_Label, t descriptorpb.FieldDescriptorProto_Type, typeName string) *descriptorpb.FieldDescriptorProto {
		f := &descriptorpb.FieldDescriptorProto{Name: proto.String(name), Number: proto.Int32(n), Label: &l, Type: &t, JsonName: proto.String(jsonName(name))}
		if typeName != "" {
			f.TypeName = proto.String(typeName)
		}
		return f
	}
	lat := field("lat", 5, opt, dbl, "")
	lat.OneofIndex = proto.Int32(0)
	file := &descriptorpb.FileDescriptorProto{
		Name:       proto.String("kafmesh/deviceId/heartbeat.proto"),
		Package:    proto.String("kafmesh.deviceId"),
		Dependency: []string{"google/protobuf/timestamp.proto"},
		Syntax:     proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{{
			Name: proto.String("Heartbeat"),
			Field: []*descriptorpb.FieldDescriptorProto{
				field("device_id", 1, opt, str, ""),
				field("time", 2, opt, msg, ".google.protobuf.Timestamp"),
				field("tags", 3, rep, str, ""),
				field("counters", 4, rep, msg, ".kafmesh.deviceId.Heartbeat.CountersEntry"),
				lat,
			},
			OneofDecl: []*descriptorpb.OneofDescriptorProto{{Name: proto.String("where")}},
			NestedType: []*descriptorpb.DescriptorProto{{
				Name:    proto.String("CountersEntry"),
				Field:   []*descriptorpb.FieldDescriptorProto{field("key", 1, opt, str, ""), field("value", 2, opt, i64, "")},
				Options: &descriptorpb.MessageOptions{MapEntry: proto.Bool(true)},
			}},
		}},
	}
	b, err := proto.Marshal(&descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{ts, file}})
	if err != nil {
		panic(err) // a fixed, valid message: cannot fail
	}
	return b
}

func jsonName(s string) string {
	out := []byte{}
	up := false
	for i := 0; i < len(s); i++ {
		if s[i] == '_' {
			up = true
			continue
		}
		c := s[i]
		if up && c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		up = false
		out = append(out, c)
	}
	return string(out)
}
