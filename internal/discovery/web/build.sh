#!/usr/bin/env bash
# internal/discovery/web/build.sh [--check]
#
# Builds the web UI into dist/ (which the Go binary embeds) from src/, with
# the npm packages pinned in package-lock.json (npm ci; the npm cache lives
# in ${XDG_CACHE_HOME:-$HOME/.cache}/kafmesh/npm). Type-checks first. dist/
# also gets THIRD_PARTY_NOTICES.txt, the licences of the npm packages bundled
# into app.js (build.mjs reads them from node_modules).
#
#   --check  build, then fail if dist/ differs from what git has committed:
#            the committed assets must be exactly what the sources build to
#            (scripts/test.sh runs this).
#
# Needs Node.js 20+ and npm; `go build` never does.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/kafmesh/npm"
mkdir -p "$cache"

command -v npm >/dev/null || { echo "build.sh: npm not found (install Node.js 20+)" >&2; exit 1; }

# npm ci only when node_modules was not installed from this very lockfile.
stamp=node_modules/.kafmesh-installed-lock
if ! cmp -s package-lock.json "$stamp" 2>/dev/null; then
	npm ci --cache "$cache" --prefer-offline --no-audit --no-fund --loglevel=error
	cp package-lock.json "$stamp"
fi
npx --no-install tsc --noEmit -p .
node build.mjs

if [[ "${1:-}" == "--check" ]]; then
	if ! git diff --exit-code --stat -- dist/ || [[ -n "$(git status --porcelain -- dist/)" ]]; then
		echo "build.sh: internal/discovery/web/dist is not what src/ builds to; run internal/discovery/web/build.sh and commit dist/" >&2
		exit 1
	fi
	echo "build.sh: dist/ is fresh"
fi
