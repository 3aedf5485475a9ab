package runner

import (
	"context"
	"net"
	"testing"

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
