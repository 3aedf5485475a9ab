package watch_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	discoveryv1 "github.com/kafmesh/kafmesh/api/discovery/v1"
	"github.com/kafmesh/kafmesh/internal/discovery/internal/meshtest"
	"github.com/kafmesh/kafmesh/internal/discovery/scrape"
	"github.com/kafmesh/kafmesh/internal/discovery/watch"
	"github.com/kafmesh/kafmesh/kafmeshtest"
)

// The live watch through a real kafmesh service that requires mutual TLS
// and a bearer token: without the token the pod's stream fails with
// Unauthenticated; with discover's certificate and token it carries the
// operations the processor performs on records produced to Kafka.
func TestWatchTargetRequiringMutualTLSAndToken(t *testing.T) {
	brokers := kafmeshtest.StartBroker(t)
	sec := meshtest.ServeSecure(t, brokers)
	full := scrape.Credentials{CAFile: sec.CA, CertFile: sec.ClientCert, KeyFile: sec.ClientKey, TokenFile: sec.TokenFile}
	opts := dialOptions(t, full)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	conn, err := grpc.NewClient(sec.Addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	info, err := discoveryv1.NewDiscoveryAPIClient(conn).GetServiceInfo(ctx, &discoveryv1.GetServiceInfoRequest{})
	if err != nil {
		t.Fatal(err)
	}
	g := graphOf(t, info.GetService(), sec.Addr)

	noToken := dialOptions(t, scrape.Credentials{CAFile: sec.CA, CertFile: sec.ClientCert, KeyFile: sec.ClientKey})
	ch, err := watch.New(watch.WithDialOptions(noToken...)).Watch(ctx, g, meshtest.SecureProcessor, "k")
	if err != nil {
		t.Fatal(err)
	}
	if e := next(t, ch); status.Code(e.Err) != codes.Unauthenticated || !strings.Contains(e.Err.Error(), "no bearer token") {
		t.Fatalf("watch without the token: %+v", e)
	}

	ch, err = watch.New(watch.WithDialOptions(opts...)).Watch(ctx, g, meshtest.SecureProcessor, "k")
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	// Produce until the watch, which opens in the background, sees one.
	for i := 0; ; i++ {
		v, _ := proto.Marshal(wrapperspb.String("secret-" + string(rune('a'+i%26))))
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: sec.Input, Key: []byte("k"), Value: v}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		select {
		case e, ok := <-ch:
			if !ok {
				t.Fatal("the watch closed")
			}
			if e.Err != nil || !strings.Contains(e.Operation.GetInput().GetValue(), "secret-") {
				t.Fatalf("event %+v", e)
			}
			return
		case <-time.After(300 * time.Millisecond):
		case <-ctx.Done():
			t.Fatal("no operation watched within a minute")
		}
	}
}

func dialOptions(t *testing.T, c scrape.Credentials) []grpc.DialOption {
	t.Helper()
	opts, err := c.DialOptions()
	if err != nil {
		t.Fatal(err)
	}
	return opts
}
