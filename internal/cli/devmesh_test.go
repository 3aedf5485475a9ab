package cli

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/kafmesh/kafmesh/internal/dev"
)

// startDevMesh runs kafmesh dev in process (the example service on an
// embedded broker, or KAFMESH_TEST_BROKERS when set, scraped by discover)
// and returns discover's base URL once it has scraped the service; the
// test's end stops it.
func startDevMesh(t *testing.T) string {
	t.Helper()
	cfg := dev.Config{
		Listen: "127.0.0.1:0", Devices: 2, Interval: 500 * time.Millisecond,
		ScrapeInterval: 500 * time.Millisecond, Logger: slog.New(slog.DiscardHandler),
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan dev.Info, 1)
	done := make(chan error, 1)
	go func() { done <- dev.Run(ctx, cfg, func(i dev.Info) { ready <- i }) }()
	var info dev.Info
	select {
	case info = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("kafmesh dev stopped before it was ready: %v", err)
	case <-time.After(90 * time.Second):
		cancel()
		t.Fatal("kafmesh dev not ready within 90 s")
	}
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("kafmesh dev did not stop cleanly: %v", err)
			}
		case <-time.After(60 * time.Second):
			t.Error("kafmesh dev did not stop within 60 s")
		}
	})
	return info.URL
}
