package harness

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// SectionHeading is the heading of the peer-comparison section of
// docs/benchmarks.md; the harness owns everything from it to the next
// second-level heading.
const SectionHeading = "## Peers (W1–W4)"

// baseline is the contender every ratio is taken against.
const baseline = "kafmesh"

// result returns the result of contender name on workload w.
func (rep *Report) result(w, name string) (Result, bool) {
	for _, r := range rep.Results {
		if r.Workload == w && r.Contender.Name == name {
			return r, true
		}
	}
	return Result{}, false
}

// Failed reports whether any contender failed or was wrong.
func (rep *Report) Failed() bool {
	for _, r := range rep.Results {
		if r.Err != nil {
			return true
		}
	}
	return false
}

// Tables renders the results: one table per workload, and kafmesh's
// standing.
func (rep *Report) Tables() string {
	var b strings.Builder
	spec := rep.Config.Spec
	titles := map[string]string{
		"w1": fmt.Sprintf("W1 stateful count-by-key: %s records of %d bytes, %s keys, %d partitions",
			thousands(spec.Records), spec.ValueBytes, thousands(spec.Keys), spec.Partitions),
		"w2": fmt.Sprintf("W2 restore: %s keys in the changelog, time from process start until %s probe records are processed and committed",
			thousands(spec.Records), thousands(spec.Probes)),
		"w3": fmt.Sprintf("W3 join + lookup: W1's input joined with a co-partitioned table of %s rows and a lookup table of %s rows",
			thousands(spec.Keys), thousands(spec.Customers)),
	}
	for _, w := range Workloads {
		var rows []Result
		for _, r := range rep.Results {
			if r.Workload == w {
				rows = append(rows, r)
			}
		}
		if len(rows) == 0 {
			continue
		}
		fmt.Fprintf(&b, "**%s**\n\n", titles[w])
		base, haveBase := rep.result(w, baseline)
		repeated := rep.Config.Repeat > 1
		rangeHead, rangeRule := "", ""
		if repeated {
			rangeHead, rangeRule = fmt.Sprintf(" range of %d runs |", rep.Config.Repeat), "--:|"
		}
		if w == "w2" {
			b.WriteString(rep.restoreLimitNote())
			b.WriteString("| contender | restore time (s) | keys/s |" + rangeHead + " CPU (s) | peak RSS (MiB) | speed × kafmesh | × limit | load (1m) |\n")
			b.WriteString("|---|--:|--:|" + rangeRule + "--:|--:|--:|--:|--:|\n")
		} else {
			b.WriteString("| contender | records/s |" + rangeHead + " wall (s) | CPU (s) | peak RSS (MiB) | × kafmesh | startup (s) | load (1m) |\n")
			b.WriteString("|---|--:|" + rangeRule + "--:|--:|--:|--:|--:|--:|\n")
		}
		for _, r := range rows {
			rangeCell := ""
			if repeated {
				lo, hi := r.RateRange()
				rangeCell = fmt.Sprintf(" %s–%s |", thousands(int(lo)), thousands(int(hi)))
			}
			if r.Err != nil {
				cols := 5
				if repeated {
					cols++
				}
				fmt.Fprintf(&b, "| %s | **failed**: %s |%s %s |\n", r.Contender.Label, oneLine(r.Err), strings.Repeat(" |", cols), r.Load)
				continue
			}
			ratio := "—"
			if haveBase && base.Err == nil && base.Rate() > 0 {
				ratio = fmt.Sprintf("%.2f×", r.Rate()/base.Rate())
			}
			if w == "w2" {
				limit := "—"
				if rep.RestoreLimit > 0 && r.Wall > 0 {
					limit = fmt.Sprintf("%.2f×", rep.RestoreLimit.Seconds()/r.Wall.Seconds())
				}
				fmt.Fprintf(&b, "| %s | %.2f | %s |%s %.2f | %d | %s | %s | %s |\n",
					r.Contender.Label, r.Wall.Seconds(), thousands(int(r.Rate())), rangeCell, r.CPU, r.PeakRSS>>20, ratio, limit, r.Load)
			} else {
				fmt.Fprintf(&b, "| %s | %s |%s %.2f | %.2f | %d | %s | %.2f | %s |\n",
					r.Contender.Label, thousands(int(r.Rate())), rangeCell, r.Wall.Seconds(), r.CPU, r.PeakRSS>>20, ratio, r.Startup.Seconds(), r.Load)
			}
		}
		b.WriteString("\n")
	}
	b.WriteString(rep.latencyTable())
	b.WriteString(rep.Standing())
	b.WriteString(rep.LatencyStanding())
	return b.String()
}

