#!/usr/bin/env bash
# scripts/chromium.sh {install|path}
#
# Headless Chromium for the browser tests (the discovery web UI), from
# Debian's packages: test tools' own browser downloads do not work here.
#
#   install  apt-get install chromium and chromium-driver unless
#            /usr/bin/chromium exists; prints the browser's path on stdout
#   path     prints the browser's path; exit 3 if it is not installed
#
# Uses sudo for apt-get when not run as root.
set -euo pipefail

KM_NAME=chromium.sh
# shellcheck source=scripts/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

CHROMIUM=/usr/bin/chromium

cmd_install() {
	if [[ -x "$CHROMIUM" ]]; then
		km_log "already installed: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
		echo "$CHROMIUM"
		return 0
	fi
	km_require_cmd apt-get "install Chromium with your system's package manager and make it available as $CHROMIUM"
	local sudo=()
	if [[ "$(id -u)" != 0 ]]; then
		km_require_cmd sudo "run as root or install sudo: apt-get needs root"
		sudo=(sudo)
	fi
	local start
	start="$(km_now)"
	km_log "installing chromium and chromium-driver from Debian's packages"
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 ||
		km_die "apt-get update failed"
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >&2 ||
		km_die "apt-get install chromium chromium-driver failed"
	[[ -x "$CHROMIUM" ]] || km_die "installed chromium, but $CHROMIUM is missing"
	km_log "installed $("$CHROMIUM" --version 2>/dev/null || echo chromium) in $(km_since "$start")"
	echo "$CHROMIUM"
}

cmd_path() {
	if [[ -x "$CHROMIUM" ]]; then
		echo "$CHROMIUM"
	else
		km_log "not installed (run scripts/chromium.sh install)"
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
