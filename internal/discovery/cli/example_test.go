package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	coderws "github.com/coder/websocket"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protowire"

	discoveryv1 "github.com/kafmesh/kafmesh/api/discovery/v1"
	"github.com/kafmesh/kafmesh/internal/discovery/internal/meshtest"
	"github.com/kafmesh/kafmesh/kafmeshtest"
)

// startExample builds examples/devices and runs it against brokers; it
// returns the address of its gRPC server (kafmesh APIs), and restart, which
// stops the service (SIGTERM, waiting for it to exit) and starts it again on
// the same address, database and state.
func startExample(t *testing.T, brokers []string) (addr string, restart func()) {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "devices")
	build := exec.Command("go", "build", "-o", bin, "./cmd/devices")
	build.Dir = "../../../examples/devices"
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the example service: %v\n%s", err, out)
	}
	addr = meshtest.Refusing(t) // a free loopback port
	logs, err := os.Create(filepath.Join(dir, "devices.log"))
	if err != nil {
		t.Fatal(err)
	}
	var cmd *exec.Cmd
	run := func() {
		cmd = exec.Command(bin, "--brokers", strings.Join(brokers, ","), "--grpc-addr", addr, "--http-addr", "",
			"--db", filepath.Join(dir, "devices.db"), "--state-dir", filepath.Join(dir, "state"))
		cmd.Stdout, cmd.Stderr = logs, logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
	}
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}
	run()
	t.Cleanup(func() {
		stop()
		logs.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logs.Name())
			t.Logf("example service log:\n%s", b)
		}
	})
	return addr, func() { stop(); run() }
}

