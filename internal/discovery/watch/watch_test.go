package watch_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/types/known/timestamppb"

	discoveryv1 "github.com/kafmesh/kafmesh/api/discovery/v1"
	watchv1 "github.com/kafmesh/kafmesh/api/watch/v1"
	"github.com/kafmesh/kafmesh/internal/discovery/internal/meshtest"
	"github.com/kafmesh/kafmesh/internal/discovery/mesh"
	"github.com/kafmesh/kafmesh/internal/discovery/watch"
	"github.com/kafmesh/kafmesh/internal/testcert"
)

// graphOf builds the graph of devices run by the given pods (addresses).
func graphOf(t *testing.T, svc *discoveryv1.Service, addrs ...string) *mesh.Graph {
	t.Helper()
	tree, err := mesh.FromService(svc)
	if err != nil {
		t.Fatal(err)
	}
	var pods []mesh.Pod
	reports := map[string][]string{}
	for _, a := range addrs {
		p := mesh.Pod{ID: mesh.PodID("", a, ""), Name: a, Address: a, Source: "static"}
		pods = append(pods, p)
		for _, n := range tree.Nodes {
			reports[p.ID] = append(reports[p.ID], n.ID)
		}
	}
	return mesh.NewGraph(tree.Nodes, tree.Edges, pods, reports)
}

func op(value string) *watchv1.Operation {
	return &watchv1.Operation{
		StartTime: timestamppb.New(time.UnixMilli(1000)), EndTime: timestamppb.New(time.UnixMilli(1005)),
		Input: &watchv1.Input{Topic: meshtest.TopicHeartbeat, Message: "kafmesh.deviceId.Heartbeat", Value: value},
	}
}

func next(t *testing.T, ch <-chan watch.Event) watch.Event {
	t.Helper()
	select {
	case e, ok := <-ch:
		if !ok {
			t.Fatal("stream closed")
		}
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("no event")
	}
	return watch.Event{}
}

const enricher = "Processor:devices/heartbeats/enricher"

func TestWatchMergesEveryPodAndReportsFailures(t *testing.T) {
	a := meshtest.Serve(t, meshtest.Devices())
	b := meshtest.Serve(t, meshtest.Devices())
	refusing := meshtest.Refusing(t)
	g := graphOf(t, meshtest.Devices(), a.Addr, b.Addr, refusing)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	ch, err := watch.New().Watch(ctx, g, enricher, "device-1")
	if err != nil {
		t.Fatal(err)
	}
	// The refusing pod shows up as an error; the others go on.
	e := next(t, ch)
	if e.Err == nil || e.Pod.Address != refusing || !strings.Contains(e.Err.Error(), refusing) {
		t.Fatalf("first event %+v, want the refusing pod's error", e)
	}
	a.WaitWatchers(t, 1)
	b.WaitWatchers(t, 1)
	// Watches are keyed: another key gets nothing.
	if n := a.Emit("heartbeats", "enricher", "device-2", op(`{"other":true}`)); n != 0 {
		t.Fatalf("an operation for another key reached %d watchers", n)
	}
	a.Emit("heartbeats", "enricher", "device-1", op(`{"from":"a"}`))
	b.Emit("heartbeats", "enricher", "device-1", op(`{"from":"b"}`))
	got := map[string]string{}
	for i := 0; i < 2; i++ {
		e := next(t, ch)
		if e.Err != nil {
			t.Fatalf("unexpected error %v", e.Err)
		}
		got[e.Pod.Address] = e.Operation.GetInput().GetValue()
	}
	if got[a.Addr] != `{"from":"a"}` || got[b.Addr] != `{"from":"b"}` {
		t.Fatalf("merged operations %v", got)
	}

	// A pod that dies mid-stream is an error in the stream.
	b.Stop()
	e = next(t, ch)
	if e.Err == nil || e.Pod.Address != b.Addr {
		t.Fatalf("after b stopped: %+v", e)
	}
	a.Emit("heartbeats", "enricher", "device-1", op(`{"still":"a"}`))
	if e := next(t, ch); e.Err != nil || e.Operation.GetInput().GetValue() != `{"still":"a"}` {
		t.Fatalf("a's stream after b died: %+v", e)
	}

	// Leaving closes the stream and the pods' watches.
	cancel()
	deadline := time.After(10 * time.Second)
	for range ch {
		select {
		case <-deadline:
			t.Fatal("stream not closed after cancel")
		default:
		}
	}
	for a.Watchers() != 0 {
		select {
		case <-deadline:
			t.Fatal("pod watch not closed after cancel")
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func TestWatchRefusesUnknownIDs(t *testing.T) {
	g := graphOf(t, meshtest.Devices())
	w := watch.New()
	for _, id := range []string{"Processor:nope/x/y", "Service:devices", "", "garbage"} {
		if _, err := w.Watch(context.Background(), g, id, "k"); !errors.Is(err, watch.ErrUnknownProcessor) {
			t.Errorf("%q: err %v, want ErrUnknownProcessor", id, err)
		}
	}
	if _, err := w.Watch(context.Background(), g, enricher, "k"); !errors.Is(err, watch.ErrNoPods) {
		t.Errorf("processor without pods: %v", err)
	}
}

func TestWatchServerRejectingTheStream(t *testing.T) {
	a := meshtest.Serve(t, meshtest.Devices())
	a.FailWatches("watch disabled")
	g := graphOf(t, meshtest.Devices(), a.Addr)
	ch, err := watch.New().Watch(context.Background(), g, enricher, "k")
	if err != nil {
		t.Fatal(err)
	}
	e := next(t, ch)
	if e.Err == nil || !strings.Contains(e.Err.Error(), "watch disabled") {
		t.Fatalf("event %+v", e)
	}
	if _, ok := <-ch; ok {
		t.Error("stream still open after its only pod failed")
	}
}

// A pod that serves TLS is watched over TLS with the dial options given.
func TestWatchOverTLS(t *testing.T) {
	cert, certPEM := testcert.SelfSigned(t)
	pod := meshtest.Serve(t, meshtest.Devices(), meshtest.WithTLS(cert))
	g := graphOf(t, meshtest.Devices(), pod.Addr)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// Plaintext against a TLS pod: an error in the stream, not a hang.
	plain, err := watch.New().Watch(ctx, g, enricher, "device-1")
	if err != nil {
		t.Fatal(err)
	}
	if e := next(t, plain); e.Err == nil {
		t.Fatalf("a plaintext watch of a TLS pod gave %+v", e)
	}

	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(certPEM)
	creds := credentials.NewTLS(&tls.Config{RootCAs: roots})
	ch, err := watch.New(watch.WithDialOptions(grpc.WithTransportCredentials(creds))).Watch(ctx, g, enricher, "device-1")
	if err != nil {
		t.Fatal(err)
	}
	pod.WaitWatchers(t, 1)
	pod.Emit("heartbeats", "enricher", "device-1", op(`{"over":"tls"}`))
	if e := next(t, ch); e.Err != nil || e.Operation.GetInput().GetValue() != `{"over":"tls"}` {
		t.Fatalf("over TLS: %+v", e)
	}
}
