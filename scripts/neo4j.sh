#!/usr/bin/env bash
# scripts/neo4j.sh {fetch|start|stop|status}
#
# A Neo4j 5.26 Community server on 127.0.0.1 for tests (the discovery
# store's Neo4j backend). No Docker, no Neo4j install: the jars come from
# Maven Central (scripts/neo4j/pom.xml) and are cached.
#
#   fetch   download the server jars into the cache if they are missing
#   start   fetch, create a fresh home dir, start the server, wait until Bolt
#           answers a handshake and a query runs, then print
#           KAFMESH_TEST_NEO4J=bolt://127.0.0.1:<port> on stdout (all else on
#           stderr), so `export "$(scripts/neo4j.sh start)"` works. Starting a
#           server that this script already runs only prints the line again.
#   stop    SIGTERM the server and wait for it to exit (no-op if not running)
#   status  print whether it runs; exit 0 if it does, 3 if not
#
# Authentication is off: the server listens on loopback only and holds
# throwaway test data.
#
# Environment (all optional):
#   KAFMESH_NEO4J_BOLT_PORT      Bolt port (default 17687)
#   KAFMESH_NEO4J_HTTP_PORT      HTTP port, used by the readiness check (default 17474)
#   KAFMESH_NEO4J_JAVA_OPTS      JVM flags (default "-Xms512m -Xmx512m -XX:TieredStopAtLevel=1":
#                                C1 only starts faster on a busy 2-core machine)
#   KAFMESH_NEO4J_START_TIMEOUT  seconds to wait for readiness (default 120)
#   KAFMESH_CACHE_DIR            downloads (default ${XDG_CACHE_HOME:-$HOME/.cache}/kafmesh)
#   KAFMESH_RUN_DIR              runtime state (default /tmp/kafmesh-run); the
#                                server lives in $KAFMESH_RUN_DIR/neo4j
set -euo pipefail

KM_NAME=neo4j.sh
# shellcheck source=scripts/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

NEO4J_VERSION=5.26.0
NEO4J_POM="$KAFMESH_ROOT/scripts/neo4j/pom.xml"
NEO4J_JARS="$KAFMESH_CACHE_DIR/neo4j-$NEO4J_VERSION"
NEO4J_BOLT_PORT="${KAFMESH_NEO4J_BOLT_PORT:-17687}"
NEO4J_HTTP_PORT="${KAFMESH_NEO4J_HTTP_PORT:-17474}"
NEO4J_JAVA_OPTS="${KAFMESH_NEO4J_JAVA_OPTS:--Xms512m -Xmx512m -XX:TieredStopAtLevel=1}"
NEO4J_START_TIMEOUT="${KAFMESH_NEO4J_START_TIMEOUT:-120}"
NEO4J_HOME="$KAFMESH_RUN_DIR/neo4j"
NEO4J_PIDFILE="$NEO4J_HOME/neo4j.pid"

neo4j_line() { echo "KAFMESH_TEST_NEO4J=bolt://127.0.0.1:$NEO4J_BOLT_PORT"; }

# running_pid prints the server's pid if the server this script started runs.
running_pid() { km_pid_of "$NEO4J_PIDFILE" "--home-dir=$NEO4J_HOME"; }

cmd_fetch() {
	km_fetch_jars "$NEO4J_POM" "$NEO4J_JARS"
	km_log "jars in $NEO4J_JARS/lib"
}

write_config() {
	mkdir -p "$NEO4J_HOME/conf" "$NEO4J_HOME/data" "$NEO4J_HOME/logs"
	cat >"$NEO4J_HOME/conf/neo4j.conf" <<EOF
# Written by scripts/neo4j.sh: a throwaway test server on loopback.
server.default_listen_address=127.0.0.1
server.bolt.enabled=true
server.bolt.listen_address=127.0.0.1:$NEO4J_BOLT_PORT
server.http.enabled=true
server.http.listen_address=127.0.0.1:$NEO4J_HTTP_PORT
server.https.enabled=false
# Loopback only, test data only: no credentials to manage.
dbms.security.auth_enabled=false
dbms.usage_report.enabled=false
server.directories.data=$NEO4J_HOME/data
server.directories.logs=$NEO4J_HOME/logs
server.memory.heap.initial_size=512m
server.memory.heap.max_size=512m
server.memory.pagecache.size=128m
EOF
}

