#!/usr/bin/env bash
# scripts/kafka.sh {fetch|start|stop|status}
#
# An Apache Kafka 4.4 broker (KRaft, broker+controller in one JVM) on
# 127.0.0.1 for tests: a single-node cluster by default, or one node of a
# multi-node cluster (KAFMESH_KAFKA_NODE_ID and the others below). No
# Docker, no Kafka install: the jars come from Maven Central
# (scripts/kafka/pom.xml) and are cached.
#
#   fetch   download the broker jars into the cache if they are missing
#   start   fetch, format a fresh data dir, start the broker, wait until it
#           serves metadata and its group/transaction coordinators, then print
#           KAFMESH_TEST_BROKERS=127.0.0.1:<port> on stdout (all else on stderr),
#           so `export "$(scripts/kafka.sh start)"` works. Starting a broker
#           that this script already runs only prints the line again.
#   stop    SIGTERM the broker and wait for it to exit (no-op if not running)
#   resume  start the broker again on the data dir of the last `start` (after
#           a stop or a kill), without formatting: its topics, offsets and
#           transactions survive, as in a broker restart. Fault-injection
#           tests (internal/chaos) use it.
#   status  print whether it runs; exit 0 if it does, 3 if not
#
# Environment (all optional):
#   KAFMESH_KAFKA_PORT             client port (default 19092)
#   KAFMESH_KAFKA_CONTROLLER_PORT  KRaft controller port (default client port + 1)
#   KAFMESH_KAFKA_JAVA_OPTS        JVM flags (default "-Xms256m -Xmx1g -XX:TieredStopAtLevel=1":
#                                  C1 only starts about twice as fast on a busy 2-core machine)
#   KAFMESH_KAFKA_FORMAT_ARGS      extra flags for kafka-storage format, e.g.
#                                  "--feature transaction.version=1" (default none)
#   KAFMESH_KAFKA_LOGGERS          broker loggers above the default warn level,
#                                  "name=level,...", e.g. kafka.coordinator.transaction=debug
#   KAFMESH_KAFKA_NODE_ID, KAFMESH_KAFKA_VOTERS, KAFMESH_KAFKA_CLUSTER_ID,
#   KAFMESH_KAFKA_REPLICATION      one node of a multi-node cluster: its node id
#                                  (default 1), every controller as id@host:port,
#                                  the shared cluster id, and the replication of
#                                  internal and default topics (default 1; above 1
#                                  min.insync.replicas is 2); start every node at
#                                  once, as a node is ready only with a quorum
#   KAFMESH_KAFKA_START_TIMEOUT    seconds to wait for readiness (default 90)
#   KAFMESH_CACHE_DIR              downloads (default ${XDG_CACHE_HOME:-$HOME/.cache}/kafmesh)
#   KAFMESH_RUN_DIR                runtime state (default /tmp/kafmesh-run); the
#                                  broker lives in $KAFMESH_RUN_DIR/kafka
set -euo pipefail

KM_NAME=kafka.sh
# shellcheck source=scripts/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

KAFKA_VERSION=4.4.0
KAFKA_POM="$KAFMESH_ROOT/scripts/kafka/pom.xml"
KAFKA_HOME="$KAFMESH_CACHE_DIR/kafka-$KAFKA_VERSION"
KAFKA_PORT="${KAFMESH_KAFKA_PORT:-19092}"
KAFKA_CONTROLLER_PORT="${KAFMESH_KAFKA_CONTROLLER_PORT:-$((KAFKA_PORT + 1))}"
KAFKA_JAVA_OPTS="${KAFMESH_KAFKA_JAVA_OPTS:--Xms256m -Xmx1g -XX:TieredStopAtLevel=1}"
KAFKA_FORMAT_ARGS="${KAFMESH_KAFKA_FORMAT_ARGS:-}"
KAFKA_LOGGERS="${KAFMESH_KAFKA_LOGGERS:-}"
# One node of a cluster (all default to a single-node cluster):
KAFKA_NODE_ID="${KAFMESH_KAFKA_NODE_ID:-1}"
KAFKA_VOTERS="${KAFMESH_KAFKA_VOTERS:-$KAFKA_NODE_ID@127.0.0.1:$KAFKA_CONTROLLER_PORT}"
KAFKA_CLUSTER_ID="${KAFMESH_KAFKA_CLUSTER_ID:-}"
KAFKA_REPLICATION="${KAFMESH_KAFKA_REPLICATION:-1}"
if ((KAFKA_REPLICATION > 1)); then KAFKA_MIN_ISR=2; else KAFKA_MIN_ISR=1; fi
KAFKA_START_TIMEOUT="${KAFMESH_KAFKA_START_TIMEOUT:-90}"
KAFKA_DIR="$KAFMESH_RUN_DIR/kafka"
KAFKA_PIDFILE="$KAFKA_DIR/kafka.pid"
KAFKA_CONFIG="$KAFKA_DIR/server.properties"

