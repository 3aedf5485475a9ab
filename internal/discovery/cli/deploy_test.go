package cli

import (
	"io"
	"os"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/scheme"

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

// The shipped manifests decode as Kubernetes objects, grant only what the
// informer needs, and use flags and variables the command has.
func TestKubernetesManifests(t *testing.T) {
	var role *rbacv1.ClusterRole
	var binding *rbacv1.ClusterRoleBinding
	for _, o := range decodeManifest(t, "../../../deploy/kubernetes/rbac.yaml") {
		switch o := o.(type) {
		case *rbacv1.ClusterRole:
			role = o
		case *rbacv1.ClusterRoleBinding:
			binding = o
		}
	}
	if role == nil || binding == nil || binding.RoleRef.Name != role.Name {
		t.Fatalf("rbac: role %v binding %v", role, binding)
	}
	if len(role.Rules) != 1 || !slices.Equal(role.Rules[0].Resources, []string{"pods"}) || !slices.Equal(role.Rules[0].Verbs, []string{"list", "watch"}) {
		t.Errorf("role rules %+v, want list and watch on pods only", role.Rules)
	}

	var dep *appsv1.Deployment
	for _, o := range decodeManifest(t, "../../../deploy/kubernetes/deployment.yaml") {
		if d, ok := o.(*appsv1.Deployment); ok {
			dep = d
		}
	}
	if dep == nil {
		t.Fatal("no Deployment")
	}
	if dep.Spec.Template.Spec.ServiceAccountName != binding.Subjects[0].Name {
		t.Errorf("deployment runs as %q, the binding grants %q", dep.Spec.Template.Spec.ServiceAccountName, binding.Subjects[0].Name)
	}
	c := dep.Spec.Template.Spec.Containers[0]
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
	for _, e := range c.Env {
		known := false
		cmd.Flags().VisitAll(func(f *pflag.Flag) { known = known || EnvName(f.Name) == e.Name })
		if !known {
			t.Errorf("deployment sets %s, which no flag reads", e.Name)
		}
	}
	if c.LivenessProbe.HTTPGet.Path != "/healthz" || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
		t.Errorf("probes %v %v", c.LivenessProbe.HTTPGet, c.ReadinessProbe.HTTPGet)
	}
}
