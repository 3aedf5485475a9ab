package web_test

import (
	"context"
	"net"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/kafmesh/kafmesh/internal/discovery"
	"github.com/kafmesh/kafmesh/internal/discovery/scrape"
	"github.com/kafmesh/kafmesh/internal/discovery/server"
	"github.com/kafmesh/kafmesh/internal/discovery/store/sqlite"
	"github.com/kafmesh/kafmesh/internal/discovery/targets"
	"github.com/kafmesh/kafmesh/internal/discovery/web"
)

// startDiscovery runs discovery (SQLite store, static targets, scraping
// every 200 ms) with the UI mounted, and returns its base URL once the
// first scrape round is done.
func startDiscovery(tb testing.TB, addrs ...string) string {
	tb.Helper()
	return startDiscoveryWith(tb, addrs)
}

// startDiscoveryWith is startDiscovery with more options (lag, …).
func startDiscoveryWith(tb testing.TB, addrs []string, opts ...discovery.Option) string {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	st, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "discover.db"))
	if err != nil {
		tb.Fatal(err)
	}
	static, err := targets.NewStatic(addrs, "")
	if err != nil {
		tb.Fatal(err)
	}
	svc := discovery.New(st, append([]discovery.Option{
		discovery.WithSources(static),
		discovery.WithScrapeOptions(scrape.WithInterval(200*time.Millisecond), scrape.WithTimeout(2*time.Second)),
		discovery.WithSnapshotMaxAge(200 * time.Millisecond),
		discovery.WithServerOptions(web.ServerOptions()...),
	}, opts...)...,
	)
	bound := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx, "127.0.0.1:0", func(a net.Addr) { bound <- a }) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("discovery: %v", err)
		}
		_ = st.Close()
	})
	var addr net.Addr
	select {
	case addr = <-bound:
	case err := <-done:
		tb.Fatalf("discovery did not start: %v", err)
	}
	select {
	case <-svc.FirstRound():
	case <-time.After(10 * time.Second):
		tb.Fatal("no scrape round within 10 s")
	}
	return "http://" + addr.String()
}

// startTLSServer serves discovery's handler over https (a self-signed
// certificate), for the wss: path of the live watch.
func startTLSServer(tb testing.TB, srv *server.Server) string {
	tb.Helper()
	ts := httptest.NewUnstartedServer(srv.Handler())
	ts.StartTLS()
	tb.Cleanup(ts.Close)
	return ts.URL
}
