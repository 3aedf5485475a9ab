#!/usr/bin/env bash
# bench/run.sh: kafmesh against its peers, in one run, on one real broker.
#
# Builds the contenders (Go binaries from bench/, the Kafka Streams jar with
# Maven), starts a Kafka 4.4 broker with scripts/kafka.sh (or uses the one
# given with --brokers), runs workloads W1 (count-by-key), W2 (restore),
# W3 (join + lookup) and W4 (latency under steady load) for every contender
# one after another, prints the tables, and writes bench/results/<date>.md. docs/benchmarks.md explains
# the method and the matched settings.
#
# Usage: bench/run.sh [flags]
#   --records N        input records of W1/W3 and keys restored in W2 (default 1000000;
#                      BENCH_RECORDS); 50000 makes a smoke run of a couple of minutes
#   --probes N         W2 probe records (default 1000)
#   --workloads LIST   w1,w2,w3,w4 (default all)
#   --contenders LIST  kafmesh,kafmesh-eos,goka,franz,franz-eos,streams (default all)
#   --repeat N         run each contender N times (round the contenders; W1–W3, W4 runs once) and report the
#                      median, with the range (default 1)
#   --brokers ADDR     use this running broker instead of starting one
#   --linger-ms N      producer linger of every contender (default 5)
#   --batch-bytes N    producer batch size of every contender (default 1048576)
#   --commit-ms N      commit interval of every contender (default 100)
#   --w4-rates LIST    W4 fixed input rates, records/s (default 10000; '' for none)
#   --w4-w1-fraction F W4 also runs each contender at F × its W1 rate of this run
#                      (default 0.5; 0: no; needs w1 in the same run)
#   --w4-duration D    W4 steady phase (default 30s; the issue asks for 2m)
#   --w4-window D      W4 join and restart phases (default 15s)
#   --w4-state-keys N  W4 keys of state preloaded for the restart (default --records)
#   --java-opts STR    JVM flags of the Kafka Streams contender (default "-Xmx1g"; BENCH_JAVA_OPTS)
#   --write-docs       also replace the "## Peers (W1–W4)" section of docs/benchmarks.md
#   --keep-broker      leave the broker this script started running
#   --help             this text
#
# Environment:
#   KAFMESH_RUN_DIR, KAFMESH_KAFKA_PORT, KAFMESH_KAFKA_CONTROLLER_PORT
#       where the broker runs (default /tmp/kafmesh-bench, ports 39092/39093, so the
#       benchmark does not meet a test broker on 19092)
#   KAFMESH_KAFKA_JAVA_OPTS
#       the broker's JVM flags (default "-Xms1g -Xmx1g": full JIT, unlike the
#       C1-only default that scripts/kafka.sh uses to start test brokers fast)
#   KAFMESH_CACHE_DIR
#       downloads: Kafka jars and the Maven repository of the Streams build
#       (default ${XDG_CACHE_HOME:-$HOME/.cache}/kafmesh)
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH_DIR/.." && pwd)"
CACHE_DIR="${KAFMESH_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kafmesh}"
export KAFMESH_RUN_DIR="${KAFMESH_RUN_DIR:-/tmp/kafmesh-bench}"
export KAFMESH_KAFKA_PORT="${KAFMESH_KAFKA_PORT:-39092}"
export KAFMESH_KAFKA_CONTROLLER_PORT="${KAFMESH_KAFKA_CONTROLLER_PORT:-$((KAFMESH_KAFKA_PORT + 1))}"
export KAFMESH_KAFKA_JAVA_OPTS="${KAFMESH_KAFKA_JAVA_OPTS:--Xms1g -Xmx1g}"

log() { printf 'bench: %s\n' "$*" >&2; }
die() {
	printf 'bench: error: %s\n' "$*" >&2
	exit 1
}
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'; }

records="${BENCH_RECORDS:-1000000}"
probes=1000
repeat=1
workloads="w1,w2,w3,w4"
commit_ms=100
w4_rates=10000
w4_fraction=0.5
w4_duration=30s
w4_window=15s
w4_state_keys=0
contenders=""
brokers=""
linger_ms=5
batch_bytes=1048576
java_opts="${BENCH_JAVA_OPTS:--Xmx1g}"
write_docs=0
keep_broker=0
original_args=("$@")
while (($#)); do
	case "$1" in
	--records) records="${2:?--records needs a value}"; shift 2 ;;
	--probes) probes="${2:?--probes needs a value}"; shift 2 ;;
	--repeat) repeat="${2:?--repeat needs a value}"; shift 2 ;;
	--workloads) workloads="${2:?--workloads needs a value}"; shift 2 ;;
	--contenders) contenders="${2:?--contenders needs a value}"; shift 2 ;;
	--brokers) brokers="${2:?--brokers needs a value}"; shift 2 ;;
	--linger-ms) linger_ms="${2:?--linger-ms needs a value}"; shift 2 ;;
	--batch-bytes) batch_bytes="${2:?--batch-bytes needs a value}"; shift 2 ;;
	--commit-ms) commit_ms="${2:?--commit-ms needs a value}"; shift 2 ;;
	--w4-rates) (($# >= 2)) || die "--w4-rates needs a value ('' for none)"; w4_rates="$2"; shift 2 ;;
	--w4-w1-fraction) w4_fraction="${2:?--w4-w1-fraction needs a value}"; shift 2 ;;
	--w4-duration) w4_duration="${2:?--w4-duration needs a value}"; shift 2 ;;
	--w4-window) w4_window="${2:?--w4-window needs a value}"; shift 2 ;;
	--w4-state-keys) w4_state_keys="${2:?--w4-state-keys needs a value}"; shift 2 ;;
	--java-opts) java_opts="${2:?--java-opts needs a value}"; shift 2 ;;
	--write-docs) write_docs=1; shift ;;
	--keep-broker) keep_broker=1; shift ;;
	-h | --help) usage; exit 0 ;;
	*) die "unknown flag $1 (see --help)" ;;
	esac
