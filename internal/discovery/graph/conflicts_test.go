package graph_test

import (
	"context"
	"encoding/base64"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"

	discoveryv1 "github.com/kafmesh/kafmesh/api/discovery/v1"
	"github.com/kafmesh/kafmesh/internal/discovery/graph"
	"github.com/kafmesh/kafmesh/internal/discovery/internal/meshtest"
	"github.com/kafmesh/kafmesh/internal/discovery/scrape"
	"github.com/kafmesh/kafmesh/internal/discovery/store/sqlite"
	"github.com/kafmesh/kafmesh/internal/discovery/targets"
)

// monitor reads the devices' heartbeats with an older schema whose field 2
// is an int64 where devices write a google.protobuf.Timestamp.
func monitor() *discoveryv1.Service {
	opt := descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL
	str := descriptorpb.FieldDescriptorProto_TYPE_STRING
	i64 := descriptorpb.FieldDescriptorProto_TYPE_INT64
	file := &descriptorpb.FileDescriptorProto{
		Name: proto.String("kafmesh/deviceId/heartbeat.proto"), Package: proto.String("kafmesh.deviceId"), Syntax: proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{{
			Name: proto.String("Heartbeat"),
			Field: []*descriptorpb.FieldDescriptorProto{
				{Name: proto.String("device_id"), Number: proto.Int32(1), Label: &opt, Type: &str, JsonName: proto.String("deviceId")},
				{Name: proto.String("time"), Number: proto.Int32(2), Label: &opt, Type: &i64, JsonName: proto.String("time")},
			},
		}},
	}
	b, err := proto.Marshal(&descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{file}})
	if err != nil {
		panic(err)
	}
	td := &discoveryv1.TopicDefinition{Topic: meshtest.TopicHeartbeat, Message: "kafmesh.deviceId.Heartbeat", Type: discoveryv1.TopicType_TOPIC_TYPE_PROTOBUF}
	return &discoveryv1.Service{
		Name: "monitor", FileDescriptorSet: b,
		Components: []*discoveryv1.Component{{Name: "watch", Processors: []*discoveryv1.Processor{{
			Name: "checker", GroupName: "monitor.watch.checker", Inputs: []*discoveryv1.Input{{Topic: td}},
		}}}},
	}
}

// TestSchemaConflicts scrapes devices (writes heartbeats), monitor (reads
// them with an incompatible schema) and alerts (no descriptors): the
// heartbeat topic shows the conflict with both services, other topics
// none; the services' descriptor sets are served base64.
func TestSchemaConflicts(t *testing.T) {
	ctx := context.Background()
	devices, mon, alerts := meshtest.Serve(t, meshtest.Devices()), meshtest.Serve(t, monitor()), meshtest.Serve(t, meshtest.Alerts())
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "mesh.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	src, err := targets.NewStatic([]string{devices.Addr, mon.Addr, alerts.Addr}, "")
	if err != nil {
		t.Fatal(err)
	}
	if r := scrape.New(st, []targets.Source{src}, scrape.WithTimeout(2*time.Second)).Round(ctx); r.Failed() != 0 {
		t.Fatalf("scrape: %d failed", r.Failed())
	}
	srv := httptest.NewServer(graph.NewHandler(graph.HandlerConfig{Snapshot: st.Graph, MaxDepth: 15}))
	t.Cleanup(srv.Close)

	var out struct {
		Topics []struct {
			Name            string
			SchemaConflicts []struct {
				Category, Rule, Message string
				Writer, Reader          struct{ Name string }
			}
		}
		Services []struct {
			Name          string
			DescriptorSet *string
		}
	}
	query(t, srv.URL, `{ topics { name schemaConflicts { category rule message writer { name } reader { name } } } services { name descriptorSet } }`, nil, &out)
	found := false
	for _, tp := range out.Topics {
		if tp.Name != meshtest.TopicHeartbeat {
			if len(tp.SchemaConflicts) != 0 {
				t.Errorf("%s: conflicts %+v", tp.Name, tp.SchemaConflicts)
			}
			continue
		}
		if len(tp.SchemaConflicts) != 1 {
			t.Fatalf("heartbeat conflicts %+v, want one", tp.SchemaConflicts)
		}
		c := tp.SchemaConflicts[0]
		found = true
		if c.Category != "WIRE" || c.Rule != "FIELD_TYPE_CHANGED" || c.Writer.Name != "devices" || c.Reader.Name != "monitor" ||
			!strings.Contains(c.Message, "google.protobuf.Timestamp for service devices but int64 for service monitor") {
			t.Errorf("conflict %+v", c)
		}
	}
	if !found {
		t.Errorf("no heartbeat topic in %+v", out.Topics)
	}
	for _, s := range out.Services {
		switch s.Name {
		case "alerts":
			if s.DescriptorSet != nil {
				t.Errorf("alerts reported no descriptors, got %q", *s.DescriptorSet)
			}
		case "devices":
			if s.DescriptorSet == nil {
				t.Fatal("devices' descriptor set missing")
			}
			b, err := base64.StdEncoding.DecodeString(*s.DescriptorSet)
			if err != nil || string(b) != string(meshtest.DevicesDescriptors()) {
				t.Errorf("devices' descriptor set is not what it reported: %v", err)
			}
		}
	}
}
