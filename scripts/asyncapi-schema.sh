#!/usr/bin/env bash
# scripts/asyncapi-schema.sh {install|path}
#
# The official AsyncAPI 3.0 JSON Schema, for the test that validates
# kafmesh's AsyncAPI export against the specification itself
# (internal/export TestAsyncAPIOfficialSchema). The schema is published by
# the AsyncAPI Initiative in the npm package @asyncapi/specs (Apache-2.0); it
# is fetched from the npm registry into the kafmesh cache, never committed.
#
#   install  fetch it unless the cache has it; prints the schema's path
#   path     prints the schema's path; exit 3 if it is not fetched yet
#
# Tests find it through KAFMESH_ASYNCAPI_SCHEMA, which scripts/test.sh sets.
set -euo pipefail

KM_NAME=asyncapi-schema.sh
# shellcheck source=scripts/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

SPECS_VERSION=6.11.1
SPECS_DIR="$KAFMESH_CACHE_DIR/npm-packages/asyncapi-specs-$SPECS_VERSION"
SCHEMA="$SPECS_DIR/package/schemas/3.0.0-without-\$id.json"

cmd_install() {
	if [[ -f "$SCHEMA" ]]; then
		echo "$SCHEMA"
		return 0
	fi
	km_require_cmd npm "install Node.js and npm"
	local tmp tarball
	tmp="$(mktemp -d)"
	# npm pack downloads the package tarball only (no install scripts run).
	tarball="$(cd "$tmp" && npm pack --silent --cache "$KAFMESH_CACHE_DIR/npm" "@asyncapi/specs@$SPECS_VERSION")" ||
		km_die "npm pack @asyncapi/specs@$SPECS_VERSION failed"
	mkdir -p "$SPECS_DIR"
	tar -xzf "$tmp/$tarball" -C "$SPECS_DIR"
	rm -rf "$tmp"
	[[ -f "$SCHEMA" ]] || km_die "@asyncapi/specs@$SPECS_VERSION has no $SCHEMA"
	km_log "fetched @asyncapi/specs@$SPECS_VERSION into $SPECS_DIR (licence: $SPECS_DIR/package/LICENSE)"
	echo "$SCHEMA"
}

cmd_path() {
	if [[ -f "$SCHEMA" ]]; then
		echo "$SCHEMA"
		return 0
	fi
	exit 3
}

case "${1:-}" in
install) cmd_install ;;
path) cmd_path ;;
*)
	echo "usage: $0 {install|path}" >&2
	exit 2
	;;
esac
