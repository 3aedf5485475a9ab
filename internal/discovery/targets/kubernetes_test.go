package targets_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"

	"github.com/kafmesh/kafmesh/internal/discovery/targets"
)

func pod(ns, name, uid, ip string, phase corev1.PodPhase, annotations map[string]string, labels map[string]string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID(uid), Annotations: annotations, Labels: labels},
		Status:     corev1.PodStatus{Phase: phase, PodIP: ip},
	}
}

var scrape = map[string]string{"kafmesh/scrape": "true"}

func TestPodTargetRules(t *testing.T) {
	withPort := func(p string) map[string]string {
		return map[string]string{"kafmesh/scrape": "true", "kafmesh/port": p}
	}
	cases := []struct {
		name   string
		pod    *corev1.Pod
		addr   string
		reason string
	}{
		{"default port", pod("prod", "a", "u1", "10.1.2.3", corev1.PodRunning, scrape, nil), "10.1.2.3:443", ""},
		{"annotated port", pod("prod", "a", "u1", "10.1.2.3", corev1.PodRunning, withPort("9090"), nil), "10.1.2.3:9090", ""},
		{"ipv6", pod("prod", "a", "u1", "fd00::1", corev1.PodRunning, withPort("9090"), nil), "[fd00::1]:9090", ""},
		{"not annotated", pod("prod", "a", "u1", "10.1.2.3", corev1.PodRunning, nil, nil), "", "not annotated"},
		{"scrape false", pod("prod", "a", "u1", "10.1.2.3", corev1.PodRunning, map[string]string{"kafmesh/scrape": "false"}, nil), "", "not annotated"},
		{"pending", pod("prod", "a", "u1", "10.1.2.3", corev1.PodPending, scrape, nil), "", "phase Pending"},
		{"no ip", pod("prod", "a", "u1", "", corev1.PodRunning, scrape, nil), "", "no pod IP"},
		{"bad port", pod("prod", "a", "u1", "10.1.2.3", corev1.PodRunning, withPort("grpc"), nil), "", `kafmesh/port "grpc" is not a port number`},
		{"port out of range", pod("prod", "a", "u1", "10.1.2.3", corev1.PodRunning, withPort("70000"), nil), "", "not a port number"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, reason := targets.PodTarget(tc.pod)
			if tc.reason != "" {
				if !strings.Contains(reason, tc.reason) {
					t.Fatalf("reason %q, want %q", reason, tc.reason)
				}
				return
			}
			if reason != "" || got.Address != tc.addr || got.ID != "Pod:prod/a/u1" || got.UID != "u1" || got.Source != "kubernetes" {
				t.Fatalf("target %+v (reason %q), want address %s", got, reason, tc.addr)
			}
		})
	}
	terminating := pod("prod", "a", "u1", "10.1.2.3", corev1.PodRunning, scrape, nil)
	now := metav1.Now()
	terminating.DeletionTimestamp = &now
	if _, reason := targets.PodTarget(terminating); reason != "terminating" {
		t.Errorf("terminating pod: reason %q", reason)
	}
}

func addrs(ts []targets.Target) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.ID+"="+t.Address)
	}
	return out
}

