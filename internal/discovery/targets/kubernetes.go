package targets

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kafmesh/kafmesh/internal/discovery/mesh"
)

// The pod annotations discovery reads (WIRE.md).
const (
	AnnotationScrape = "kafmesh/scrape"
	AnnotationPort   = "kafmesh/port"
	// DefaultPort is the gRPC port when kafmesh/port is absent, as in the
	// 2021 kafmesh.
	DefaultPort = 443
)

// PodTarget decides whether a pod is a target: annotated
// kafmesh/scrape: "true", phase Running, with a pod IP, and a valid
// kafmesh/port (default 443). reason says why not, when it is not.
func PodTarget(pod *corev1.Pod) (t Target, reason string) {
	if pod.Annotations[AnnotationScrape] != "true" {
		return Target{}, "not annotated " + AnnotationScrape + `: "true"`
	}
	if pod.DeletionTimestamp != nil {
		return Target{}, "terminating"
	}
	if pod.Status.Phase != corev1.PodRunning {
		return Target{}, "phase " + string(pod.Status.Phase)
	}
	if pod.Status.PodIP == "" {
		return Target{}, "no pod IP yet"
	}
	port := DefaultPort
	if p, ok := pod.Annotations[AnnotationPort]; ok {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return Target{}, fmt.Sprintf("annotation %s %q is not a port number", AnnotationPort, p)
		}
		port = n
	}
	return Target{
		ID:        mesh.PodID(pod.Namespace, pod.Name, string(pod.UID)),
		Namespace: pod.Namespace, Name: pod.Name, UID: string(pod.UID),
		Address: net.JoinHostPort(pod.Status.PodIP, strconv.Itoa(port)),
		Source:  "kubernetes",
	}, ""
}

// Kubernetes is a Source of annotated pods, kept current by pod informers
// (one for all namespaces, or one per listed namespace).
type Kubernetes struct {
	client     kubernetes.Interface
	namespaces []string
	selector   string
	logger     *slog.Logger

	mu        sync.Mutex
	informers []cache.SharedIndexInformer
	synced    bool
	rejected  map[string]string // pod key → reason last logged
}

// KubernetesOption configures NewKubernetes.
type KubernetesOption func(*Kubernetes)

// InNamespaces limits the informer to these namespaces (default: all).
func InNamespaces(ns ...string) KubernetesOption {
	return func(k *Kubernetes) { k.namespaces = append(k.namespaces, ns...) }
}

// WithLabelSelector lists only pods matching the selector (e.g.
// "app.kubernetes.io/part-of=mesh").
func WithLabelSelector(sel string) KubernetesOption { return func(k *Kubernetes) { k.selector = sel } }

// WithKubernetesLogger sets the logger.
func WithKubernetesLogger(l *slog.Logger) KubernetesOption {
	return func(k *Kubernetes) { k.logger = l }
}

// NewKubernetes returns a pod source on client; call Start before Targets.
func NewKubernetes(client kubernetes.Interface, opts ...KubernetesOption) *Kubernetes {
	k := &Kubernetes{client: client, logger: slog.New(slog.DiscardHandler), rejected: map[string]string{}}
	for _, o := range opts {
		o(k)
	}
	return k
}

// Name implements Source.
func (k *Kubernetes) Name() string { return "kubernetes pods" }

// Start starts the informers; they run until ctx ends. It returns at once;
// Targets reports ErrNotSynced until the first listing completed.
func (k *Kubernetes) Start(ctx context.Context) {
	namespaces := k.namespaces
	if len(namespaces) == 0 {
		namespaces = []string{metav1.NamespaceAll}
	}
	var syncs []cache.InformerSynced
	for _, ns := range namespaces {
		opts := []informers.SharedInformerOption{informers.WithNamespace(ns)}
		if k.selector != "" {
			sel := k.selector
			opts = append(opts, informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = sel }))
		}
		f := informers.NewSharedInformerFactoryWithOptions(k.client, 0, opts...)
		inf := f.Core().V1().Pods().Informer()
		if err := inf.SetTransform(slimPod); err != nil {
			k.logger.Warn("pod informer keeps whole pods", "error", err)
		}
		k.mu.Lock()
		k.informers = append(k.informers, inf)
		k.mu.Unlock()
		syncs = append(syncs, inf.HasSynced)
		f.Start(ctx.Done())
	}
	go func() {
		if cache.WaitForCacheSync(ctx.Done(), syncs...) {
			k.mu.Lock()
			k.synced = true
			k.mu.Unlock()
			k.logger.Info("kubernetes pod informer synced", "namespaces", namespaces, "selector", k.selector)
		}
	}()
}

// WaitSynced waits until the informers listed every pod, or ctx ends.
func (k *Kubernetes) WaitSynced(ctx context.Context) error {
	for {
		k.mu.Lock()
		ok := k.synced
		k.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("kubernetes pod informer: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Targets implements Source.
func (k *Kubernetes) Targets(context.Context) ([]Target, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.synced {
		return nil, ErrNotSynced
	}
	var out []Target
	seen := map[string]bool{}
	// Rebuilt every call, so a deleted pod's reason is forgotten.
	rejected := make(map[string]string, len(k.rejected))
	defer func() { k.rejected = rejected }()
	for _, inf := range k.informers {
		for _, obj := range inf.GetStore().List() {
			pod, ok := obj.(*corev1.Pod)
			if !ok {
				continue
			}
			key := pod.Namespace + "/" + pod.Name
			t, reason := PodTarget(pod)
			if reason != "" {
				// Only pods that asked to be scraped are worth a log line.
				if pod.Annotations[AnnotationScrape] == "true" && k.rejected[key] != reason {
					k.logger.Warn("pod not scraped", "pod", key, "reason", reason)
				}
				rejected[key] = reason
				continue
			}
			if !seen[t.ID] {
				seen[t.ID] = true
				out = append(out, t)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// slimPod is the informer's transform: it keeps only what PodTarget and
// the informer itself read (name, namespace, UID, resource version,
// deletion time, the kafmesh/ annotations, phase and pod IP), so the cache
// holds a few hundred bytes per pod instead of the whole object.
func slimPod(obj any) (any, error) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return obj, nil // a tombstone (cache.DeletedFinalStateUnknown)
	}
	var ann map[string]string
	for k, v := range pod.Annotations {
		if strings.HasPrefix(k, "kafmesh/") {
			if ann == nil {
				ann = map[string]string{}
			}
			ann[k] = v
		}
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: pod.Name, Namespace: pod.Namespace, UID: pod.UID, ResourceVersion: pod.ResourceVersion,
			DeletionTimestamp: pod.DeletionTimestamp, Annotations: ann,
		},
		Status: corev1.PodStatus{Phase: pod.Status.Phase, PodIP: pod.Status.PodIP},
	}, nil
}

// ClientConfig returns the Kubernetes client: from kubeconfig when given,
// else the in-cluster configuration of the pod discovery runs in.
func ClientConfig(kubeconfig string) (kubernetes.Interface, error) {
	var cfg *rest.Config
	var err error
	if kubeconfig != "" {
		cfg, err = clientcmd.BuildConfigFromFlags("", kubeconfig)
		if err != nil {
			return nil, fmt.Errorf("kubeconfig %s: %w", kubeconfig, err)
		}
	} else {
		cfg, err = rest.InClusterConfig()
		if err != nil {
			return nil, fmt.Errorf("in-cluster kubernetes config (use --kubeconfig outside a cluster): %w", err)
		}
	}
	cfg.UserAgent = "kafmesh-discover"
	return kubernetes.NewForConfig(cfg)
}
