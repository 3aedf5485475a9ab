package runner_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/kafmesh/kafmesh/kafmeshtest"
	"github.com/kafmesh/kafmesh/runner"
)

// fakeRegistry answers GET /subjects/<subject>/versions/latest the way a
// Confluent schema registry does, for one subject.
func fakeRegistry(t *testing.T, subject string, id int) (url string, lookups *atomic.Int64) {
	lookups = new(atomic.Int64)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/subjects/"+subject+"/versions/latest" {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"error_code":40401,"message":"Subject not found."}`)
			return
		}
		lookups.Add(1)
		w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
		fmt.Fprintf(w, `{"subject":%q,"version":3,"id":%d,"schemaType":"PROTOBUF","schema":"syntax = \"proto3\";"}`, subject, id)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, lookups
}

// With a schema registry, a source writes Confluent framing carrying the
// subject's latest schema id; a processor reads it back.
func TestSchemaRegistryFraming(t *testing.T) {
	brokers := kafmeshtest.StartBroker(t)
	in, out := kafmeshtest.Unique(t, "framed"), kafmeshtest.Unique(t, "upper")
	kafmeshtest.CreateTopic(t, brokers, in, 2, false)
	url, lookups := fakeRegistry(t, in+"-value", 42)
	cl, err := sr.NewClient(sr.URLs(url))
	if err != nil {
		t.Fatal(err)
	}
	s := newService(t, brokers, "framing", t.TempDir(), runner.WithSchemaRegistry(runner.SchemaRegistryFromSR(cl)))
	src, err := runner.NewSource(s, runner.SourceSpec{Component: "c", TopicRef: runner.TopicRef{Topic: in, Type: runner.TopicProtobuf}}, stringCodec)
	if err != nil {
		t.Fatal(err)
	}
	p := runner.NewProcessor(runner.ProcessorSpec{Component: "c", Name: "upper", Group: kafmeshtest.Unique(t, "g"),
		Inputs:  []runner.TopicRef{{Topic: in, Type: runner.TopicProtobuf}},
		Outputs: []runner.OutputRef{{TopicRef: runner.TopicRef{Topic: out, Type: runner.TopicRaw}}}})
	runner.HandleInput(p, 0, stringCodec, func(c *runner.ProcessorContext, m *wrapperspb.StringValue) error {
		runner.Output(c, 0, runner.Raw(), c.Key(), []byte(strings.ToUpper(m.GetValue())))
		return nil
	})
	if err := s.Register(p); err != nil {
		t.Fatal(err)
	}
	if err := s.ConfigureTopics(t.Context()); err != nil {
		t.Fatal(err)
	}
	running(t, s)
	for _, v := range []string{"a", "b", "c"} {
		if err := src.Emit(context.Background(), v, wrapperspb.String(v)); err != nil {
			t.Fatal(err)
		}
	}
	// StringValue is message 7 of wrappers.proto: indexes [7] are written
	// as a zig-zag count 1 (0x02) and index 7 (0x0e).
	for _, r := range consumeN(t, brokers, in, 3, 30*time.Second) {
		if len(r.Value) < 7 || r.Value[0] != 0 || binary.BigEndian.Uint32(r.Value[1:5]) != 42 || r.Value[5] != 0x02 || r.Value[6] != 0x0e {
			t.Fatalf("value %x is not Confluent framing with schema id 42 and message indexes [7]", r.Value)
		}
	}
	outs := consumeN(t, brokers, out, 3, 30*time.Second)
	got := map[string]string{}
	for _, r := range outs {
		got[string(r.Key)] = string(r.Value)
	}
	if fmt.Sprint(got) != "map[a:A b:B c:C]" {
		t.Fatalf("the processor read %v", got)
	}
	if n := lookups.Load(); n != 1 {
		t.Errorf("the subject was looked up %d times, want once", n)
	}
}

// A missing subject is an error of the emit, naming the subject.
func TestSchemaRegistryMissingSubject(t *testing.T) {
	url, _ := fakeRegistry(t, "other-value", 1)
	cl, err := sr.NewClient(sr.URLs(url))
	if err != nil {
		t.Fatal(err)
	}
	m := runner.NewMemoryCluster(1)
	s, err := m.NewService(runner.Definition{Name: "x"}, runner.WithSchemaRegistry(runner.SchemaRegistryFromSR(cl)))
	if err != nil {
		t.Fatal(err)
	}
	src, err := runner.NewSource(s, runner.SourceSpec{TopicRef: runner.TopicRef{Topic: "t", Type: runner.TopicProtobuf}}, stringCodec)
	if err != nil {
		t.Fatal(err)
	}
	err = src.Emit(context.Background(), "k", wrapperspb.String("v"))
	if err == nil || !strings.Contains(err.Error(), `subject "t-value"`) {
		t.Fatalf("Emit = %v, want an error naming subject t-value", err)
	}
}
