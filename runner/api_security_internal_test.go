package runner

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
)

// The guard's own cost per call, without gRPC around it: the check of an
// unguarded unary call (Ping, Discovery by default), a loopback caller's
// Watch admission, and a bearer token's (hash and constant-time compare)
// with the limiter's bookkeeping.
//
//	go test -run '^$' -bench 'BenchmarkGuardCheck' ./runner/
func BenchmarkGuardCheck(b *testing.B) {
	loop := &peer.Peer{Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}}
	ctx := peer.NewContext(context.Background(), loop)
	svc := &Service{def: Definition{Name: "bench"}}
	unlimited := WatchLimits{PerCaller: -1, Total: -1, StartsPerSecond: -1}
	handler := func(context.Context, any) (any, error) { return nil, nil }
	stream := func(any, grpc.ServerStream) error { return nil }
	info := &grpc.StreamServerInfo{FullMethod: "/kafmesh.watch.v1.WatchAPI/Processor", IsServerStream: true}

	b.Run("unary-unguarded", func(b *testing.B) {
		g := newGuard(&apiState{svc: svc}, &grpcSecurity{limits: unlimited})
		uinfo := &grpc.UnaryServerInfo{FullMethod: "/kafmesh.ping.v1.PingAPI/Ping"}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := g.unary(ctx, nil, uinfo, handler); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("watch-loopback", func(b *testing.B) {
		g := newGuard(&apiState{svc: svc}, &grpcSecurity{limits: unlimited})
		ss := fakeStream{ctx: ctx}
		b.ReportAllocs()
		for b.Loop() {
			if err := g.stream(nil, ss, info, stream); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("watch-token", func(b *testing.B) {
		c := serviceConfig{security: grpcSecurity{limits: unlimited}}
		WithWatchToken("bench-token")(&c)
		g := newGuard(&apiState{svc: svc}, &c.security)
		ss := fakeStream{ctx: metadata.NewIncomingContext(ctx, metadata.Pairs("authorization", "Bearer bench-token"))}
		b.ReportAllocs()
		for b.Loop() {
			if err := g.stream(nil, ss, info, stream); err != nil {
				b.Fatal(err)
			}
		}
	})
}

type fakeStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (f fakeStream) Context() context.Context { return f.ctx }

// The limiter forgets idle callers whose buckets are full again once it
// knows many, so a stream of distinct callers cannot grow it for ever;
// callers with open streams or spent buckets are kept.
func TestWatchLimiterForgetsIdleCallers(t *testing.T) {
	now := time.Unix(1000, 0)
	l := newWatchLimiter(WatchLimits{PerCaller: 4, Total: -1, StartsPerSecond: 1, Burst: 2})
	l.now = func() time.Time { return now }
	release, err := l.admit("busy")
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	for i := range forgetAfter {
		r, err := l.admit(fmt.Sprintf("caller-%d", i))
		if err != nil {
			t.Fatal(err)
		}
		r()
	}
	if len(l.callers) != forgetAfter+1 {
		t.Fatalf("%d callers known", len(l.callers))
	}
	now = now.Add(2 * time.Second) // every bucket is full again
	if _, err := l.admit("newcomer"); err != nil {
		t.Fatal(err)
	}
	if len(l.callers) != 2 || l.callers["busy"] == nil || l.callers["newcomer"] == nil {
		t.Errorf("after forgetting, %d callers known, want busy and newcomer", len(l.callers))
	}
}
