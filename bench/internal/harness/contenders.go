package harness

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/kafmesh/kafmesh/bench/internal/workload"
)

// Contender is one framework under test, run as its own process.
type Contender struct {
	// Name is the id used in topic names and on the command line.
	Name string
	// Label is the name shown in tables.
	Label string
	// Settings describes how it is configured, for the docs.
	Settings string
	// command returns the program and its leading arguments; the harness
	// appends the common contender flags.
	command func(cfg Config) []string
	// changelog is the state changelog topic for a count group; nil for a
	// contender without one (it takes no part in W2).
	changelog func(group string) string
	// changelogValue encodes a count as the contender stores it.
	changelogValue func(n int64) []byte
	// stateTopicsCreated are the topics the harness creates before a count
	// run (the contender does not create them itself).
	stateTopicsCreated func(group string) []string
}

func goTable(group string) string { return group + "-table" }

// Contenders lists every contender in table order.
func Contenders() []Contender {
	bin := func(name string, extra ...string) func(Config) []string {
		return func(cfg Config) []string {
			return append([]string{filepath.Join(cfg.BinDir, name)}, extra...)
		}
	}
	return []Contender{
		{
			Name: "kafmesh", Label: "kafmesh at-least-once",
			Settings:           "runner API (`runner.NewProcessor`, `State`/`SaveState`/`Output`, `Join`, `Lookup`), Pebble state + `<group>-table` changelog, commit interval 100ms; franz-go producer with acks=all, idempotent, no compression, murmur2 (runtime defaults) plus `WithKafkaOptions(ProducerLinger(5ms), ProducerBatchMaxBytes(1 MiB), FetchMaxWait(500ms))`; W1, W2 and W4 read the input raw (`runner.Raw()`: the count never reads the value, and the bare loops and Kafka Streams do not decode it either), W3 decodes every input as `google.protobuf.StringValue`",
			command:            bin("bench-kafmesh"),
			changelog:          goTable,
			changelogValue:     workload.Int64Value,
			stateTopicsCreated: func(g string) []string { return []string{goTable(g)} },
		},
		{
			Name: "kafmesh-eos", Label: "kafmesh exactly-once",
			Settings:           "as kafmesh at-least-once, plus `runner.ExactlyOnce()`: outputs, changelog and input offsets in one Kafka transaction per commit (every 100ms)",
			command:            bin("bench-kafmesh", "-eos"),
			changelog:          goTable,
			changelogValue:     workload.Int64Value,
			stateTopicsCreated: func(g string) []string { return []string{goTable(g)} },
		},
		{
			Name: "goka", Label: "goka v1.1.16",
			Settings:           "`goka.DefineGroup` with `Input`, `Persist`, `Join`, `Lookup`, `Output`; default LevelDB storage; sarama v1.46 with Version 3.9, WaitForAll, Idempotent (MaxOpenRequests=1), no compression, Flush.Frequency 5ms, Flush.Bytes 1 MiB, Fetch.Default 1 MiB, MaxWaitTime 500ms, auto-commit every 100ms, OffsetOldest; Java murmur2 hasher (goka's default is FNV); protobuf codecs for the same messages",
			command:            bin("bench-goka"),
			changelog:          goTable,
			changelogValue:     workload.Int64Value,
			stateTopicsCreated: func(g string) []string { return []string{goTable(g)} },
		},
		{
			Name: "franz", Label: "franz-go loop (no changelog)",
			Settings: "hand-written franz-go v1.22 consume→produce loop, one goroutine, state in a Go map, no changelog, no local store; acks=all, idempotent, no compression, linger 5ms, batch 1 MiB, FetchMaxWait 500ms; every 100ms flushes and then commits what it handled; W3 reads both tables into maps before joining the group; does not decode inputs",
			command:  bin("bench-franz"),
		},
		{
			Name: "franz-eos", Label: "franz-go transactional loop (no changelog)",
			Settings: "the franz-go loop with `-eos`: a `kgo.GroupTransactSession` (read_committed), outputs and input offsets committed in one transaction every 100ms; still no changelog and no local store",
			command:  bin("bench-franz", "-eos"),
		},
		{
			Name: "streams", Label: "Kafka Streams 4.4.0",
			Settings: "DSL: `groupByKey().count()` (RocksDB store `counts`, changelog `<app>-counts-changelog`) then `mapValues` to the same Int64Value bytes; W3 `join(KTable)` then `join(GlobalKTable)`; at_least_once, commit.interval.ms=100, statestore.cache.max.bytes=0 (emit every update, as the others do), num.stream.threads = cores, topology.optimization=all (the KTable reads its source topic instead of a copy); producer acks=all, enable.idempotence=true, linger.ms=5, batch.size=1 MiB, compression none; consumer auto.offset.reset=earliest, fetch.max.wait.ms=500; input values read as bytes (not decoded); Java 17, JVM flags `--java-opts` (default `-Xmx1g`)",
			command: func(cfg Config) []string {
				return append(append([]string{cfg.Java}, strings.Fields(cfg.JavaOpts)...), "-jar", cfg.StreamsJar)
			},
			changelog:      func(app string) string { return app + "-counts-changelog" },
			changelogValue: workload.Int64BigEndian,
		},
	}
}

// selectContenders returns the contenders named in names (all when empty).
func selectContenders(names []string) ([]Contender, error) {
	all := Contenders()
	if len(names) == 0 {
		return all, nil
	}
	var out []Contender
	for _, n := range names {
		found := false
		for _, c := range all {
			if c.Name == n {
				out, found = append(out, c), true
			}
		}
		if !found {
			var known []string
			for _, c := range all {
				known = append(known, c.Name)
			}
			return nil, fmt.Errorf("unknown contender %q (known: %s)", n, strings.Join(known, ", "))
		}
	}
	return out, nil
}

// cmd builds the contender's command line for one run.
func (c Contender) cmd(cfg Config, args []string) *exec.Cmd {
	argv := append(c.command(cfg), args...)
	return exec.Command(argv[0], argv[1:]...)
}