broker_line() { echo "KAFMESH_TEST_BROKERS=127.0.0.1:$KAFKA_PORT"; }

# running_pid prints the broker's pid if the broker this script started runs.
running_pid() { km_pid_of "$KAFKA_PIDFILE" "$KAFKA_CONFIG"; }

cmd_fetch() {
	km_fetch_jars "$KAFKA_POM" "$KAFKA_HOME"
	km_log "jars in $KAFKA_HOME/lib"
}

write_config() {
	mkdir -p "$KAFKA_DIR/data" "$KAFKA_DIR/logs"
	cat >"$KAFKA_CONFIG" <<EOF
# Written by scripts/kafka.sh: a throwaway test broker, a single node or one
# node of the cluster in controller.quorum.voters.
process.roles=broker,controller
node.id=$KAFKA_NODE_ID
controller.quorum.voters=$KAFKA_VOTERS
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$KAFKA_DIR/data

# Tests must create their topics; a typo must not silently make a new one.
auto.create.topics.enable=false

# Internal and default topics get KAFMESH_KAFKA_REPLICATION replicas (one on
# a single node; with more, min.insync.replicas is 2). Fewer internal
# partitions than the default 50 make the first group/transaction start faster.
default.replication.factor=$KAFKA_REPLICATION
min.insync.replicas=$KAFKA_MIN_ISR
offsets.topic.replication.factor=$KAFKA_REPLICATION
offsets.topic.num.partitions=8
transaction.state.log.replication.factor=$KAFKA_REPLICATION
transaction.state.log.min.isr=$KAFKA_MIN_ISR
transaction.state.log.num.partitions=8
share.coordinator.state.topic.replication.factor=$KAFKA_REPLICATION
share.coordinator.state.topic.min.isr=$KAFKA_MIN_ISR

# Groups rebalance at once instead of waiting for more members.
group.initial.rebalance.delay.ms=0

# Sized for a 2-core machine.
num.network.threads=2
num.io.threads=4
EOF
	cat >"$KAFKA_DIR/log4j2.yaml" <<EOF
Configuration:
  status: warn
  Appenders:
    File:
      name: file
      fileName: "$KAFKA_DIR/logs/server.log"
      PatternLayout:
        pattern: "[%d] %p %m (%c)%n"
  Loggers:
$(extra_loggers)
    Root:
      level: warn
      AppenderRef:
        - ref: file
EOF
}

