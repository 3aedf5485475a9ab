package discovery_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kafmesh/kafmesh/internal/discovery"
	"github.com/kafmesh/kafmesh/internal/discovery/internal/meshtest"
	meshpkg "github.com/kafmesh/kafmesh/internal/discovery/mesh"
	"github.com/kafmesh/kafmesh/internal/discovery/scrape"
	"github.com/kafmesh/kafmesh/internal/discovery/store"
	"github.com/kafmesh/kafmesh/internal/discovery/targets"
)

// flakyStore is a real store whose reads can be made to hang until their
// deadline, as a Neo4j that went away does.
type flakyStore struct {
	store.Store
	down atomic.Bool
}

func (f *flakyStore) Graph(ctx context.Context) (*meshpkg.Graph, error) {
	if f.down.Load() {
		<-ctx.Done()
		return nil, errors.New("connection refused")
	}
	return f.Store.Graph(ctx)
}

func (f *flakyStore) Ping(ctx context.Context) error {
	if f.down.Load() {
		return errors.New("connection refused")
	}
	return f.Store.Ping(ctx)
}

func run(t *testing.T, svc *discovery.Service) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx, "127.0.0.1:0", func(a net.Addr) { addrc <- a }) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	select {
	case a := <-addrc:
		return "http://" + a.String()
	case <-time.After(5 * time.Second):
		t.Fatal("discover did not listen within 5 s")
	}
	return ""
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// With an API server that refuses to list pods (missing RBAC), discover
// still serves /healthz at once, and /readyz says why it is not ready.
func TestHealthzAtOnceReadyzAfterTheInformerSynced(t *testing.T) {
	client := fake.NewClientset()
	var refuse atomic.Bool
	refuse.Store(true)
	client.PrependReactor("list", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		if refuse.Load() {
			return true, nil, errors.New(`pods is forbidden: User "system:serviceaccount:kafmesh:kafmesh-discover" cannot list resource "pods"`)
		}
		return false, nil, nil
	})
	st, err := discovery.OpenStore(context.Background(), discovery.StoreConfig{URL: filepath.Join(t.TempDir(), "mesh.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	start := time.Now()
	url := run(t, discovery.New(st, discovery.WithKubernetes(targets.NewKubernetes(client)),
		discovery.WithScrapeOptions(scrape.WithInterval(100*time.Millisecond))))
	if code, body := get(t, url+"/healthz"); code != 200 || time.Since(start) > 5*time.Second {
		t.Fatalf("/healthz %d %q after %s", code, body, time.Since(start))
	}
	if code, body := get(t, url+"/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "informer not synced") {
		t.Fatalf("/readyz before the informer synced: %d %q", code, body)
	}
	refuse.Store(false) // RBAC fixed: the informer's retry lists
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, body := get(t, url+"/readyz")
		if code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz after the informer could list: %d %q", code, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type status struct {
	Data struct {
		Services   []struct{ Name string }
		MeshStatus struct {
			Stale  bool
			Since  *string
			Error  *string
			ReadAt *string
		}
	}
	Errors []struct{ Message string }
}

func meshStatus(t *testing.T, url string) (status, time.Duration) {
	t.Helper()
	start := time.Now()
	resp, err := http.Post(url+"/query", "application/json", strings.NewReader(`{"query":"{ services { name } meshStatus { stale since error readAt } }"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s status
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	return s, time.Since(start)
}

// A store that stops answering: the API answers within the store timeout
// from the last graph read, marked stale, and current again once the store
// is back.
func TestStoreOutageServesTheLastGraphMarkedStale(t *testing.T) {
	devices := meshtest.Serve(t, meshtest.Devices())
	real, err := discovery.OpenStore(context.Background(), discovery.StoreConfig{URL: filepath.Join(t.TempDir(), "mesh.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer real.Close()
	st := &flakyStore{Store: real}
	src, err := targets.NewStatic([]string{devices.Addr}, "")
	if err != nil {
		t.Fatal(err)
	}
	svc := discovery.New(st, discovery.WithSources(src), discovery.WithSnapshotMaxAge(time.Millisecond),
		discovery.WithStoreTimeout(300*time.Millisecond), discovery.WithScrapeOptions(scrape.WithInterval(time.Hour)))
	url := run(t, svc)
	<-svc.FirstRound()
	s, _ := meshStatus(t, url)
	if len(s.Data.Services) != 1 || s.Data.MeshStatus.Stale || s.Data.MeshStatus.ReadAt == nil {
		t.Fatalf("before the outage: %+v", s)
	}

	st.down.Store(true)
	time.Sleep(10 * time.Millisecond) // past the snapshot cache's age
	for i := range 3 {
		s, took := meshStatus(t, url)
		if len(s.Errors) > 0 || len(s.Data.Services) != 1 || !s.Data.MeshStatus.Stale || s.Data.MeshStatus.Since == nil ||
			s.Data.MeshStatus.Error == nil || !strings.Contains(*s.Data.MeshStatus.Error, "timed out after 300ms") {
			t.Fatalf("during the outage (request %d): %+v", i, s)
		}
		if took > 2*time.Second {
			t.Fatalf("request %d during the outage took %s", i, took)
		}
	}
	if code, body := get(t, url+"/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "store") {
		t.Fatalf("/readyz during the outage: %d %q", code, body)
	}

	st.down.Store(false)
	deadline := time.Now().Add(10 * time.Second)
	for {
		s, _ := meshStatus(t, url)
		if !s.Data.MeshStatus.Stale && len(s.Data.Services) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the outage: %+v", s)
		}
		time.Sleep(100 * time.Millisecond)
	}
	storeLatencyCounted(t, svc)
}
