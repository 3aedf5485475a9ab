package cli

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"

	"github.com/spf13/pflag"
)

func decodeManifest(t *testing.T, path string) []runtime.Object {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []runtime.Object
	for i, doc := range strings.Split(string(b), "\n---\n") {
		obj, _, err := scheme.Codecs.UniversalDeserializer().Decode([]byte(doc), nil, nil)
		if err != nil {
			t.Fatalf("%s document %d: %v", path, i+1, err)
		}
		out = append(out, obj)
	}
	return out
}

const deployDir = "../../../deploy/kubernetes"

// manifests are the objects of the files of deployDir, by kind.
type manifests struct {
	namespace   *corev1.Namespace
	account     *corev1.ServiceAccount
	clusterRole *rbacv1.ClusterRole
	binding     *rbacv1.ClusterRoleBinding
	role        *rbacv1.Role
	roleBinding *rbacv1.RoleBinding
	claim       *corev1.PersistentVolumeClaim
	deployment  *appsv1.Deployment
	service     *corev1.Service
	policy      *networkingv1.NetworkPolicy // discover's
	svcPolicy   *networkingv1.NetworkPolicy // the services'
}

func (m *manifests) add(t *testing.T, file string, objs []runtime.Object) {
	t.Helper()
	for _, o := range objs {
		switch o := o.(type) {
		case *corev1.Namespace:
			m.namespace = o
		case *corev1.ServiceAccount:
			m.account = o
		case *rbacv1.ClusterRole:
			m.clusterRole = o
		case *rbacv1.ClusterRoleBinding:
			m.binding = o
		case *rbacv1.Role:
			m.role = o
		case *rbacv1.RoleBinding:
			m.roleBinding = o
		case *corev1.PersistentVolumeClaim:
			m.claim = o
		case *appsv1.Deployment:
			m.deployment = o
		case *corev1.Service:
			m.service = o
		case *networkingv1.NetworkPolicy:
			if file == "service-networkpolicy.yaml" {
				m.svcPolicy = o
			} else {
				m.policy = o
			}
		default:
			t.Errorf("%s: unexpected %T", file, o)
		}
	}
}

func selects(t *testing.T, sel *metav1.LabelSelector, l map[string]string) bool {
	t.Helper()
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		t.Fatal(err)
	}
	return !s.Empty() && s.Matches(labels.Set(l))
}

