// Package buildinfo says which kafmesh a binary is: the module version it was
// installed at, or the VCS revision of the checkout it was built from. The
// `kafmesh version` command and the runtime's kafmesh_build_info metric both
// read it, so they always agree.
//
// Everything comes from runtime/debug.ReadBuildInfo; nothing is stamped with
// -ldflags. What the Go toolchain records depends on how the binary was built:
//
//   - `go install github.com/kafmesh/kafmesh/cmd/kafmesh@v0.1.0`: the module
//     version (v0.1.0), no revision (the module cache has no VCS metadata);
//   - `go build` in a git checkout: a pseudo-version made from the revision
//     (Go 1.24 and later, e.g. v0.0.0-20261206025831-56b49fb25d82+dirty) and
//     the vcs.revision, vcs.time and vcs.modified settings;
//   - `go build -buildvcs=false`, or a build outside any repository: version
//     "devel" and no revision.
//
// A build that has no VCS metadata but knows what it is (the Dockerfile's,
// whose context has no .git; scripts/release.sh's) stamps the version and
// revision at link time, and those win:
//
//	-ldflags "-X github.com/kafmesh/kafmesh/internal/buildinfo.version=v0.1.0
//	          -X github.com/kafmesh/kafmesh/internal/buildinfo.revision=<commit>"
//
// For a service binary whose main module is not kafmesh, Version is the
// version of the kafmesh module linked into it and Revision the revision of
// the service's own checkout.
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// ModulePath is the path of the kafmesh module.
const ModulePath = "github.com/kafmesh/kafmesh"

// Devel is the version reported when the build recorded none.
const Devel = "devel"

// version and revision are empty unless set with -ldflags -X (see the
// package documentation); when set, they replace what the build recorded.
var version, revision string

// Info describes one binary. Its JSON form is what `kafmesh version --json`
// prints; field names are part of that output's contract.
type Info struct {
	// Version is the kafmesh module version (v0.1.0, a pseudo-version, or
	// "devel"); never empty.
	Version string `json:"version"`
	// Revision is the full VCS revision the binary was built from; empty
	// when the build recorded none.
	Revision string `json:"revision,omitempty"`
	// Time is the commit time of Revision (RFC 3339), when recorded.
	Time string `json:"time,omitempty"`
	// Modified reports that the work tree had uncommitted changes.
	Modified bool `json:"modified"`
	// GoVersion is the Go toolchain that built the binary, e.g. go1.26.0.
	GoVersion string `json:"goVersion"`
	// Platform is GOOS/GOARCH of the binary.
	Platform string `json:"platform"`
}

// Read returns the running binary's build information. It never fails: a
// binary without build information (not built by the go command in module
// mode) reports Version "devel" and the running Go version.
func Read() Info {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		bi = nil
	}
	return stamped(From(bi), version, revision)
}

// stamped applies link-time values to info. A stamped revision replaces the
// recorded one and its time and dirty flag, which belonged to the recorded one.
func stamped(info Info, version, revision string) Info {
	if version != "" {
		info.Version = version
	}
	if revision != "" && revision != info.Revision {
		info.Revision, info.Time, info.Modified = revision, "", false
	}
	return info
}

// From derives Info from build information as recorded by the go command;
// bi may be nil.
func From(bi *debug.BuildInfo) Info {
	info := Info{Version: Devel, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi == nil {
		return info
	}
	if bi.GoVersion != "" {
		info.GoVersion = bi.GoVersion
	}
	var goos, goarch string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Revision = s.Value
		case "vcs.time":
			info.Time = s.Value
		case "vcs.modified":
			info.Modified = s.Value == "true"
		case "GOOS":
			goos = s.Value
		case "GOARCH":
			goarch = s.Value
		}
	}
	if goos != "" && goarch != "" {
		info.Platform = goos + "/" + goarch
	}
	if v := moduleVersion(bi); v != "" {
		info.Version = v
	}
	return info
}

// moduleVersion finds the version of the kafmesh module in bi: the main
// module's when kafmesh is the main module, otherwise the dependency's (its
// replacement's version when replaced, "" for a replacement by a directory).
func moduleVersion(bi *debug.BuildInfo) string {
	usable := func(v string) string {
		if v == "" || v == "(devel)" {
			return ""
		}
		return v
	}
	if bi.Main.Path == ModulePath {
		return usable(bi.Main.Version)
	}
	for _, d := range bi.Deps {
		if d.Path != ModulePath {
			continue
		}
		if d.Replace != nil {
			return usable(d.Replace.Version)
		}
		return usable(d.Version)
	}
	return ""
}

// ShortRevision is the first 12 characters of Revision, as git abbreviates
// it; "" when there is no revision.
func (i Info) ShortRevision() string {
	if len(i.Revision) > 12 {
		return i.Revision[:12]
	}
	return i.Revision
}

// String is the one-line form `kafmesh version` prints after "kafmesh ":
//
//	v0.1.0 go1.26.0 linux/amd64
//	v0.0.0-20261206025831-56b49fb25d82+dirty (revision 56b49fb25d82, modified) go1.26.0 linux/amd64
func (i Info) String() string {
	var b strings.Builder
	b.WriteString(i.Version)
	if i.Revision != "" {
		fmt.Fprintf(&b, " (revision %s", i.ShortRevision())
		if i.Modified {
			b.WriteString(", modified")
		}
		b.WriteString(")")
	}
	fmt.Fprintf(&b, " %s %s", i.GoVersion, i.Platform)
	return b.String()
}
