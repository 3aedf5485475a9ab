// Command imagebuild builds the kafmesh container image without a container
// engine: the same image the repository's Dockerfile describes (a static
// kafmesh binary on an empty base, a non-root user, `kafmesh discover` by
// default), written as a tarball that `docker load`, `podman load` and
// `crane push` accept, and optionally as an OCI image layout directory.
//
//	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -trimpath -o kafmesh ./cmd/kafmesh
//	go run ./tools/imagebuild -binary kafmesh -version v0.1.0 -revision "$(git rev-parse HEAD)" -out kafmesh-image.tar
//
// (run it from tools/imagebuild, or with -C tools/imagebuild: it is a module
// of its own, so go-containerregistry never enters kafmesh's go.sum.)
//
// The image is reproducible: every timestamp is -created (default
// $SOURCE_DATE_EPOCH, else the Unix epoch), so the same binary and flags give
// the same digest. A binary that is not a static ELF executable for
// -platform is refused: the base has no libc and no dynamic loader.
package main

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// What the image is; the Dockerfile at the repository root says the same
// (internal/release's image test compares them).
const (
	binaryPath = "/usr/local/bin/kafmesh"
	uid        = 65532
	user       = "65532:65532"
	port       = "8080/tcp"
	workDir    = "/data"
	source     = "https://github.com/kafmesh/kafmesh"
	licenses   = "Apache-2.0"
	repository = "ghcr.io/kafmesh/kafmesh"
)

var (
	entrypoint = []string{binaryPath}
	cmd        = []string{"discover"}
	env        = []string{
		"PATH=/usr/local/bin:/usr/bin:/bin",
		"KAFMESH_DISCOVER_STORE=/data/kafmesh-discover.db",
	}
)

type options struct {
	binary, platform, version, revision, caCerts, out, layoutDir, tag string
	created                                                           time.Time
}

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "imagebuild:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("imagebuild", flag.ContinueOnError)
	var o options
	fs.StringVar(&o.binary, "binary", "", "the static kafmesh binary for -platform (required)")
	fs.StringVar(&o.platform, "platform", "linux/amd64", "os/arch of the binary and the image")
	fs.StringVar(&o.version, "version", "", "the version: the image's version label and tag (required)")
	fs.StringVar(&o.revision, "revision", "", "the VCS revision, for the revision label")
	fs.StringVar(&o.caCerts, "ca-certs", "/etc/ssl/certs/ca-certificates.crt", "PEM bundle of CA certificates to include (\"\" for none)")
	fs.StringVar(&o.out, "out", "", "write the image tarball here (docker load / podman load / crane push)")
	fs.StringVar(&o.layoutDir, "oci-layout", "", "also write an OCI image layout into this directory")
	fs.StringVar(&o.tag, "tag", "", "the image reference inside the tarball (default "+repository+":<version>)")
	created := fs.String("created", "", "creation time, RFC 3339 (default $SOURCE_DATE_EPOCH, else 1970-01-01T00:00:00Z)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if o.binary == "" || o.version == "" || (o.out == "" && o.layoutDir == "") {
		return errors.New("-binary, -version and -out or -oci-layout are required")
	}
	var err error
	if o.created, err = creationTime(*created, os.Getenv("SOURCE_DATE_EPOCH")); err != nil {
		return err
	}
	if o.tag == "" {
		o.tag = repository + ":" + o.version
	}
	img, err := build(o)
	if err != nil {
		return err
	}
	if o.out != "" {
		ref, err := name.NewTag(o.tag)
		if err != nil {
			return fmt.Errorf("-tag: %w", err)
		}
		if err := tarball.WriteToFile(o.out, ref, img); err != nil {
			return fmt.Errorf("write %s: %w", o.out, err)
		}
	}
	if o.layoutDir != "" {
		p, err := layout.Write(o.layoutDir, empty.Index)
		if err != nil {
			return fmt.Errorf("write %s: %w", o.layoutDir, err)
		}
		if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": o.tag})); err != nil {
			return fmt.Errorf("write %s: %w", o.layoutDir, err)
		}
	}
	digest, err := img.Digest()
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "%s %s\n", o.tag, digest)
	return err
}

func creationTime(flagValue, sourceDateEpoch string) (time.Time, error) {
	switch {
	case flagValue != "":
		t, err := time.Parse(time.RFC3339, flagValue)
		if err != nil {
			return time.Time{}, fmt.Errorf("-created: %w", err)
		}
		return t.UTC(), nil
	case sourceDateEpoch != "":
		sec, err := strconv.ParseInt(sourceDateEpoch, 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q: %w", sourceDateEpoch, err)
		}
		return time.Unix(sec, 0).UTC(), nil
	}
	return time.Unix(0, 0).UTC(), nil
}

