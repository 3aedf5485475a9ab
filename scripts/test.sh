#!/usr/bin/env bash
# scripts/test.sh [go test flags] [packages]
#
# THE test command (README "Running the tests", .ci/run). On a fresh machine
# with Go and Java 17+ it:
#
#   1. starts a real Kafka broker (scripts/kafka.sh) and Neo4j server
#      (scripts/neo4j.sh), fetching their jars from Maven Central the first
#      time, and exports KAFMESH_TEST_BROKERS and KAFMESH_TEST_NEO4J;
#      a variable that is already set is used as is and nothing is started;
#   2. exports KAFMESH_TEST_CHROMIUM=/usr/bin/chromium when Chromium is
#      installed (scripts/chromium.sh install), and KAFMESH_GRPCURL, building
#      grpcurl the first time (scripts/grpcurl.sh install), and
#      KAFMESH_ASYNCAPI_SCHEMA, fetching the official AsyncAPI 3.0 JSON
#      Schema from npm the first time (scripts/asyncapi-schema.sh install);
#   3. runs the checks and test runners below: gofmt, go vet, go test;
#   4. stops the services it started, also on failure or Ctrl-C.
#
# It exits 0 when every runner passed and 1 when any failed (or a service
# could not start: the suite must not silently run without them).
#
# Arguments go to `go test` (after the defaults, so they override them);
# arguments that start with ./ name the packages (default ./...):
#
#   scripts/test.sh                         everything
#   scripts/test.sh -short                  skip slow tests
#   scripts/test.sh -run TestSink ./runner/...
#   scripts/test.sh -v ./kafmeshtest/       with each test's log
# Functions below run through `trap` and `run`, and go list templates are
# single-quoted on purpose:
# shellcheck disable=SC2317,SC2016
set -uo pipefail

KM_NAME=test.sh
# shellcheck source=scripts/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
cd "$KAFMESH_ROOT" || exit 1
export KAFMESH_CACHE_DIR KAFMESH_RUN_DIR