// Standing states kafmesh's position on W1 plainly, against the project's
// goals (issue 16): at-least-once at least 0.85× the bare loop, exactly-once
// at least 0.85× the bare transactional loop (the bare loop when that did
// not run).
func (rep *Report) Standing() string {
	alo, ok1 := rep.result("w1", "kafmesh")
	eos, ok2 := rep.result("w1", "kafmesh-eos")
	bare, ok3 := rep.result("w1", "franz")
	txn, ok4 := rep.result("w1", "franz-eos")
	var lines []string
	verdict := func(got, bar float64) string {
		if got >= bar {
			return fmt.Sprintf("meets the goal of %.2f×", bar)
		}
		return fmt.Sprintf("**misses the goal of %.2f×**", bar)
	}
	if ok3 && bare.Err == nil && bare.Rate() > 0 && ok1 && alo.Err == nil {
		x := alo.Rate() / bare.Rate()
		lines = append(lines, fmt.Sprintf("kafmesh at-least-once runs W1 at %.2f× the bare franz-go loop: it %s.", x, verdict(x, 0.85)))
	}
	if ok2 && eos.Err == nil {
		if ok4 && txn.Err == nil && txn.Rate() > 0 {
			x := eos.Rate() / txn.Rate()
			lines = append(lines, fmt.Sprintf("kafmesh exactly-once runs W1 at %.2f× the bare transactional loop: it %s.", x, verdict(x, 0.85)))
		} else if ok3 && bare.Err == nil && bare.Rate() > 0 {
			x := eos.Rate() / bare.Rate()
			lines = append(lines, fmt.Sprintf("kafmesh exactly-once runs W1 at %.2f× the bare loop (the transactional loop did not run).", x))
		}
	}
	if ok3 && bare.Err == nil {
		if round := roundByRound(bare, []Result{alo, eos}, []bool{ok1, ok2}); round != "" {
			lines = append(lines, round)
		}
	}
	if ok1 && alo.Err == nil && alo.Rate() > 0 {
		for _, peer := range []string{"goka", "streams"} {
			p, ok := rep.result("w1", peer)
			if !ok || p.Err != nil || p.Rate() <= 0 {
				continue
			}
			x := alo.Rate() / p.Rate()
			word := "faster than"
			if x < 0.95 {
				word = "slower than"
			} else if x <= 1.05 {
				word = "as fast as"
			}
			lines = append(lines, fmt.Sprintf("On W1 kafmesh at-least-once is %s %s (%.2f× its records/s).", word, p.Contender.Label, x))
		}
	}
	for _, r := range rep.Results {
		if r.Err != nil {
			lines = append(lines, fmt.Sprintf("%s failed on %s, so it has no numbers there: %s.", r.Contender.Label, strings.ToUpper(r.Workload), oneLine(r.Err)))
		}
	}
	if len(lines) == 0 {
		return ""
	}
	return "**Standing.** " + strings.Join(lines, " ") + "\n"
}