// The definition of done, against the real example service as a
// static target: discover shows its whole tree through GraphQL within an
// interval, with message schemas, and the live watch streams the
// processor's operations for a key.
func TestExampleServiceEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs examples/devices against a broker; run without -short")
	}
	brokers := kafmeshtest.StartBroker(t)
	// Traces from the OTEL_* environment alone, for discover and for the
	// example service (a separate process, which inherits it).
	traces := kafmeshtest.StartOTLPReceiver(t)
	for k, v := range map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": traces.URL(), "OTEL_BSP_SCHEDULE_DELAY": "200",
		"OTEL_TRACES_EXPORTER": "", "OTEL_EXPORTER_OTLP_PROTOCOL": "", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "",
		"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "", "OTEL_SERVICE_NAME": "", "OTEL_RESOURCE_ATTRIBUTES": "", "OTEL_SDK_DISABLED": ""} {
		t.Setenv(k, v)
	}
	meshtest.HoldExample(t, brokers) // the example's groups are fixed: one instance at a time
	addr, restart := startExample(t, brokers)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// What the service says about itself, asked directly.
	conn, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var direct *discoveryv1.Service
	for direct == nil {
		resp, err := discoveryv1.NewDiscoveryAPIClient(conn).GetServiceInfo(ctx, &discoveryv1.GetServiceInfoRequest{}, grpc.WaitForReady(true))
		if err != nil {
			t.Fatalf("example GetServiceInfo: %v", err)
		}
		direct = resp.GetService()
	}

	url, _ := discover(t, "--listen", "127.0.0.1:0", "--store", filepath.Join(t.TempDir(), "mesh.db"),
		"--scrape-interval", "1s", "--target", addr, "--brokers", strings.Join(brokers, ","), "--topic-settings-interval", "1s")
	m := waitMesh(t, url, 1)
	if m.Services[0].Name != direct.GetName() || len(m.Pods) != 1 || !m.Pods[0].Healthy {
		t.Fatalf("mesh %+v, want service %q on one healthy pod", m, direct.GetName())
	}
	var want, got []string
	for _, c := range direct.GetComponents() {
		for _, p := range c.GetProcessors() {
			want = append(want, c.GetName()+"/"+p.GetName())
		}
		for _, s := range c.GetSinks() {
			want = append(want, c.GetName()+"/sink "+s.GetName())
		}
	}
	for _, c := range m.Services[0].Components {
		for _, p := range c.Processors {
			got = append(got, c.Name+"/"+p.Name)
		}
		for _, s := range c.Sinks {
			got = append(got, c.Name+"/sink "+s.Name)
		}
	}
	slices.Sort(want)
	slices.Sort(got)
	if len(want) == 0 || !slices.Equal(got, want) {
		t.Fatalf("GraphQL shows %v, the service reports %v", got, want)
	}

	// The heartbeat enricher, its input topic and the message's schema.
	var data struct {
		Services []struct {
			Components []struct {
				Processors []struct {
					ID     string
					Name   string
					Inputs []struct {
						Topic struct {
							Name          string
							Message       string
							MessageSchema *struct {
								Fields []struct {
									Name   string
									Number int
									Type   string
								}
							}
						}
					}
				}
			}
		}
	}
	gql(t, url, `{ services { components { processors { id name inputs { topic { name message messageSchema { fields { name number type } } } } } } } }`, &data)
	var procID, topic string
	var healthyField int
	for _, c := range data.Services[0].Components {
		for _, p := range c.Processors {
			if len(p.Inputs) == 1 && strings.HasSuffix(p.Inputs[0].Topic.Message, ".Heartbeat") && strings.Contains(p.Inputs[0].Topic.Message, "deviceId") {
				procID, topic = p.ID, p.Inputs[0].Topic.Name
				if s := p.Inputs[0].Topic.MessageSchema; s != nil {
					for _, f := range s.Fields {
						if f.Name == "is_healthy" && f.Type == "bool" {
							healthyField = f.Number
						}
					}
				}
			}
		}
	}
	if procID == "" || healthyField == 0 {
		t.Fatalf("no processor reading device heartbeats with a schema holding is_healthy: %+v", data)
	}

	// With --brokers, the topic's settings as Kafka reports them.
	checkTopicSettings(t, url, brokers, topic)

	// Watch that processor for one device, and send that device's heartbeat.
	c := dialGraphQLWS(t, ctx, url)
	sub, _ := json.Marshal(map[string]any{
		"query":     `subscription($id: ID!, $key: String!) { watchProcessor(options: { processorId: $id, key: $key }) { startTime endTime input { topic value } actions { __typename topic } } }`,
		"variables": map[string]any{"id": procID, "key": "424242"},
	})
	if err := c.Write(ctx, coderws.MessageText, []byte(`{"id":"1","type":"subscribe","payload":`+string(sub)+`}`)); err != nil {
		t.Fatal(err)
	}
	producer, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()
	value := protowire.AppendTag(nil, protowire.Number(healthyField), protowire.VarintType)
	value = protowire.AppendVarint(value, 1)
	msgs := make(chan []byte, 16)
	go func() {
		for {
			_, b, err := c.Read(ctx)
			if err != nil {
				close(msgs)
				return
			}
			msgs <- b
		}
	}()
	waitOperation := func(what string) {
		t.Helper()
		deadline := time.Now().Add(90 * time.Second)
		for {
			// The subscription reaches the pod a moment after it is made, so
			// heartbeats are sent until one is seen.
			if err := producer.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: []byte("424242"), Value: value}).FirstErr(); err != nil {
				t.Fatalf("produce: %v", err)
			}
			select {
			case b, ok := <-msgs:
				if !ok {
					t.Fatal("websocket closed")
				}
				var m struct {
					Type    string
					Payload struct {
						Data *struct {
							WatchProcessor struct {
								StartTime, EndTime int64
								Input              struct{ Topic, Value string }
							}
						}
						Errors []struct{ Message string }
					}
				}
				_ = json.Unmarshal(b, &m)
				if m.Type == "ping" || m.Type == "pong" {
					continue
				}
				if m.Type == "next" && len(m.Payload.Errors) > 0 && m.Payload.Data == nil {
					t.Logf("%s: the pod's stream ended: %s", what, m.Payload.Errors[0].Message)
					continue // a restarting pod's stream fails; the watch goes on
				}
				if m.Type != "next" || m.Payload.Data == nil {
					t.Fatalf("%s: watch message %s", what, b)
				}
				w := m.Payload.Data.WatchProcessor
				if len(m.Payload.Errors) > 0 || w.Input.Topic != topic || !strings.Contains(w.Input.Value, "true") || w.StartTime == 0 || w.EndTime < w.StartTime {
					t.Fatalf("%s: watch message %s", what, b)
				}
				return
			case <-time.After(2 * time.Second):
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: no operation streamed for the watched key", what)
			}
		}
	}
	waitOperation("first")

	// The pod restarts: the same subscription follows it (discover opens a
	// new stream once the pod answers again).
	restart()
	drain := time.After(time.Second)
	for draining := true; draining; {
		select {
		case <-msgs:
		case <-drain:
			draining = false
		}
	}
	waitOperation("after the pod restarted")

	checkExampleTraces(t, traces, direct.GetName(), topic)
}