done
[[ "$records" =~ ^[0-9]+$ ]] || die "--records must be a number, not '$records'"

command -v go >/dev/null || die "go not found on PATH"
wants_streams=1
if [[ -n "$contenders" && ",$contenders," != *",streams,"* ]]; then
	wants_streams=0
fi

# Build the Go contenders and the harness.
log "building the Go contenders"
(cd "$BENCH_DIR" && go build -o bin/ ./cmd/...) || die "go build failed"

# Build the Kafka Streams contender, unless the jar is newer than its sources.
jar="$BENCH_DIR/streams/target/streams-bench.jar"
if ((wants_streams)); then
	command -v java >/dev/null || die "java not found on PATH (Kafka Streams needs Java 17+)"
	if [[ ! -f "$jar" || -n "$(find "$BENCH_DIR/streams/pom.xml" "$BENCH_DIR/streams/src" -newer "$jar" -type f | head -n1)" ]]; then
		command -v mvn >/dev/null || die "mvn not found on PATH; install Maven, e.g. 'apt-get install -y maven'"
		repo="$CACHE_DIR/m2/bench-streams"
		mkdir -p "$repo"
		log "building the Kafka Streams contender with Maven (first run downloads into $repo)"
		if ! mvn -q -B -f "$BENCH_DIR/streams/pom.xml" "-Dmaven.repo.local=$repo" package >"$BENCH_DIR/streams/mvn.log" 2>&1; then
			tail -n 30 "$BENCH_DIR/streams/mvn.log" >&2
			die "the Kafka Streams build failed (log: bench/streams/mvn.log)"
		fi
		rm -f "$BENCH_DIR/streams/mvn.log"
	fi
fi

# The broker.
started_broker=0
broker_desc="a broker given with --brokers"
if [[ -z "$brokers" ]]; then
	if ! "$ROOT/scripts/kafka.sh" status >/dev/null 2>&1; then
		started_broker=1
	fi
	line="$("$ROOT/scripts/kafka.sh" start)"
	brokers="${line#KAFMESH_TEST_BROKERS=}"
	broker_desc="Apache Kafka 4.4.0 from scripts/kafka.sh (single-node KRaft on $brokers, JVM flags $KAFMESH_KAFKA_JAVA_OPTS)"
	if ((started_broker && !keep_broker)); then
		trap '"$ROOT/scripts/kafka.sh" stop' EXIT
	fi
fi

# The kafmesh revision measured: the runtime changes often.
revision="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [[ -n "$(git -C "$ROOT" status --porcelain -- runner go.mod go.sum 2>/dev/null)" ]]; then
	revision+=" with uncommitted changes in runner/ or go.mod"
fi

mkdir -p "$BENCH_DIR/results"
out="$BENCH_DIR/results/$(date -u +%Y-%m-%d-%H%M).md"
args=(
	-brokers "$brokers"
	-records "$records"
	-probes "$probes"
	-repeat "$repeat"
	-workloads "$workloads"
	-contenders "$contenders"
	-linger-ms "$linger_ms"
	-batch-bytes "$batch_bytes"
	-commit-ms "$commit_ms"
	-w4-rates "$w4_rates"
	-w4-w1-fraction "$w4_fraction"
	-w4-duration "$w4_duration"
	-w4-window "$w4_window"
	-w4-state-keys "$w4_state_keys"
	-bin "$BENCH_DIR/bin"
	-streams-jar "$jar"
	-java-opts "$java_opts"
	-broker-desc "$broker_desc"
	-revision "commit $revision"
	-command "bench/run.sh${original_args[*]:+ ${original_args[*]}}"
	-out "$out"
)
if ((write_docs)); then
	args+=(-docs "$ROOT/docs/benchmarks.md")
fi
if ((!wants_streams)); then
	args+=(-java "")
fi
"$BENCH_DIR/bin/kmbench" "${args[@]}"