// The shipped manifests decode as Kubernetes objects and fit together:
// the namespace comes before anything in it, the roles grant only what
// the informer needs, names, labels, selectors, ports, volumes and probes
// agree, and the deployment uses flags and variables the command has.
func TestKubernetesManifests(t *testing.T) {
	var m manifests
	files := []string{"rbac.yaml", "deployment.yaml", "networkpolicy.yaml", "service-networkpolicy.yaml", "namespaced/role.yaml"}
	for _, f := range files {
		objs := decodeManifest(t, filepath.Join(deployDir, f))
		m.add(t, f, objs)
		if f == "rbac.yaml" {
			if _, ok := objs[0].(*corev1.Namespace); !ok {
				t.Errorf("rbac.yaml starts with a %T: the namespace must come first, so apply -f creates it before what lives in it", objs[0])
			}
		}
	}
	if m.namespace == nil || m.account == nil || m.clusterRole == nil || m.binding == nil || m.role == nil || m.roleBinding == nil ||
		m.claim == nil || m.deployment == nil || m.service == nil || m.policy == nil || m.svcPolicy == nil {
		t.Fatalf("missing objects: %+v", m)
	}
	ns := m.namespace.Name
	for what, got := range map[string]string{"service account": m.account.Namespace, "claim": m.claim.Namespace, "deployment": m.deployment.Namespace,
		"service": m.service.Namespace, "network policy": m.policy.Namespace, "role": m.role.Namespace, "role binding": m.roleBinding.Namespace} {
		if got != ns {
			t.Errorf("the %s is in namespace %q, want %q", what, got, ns)
		}
	}

	// RBAC: list and watch pods, nothing else, bound to discover's account.
	for kind, rules := range map[string][]rbacv1.PolicyRule{"ClusterRole": m.clusterRole.Rules, "Role": m.role.Rules} {
		if len(rules) != 1 || !slices.Equal(rules[0].Resources, []string{"pods"}) || !slices.Equal(rules[0].Verbs, []string{"list", "watch"}) {
			t.Errorf("%s rules %+v, want list and watch on pods only", kind, rules)
		}
	}
	if m.binding.RoleRef.Kind != "ClusterRole" || m.binding.RoleRef.Name != m.clusterRole.Name {
		t.Errorf("cluster role binding refers to %+v", m.binding.RoleRef)
	}
	if m.roleBinding.RoleRef.Kind != "Role" || m.roleBinding.RoleRef.Name != m.role.Name {
		t.Errorf("role binding refers to %+v", m.roleBinding.RoleRef)
	}
	for _, subjects := range [][]rbacv1.Subject{m.binding.Subjects, m.roleBinding.Subjects} {
		if len(subjects) != 1 || subjects[0].Kind != "ServiceAccount" || subjects[0].Name != m.account.Name || subjects[0].Namespace != ns {
			t.Errorf("binding subjects %+v, want the service account %s/%s", subjects, ns, m.account.Name)
		}
	}

	dep := m.deployment
	pod := dep.Spec.Template
	if pod.Spec.ServiceAccountName != m.account.Name {
		t.Errorf("deployment runs as %q, the account is %q", pod.Spec.ServiceAccountName, m.account.Name)
	}
	if !selects(t, dep.Spec.Selector, pod.Labels) {
		t.Errorf("the deployment's selector %v does not select its pods %v", dep.Spec.Selector, pod.Labels)
	}
	if !selects(t, &metav1.LabelSelector{MatchLabels: m.service.Spec.Selector}, pod.Labels) {
		t.Errorf("the service's selector %v does not select the pods %v", m.service.Spec.Selector, pod.Labels)
	}
	if len(pod.Spec.Containers) != 1 {
		t.Fatalf("%d containers", len(pod.Spec.Containers))
	}
	c := pod.Spec.Containers[0]
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	if ports["http"] == 0 {
		t.Fatalf("no container port named http: %+v", c.Ports)
	}
	for _, p := range m.service.Spec.Ports {
		if ports[p.TargetPort.String()] == 0 {
			t.Errorf("service port %s targets %s, which the container does not have", p.Name, p.TargetPort.String())
		}
	}

	// Probes: startup and liveness on /healthz, readiness on /readyz, on
	// the container's port; the startup probe allows a slow start.
	for name, want := range map[string]struct {
		probe *corev1.Probe
		path  string
	}{"startup": {c.StartupProbe, "/healthz"}, "liveness": {c.LivenessProbe, "/healthz"}, "readiness": {c.ReadinessProbe, "/readyz"}} {
		p := want.probe
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != want.path || ports[p.HTTPGet.Port.String()] == 0 {
			t.Errorf("%s probe %+v, want GET %s on the http port", name, p, want.path)
		}
	}
	if sp := c.StartupProbe; sp != nil && sp.PeriodSeconds*sp.FailureThreshold < 60 {
		t.Errorf("the startup probe gives up after %ds, want at least a minute", sp.PeriodSeconds*sp.FailureThreshold)
	}

	// Volumes: every mount has its volume; /data is the claim, /tmp an
	// emptyDir under the read-only root file system.
	volumes := map[string]corev1.Volume{}
	for _, v := range pod.Spec.Volumes {
		volumes[v.Name] = v
	}
	mounts := map[string]corev1.Volume{}
	for _, vm := range c.VolumeMounts {
		v, ok := volumes[vm.Name]
		if !ok {
			t.Errorf("mount %s of volume %s, which the pod does not have", vm.MountPath, vm.Name)
		}
		mounts[vm.MountPath] = v
	}
	if v := mounts["/tmp"]; v.EmptyDir == nil {
		t.Errorf("/tmp is %+v, want an emptyDir", v)
	}
	if v := mounts["/data"]; v.PersistentVolumeClaim == nil || v.PersistentVolumeClaim.ClaimName != m.claim.Name {
		t.Errorf("/data is %+v, want the claim %s", v, m.claim.Name)
	}
	if sc := c.SecurityContext; sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Errorf("the root file system is not read-only: %+v", sc)
	}

	// Discover's policy: its pods, its http port, from its namespace and
	// labelled namespaces only.
	if !selects(t, &m.policy.Spec.PodSelector, pod.Labels) {
		t.Errorf("discover's network policy selects %v, not the pods %v", m.policy.Spec.PodSelector, pod.Labels)
	}
	if in := m.policy.Spec.Ingress; len(in) != 1 || len(in[0].Ports) != 1 || ports[in[0].Ports[0].Port.String()] == 0 || len(in[0].From) == 0 {
		t.Errorf("discover's network policy ingress %+v, want one rule for the http port from named sources", in)
	}
	// The services' policy: their gRPC port only from discover's pods in
	// discover's namespace.
	sp := m.svcPolicy
	if sp.Namespace != "" {
		t.Errorf("the services' network policy has namespace %q; it is applied in each service's namespace", sp.Namespace)
	}
	var grpcRule *networkingv1.NetworkPolicyIngressRule
	for i, r := range sp.Spec.Ingress {
		for _, p := range r.Ports {
			if p.Port.String() == "grpc" {
				grpcRule = &sp.Spec.Ingress[i]
			}
		}
	}
	if grpcRule == nil || len(grpcRule.From) != 1 {
		t.Fatalf("the services' network policy has no rule for the port named grpc from one source: %+v", sp.Spec.Ingress)
	}
	from := grpcRule.From[0]
	if from.NamespaceSelector == nil || from.PodSelector == nil ||
		!selects(t, from.NamespaceSelector, map[string]string{"kubernetes.io/metadata.name": ns}) ||
		!selects(t, from.PodSelector, pod.Labels) || selects(t, from.PodSelector, map[string]string{"app": "other"}) {
		t.Errorf("the services' gRPC port is open to %+v, want discover's pods in %s only", from, ns)
	}
	if !selects(t, &sp.Spec.PodSelector, map[string]string{"kafmesh/scrape": "true"}) {
		t.Errorf("the services' network policy selects %v, want the pods labelled kafmesh/scrape=true", sp.Spec.PodSelector)
	}

	// Flags and variables the command has.
	cmd := NewCommand(io.Discard)
	if c.Args[0] != "discover" {
		t.Fatalf("args %v", c.Args)
	}
	if err := cmd.Flags().Parse(c.Args[1:]); err != nil {
		t.Errorf("deployment args %v: %v", c.Args, err)
	}
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	if err := applyEnv(cmd.Flags(), func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Errorf("deployment env: %v", err)
	}
	// The commented variables (credentials, Neo4j) too, once uncommented.
	raw, err := os.ReadFile(filepath.Join(deployDir, "deployment.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	names := []string{}
	for _, e := range c.Env {
		names = append(names, e.Name)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if _, name, ok := strings.Cut(line, "# - name: KAFMESH_"); ok {
			names = append(names, "KAFMESH_"+strings.TrimSpace(name))
		}
	}
	for _, name := range names {
		known := false
		cmd.Flags().VisitAll(func(f *pflag.Flag) { known = known || EnvName(f.Name) == name })
		if !known {
			t.Errorf("deployment.yaml sets %s, which no flag reads", name)
		}
	}

	// The kustomization lists every manifest of discover's namespace.
	var k struct {
		Resources []string `json:"resources"`
	}
	kb, err := os.ReadFile(filepath.Join(deployDir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(kb, &k); err != nil {
		t.Fatal(err)
	}
	if want := []string{"rbac.yaml", "deployment.yaml", "networkpolicy.yaml"}; !slices.Equal(k.Resources, want) {
		t.Errorf("kustomization resources %v, want %v", k.Resources, want)
	}
}

// kubectl kustomize builds both variants (when kubectl is installed): the
// namespace first, and with the namespaced component a Role instead of
// the ClusterRole and discover told to watch its namespace only.
func TestKustomizeBuilds(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl is not installed; TestKubernetesManifests checks the files themselves")
	}
	build := func(dir string) []runtime.Object {
		out, err := exec.Command(kubectl, "kustomize", dir).CombinedOutput()
		if err != nil {
			t.Fatalf("kubectl kustomize %s: %v\n%s", dir, err, out)
		}
		f := filepath.Join(t.TempDir(), "built.yaml")
		if err := os.WriteFile(f, out, 0o600); err != nil {
			t.Fatal(err)
		}
		return decodeManifest(t, f)
	}
	kinds := func(objs []runtime.Object) []string {
		var out []string
		for _, o := range objs {
			name := fmt.Sprintf("%T", o)
			out = append(out, name[strings.LastIndex(name, ".")+1:])
		}
		return out
	}
	wide := kinds(build(deployDir))
	if len(wide) == 0 || wide[0] != "Namespace" || !slices.Contains(wide, "ClusterRole") || !slices.Contains(wide, "NetworkPolicy") {
		t.Errorf("kustomize build: %v", wide)
	}

	// The namespaced variant, as an operator enables it: uncomment the
	// component in a copy of the folder.
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(deployDir)); err != nil {
		t.Fatal(err)
	}
	kf := filepath.Join(dir, "kustomization.yaml")
	kb, err := os.ReadFile(kf)
	if err != nil {
		t.Fatal(err)
	}
	enabled := strings.Replace(strings.Replace(string(kb), "# components:", "components:", 1), "#   - namespaced", "  - namespaced", 1)
	if enabled == string(kb) {
		t.Fatal("kustomization.yaml has no commented namespaced component")
	}
	if err := os.WriteFile(kf, []byte(enabled), 0o600); err != nil {
		t.Fatal(err)
	}
	objs := build(dir)
	got := kinds(objs)
	if got[0] != "Namespace" || slices.Contains(got, "ClusterRole") || slices.Contains(got, "ClusterRoleBinding") ||
		!slices.Contains(got, "Role") || !slices.Contains(got, "RoleBinding") {
		t.Errorf("namespaced build: %v", got)
	}
	for _, o := range objs {
		if d, ok := o.(*appsv1.Deployment); ok {
			env := map[string]string{}
			for _, e := range d.Spec.Template.Spec.Containers[0].Env {
				env[e.Name] = e.Value
			}
			if env[EnvName("namespace")] != d.Namespace {
				t.Errorf("namespaced discover watches %q, want its namespace %q", env[EnvName("namespace")], d.Namespace)
			}
		}
	}
}
