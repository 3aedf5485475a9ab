package harness

import (
	"fmt"
	"strings"
	"time"
)

// latencyTable renders W4's results, one row per contender, rate and phase.
func (rep *Report) latencyTable() string {
	if len(rep.Latencies) == 0 {
		return ""
	}
	cfg := rep.Config
	var b strings.Builder
	fmt.Fprintf(&b, "**W4 latency under steady load: W1's count-by-key, input produced at a fixed rate into %d partitions; "+
		"latency from each input's timestamp to the moment a read_committed consumer sees its output. Phases: steady %s after a %s warm-up; "+
		"join: %s from a second instance's start; restart: %s from a SIGTERM and restart of the first instance with its state folder "+
		"and %s preloaded keys of state**\n\n",
		cfg.Spec.Partitions, cfg.W4Duration, cfg.W4Warmup, cfg.W4Window, cfg.W4Window, thousands(cfg.W4StateKeys))
	b.WriteString("| contender | input/s (achieved) | phase | p50 (ms) | p99 (ms) | p99.9 (ms) | max (ms) | outputs | missing | CPU (cores) | load (1m) |\n")
	b.WriteString("|---|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, l := range rep.Latencies {
		if l.Err != nil {
			fmt.Fprintf(&b, "| %s | %s | %s | **failed**: %s | | | | | | | %s |\n", l.Contender.Label, thousands(l.Rate), l.Phase, oneLine(l.Err), l.Load)
			continue
		}
		fmt.Fprintf(&b, "| %s | %s (%s) | %s | %s | %s | %s | %s | %s | %s | %.2f | %s |\n",
			l.Contender.Label, thousands(l.Rate), thousands(int(l.Achieved)), l.Phase,
			ms(l.P50), ms(l.P99), ms(l.P999), ms(l.Max), thousands(int(l.Records)), thousands(int(l.Missing)), l.CPU, l.Load)
	}
	b.WriteString("\n")
	return b.String()
}

func ms(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	if v < 10 {
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.0f", v)
}

// latency returns the W4 result of contender name at rate in phase.
func (rep *Report) latency(name string, rate int, phase LatencyPhase) (LatencyResult, bool) {
	for _, l := range rep.Latencies {
		if l.Contender.Name == name && l.Rate == rate && l.Phase == phase && l.Err == nil {
			return l, true
		}
	}
	return LatencyResult{}, false
}

// LatencyStanding states kafmesh's W4 position against issue 16's goals at
// 10,000 records/s: at-least-once p99 at most 50ms, exactly-once p99 at
// most 150ms, each at most 2× the matching bare loop's p99, and no record
// slower than 1s in the steady phase.
func (rep *Report) LatencyStanding() string {
	const rate = 10_000
	var lines []string
	for _, g := range []struct {
		name, loop string
		p99        time.Duration
	}{{"kafmesh", "franz", 50 * time.Millisecond}, {"kafmesh-eos", "franz-eos", 150 * time.Millisecond}} {
		k, ok := rep.latency(g.name, rate, PhaseSteady)
		if !ok {
			continue
		}
		var parts []string
		parts = append(parts, fmt.Sprintf("p99 %s ms (goal ≤ %s ms: %s)", ms(k.P99), ms(g.p99), metWord(k.P99 <= g.p99)))
		if l, ok := rep.latency(g.loop, rate, PhaseSteady); ok && l.P99 > 0 {
			x := float64(k.P99) / float64(l.P99)
			parts = append(parts, fmt.Sprintf("%.2f× the p99 of the %s (goal ≤ 2×: %s)", x, l.Contender.Label, metWord(x <= 2)))
		}
		parts = append(parts, fmt.Sprintf("max %s ms (goal < 1 s: %s)", ms(k.Max), metWord(k.Max < time.Second)))
		lines = append(lines, fmt.Sprintf("%s at 10,000 records/s, steady: %s.", k.Contender.Label, strings.Join(parts, ", ")))
	}
	if len(lines) == 0 {
		return ""
	}
	return "\n**Latency standing.** " + strings.Join(lines, " ") + "\n"
}

func metWord(ok bool) string {
	if ok {
		return "met"
	}
	return "**not met**"
}
