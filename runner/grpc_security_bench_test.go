package runner_test

import (
	"context"
	"testing"

	"github.com/kafmesh/kafmesh/runner"
)

// The cost of the guard on the kafmesh APIs, over real gRPC on loopback:
// Ping open (the guard only checks that nothing is asked) and with a
// bearer token required on every API (WithAuthenticatedAPIs); a Watch
// start (stream opened, headers received, stream ended) by a loopback
// caller without a credential and with a token. The difference between
// each pair is the interceptor's cost.
//
//	go test -run '^$' -bench 'BenchmarkGuard' -benchtime 2s ./runner/
func BenchmarkGuard(b *testing.B) {
	const token = "bench-token"
	for _, bc := range []struct {
		name  string
		opts  []runner.Option
		token string
	}{
		{"open", nil, ""},
		{"token", []runner.Option{runner.WithWatchToken(token), runner.WithAuthenticatedAPIs(),
			runner.WithWatchLimits(runner.WatchLimits{StartsPerSecond: -1, PerCaller: -1, Total: -1})}, token},
	} {
		addr, _ := guardedService(b, nil, bc.opts...)
		conn := dial(b, addr)
		ctx := context.Background()
		if bc.token != "" {
			ctx = withToken(ctx, bc.token)
		}
		b.Run("ping/"+bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := ping(ctx, conn); err != nil {
					b.Fatal(err)
				}
			}
		})
		if bc.token == "" {
			// Unlimited starts for the loopback caller need a service of
			// their own.
			addr, _ := guardedService(b, nil, runner.WithWatchLimits(runner.WatchLimits{StartsPerSecond: -1, PerCaller: -1, Total: -1}))
			conn = dial(b, addr)
		}
		b.Run("watch-start/"+bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				wctx, cancel := context.WithCancel(ctx)
				if err := startWatch(wctx, conn, "k"); err != nil {
					b.Fatal(err)
				}
				cancel()
			}
		})
	}
}
