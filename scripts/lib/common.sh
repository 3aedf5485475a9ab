# shellcheck shell=bash
# Shared helpers for the service scripts in scripts/ (kafka.sh, neo4j.sh, ...).
# Source it after setting KM_NAME (the prefix of every message); it only
# defines variables and functions.
#
# Layout it owns:
#   $KAFMESH_CACHE_DIR             downloads kept between runs
#     m2/<service>-<version>       Maven local repository per service (never ~/.m2)
#     <service>-<version>/lib      the jars a service runs from
#     <service>-<version>/pom.sha256  hash of the pom those jars came from
#   $KAFMESH_RUN_DIR               one run's state, wiped on every start
#     <service>/                   config, data, logs, pid file
#     bin/kafmesh-<tool>           Go helpers built from scripts/<tool>

KAFMESH_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
KAFMESH_CACHE_DIR="${KAFMESH_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kafmesh}"
KAFMESH_RUN_DIR="${KAFMESH_RUN_DIR:-/tmp/kafmesh-run}"

km_log() { printf '%s: %s\n' "${KM_NAME:-kafmesh}" "$*" >&2; }
km_die() {
	printf '%s: error: %s\n' "${KM_NAME:-kafmesh}" "$*" >&2
	exit 1
}

# km_now prints a monotonic-enough timestamp in milliseconds.
km_now() { date +%s%3N; }

# km_since START_MS prints the seconds elapsed since START_MS, e.g. "3.2s".
km_since() {
	local ms=$(($(km_now) - $1))
	printf '%d.%ds' $((ms / 1000)) $(((ms % 1000) / 100))
}

