package release

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/client-go/kubernetes/scheme"
)

const imageRepository = "ghcr.io/kafmesh/kafmesh"

var discoverEnv = regexp.MustCompile(`KAFMESH_DISCOVER_[A-Z0-9_]+`)

// The Kubernetes manifests run the image the Dockerfile builds, the way it
// is built: entrypoint kafmesh (so args start with the subcommand), a
// released version tag, the image's user and port. And every
// KAFMESH_DISCOVER_* variable a manifest sets or tells users to set takes
// effect: no flag in args overrides it.
func TestManifestsRunTheImage(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	err = filepath.WalkDir(filepath.Join(root, "deploy", "kubernetes"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || (filepath.Ext(path) != ".yaml" && filepath.Ext(path) != ".yml") {
			return err
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		for _, doc := range strings.Split(string(src), "\n---\n") {
			obj, _, err := scheme.Codecs.UniversalDeserializer().Decode([]byte(doc), nil, nil)
			dep, ok := obj.(*appsv1.Deployment)
			if err != nil || !ok {
				continue // not a Deployment (or a kustomization, a patch)
			}
			for _, c := range dep.Spec.Template.Spec.Containers {
				repo, tag, _ := strings.Cut(c.Image, ":")
				if repo != imageRepository {
					continue
				}
				found++
				if !regexp.MustCompile(`^v\d+\.\d+\.\d+`).MatchString(tag) {
					t.Errorf("%s: image %s: want a version tag, not %q", rel, c.Image, tag)
				}
				if len(c.Command) != 0 {
					t.Errorf("%s: command %v replaces the image's entrypoint", rel, c.Command)
				}
				if len(c.Args) == 0 || c.Args[0] != "discover" {
					t.Errorf("%s: args %v: the entrypoint is kafmesh, so args start with the subcommand", rel, c.Args)
				}
				for _, v := range discoverEnv.FindAllString(doc, -1) {
					flag := "--" + strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(v, "KAFMESH_DISCOVER_")), "_", "-")
					for _, a := range c.Args {
						if a == flag || strings.HasPrefix(a, flag+"=") {
							t.Errorf("%s: names %s but passes %s in args, which wins: the variable would be ignored", rel, v, flag)
						}
					}
				}
				for _, p := range c.Ports {
					if p.ContainerPort != 8080 {
						t.Errorf("%s: container port %d; the image exposes 8080", rel, p.ContainerPort)
					}
				}
				if sc := dep.Spec.Template.Spec.SecurityContext; sc != nil && sc.RunAsUser != nil && *sc.RunAsUser != 65532 {
					t.Errorf("%s: runAsUser %d; the image's user is 65532", rel, *sc.RunAsUser)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if found == 0 {
		t.Fatalf("no Deployment in deploy/kubernetes runs %s", imageRepository)
	}
}