// checkExampleTraces checks what the OTLP receiver got from the example
// service and discover, both traced from the OTEL_* environment alone: the
// service's span of a watched heartbeat, and the watch stream as discover's
// client span continued by the service's server span.
func checkExampleTraces(t *testing.T, traces *kafmeshtest.OTLPReceiver, service, topic string) {
	t.Helper()
	const method = "kafmesh.watch.v1.WatchAPI/Processor"
	deadline := time.Now().Add(30 * time.Second)
	for {
		spans := traces.Spans()
		clients := map[string]kafmeshtest.ReceivedSpan{}
		var processed bool
		for _, s := range spans {
			if s.Name == method && s.Resource["service.name"] == "kafmesh-discover" {
				clients[s.SpanID] = s
			}
			if s.Name == "process "+topic && s.Resource["service.name"] == service {
				processed = true
			}
		}
		continued := false
		for _, s := range spans {
			if c, ok := clients[s.ParentSpanID]; ok && s.Name == method && s.Resource["service.name"] == service && s.TraceID == c.TraceID {
				continued = true
			}
		}
		if processed && continued {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("of %d spans received: a %q span of %s: %v; %s's server span continuing discover's client span (%d): %v",
				len(spans), "process "+topic, service, processed, method, len(clients), continued)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// dialGraphQLWS opens a graphql-transport-ws connection to url's /query.
func dialGraphQLWS(t *testing.T, ctx context.Context, url string) *coderws.Conn {
	t.Helper()
	c, _, err := coderws.Dial(ctx, "ws"+strings.TrimPrefix(url, "http")+"/query", &coderws.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(coderws.StatusNormalClosure, "") })
	if err := c.Write(ctx, coderws.MessageText, []byte(`{"type":"connection_init","payload":{}}`)); err != nil {
		t.Fatal(err)
	}
	if _, b, err := c.Read(ctx); err != nil || !strings.Contains(string(b), "connection_ack") {
		t.Fatalf("connection_init: %s %v", b, err)
	}
	return c
}

// checkTopicSettings waits until discover serves the topic's settings and
// compares its partition count with what the brokers say.
func checkTopicSettings(t *testing.T, url string, brokers []string, topic string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	td, err := kadm.NewClient(cl).ListTopics(context.Background(), topic)
	if err != nil || td[topic].Err != nil {
		t.Fatalf("listing %s: %v %v", topic, err, td[topic].Err)
	}
	want := len(td[topic].Partitions)
	deadline := time.Now().Add(30 * time.Second)
	for {
		var data struct {
			TopicByID struct {
				Settings *struct {
					Partitions, ReplicationFactor int
					Configs                       []struct {
						Name  string
						Value *string
					}
				}
			} `json:"topicById"`
		}
		gql(t, url, fmt.Sprintf(`{ topicById(id: %q) { settings { partitions replicationFactor configs { name value } } } }`, "Topic:"+topic), &data)
		if s := data.TopicByID.Settings; s != nil {
			if s.Partitions != want || s.ReplicationFactor < 1 || len(s.Configs) == 0 || s.Configs[0].Name != "cleanup.policy" || s.Configs[0].Value == nil {
				t.Errorf("settings of %s: %+v, want %d partitions and cleanup.policy first", topic, s, want)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("discover did not serve the settings of %s within 30 s", topic)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
