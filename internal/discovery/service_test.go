package discovery_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/kafmesh/kafmesh/internal/discovery"
	"github.com/kafmesh/kafmesh/internal/discovery/internal/meshtest"
	"github.com/kafmesh/kafmesh/internal/discovery/scrape"
	"github.com/kafmesh/kafmesh/internal/discovery/targets"
)

// podFor is a Running, annotated pod whose IP and kafmesh/port point at a
// target on loopback.
func podFor(t *testing.T, name, uid, addr string) *corev1.Pod {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := strconv.Atoi(port); err != nil {
		t.Fatal(err)
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "prod", Name: name, UID: types.UID("uid-" + uid),
			Annotations: map[string]string{"kafmesh/scrape": "true", "kafmesh/port": port}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: host},
	}
}

type pods struct {
	Services []struct{ Name string }
	Pods     []struct {
		ID, Namespace, Name, UID, Source string
		Healthy                          bool
	}
}

func mesh(t *testing.T, url string) pods {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"query": `{ services { name } pods { id namespace name uid source healthy } }`})
	resp, err := http.Post(url+"/query", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ Data pods }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out.Data
}

// The Kubernetes source end to end: pods found by the informer (fake
// clientset) are scraped in the first round, served, and removed with
// everything they reported once deleted.
func TestKubernetesPodsEndToEnd(t *testing.T) {
	devices := meshtest.Serve(t, meshtest.Devices())
	alerts := meshtest.Serve(t, meshtest.Alerts())
	client := fake.NewClientset(podFor(t, "devices-0", "d0", devices.Addr), podFor(t, "alerts-0", "a0", alerts.Addr))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, err := discovery.OpenStore(ctx, discovery.StoreConfig{URL: filepath.Join(t.TempDir(), "mesh.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	svc := discovery.New(st,
		discovery.WithKubernetes(targets.NewKubernetes(client)),
		discovery.WithScrapeOptions(scrape.WithInterval(100*time.Millisecond), scrape.WithTimeout(2*time.Second)))
	addrc := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx, "127.0.0.1:0", func(a net.Addr) { addrc <- a }) }()
	url := "http://" + (<-addrc).String()
	<-svc.FirstRound()

	// The first round already knew both pods: Run waited for the informer.
	m := mesh(t, url)
	if len(m.Services) != 2 || len(m.Pods) != 2 {
		t.Fatalf("after the first round: %+v", m)
	}
	for _, p := range m.Pods {
		if p.Namespace != "prod" || p.Source != "kubernetes" || !p.Healthy || p.UID == "" {
			t.Errorf("pod %+v", p)
		}
	}

	if err := client.CoreV1().Pods("prod").Delete(ctx, "alerts-0", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		m := mesh(t, url)
		if len(m.Services) == 1 && m.Services[0].Name == "devices" && len(m.Pods) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("deleted pod still shown: %+v", m)
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
}
