package web_test

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kafmesh/kafmesh/internal/discovery"
	"github.com/kafmesh/kafmesh/internal/discovery/internal/meshtest"
	"github.com/kafmesh/kafmesh/internal/discovery/mesh"
	"github.com/kafmesh/kafmesh/internal/discovery/scrape"
	"github.com/kafmesh/kafmesh/internal/discovery/store"
	"github.com/kafmesh/kafmesh/internal/discovery/store/sqlite"
	"github.com/kafmesh/kafmesh/internal/discovery/targets"
	"github.com/kafmesh/kafmesh/internal/discovery/web"
	"github.com/kafmesh/kafmesh/internal/discovery/web/webtest"
)

// The map's side panel and the service page name the targets that fail,
// with their reason.
func TestMapAndServicePageShowFailingTargets(t *testing.T) {
	devA, devB := meshtest.Serve(t, meshtest.Devices()), meshtest.Serve(t, meshtest.Devices())
	refusing := meshtest.Refusing(t)
	url := startDiscovery(t, devA.Addr, devB.Addr, refusing)
	devB.Stop()
	b := webtest.NewBrowser(t)

	b.Open(t, url+"/")
	b.WaitFor(t, "the refusing and the stopped target listed as failing",
		`document.querySelectorAll('[data-testid="failing-target"]').length === 2`, 15*time.Second)
	if got := b.Text(t, `[data-testid="failing-targets"]`); !strings.Contains(got, "Failing targets (2)") || !strings.Contains(got, refusing) || !strings.Contains(got, "ping:") {
		t.Errorf("failing targets panel = %q", got)
	}
	b.Screenshot(t, "map-failing-targets")

	b.Open(t, url+"/#/service/"+mesh.ServiceID("devices"))
	b.WaitFor(t, "the service page's failing pod alert", `!!document.querySelector('[data-testid="failing-pods"]')`, 10*time.Second)
	if got := b.Text(t, `[data-testid="failing-pods"]`); !strings.Contains(got, "1 of 2 pods failing") || !strings.Contains(got, devB.Addr) {
		t.Errorf("failing pods alert = %q", got)
	}
	b.NoPageErrors(t)
}

// hangingStore is a real store whose reads can be made to fail.
type hangingStore struct {
	store.Store
	down atomic.Bool
}

func (s *hangingStore) Graph(ctx context.Context) (*mesh.Graph, error) {
	if s.down.Load() {
		return nil, errors.New("neo4j: connection refused")
	}
	return s.Store.Graph(ctx)
}

// While discover cannot read its store, every page shows a banner saying
// the mesh shown is the last one read; the banner goes once the store
// answers again.
func TestStaleBannerDuringAStoreOutage(t *testing.T) {
	devices := meshtest.Serve(t, meshtest.Devices())
	ctx, cancel := context.WithCancel(context.Background())
	real, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "discover.db"))
	if err != nil {
		t.Fatal(err)
	}
	st := &hangingStore{Store: real}
	static, err := targets.NewStatic([]string{devices.Addr}, "")
	if err != nil {
		t.Fatal(err)
	}
	svc := discovery.New(st, discovery.WithSources(static), discovery.WithSnapshotMaxAge(100*time.Millisecond),
		discovery.WithScrapeOptions(scrape.WithInterval(time.Hour)), discovery.WithServerOptions(web.ServerOptions()...))
	bound := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx, "127.0.0.1:0", func(a net.Addr) { bound <- a }) }()
	t.Cleanup(func() {
		cancel()
		<-done
		_ = real.Close()
	})
	url := "http://" + (<-bound).String()
	<-svc.FirstRound()
	b := webtest.NewBrowser(t)
	b.Open(t, url+"/")
	if hidden := webtest.Eval[bool](t, b, `document.querySelector('[data-testid="stale-banner"]').hidden`); !hidden {
		t.Fatal("stale banner shown while the store answers")
	}
	st.down.Store(true)
	time.Sleep(200 * time.Millisecond)
	b.Open(t, url+"/#/pods")
	b.WaitFor(t, "the stale banner", `!document.querySelector('[data-testid="stale-banner"]').hidden`, 10*time.Second)
	if got := b.Text(t, `[data-testid="stale-banner"]`); !strings.Contains(got, "Stale: discover cannot read its store") || !strings.Contains(got, "connection refused") {
		t.Errorf("banner = %q", got)
	}
	if got := b.Text(t, `[data-testid="pod-summary"]`); !strings.Contains(got, "1 pods") {
		t.Errorf("the last graph is not shown during the outage: %q", got)
	}
	b.Screenshot(t, "stale-banner")
	st.down.Store(false)
	time.Sleep(1100 * time.Millisecond) // discover retries a failed store at most once a second
	b.Open(t, url+"/#/topics")
	b.WaitFor(t, "the banner gone", `document.querySelector('[data-testid="stale-banner"]').hidden`, 10*time.Second)
	b.NoPageErrors(t)
}