// roundByRound states each round's ratio of the kafmesh runs to the bare
// loop's run of the same round: the medians of a noisy machine can pair a
// fast round of one with a slow round of the other.
func roundByRound(bare Result, kafmesh []Result, ok []bool) string {
	var parts []string
	for i, k := range kafmesh {
		if !ok[i] || k.Err != nil || len(k.RoundRates) < 2 || len(k.RoundRates) != len(bare.RoundRates) {
			continue
		}
		var ratios []string
		for r, rate := range k.RoundRates {
			if bare.RoundRates[r] > 0 {
				ratios = append(ratios, fmt.Sprintf("%.2f×", rate/bare.RoundRates[r]))
			}
		}
		parts = append(parts, fmt.Sprintf("%s %s", k.Contender.Label, strings.Join(ratios, ", ")))
	}
	if len(parts) == 0 {
		return ""
	}
	return "Round by round, against the bare loop's run of the same round: " + strings.Join(parts, "; ") + "."
}

// Markdown renders the whole docs section: results, machine, command,
// method and settings.
func (rep *Report) Markdown() string {
	var b strings.Builder
	m := rep.Machine
	fmt.Fprintf(&b, "%s\n\n", SectionHeading)
	b.WriteString(sectionIntro)
	fmt.Fprintf(&b, "\n### Latest run: %s\n\n", rep.Started.UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&b, "- Command: `%s`\n", rep.Config.Command)
	if rep.Config.Revision != "" {
		fmt.Fprintf(&b, "- kafmesh: %s\n", rep.Config.Revision)
	}
	fmt.Fprintf(&b, "- Machine: %s, %d cores, %s memory, %s; load average (1m) %s at the start, %s at the end\n",
		m.CPU, m.Cores, m.Memory, m.Kernel, m.LoadStart, rep.LoadEnd)
	fmt.Fprintf(&b, "- Broker: %s, on the same machine\n", m.Broker)
	tools := m.Go
	if m.Java != "" {
		tools += "; " + m.Java
	}
	fmt.Fprintf(&b, "- Toolchains: %s\n", tools)
	fmt.Fprintf(&b, "- Duration: %s\n\n", rep.Finished.Sub(rep.Started).Round(1e9))
	b.WriteString(rep.Tables())
	b.WriteString("\n")
	b.WriteString(methodText)
	b.WriteString("\n### Contender settings\n\n")
	b.WriteString("Common to all: acks=all, idempotent producers, linger 5ms (Java's 4.x default), batches up to 1 MiB, no compression, " +
		"8 partitions on every topic, Java murmur2 key partitioning, reading from the earliest offset, commits every 100ms, fetch max wait 500ms.\n\n")
	b.WriteString("| contender | how it is built and configured |\n|---|---|\n")
	for _, c := range Contenders() {
		fmt.Fprintf(&b, "| %s | %s |\n", c.Label, c.Settings)
	}
	return b.String()
}

const sectionIntro = "kafmesh against its peers on the same broker, the same topics and data, with matched settings, " +
	"measured in one run by `bench/run.sh` (its own Go module, `bench/go.mod`, so the peers never enter kafmesh's). Rerun it with:\n\n" +
	"```\nbench/run.sh                      # 1,000,000 records; starts its own broker with scripts/kafka.sh\n" +
	"bench/run.sh --records 50000      # a smoke run of a couple of minutes\n" +
	"bench/run.sh --write-docs         # also replace this section with the new results\n```\n\n" +
	"`bench/run.sh --help` lists every flag. Each run also writes `bench/results/<date>.md`.\n"

