#!/usr/bin/env bash
# scripts/release.sh VERSION
#
# Builds the release artifacts of kafmesh VERSION (e.g. v0.1.0) from the
# checked-out commit into artifacts/release/VERSION/ (git-ignored):
#
#   kafmesh_VERSION_{linux,darwin}_{amd64,arm64}.tar.gz
#       the kafmesh CLI (static, CGO_ENABLED=0, -trimpath, VERSION and the
#       commit stamped into `kafmesh version`) with LICENSE, NOTICE and the
#       web UI's THIRD_PARTY_NOTICES.txt
#   kafmesh_VERSION_image_linux_{amd64,arm64}.tar
#       the container image ghcr.io/kafmesh/kafmesh:VERSION, built without a
#       container engine by tools/imagebuild (the Dockerfile's image);
#       `docker load -i`, `podman load -i` or `crane push FILE REF`
#   SHA256SUMS
#       sha256sum of every file above (check with `sha256sum -c SHA256SUMS`)
#
# Every timestamp is the commit's time (SOURCE_DATE_EPOCH), so building the
# same commit twice gives the same bytes. The steps of a release, with this
# script in the middle, are in CONTRIBUTING.md ("Releasing").
#
# It refuses a work tree with uncommitted changes (set
# KAFMESH_RELEASE_ALLOW_DIRTY=1 to build one anyway, e.g. to try the script).
# KAFMESH_RELEASE_PLATFORMS="linux/amd64" builds only the listed os/arch
# pairs (default: all four), for trying the script quickly.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root="$(pwd)"
die() {
	echo "release.sh: error: $*" >&2
	exit 1
}

version="${1:-}"
[[ $# -eq 1 ]] || die "usage: scripts/release.sh VERSION (e.g. v0.1.0)"
[[ "$version" =~ ^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?$ ]] ||
	die "VERSION '$version' is not a semantic version with a leading v (v0.1.0, v1.2.3-rc.1)"
command -v git >/dev/null || die "git not found"
command -v go >/dev/null || die "go not found"
if [[ -n "$(git status --porcelain)" && "${KAFMESH_RELEASE_ALLOW_DIRTY:-}" != 1 ]]; then
	die "the work tree has uncommitted changes; commit them (or set KAFMESH_RELEASE_ALLOW_DIRTY=1 to try the script)"
fi

revision="$(git rev-parse HEAD)"
SOURCE_DATE_EPOCH="$(git log -1 --format=%ct HEAD)"
export SOURCE_DATE_EPOCH
out="artifacts/release/$version"
rm -rf "$out"
mkdir -p "$out"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

ldflags="-s -w -X github.com/kafmesh/kafmesh/internal/buildinfo.version=$version -X github.com/kafmesh/kafmesh/internal/buildinfo.revision=$revision"

# pack DIR ARCHIVE writes a reproducible tar.gz of DIR's files.
pack() {
	tar -C "$1" --sort=name --mtime="@$SOURCE_DATE_EPOCH" --owner=0 --group=0 --numeric-owner -cf - . | gzip -9n >"$2"
}

platforms="${KAFMESH_RELEASE_PLATFORMS:-linux/amd64 linux/arm64 darwin/amd64 darwin/arm64}"
for platform in $platforms; do
	case "$platform" in
	linux/amd64 | linux/arm64 | darwin/amd64 | darwin/arm64) ;;
	*) die "platform '$platform' is not one of linux/amd64 linux/arm64 darwin/amd64 darwin/arm64" ;;
	esac
done
for platform in $platforms; do
	goos="${platform%/*}" goarch="${platform#*/}"
	echo "release.sh: kafmesh $version $goos/$goarch"
	dir="$work/kafmesh_${version}_${goos}_${goarch}"
	mkdir -p "$dir"
	CGO_ENABLED=0 GOOS="$goos" GOARCH="$goarch" go build -trimpath -buildvcs=false \
		-ldflags "$ldflags" -o "$dir/kafmesh" ./cmd/kafmesh
	cp LICENSE NOTICE "$dir/"
	cp internal/discovery/web/dist/THIRD_PARTY_NOTICES.txt "$dir/"
	pack "$dir" "$out/kafmesh_${version}_${goos}_${goarch}.tar.gz"
	if [[ "$goos" == linux ]]; then
		echo "release.sh: image ghcr.io/kafmesh/kafmesh:$version linux/$goarch"
		(cd tools/imagebuild && GOWORK=off go run . -binary "$dir/kafmesh" -platform "linux/$goarch" \
			-version "$version" -revision "$revision" -out "$root/$out/kafmesh_${version}_image_linux_${goarch}.tar")
	fi
done

(cd "$out" && sha256sum -- * >SHA256SUMS)
echo "release.sh: artifacts in $out:"
cat "$out/SHA256SUMS"
