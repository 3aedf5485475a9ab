package web_test

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"

	discoveryv1 "github.com/kafmesh/kafmesh/api/discovery/v1"
	"github.com/kafmesh/kafmesh/internal/discovery/internal/meshtest"
	"github.com/kafmesh/kafmesh/internal/discovery/web/webtest"
)

// staleReader reads the devices' heartbeats with a schema whose field 2 is
// an int64 where devices write a google.protobuf.Timestamp.
func staleReader() *discoveryv1.Service {
	opt := descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL
	i64 := descriptorpb.FieldDescriptorProto_TYPE_INT64
	b, err := proto.Marshal(&descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{{
		Name: proto.String("kafmesh/deviceId/heartbeat.proto"), Package: proto.String("kafmesh.deviceId"), Syntax: proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{{
			Name:  proto.String("Heartbeat"),
			Field: []*descriptorpb.FieldDescriptorProto{{Name: proto.String("time"), Number: proto.Int32(2), Label: &opt, Type: &i64, JsonName: proto.String("time")}},
		}},
	}}})
	if err != nil {
		panic(err)
	}
	td := &discoveryv1.TopicDefinition{Topic: meshtest.TopicHeartbeat, Message: "kafmesh.deviceId.Heartbeat", Type: discoveryv1.TopicType_TOPIC_TYPE_PROTOBUF}
	return &discoveryv1.Service{Name: "stale", FileDescriptorSet: b, Components: []*discoveryv1.Component{{
		Name: "watch", Processors: []*discoveryv1.Processor{{Name: "reader", GroupName: "stale.watch.reader", Inputs: []*discoveryv1.Input{{Topic: td}}}},
	}}}
}

// The topic page marks a topic whose writer and reader use incompatible
// schemas, and lists the field-level difference; a topic without conflict
// has no mark.
func TestTopicPageMarksSchemaConflicts(t *testing.T) {
	b := webtest.NewBrowser(t)
	devices, stale := meshtest.Serve(t, meshtest.Devices()), meshtest.Serve(t, staleReader())
	url := startDiscovery(t, devices.Addr, stale.Addr)

	b.Open(t, url+"/#/topic/"+escape("Topic:"+meshtest.TopicHeartbeat))
	if mark := b.Text(t, `[data-testid="conflict-mark"]`); !strings.Contains(mark, "1 schema conflict") {
		t.Errorf("conflict mark %q", mark)
	}
	row := b.Text(t, `[data-testid="schema-conflicts"] tbody tr`)
	for _, want := range []string{"devices", "stale", "WIRE FIELD_TYPE_CHANGED", "google.protobuf.Timestamp for service devices but int64 for service stale"} {
		if !strings.Contains(row, want) {
			t.Errorf("conflict row %q lacks %q", row, want)
		}
	}
	b.Screenshot(t, "topic-schema-conflicts")

	b.Open(t, url+"/#/topic/"+escape("Topic:"+meshtest.TopicEnriched))
	if n := webtest.Eval[int](t, b, `document.querySelectorAll('[data-testid="conflict-mark"], [data-testid="schema-conflicts"]').length`); n != 0 {
		t.Errorf("a topic without conflicts shows %d conflict elements", n)
	}
	b.NoPageErrors(t)
}
