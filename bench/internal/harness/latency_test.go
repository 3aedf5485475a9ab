package harness

import (
	"strings"
	"testing"
	"time"

	"github.com/kafmesh/kafmesh/bench/internal/workload"
)

func TestDecodeOutputNamesTheInput(t *testing.T) {
	k, n, err := decodeOutput([]byte("key-42"), workload.Int64Value(300))
	if err != nil || k != 42 || n != 300 {
		t.Fatalf("decodeOutput = %d, %d, %v; want 42, 300", k, n, err)
	}
	for _, bad := range []struct{ key, value []byte }{
		{[]byte("rkey-1"), workload.Int64Value(1)},
		{[]byte("key-x"), workload.Int64Value(1)},
		{[]byte("key-1"), workload.Int64BigEndian(1)},
		{[]byte("key-1"), nil},
	} {
		if _, _, err := decodeOutput(bad.key, bad.value); err == nil {
			t.Errorf("decodeOutput(%q, %x) accepted a record that is no W1 output", bad.key, bad.value)
		}
	}
}

// The histogram of a window holds the latencies of the inputs produced in
// it, and counts those without output as missing.
func TestTrackerWindows(t *testing.T) {
	tr := newTracker(2)
	// key 0: inputs at 1ms, 2ms, 3ms; key 1: an input at 2.5ms
	tr.sent[0] = []int32{1000, 2000, 3000}
	tr.sent[1] = []int32{2500}
	// outputs: key 0 n=1 after 5ms, n=2 after 7ms; key 0 n=3 and key 1 never
	tr.seen[0] = []int32{5000, 7000}
	h, missing, inputs := tr.histogram(tr.start.Add(1500*time.Microsecond), tr.start.Add(10*time.Millisecond))
	if inputs != 3 || missing != 2 || h.TotalCount() != 1 || h.Max() < 6990 || h.Max() > 7010 {
		t.Errorf("window [1.5ms, 10ms): %d inputs, %d missing, %d latencies, max %dµs; want 3, 2, 1, 7000",
			inputs, missing, h.TotalCount(), h.Max())
	}
	if p := tr.pendingBefore(tr.start.Add(2600 * time.Microsecond)); p != 1 {
		t.Errorf("pending before 2.6ms = %d, want 1 (key 1's input)", p)
	}
}

func TestLatencyStandingAgainstTheGoals(t *testing.T) {
	row := func(name, label string, p99, max time.Duration) LatencyResult {
		return LatencyResult{Contender: Contender{Name: name, Label: label}, Rate: 10_000, Phase: PhaseSteady, P99: p99, Max: max, Records: 1}
	}
	rep := &Report{Latencies: []LatencyResult{
		row("franz", "franz-go loop", 20*time.Millisecond, 100*time.Millisecond),
		row("kafmesh", "kafmesh at-least-once", 30*time.Millisecond, 200*time.Millisecond),
		row("franz-eos", "franz-go transactional loop", 50*time.Millisecond, 300*time.Millisecond),
		row("kafmesh-eos", "kafmesh exactly-once", 160*time.Millisecond, 1200*time.Millisecond),
	}}
	got := rep.LatencyStanding()
	for _, want := range []string{
		"kafmesh at-least-once at 10,000 records/s, steady: p99 30 ms (goal ≤ 50 ms: met), 1.50× the p99 of the franz-go loop (goal ≤ 2×: met), max 200 ms (goal < 1 s: met).",
		"kafmesh exactly-once at 10,000 records/s, steady: p99 160 ms (goal ≤ 150 ms: **not met**), 3.20× the p99 of the franz-go transactional loop (goal ≤ 2×: **not met**), max 1200 ms (goal < 1 s: **not met**).",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("standing lacks %q:\n%s", want, got)
		}
	}
	if table := rep.latencyTable(); !strings.Contains(table, "| kafmesh exactly-once | 10,000 (0) | steady |") {
		t.Errorf("table lacks the kafmesh exactly-once row:\n%s", table)
	}
}