# extra_loggers prints log4j2 logger entries for KAFMESH_KAFKA_LOGGERS
# ("name=level,..."), e.g. kafka.coordinator.transaction=debug to see the
# transaction coordinator's work when a test hunts a broker-side problem.
extra_loggers() {
	[[ -n "$KAFKA_LOGGERS" ]] || return 0
	echo "    Logger:"
	local entry
	for entry in ${KAFKA_LOGGERS//,/ }; do
		echo "      - name: \"${entry%%=*}\""
		echo "        level: ${entry#*=}"
	done
}

# random_cluster_id prints a random KRaft cluster id: 16 random bytes in
# URL-safe base64 without padding (what `StorageTool random-uuid` prints,
# without paying for a JVM start). An id that starts with "-" (one in 64)
# would be read by kafka-storage as an option, so those are drawn again.
random_cluster_id() {
	local id
	while :; do
		id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
		if [[ "$id" != -* ]]; then
			echo "$id"
			return
		fi
	done
}

cmd_start() {
	start_broker fresh
}

cmd_resume() {
	[[ -f "$KAFKA_CONFIG" && -d "$KAFKA_DIR/data" ]] ||
		km_die "no broker data in $KAFKA_DIR to resume; use start"
	start_broker resume
}

# start_broker fresh|resume starts the broker; fresh formats a new data dir.
start_broker() {
	local mode="$1" pid
	if pid="$(running_pid)"; then
		km_log "already running (pid $pid) on 127.0.0.1:$KAFKA_PORT"
		broker_line
		return 0
	fi
	km_require_java
	cmd_fetch
	km_require_free_port "$KAFKA_PORT" KAFMESH_KAFKA_PORT
	km_require_free_port "$KAFKA_CONTROLLER_PORT" KAFMESH_KAFKA_CONTROLLER_PORT

	local start probe
	start="$(km_now)"
	# Build the probe while the JVMs start (its first build compiles franz-go).
	probe="$KAFMESH_RUN_DIR/bin/kafmesh-waitready"
	km_build_tool waitready >/dev/null &
	local build_pid=$!

	if [[ "$mode" == fresh ]]; then
		rm -rf "$KAFKA_DIR"
		write_config
	fi
	if [[ "$mode" == fresh ]] && ! "$KM_JAVA" -Dlog4j2.configurationFile="$KAFKA_DIR/log4j2.yaml" -cp "$KAFKA_HOME/lib/*" \
		kafka.tools.StorageTool format -t "${KAFKA_CLUSTER_ID:-$(random_cluster_id)}" -c "$KAFKA_CONFIG" $KAFKA_FORMAT_ARGS \
		>"$KAFKA_DIR/format.log" 2>&1; then
		km_show_log "$KAFKA_DIR/format.log"
		km_die "formatting the broker's storage failed (see $KAFKA_DIR/format.log)"
	fi

	# setsid: the broker outlives this script and ignores the terminal's
	# Ctrl-C; `stop` ends it.
	# shellcheck disable=SC2086 # KAFKA_JAVA_OPTS is a list of flags
	setsid "$KM_JAVA" $KAFKA_JAVA_OPTS -XX:+UseG1GC -Djava.awt.headless=true \
		-Dlog4j2.configurationFile="$KAFKA_DIR/log4j2.yaml" \
		-cp "$KAFKA_HOME/lib/*" kafka.Kafka "$KAFKA_CONFIG" \
		>"$KAFKA_DIR/logs/stdout.log" 2>&1 </dev/null &
	pid=$!
	echo "$pid" >"$KAFKA_PIDFILE"
	km_log "started broker (pid $pid) on 127.0.0.1:$KAFKA_PORT; logs in $KAFKA_DIR/logs"

	if ! wait "$build_pid"; then
		km_stop_pid "$pid" broker 30
		km_die "could not build the readiness probe"
	fi
	if ! "$probe" kafka -brokers "127.0.0.1:$KAFKA_PORT" -pid "$pid" -timeout "${KAFKA_START_TIMEOUT}s"; then
		km_show_log "$KAFKA_DIR/logs/stdout.log" "$KAFKA_DIR/logs/server.log"
		km_stop_pid "$pid" broker 30
		rm -f "$KAFKA_PIDFILE"
		km_die "broker did not become ready (logs above; full logs in $KAFKA_DIR/logs)"
	fi
	km_log "ready in $(km_since "$start")"
	broker_line
}

cmd_stop() {
	local pid
	if pid="$(running_pid)"; then
		km_stop_pid "$pid" broker 60
	else
		km_log "not running"
	fi
	rm -f "$KAFKA_PIDFILE"
}

cmd_status() {
	local pid
	if pid="$(running_pid)"; then
		km_log "running (pid $pid) on 127.0.0.1:$KAFKA_PORT; data and logs in $KAFKA_DIR"
		broker_line
	else
		km_log "not running"
		return 3
	fi
}

case "${1:-}" in
fetch) cmd_fetch ;;
start) cmd_start ;;
stop) cmd_stop ;;
resume) cmd_resume ;;
status) cmd_status ;;
*)
	echo "usage: $0 {fetch|start|stop|resume|status}" >&2
	exit 2
	;;
esac