GO_TEST_DEFAULTS=(-count=1 -p 2 -timeout 20m)
go_test_args=()
packages=()
verbose=()
for arg in "$@"; do
	case "$arg" in
	./* | ../*) packages+=("$arg") ;;
	-v | -v=true | -test.v | -test.v=true)
		verbose=(-v)
		go_test_args+=("$arg")
		;;
	*) go_test_args+=("$arg") ;;
	esac
done
if ((${#packages[@]} == 0)); then packages=(./...); fi

RUN_START="$(km_now)"
step_names=()
step_results=()
step_times=()
failed=0

# record NAME STATUS START_MS adds a line to the closing summary.
record() {
	step_names+=("$1")
	step_results+=("$2")
	step_times+=("$(km_since "$3")")
}

summary() {
	local i
	echo
	echo "== summary ($(km_since "$RUN_START") in all)"
	for i in "${!step_names[@]}"; do
		printf '   %-28s %-6s %s\n' "${step_names[$i]}" "${step_results[$i]}" "${step_times[$i]}"
	done
}

# run NAME CMD... runs one check or test runner, times it and records the
# result; a failure is remembered, and the remaining runners still run.
run() {
	local name="$1" start rc
	shift
	echo
	echo "== $name: $*"
	start="$(km_now)"
	"$@"
	rc=$?
	if ((rc == 0)); then
		record "$name" ok "$start"
	else
		record "$name" FAILED "$start"
		failed=1
		echo "== $name FAILED (exit $rc)"
	fi
}

# ---------------------------------------------------------------------------
# Services
# ---------------------------------------------------------------------------

started_services=()

stop_services() {
	local svc
	for svc in "${started_services[@]}"; do
		"$KAFMESH_ROOT/scripts/$svc.sh" stop || true
	done
	started_services=()
}

on_exit() {
	local rc=$?
	stop_services
	exit "$rc"
}
trap on_exit EXIT
trap 'echo "interrupted"; exit 130' INT TERM

# start_service NAME VAR starts scripts/NAME.sh unless VAR is already set, and
# exports the VAR=value line the script prints. Runs in the background; the
# caller collects it with finish_service.
declare -A service_pids service_external
start_service() {
	local name="$1" var="$2"
	if [[ -n "${!var:-}" ]]; then
		service_external[$name]=1
		return
	fi
	# A service this script did not start (e.g. a developer's running one) is
	# reused and left running.
	if ! "$KAFMESH_ROOT/scripts/$name.sh" status >/dev/null 2>&1; then
		started_services+=("$name")
	fi
	"$KAFMESH_ROOT/scripts/$name.sh" start >"$KAFMESH_RUN_DIR/$name.env" 2>"$KAFMESH_RUN_DIR/$name.start.log" &
	service_pids[$name]=$!
}

# finish_service NAME VAR waits for start_service and exports VAR.
finish_service() {
	local name="$1" var="$2" start="$3" line
	if [[ -n "${service_external[$name]:-}" ]]; then
		echo "== $name: using $var=${!var} (set outside; not started here)"
		record "$name (external)" ok "$start"
		return 0
	fi
	if ! wait "${service_pids[$name]}"; then
		cat "$KAFMESH_RUN_DIR/$name.start.log" >&2
		record "start $name" FAILED "$start"
		echo "== $name did not start; not running the tests without it" >&2
		return 1
	fi
	cat "$KAFMESH_RUN_DIR/$name.start.log" >&2
	line="$(grep "^$var=" "$KAFMESH_RUN_DIR/$name.env" | tail -n1)"
	if [[ -z "$line" ]]; then
		record "start $name" FAILED "$start"
		echo "== scripts/$name.sh start printed no $var= line" >&2
		return 1
	fi
	export "${line?}"
	record "start $name" ok "$start"
	echo "== $name: $line"
}

mkdir -p "$KAFMESH_RUN_DIR"
echo "== starting services (Kafka, Neo4j); caches in $KAFMESH_CACHE_DIR, state in $KAFMESH_RUN_DIR"
services_start="$(km_now)"
start_service kafka KAFMESH_TEST_BROKERS
start_service neo4j KAFMESH_TEST_NEO4J
# grpcurl (for tests of the gRPC APIs as operators call them) builds meanwhile.
grpcurl_pid=
if [[ -z "${KAFMESH_GRPCURL:-}" ]]; then
	"$KAFMESH_ROOT/scripts/grpcurl.sh" install >"$KAFMESH_RUN_DIR/grpcurl.path" 2>"$KAFMESH_RUN_DIR/grpcurl.log" &
	grpcurl_pid=$!
fi
services_ok=1
finish_service kafka KAFMESH_TEST_BROKERS "$services_start" || services_ok=0
finish_service neo4j KAFMESH_TEST_NEO4J "$services_start" || services_ok=0
if [[ -n "$grpcurl_pid" ]]; then
	if wait "$grpcurl_pid"; then
		KAFMESH_GRPCURL="$(cat "$KAFMESH_RUN_DIR/grpcurl.path")"
		export KAFMESH_GRPCURL
		record "build grpcurl" ok "$services_start"
	else
		cat "$KAFMESH_RUN_DIR/grpcurl.log" >&2
		record "build grpcurl" FAILED "$services_start"
		services_ok=0
	fi
fi
echo "== grpcurl: KAFMESH_GRPCURL=${KAFMESH_GRPCURL:-<unset>}"
if [[ -z "${KAFMESH_ASYNCAPI_SCHEMA:-}" ]]; then
	asyncapi_start="$(km_now)"
	if KAFMESH_ASYNCAPI_SCHEMA="$("$KAFMESH_ROOT/scripts/asyncapi-schema.sh" install)"; then
		export KAFMESH_ASYNCAPI_SCHEMA
		record "fetch AsyncAPI schema" ok "$asyncapi_start"
	else
		record "fetch AsyncAPI schema" FAILED "$asyncapi_start"
		services_ok=0
	fi
fi
echo "== AsyncAPI schema: KAFMESH_ASYNCAPI_SCHEMA=${KAFMESH_ASYNCAPI_SCHEMA:-<unset>}"
if ((services_ok == 0)); then
	summary
	exit 1
fi

if [[ -z "${KAFMESH_TEST_CHROMIUM:-}" ]]; then
	if chromium="$("$KAFMESH_ROOT/scripts/chromium.sh" path 2>/dev/null)"; then
		export KAFMESH_TEST_CHROMIUM="$chromium"
	fi
fi
echo "== browser: KAFMESH_TEST_CHROMIUM=${KAFMESH_TEST_CHROMIUM:-<unset: browser tests skip; run scripts/chromium.sh install>}"

# ---------------------------------------------------------------------------
# Checks and test runners. Each `run` is one runner; all of them run, and the
# script fails if any failed.
# ---------------------------------------------------------------------------

# gofmt_check lists Go files of the module's packages that gofmt would change
# (testdata is not a package, so deliberately malformed inputs there are fine).
gofmt_check() {
	local files unformatted
	files="$(go list -e -f '{{$d := .Dir}}{{range .GoFiles}}{{$d}}/{{.}}{{"\n"}}{{end}}{{range .TestGoFiles}}{{$d}}/{{.}}{{"\n"}}{{end}}{{range .XTestGoFiles}}{{$d}}/{{.}}{{"\n"}}{{end}}' "${packages[@]}")" || return 1
	[[ -n "$files" ]] || return 0
	# shellcheck disable=SC2086 # one path per line, no spaces in this tree
	unformatted="$(gofmt -l $files)" || return 1
	if [[ -n "$unformatted" ]]; then
		echo "gofmt would change these files (run gofmt -w on them):"
		echo "$unformatted"
		return 1
	fi
}

# go_test runs go test with -json through scripts/testsummary, which prints
# what plain go test prints plus a closing "tests: N passed, N failed, N
# skipped" line. The raw event stream is kept in $KAFMESH_RUN_DIR/go-test.json.
go_test() {
	local summarize rc
	summarize="$(km_build_tool testsummary)" || return 1
	KAFMESH_CHAOS='' go test -json "${GO_TEST_DEFAULTS[@]}" "${go_test_args[@]}" "${packages[@]}" 2>&1 |
		tee "$KAFMESH_RUN_DIR/go-test.json" | "$summarize" "${verbose[@]}"
	rc=("${PIPESTATUS[@]}")
	if ((rc[2] != 0)); then
		echo "testsummary could not read go test's output (exit ${rc[2]}); raw output in $KAFMESH_RUN_DIR/go-test.json"
	fi
	return "${rc[0]}"
}

run "gofmt" gofmt_check
run "go vet" go vet "${packages[@]}"
run "go test" go_test

# The web UI's built assets (internal/discovery/web/dist, embedded in the binary)
# must be exactly what its sources build to with the locked npm packages:
# rebuild them and fail on any difference. Its browser tests run inside
# go test above (KAFMESH_TEST_CHROMIUM).
run "web ui assets fresh" "$KAFMESH_ROOT/internal/discovery/web/build.sh" --check

# The peer benchmarks are a module of their own (bench/go.mod, so goka and
# its dependencies never enter kafmesh's): their harness, loaders and
# contenders must build, and the harness's own unit tests (report,
# verification, murmur2) pass. They need no broker; the benchmarks
# themselves run with bench/run.sh.
bench_module() {
	(cd "$KAFMESH_ROOT/bench" && go vet ./... && go test -count=1 ./...)
}
if ((${#packages[@]} == 1)) && [[ "${packages[0]}" == ./... ]]; then
	run "bench module" bench_module
fi

# kafmesh 2021 compatibility, a module of its own (compat/kafmesh2021test,
# so goka and sarama stay out of kafmesh's go.mod): a processor group of
# goka members configured as 2021 kafmesh did is replaced by new members
# one at a time while input flows, against the real broker (it skips
# without KAFMESH_TEST_BROKERS). About a minute.
compat_2021() {
	(cd "$KAFMESH_ROOT/compat/kafmesh2021test" && go vet ./... && go test -count=1 -timeout 10m ./...)
}
if ((${#packages[@]} == 1)) && [[ "${packages[0]}" == ./... ]]; then
	run "kafmesh 2021 rolling deploy" compat_2021
fi

# The chaos suite (internal/chaos, docs/testing.md): faults injected into a
# running service against a broker of its own, after the main go test so it
# does not compete for the CPU. Only when every package runs.
# A scenario that fails is run once more, alone: a second failure fails the
# suite; a pass is reported as FLAKY with the first run's findings above it
# (the exactly-once pipelines of the broker-restart scenarios are quarantined:
# Kafka can leave a transaction hanging across a single broker's restart; see
# docs/testing.md).
chaos_suite() {
	local log="$KAFMESH_RUN_DIR/chaos.log" rc again
	KAFMESH_CHAOS=1 go test -count=1 -v -timeout 20m -run '^TestChaos$' ./internal/chaos/ 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	((rc == 0)) && return 0
	# Scenario names are the last part of the failed subtests' names
	# (the cluster scenarios run inside the subtest "cluster").
	again="$(sed -n 's/^ *--- FAIL: TestChaos\/\([^ ]*\) .*/\1/p' "$log" | sed 's/.*\///' | grep -vx cluster | sort -u | paste -sd, -)"
	[[ -n "$again" ]] || return "$rc"
	echo "== chaos suite: $again failed; running them once more, alone"
	KAFMESH_CHAOS=1 KAFMESH_CHAOS_RUN="$again" go test -count=1 -v -timeout 20m -run '^TestChaos$' ./internal/chaos/ || return 1
	echo "== chaos suite: FLAKY: $again failed once and passed when run again (the first run's findings are above)"
}
if ((${#packages[@]} == 1)) && [[ "${packages[0]}" == ./... ]]; then
	run "chaos suite" chaos_suite
fi

# The runtime and the discovery service under the race detector (-short:
# the slow fault and crash scenarios run once, above, without it; what
# races, the shared producer, the group callbacks, the Watch tap, runs here
# against the real broker). The runner's tests take about 2.5 minutes; most
# of the rest is compiling the dependencies with -race the first time.
race_tests() {
	go test -race -short -count=1 -p 2 -timeout 20m "${go_test_args[@]}" ./runner/... ./internal/discovery/...
}
if ((${#packages[@]} == 1)) && [[ "${packages[0]}" == ./... ]]; then
	run "go test -race" race_tests
fi

# The daemonless image builder is a module of its own (tools/imagebuild/go.mod,
# so go-containerregistry never enters kafmesh's go.sum): gofmt, vet and its
# unit tests. internal/release's TestImageTarball (in go test above) runs it.
tools_module() {
	local unformatted
	unformatted="$(cd "$KAFMESH_ROOT/tools/imagebuild" && gofmt -l .)" || return 1
	if [[ -n "$unformatted" ]]; then
		echo "gofmt would change these files in tools/imagebuild: $unformatted"
		return 1
	fi
	(cd "$KAFMESH_ROOT/tools/imagebuild" && go vet ./... && go test -count=1 ./...)
}
if ((${#packages[@]} == 1)) && [[ "${packages[0]}" == ./... ]]; then
	run "tools/imagebuild module" tools_module
fi

# More test runners go here, one `run` line each, so they are timed, counted
# in the summary and fail the script.

# The shipped Prometheus rules and Grafana queries parse with Prometheus's
# own parsers and name only metrics internal/observability/gen checked against
# the code (a module of its own: Prometheus's dependencies stay out of ours).
run "observability rules" bash -c 'cd "$1/deploy/observability/rules" && go vet ./... && go test -count=1 ./...' _ "$KAFMESH_ROOT"

summary
if ((failed)); then
	echo "== FAILED"
	exit 1
fi
echo "== all passed"
exit 0