const methodText = `### Method

- **One broker, one run.** The script starts (or is given) one Apache Kafka broker and runs every contender on it one after
  another, each as its own process: the Go contenders are binaries built from ` + "`bench/`" + `, Kafka Streams runs with
  ` + "`java -jar`" + `. Each gets its own consumer group, output topic and state topics, and an empty local state folder.
- **Same data.** One loader writes the input once per run into fresh topics, with the matched producer settings and
  Java's murmur2 partitioning: input values are ` + "`google.protobuf.StringValue`" + `s of 100 encoded bytes, keys
  ` + "`key-0`" + ` … ` + "`key-9999`" + ` round-robin. W1 and W3 read the same input topic.
- **Same logic.** W1: each record increments its key's count in state and emits the new count as a
  ` + "`google.protobuf.Int64Value`" + ` (every contender writes the same bytes). W2: the same processor, started on a
  changelog that holds a count for each of the restore keys, written in each contender's own format (kafmesh and goka:
  ` + "`<group>-table`" + ` with Int64Value values; Kafka Streams: ` + "`<app>-counts-changelog`" + ` with 8-byte longs).
  W3: each record's key is joined with a co-partitioned table (its customer id) and the customer is looked up in a
  second table; the output is ` + "`\"<customer>|<name>\"`" + `. The bare franz-go loop has no changelog, so it has no W2 row.
- **Timing (W1, W3).** From the first record read to the last output acknowledged and offsets committed. Each contender
  prints the wall-clock time when its first input record reaches its handler (` + "`first-read <unix ns>`" + `, same machine,
  same clock). The harness polls the broker every 10ms from outside with kadm and takes the moment at which the group's
  committed offsets equal the input's end offsets on all partitions and the output topic holds at least one offset per
  input. All contenders commit only after their outputs are acknowledged (exactly-once: in the same transaction), so
  that moment is "everything produced and committed", within about 10ms. Startup (process start to first read) is shown
  separately and not counted.
- **Timing (W2).** From just before the process starts to the same completion test on a probe topic of fresh records
  (1,000 by default) whose keys are spread over the restored key space: a probe can be counted only after its partition is restored.
  It includes process (and JVM) start, group join and the restore.
- **CPU and memory.** CPU seconds are user + system time of the contender process from ` + "`/proc/<pid>/stat`" + `,
  sampled every 10ms, over the timed window (W2: from start). Peak memory is the process's VmHWM (peak RSS) when the run
  completes; for the JVM it includes the heap it reserved.
- **Correctness before time.** After each run the harness reads the whole output topic with read_committed: W1 must
  have exactly one output per input and every key's last count equal to its number of inputs; W3 exactly one output per
  input with the right customer and name; W2 every probe's count equal to its restored count + 1 (which only a
  complete restore gives). A contender that fails a check is shown as failed, without numbers.
- **Ratios** are records/s (W2: keys restored per second) divided by kafmesh at-least-once's on the same workload.
- **Noise.** By default one run per contender; on a busy machine numbers move by tens of percent. ` + "`--repeat N`" + `
  runs every contender N times, taking turns, and reports the run with the median rate (its wall, CPU and memory) with
  the range of rates. The load average column shows what else ran when each run started.
`

// WriteDocs replaces the section in path (from its heading to the next
// second-level heading), appends it when missing, and creates the file
// when it does not exist.
func WriteDocs(path, section string) error {
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	doc := string(b)
	if doc == "" {
		doc = "# Benchmarks\n\nEach section is owned by the tool or person that writes it.\n"
	}
	section = strings.TrimRight(section, "\n") + "\n"
	start := strings.Index(doc, SectionHeading+"\n")
	if start < 0 {
		doc = strings.TrimRight(doc, "\n") + "\n\n" + section
	} else {
		end := len(doc)
		if i := strings.Index(doc[start+len(SectionHeading):], "\n## "); i >= 0 {
			end = start + len(SectionHeading) + i + 1
		}
		rest := doc[end:]
		if rest != "" {
			section += "\n"
		}
		doc = doc[:start] + section + rest
	}
	return os.WriteFile(path, []byte(doc), 0o644)
}

func thousands(n int) string {
	s := fmt.Sprint(n)
	var out []string
	for len(s) > 3 {
		out = append([]string{s[len(s)-3:]}, out...)
		s = s[:len(s)-3]
	}
	return strings.Join(append([]string{s}, out...), ",")
}

func oneLine(err error) string {
	s := strings.Join(strings.Fields(err.Error()), " ")
	s = strings.ReplaceAll(s, "|", "/")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