cmd_start() {
	local pid
	if pid="$(running_pid)"; then
		km_log "already running (pid $pid) on bolt://127.0.0.1:$NEO4J_BOLT_PORT"
		neo4j_line
		return 0
	fi
	km_require_java
	cmd_fetch
	km_require_free_port "$NEO4J_BOLT_PORT" KAFMESH_NEO4J_BOLT_PORT
	km_require_free_port "$NEO4J_HTTP_PORT" KAFMESH_NEO4J_HTTP_PORT

	local start probe
	start="$(km_now)"
	probe="$KAFMESH_RUN_DIR/bin/kafmesh-waitready"
	km_build_tool waitready >/dev/null &
	local build_pid=$!

	rm -rf "$NEO4J_HOME"
	write_config
	# setsid: the server outlives this script and ignores the terminal's
	# Ctrl-C; `stop` ends it.
	# The --add-opens and netty flags are the ones Neo4j's own launcher adds:
	# without them the page cache and transaction logs run in fallback modes.
	# shellcheck disable=SC2086 # NEO4J_JAVA_OPTS is a list of flags
	setsid "$KM_JAVA" $NEO4J_JAVA_OPTS -XX:+UseG1GC -XX:+DisableExplicitGC \
		-Djava.awt.headless=true -Djdk.nio.maxCachedBufferSize=1024 \
		-Dio.netty.tryReflectionSetAccessible=true -Dlog4j2.disable.jmx=true \
		--add-opens=java.base/java.nio=ALL-UNNAMED \
		--add-opens=java.base/java.io=ALL-UNNAMED \
		--add-opens=java.base/sun.nio.ch=ALL-UNNAMED \
		-cp "$NEO4J_JARS/lib/*" org.neo4j.server.CommunityEntryPoint \
		"--home-dir=$NEO4J_HOME" "--config-dir=$NEO4J_HOME/conf" \
		>"$NEO4J_HOME/logs/stdout.log" 2>&1 </dev/null &
	pid=$!
	echo "$pid" >"$NEO4J_PIDFILE"
	km_log "started server (pid $pid) on bolt://127.0.0.1:$NEO4J_BOLT_PORT; logs in $NEO4J_HOME/logs"

	if ! wait "$build_pid"; then
		km_stop_pid "$pid" server 60
		km_die "could not build the readiness probe"
	fi
	if ! "$probe" neo4j -bolt "127.0.0.1:$NEO4J_BOLT_PORT" -http "127.0.0.1:$NEO4J_HTTP_PORT" \
		-pid "$pid" -timeout "${NEO4J_START_TIMEOUT}s"; then
		km_show_log "$NEO4J_HOME/logs/stdout.log" "$NEO4J_HOME/logs/debug.log"
		km_stop_pid "$pid" server 60
		rm -f "$NEO4J_PIDFILE"
		km_die "server did not become ready (logs above; full logs in $NEO4J_HOME/logs)"
	fi
	km_log "ready in $(km_since "$start")"
	neo4j_line
}

cmd_stop() {
	local pid
	if pid="$(running_pid)"; then
		km_stop_pid "$pid" server 60
	else
		km_log "not running"
	fi
	rm -f "$NEO4J_PIDFILE"
}

cmd_status() {
	local pid
	if pid="$(running_pid)"; then
		km_log "running (pid $pid) on bolt://127.0.0.1:$NEO4J_BOLT_PORT; data and logs in $NEO4J_HOME"
		neo4j_line
	else
		km_log "not running"
		return 3
	fi
}

case "${1:-}" in
fetch) cmd_fetch ;;
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
*)
	echo "usage: $0 {fetch|start|stop|status}" >&2
	exit 2
	;;
esac