# km_require_java checks for a Java 17+ runtime on PATH (or $JAVA_HOME).
km_require_java() {
	if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then
		KM_JAVA="$JAVA_HOME/bin/java"
	elif command -v java >/dev/null 2>&1; then
		KM_JAVA="$(command -v java)"
	else
		km_die "java not found (PATH or JAVA_HOME); install Java 17 or newer, e.g. 'apt-get install -y openjdk-17-jre-headless'"
	fi
	local version major
	version="$("$KM_JAVA" -version 2>&1 | sed -n 's/.*version "\([^"]*\)".*/\1/p' | head -n1)"
	major="${version%%.*}"
	if [[ "$major" == "1" ]]; then major=8; fi
	if ! [[ "$major" =~ ^[0-9]+$ ]] || ((major < 17)); then
		km_die "$KM_JAVA is Java '${version:-unknown}'; Java 17 or newer is needed (set JAVA_HOME to one)"
	fi
}

km_require_cmd() {
	local cmd="$1" hint="$2"
	command -v "$cmd" >/dev/null 2>&1 || km_die "'$cmd' not found on PATH; $hint"
}

# km_jars_ready DEST POM succeeds when DEST/lib holds the jars fetched from POM.
km_jars_ready() {
	local dest="$1" pom="$2"
	[[ -f "$dest/pom.sha256" && -d "$dest/lib" ]] || return 1
	[[ "$(cat "$dest/pom.sha256")" == "$(sha256sum "$pom" | cut -d' ' -f1)" ]]
}

# km_fetch_jars POM DEST copies POM's runtime dependencies into DEST/lib via
# Maven, unless they are already there. Each DEST has its own Maven local
# repository, so Kafka's and Neo4j's jars download side by side; a lock keeps
# two fetches of the same DEST (Maven 3.8 does not lock its repository) apart.
km_fetch_jars() {
	local pom="$1" dest="$2"
	if km_jars_ready "$dest" "$pom"; then
		return 0
	fi
	km_require_cmd mvn "install Maven, e.g. 'apt-get install -y maven'"
	local repo
	repo="$KAFMESH_CACHE_DIR/m2/$(basename "$dest")"
	mkdir -p "$repo"
	exec 8>"$repo.lock"
	flock 8
	if km_jars_ready "$dest" "$pom"; then # another process fetched while we waited
		exec 8>&-
		return 0
	fi
	local start tmp
	start="$(km_now)"
	tmp="$(mktemp -d "$dest.tmp.XXXXXX")"
	km_log "fetching jars from Maven Central into $dest (first run only; a minute or two)"
	if ! mvn -q -B -f "$pom" \
		"-Dmaven.repo.local=$repo" \
		dependency:copy-dependencies \
		"-DoutputDirectory=$tmp/lib" \
		-DincludeScope=runtime >"$tmp/mvn.log" 2>&1; then
		tail -n 30 "$tmp/mvn.log" >&2
		mv "$tmp/mvn.log" "$dest.mvn-failed.log" 2>/dev/null || true
		rm -rf "$tmp"
		exec 8>&-
		km_die "could not fetch jars for $pom from Maven Central (full log: $dest.mvn-failed.log)"
	fi
	sha256sum "$pom" | cut -d' ' -f1 >"$tmp/pom.sha256"
	rm -rf "$dest" "$dest.mvn-failed.log"
	mv "$tmp" "$dest"
	exec 8>&-
	km_log "fetched $(find "$dest/lib" -name '*.jar' | wc -l) jars ($(du -sh "$dest/lib" | cut -f1)) in $(km_since "$start")"
}

# km_port_open PORT succeeds when something accepts TCP connections on 127.0.0.1:PORT.
km_port_open() {
	timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

# km_port_owner PORT describes the process listening on PORT, if it can tell.
km_port_owner() {
	if command -v ss >/dev/null 2>&1; then
		ss -Hltnp "sport = :$1" 2>/dev/null | sed -n 's/.*users:((\(.*\)))/\1/p' | head -n1
	fi
}

# km_require_free_port PORT VAR fails with a clear message when PORT is taken.
km_require_free_port() {
	local port="$1" var="$2" owner
	if km_port_open "$port"; then
		owner="$(km_port_owner "$port")"
		km_die "port 127.0.0.1:$port is already in use${owner:+ by $owner}, and not by a service of KAFMESH_RUN_DIR=$KAFMESH_RUN_DIR; stop that process, or pick another port with $var=<port> (and another KAFMESH_RUN_DIR for a second set of services)"
	fi
}

# km_pid_of PIDFILE MARKER prints the pid in PIDFILE if that process is alive
# and its command line contains MARKER (guards against a recycled pid).
km_pid_of() {
	local pidfile="$1" marker="$2" pid
	[[ -f "$pidfile" ]] || return 1
	pid="$(cat "$pidfile")"
	[[ "$pid" =~ ^[0-9]+$ ]] || return 1
	kill -0 "$pid" 2>/dev/null || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$marker" || return 1
	echo "$pid"
}

# km_stop_pid PID WHAT TIMEOUT_S sends SIGTERM, waits up to TIMEOUT_S for the
# process to exit, and sends SIGKILL if it is still there.
km_stop_pid() {
	local pid="$1" what="$2" limit="$3" start
	start="$(km_now)"
	kill -TERM "$pid" 2>/dev/null || return 0
	local deadline=$((SECONDS + limit))
	while kill -0 "$pid" 2>/dev/null; do
		if ((SECONDS >= deadline)); then
			km_log "$what (pid $pid) did not exit ${limit}s after SIGTERM; sending SIGKILL"
			kill -KILL "$pid" 2>/dev/null || true
			sleep 0.5
			break
		fi
		sleep 0.2
	done
	km_log "stopped $what (pid $pid) in $(km_since "$start")"
}

# km_build_tool NAME builds the Go helper in scripts/NAME (waitready,
# testsummary) into the run dir and prints its path. The Go build cache makes
# repeat builds cheap.
km_build_tool() {
	km_require_cmd go "install Go (https://go.dev/doc/install); the helpers in scripts/ are Go programs"
	local name="$1" bin="$KAFMESH_RUN_DIR/bin/kafmesh-$1"
	mkdir -p "$KAFMESH_RUN_DIR/bin"
	# Kafka and Neo4j may start side by side: one build at a time.
	if ! (
		flock 9
		cd "$KAFMESH_ROOT" && go build -o "$bin" "./scripts/$name"
	) 9>"$KAFMESH_RUN_DIR/bin/.build.lock" >&2; then
		km_die "could not build scripts/$name (go build ./scripts/$name)"
	fi
	echo "$bin"
}

# km_show_log FILE... prints the last lines of each existing FILE to stderr.
km_show_log() {
	local f
	for f in "$@"; do
		[[ -s "$f" ]] || continue
		printf -- '--- last lines of %s ---\n' "$f" >&2
		tail -n 40 "$f" >&2
	done
}
