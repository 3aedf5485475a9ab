#!/usr/bin/env bash
# scripts/grpcurl.sh {install|path}
#
# grpcurl, for the tests that call a kafmesh service's gRPC APIs the way an
# operator would (through server reflection, without .proto files). Built
# with `go install` from the Go module proxy into the kafmesh cache.
#
#   install  build it unless the cache has it; prints its path on stdout
#   path     prints its path; exit 3 if it is not built yet
#
# Tests find it through KAFMESH_GRPCURL, which scripts/test.sh sets.
set -euo pipefail

KM_NAME=grpcurl.sh
# shellcheck source=scripts/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

GRPCURL_VERSION=v1.9.3
GRPCURL_DIR="$KAFMESH_CACHE_DIR/tools/grpcurl-$GRPCURL_VERSION"
GRPCURL="$GRPCURL_DIR/grpcurl"

cmd_install() {
	if [[ -x "$GRPCURL" ]]; then
		echo "$GRPCURL"
		return 0
	fi
	km_require_cmd go "install Go (https://go.dev/doc/install)"
	local start
	start="$(km_now)"
	km_log "building grpcurl $GRPCURL_VERSION into $GRPCURL_DIR"
	mkdir -p "$GRPCURL_DIR"
	# Outside the repository, so the project's go.mod does not take part.
	(cd "$GRPCURL_DIR" && GOBIN="$GRPCURL_DIR" GOFLAGS='' GOWORK=off \
		go install "github.com/fullstorydev/grpcurl/cmd/grpcurl@$GRPCURL_VERSION") >&2 ||
		km_die "go install github.com/fullstorydev/grpcurl/cmd/grpcurl@$GRPCURL_VERSION failed"
	km_log "built grpcurl in $(km_since "$start")"
	echo "$GRPCURL"
}

cmd_path() {
	if [[ -x "$GRPCURL" ]]; then
		echo "$GRPCURL"
	else
		km_log "not built yet (run scripts/grpcurl.sh install)"
		return 3
	fi
}

case "${1:-}" in
install) cmd_install ;;
path) cmd_path ;;
*)
	echo "usage: $0 {install|path}" >&2
	exit 2
	;;
esac