// build assembles the image: one layer with the binary, the CA bundle and
// the user database, and the config the Dockerfile also sets.
func build(o options) (v1.Image, error) {
	goos, goarch, ok := strings.Cut(o.platform, "/")
	if !ok || goos != "linux" {
		return nil, fmt.Errorf("-platform %q: want linux/<arch>", o.platform)
	}
	bin, err := os.ReadFile(o.binary)
	if err != nil {
		return nil, err
	}
	if err := checkStatic(bin, goarch); err != nil {
		return nil, fmt.Errorf("%s: %w", o.binary, err)
	}
	files := []file{
		{name: "etc/", dir: true},
		{name: "etc/passwd", body: []byte("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/data:/sbin/nologin\n")},
		{name: "etc/group", body: []byte("root:x:0:\nnonroot:x:65532:\n")},
		{name: "data/", dir: true, owner: uid},
		{name: "usr/", dir: true},
		{name: "usr/local/", dir: true},
		{name: "usr/local/bin/", dir: true},
		{name: strings.TrimPrefix(binaryPath, "/"), body: bin, mode: 0o755},
	}
	if o.caCerts != "" {
		certs, err := os.ReadFile(o.caCerts)
		if err != nil {
			return nil, fmt.Errorf("-ca-certs: %w", err)
		}
		files = append(files, file{name: "etc/ssl/", dir: true}, file{name: "etc/ssl/certs/", dir: true},
			file{name: "etc/ssl/certs/ca-certificates.crt", body: certs})
	}
	layerTar, err := tarFiles(files, o.created)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, err
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{Layer: layer, MediaType: types.OCILayer,
		History: v1.History{Created: v1.Time{Time: o.created}, CreatedBy: "tools/imagebuild", Comment: "kafmesh " + o.version}})
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = goos, goarch
	cf.Created = v1.Time{Time: o.created}
	cf.Config = v1.Config{
		Entrypoint:   entrypoint,
		Cmd:          cmd,
		Env:          env,
		User:         user,
		WorkingDir:   workDir,
		ExposedPorts: map[string]struct{}{port: {}},
		Labels:       labels(o),
	}
	return mutate.ConfigFile(img, cf)
}

// labels are the OCI annotations of the image.
func labels(o options) map[string]string {
	l := map[string]string{
		"org.opencontainers.image.title":       "kafmesh",
		"org.opencontainers.image.description": "kafmesh CLI; serves kafmesh discover by default",
		"org.opencontainers.image.version":     o.version,
		"org.opencontainers.image.source":      source,
		"org.opencontainers.image.licenses":    licenses,
		"org.opencontainers.image.created":     o.created.Format(time.RFC3339),
	}
	if o.revision != "" {
		l["org.opencontainers.image.revision"] = o.revision
	}
	return l
}

// checkStatic fails unless bin is an ELF executable for goarch that needs
// no dynamic loader and no shared library.
func checkStatic(bin []byte, goarch string) error {
	f, err := elf.NewFile(bytes.NewReader(bin))
	if err != nil {
		return fmt.Errorf("not an ELF executable: %w", err)
	}
	defer f.Close()
	want := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[goarch]
	if want == 0 {
		return fmt.Errorf("unsupported architecture %q (amd64 or arm64)", goarch)
	}
	if f.Machine != want {
		return fmt.Errorf("built for %v, not %s", f.Machine, goarch)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return errors.New("dynamically linked (it names an ELF interpreter); build it with CGO_ENABLED=0")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		return fmt.Errorf("needs shared libraries %v; build it with CGO_ENABLED=0", libs)
	}
	return nil
}

type file struct {
	name  string
	body  []byte
	mode  int64
	dir   bool
	owner int
}

// tarFiles writes files, in order, as a tar stream with fixed times and
// numeric owners, so the layer's digest depends only on the contents.
func tarFiles(files []file, mtime time.Time) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{Name: f.name, ModTime: mtime, Uid: f.owner, Gid: f.owner, Format: tar.FormatPAX}
		switch {
		case f.dir:
			h.Typeflag, h.Mode = tar.TypeDir, 0o755
		default:
			h.Typeflag, h.Mode, h.Size = tar.TypeReg, 0o644, int64(len(f.body))
			if f.mode != 0 {
				h.Mode = f.mode
			}
		}
		if path.Clean(h.Name) != strings.TrimSuffix(h.Name, "/") {
			return nil, fmt.Errorf("bad layer path %q", h.Name)
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.body); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