// waitTargets polls until the source reports want (the informer applies
// watch events asynchronously).
func waitTargets(t *testing.T, src targets.Source, want []string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var got []string
	for time.Now().Before(deadline) {
		ts, err := src.Targets(context.Background())
		if err == nil {
			got = addrs(ts)
			if slices.Equal(got, want) {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("targets %v, want %v", got, want)
}

func TestKubernetesInformerFollowsPods(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	client := fake.NewClientset(
		pod("prod", "devices-0", "u1", "10.0.0.1", corev1.PodRunning, scrape, nil),
		pod("prod", "quiet-0", "u2", "10.0.0.2", corev1.PodRunning, nil, nil),
		pod("prod", "starting-0", "u3", "", corev1.PodPending, scrape, nil),
	)
	src := targets.NewKubernetes(client)
	if _, err := src.Targets(ctx); err != targets.ErrNotSynced {
		t.Fatalf("before Start: err %v, want ErrNotSynced", err)
	}
	src.Start(ctx)
	if err := src.WaitSynced(ctx); err != nil {
		t.Fatal(err)
	}
	waitTargets(t, src, []string{"Pod:prod/devices-0/u1=10.0.0.1:443"})

	// The starting pod gets its IP and runs: it becomes a target.
	p := pod("prod", "starting-0", "u3", "10.0.0.3", corev1.PodRunning, map[string]string{"kafmesh/scrape": "true", "kafmesh/port": "8443"}, nil)
	if _, err := client.CoreV1().Pods("prod").UpdateStatus(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.CoreV1().Pods("prod").Update(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitTargets(t, src, []string{"Pod:prod/devices-0/u1=10.0.0.1:443", "Pod:prod/starting-0/u3=10.0.0.3:8443"})

	// devices-0 is re-created (same name, new UID and IP): a new identity.
	if err := client.CoreV1().Pods("prod").Delete(ctx, "devices-0", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitTargets(t, src, []string{"Pod:prod/starting-0/u3=10.0.0.3:8443"})
	if _, err := client.CoreV1().Pods("prod").Create(ctx, pod("prod", "devices-0", "u9", "10.0.0.9", corev1.PodRunning, scrape, nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitTargets(t, src, []string{"Pod:prod/devices-0/u9=10.0.0.9:443", "Pod:prod/starting-0/u3=10.0.0.3:8443"})

	// Annotation removed: no longer a target.
	q := pod("prod", "starting-0", "u3", "10.0.0.3", corev1.PodRunning, nil, nil)
	if _, err := client.CoreV1().Pods("prod").Update(ctx, q, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitTargets(t, src, []string{"Pod:prod/devices-0/u9=10.0.0.9:443"})
}

func TestKubernetesNamespacesAndSelector(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	mesh := map[string]string{"part-of": "mesh"}
	client := fake.NewClientset(
		pod("a", "p1", "u1", "10.0.0.1", corev1.PodRunning, scrape, mesh),
		pod("b", "p2", "u2", "10.0.0.2", corev1.PodRunning, scrape, mesh),
		pod("c", "p3", "u3", "10.0.0.3", corev1.PodRunning, scrape, mesh),
		pod("a", "p4", "u4", "10.0.0.4", corev1.PodRunning, scrape, map[string]string{"part-of": "other"}),
	)
	src := targets.NewKubernetes(client, targets.InNamespaces("a", "b"), targets.WithLabelSelector("part-of=mesh"))
	src.Start(ctx)
	if err := src.WaitSynced(ctx); err != nil {
		t.Fatal(err)
	}
	waitTargets(t, src, []string{"Pod:a/p1/u1=10.0.0.1:443", "Pod:b/p2/u2=10.0.0.2:443"})
}

func TestKubernetesSlimPodKeepsOnlyWhatDiscoveryReads(t *testing.T) {
	full := pod("prod", "devices-0", "u1", "10.0.0.1", corev1.PodRunning,
		map[string]string{"kafmesh/scrape": "true", "kafmesh/port": "9090", "kubectl.kubernetes.io/last-applied-configuration": strings.Repeat("x", 10000)},
		map[string]string{"app": "devices"})
	full.ResourceVersion = "42"
	full.Spec.Containers = []corev1.Container{{Name: "app", Image: "devices:1", Env: []corev1.EnvVar{{Name: "SECRET", Value: "s"}}}}
	full.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	obj, err := targets.SlimPod(full)
	if err != nil {
		t.Fatal(err)
	}
	slim := obj.(*corev1.Pod)
	if len(slim.Spec.Containers) != 0 || len(slim.Status.Conditions) != 0 || len(slim.Labels) != 0 || len(slim.Annotations) != 2 || slim.ResourceVersion != "42" {
		t.Fatalf("slim pod keeps too much or too little: %+v", slim)
	}
	want, _ := targets.PodTarget(full)
	got, reason := targets.PodTarget(slim)
	if reason != "" || got != want {
		t.Fatalf("slim pod target %+v (%q), want %+v", got, reason, want)
	}
	tomb := cache.DeletedFinalStateUnknown{Key: "prod/devices-0", Obj: full}
	if o, err := targets.SlimPod(tomb); err != nil || o != any(tomb) {
		t.Fatalf("tombstone: %v %v", o, err)
	}
}

func TestKubernetesForgetsDeletedRejectedPods(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	client := fake.NewClientset()
	src := targets.NewKubernetes(client)
	src.Start(ctx)
	if err := src.WaitSynced(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		name := fmt.Sprintf("job-%d", i)
		if _, err := client.CoreV1().Pods("prod").Create(ctx, pod("prod", name, "u"+name, "", corev1.PodPending, scrape, nil), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for src.Rejected() != 50 && time.Now().Before(deadline) {
		_, _ = src.Targets(ctx)
		time.Sleep(10 * time.Millisecond)
	}
	if n := src.Rejected(); n != 50 {
		t.Fatalf("remembers %d rejected pods, want 50", n)
	}
	for i := range 50 {
		if err := client.CoreV1().Pods("prod").Delete(ctx, fmt.Sprintf("job-%d", i), metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for src.Rejected() != 0 && time.Now().Before(deadline) {
		_, _ = src.Targets(ctx)
		time.Sleep(10 * time.Millisecond)
	}
	if n := src.Rejected(); n != 0 {
		t.Fatalf("still remembers %d deleted pods", n)
	}
}
