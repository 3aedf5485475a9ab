// Package chaos is kafmesh's fault-injection suite: it runs the counting
// service in ./counter as subprocesses against a real Apache Kafka broker
// of its own, injects the faults of a production cluster (kill -9 of an
// instance, broker SIGTERM and SIGKILL with restart, an instance paused past
// its session timeout, membership churn, a crash inside a commit, poison
// records), and checks what came out: no input lost, no state wrong, no
// duplicate under exactly-once, no instance exiting on its own. The tests
// run only with KAFMESH_CHAOS=1 (scripts/test.sh sets it); see
// docs/testing.md.
//
// This file holds the checker, which needs no broker: it turns what the
// suite read back from the topics into a [Report].
package chaos

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Input is one record of the input topic as the suite produced it.
type Input struct {
	Partition int32
	Offset    int64
	Key       string
	// ID is the record's id (its value); unused for poison records.
	ID uint64
	// Poison marks a record whose value cannot be decoded.
	Poison bool
	// Probe marks a record produced after the faults, handled by a fresh
	// instance that restored its state from the changelog: its count
	// shows the state as a restore sees it.
	Probe bool
	// Time is when the suite produced it.
	Time time.Time
}

// Output is one output record of the counter, read back (read_committed).
type Output struct {
	Partition int32
	Offset    int64
	Key       string
	ID        uint64
	Count     int64
	// At is when the handler ran.
	At time.Time
	// Bad is set when the value did not parse; the other fields are then
	// zero.
	Bad string
}

// ChangelogEntry is one record of the state topic, read back
// (read_committed).
type ChangelogEntry struct {
	Partition int32
	Offset    int64
	Key       string
	Count     int64 // 0 for a tombstone
}

// DeadLetter is one record of the dead-letter topic: where the failed
// record came from, from its headers.
type DeadLetter struct {
	Topic     string
	Partition int32
	Offset    int64
}

// Report is what a scenario found. The zero counts are the passing ones,
// except Duplicated and ExtraOutputs, which at-least-once allows.
type Report struct {
	ExactlyOnce bool
	Inputs      int // good inputs (not poison), probes included
	Poison      int
	Outputs     int

	// Lost counts good inputs without any output.
	Lost int
	// Duplicated counts inputs with more than one output; ExtraOutputs
	// the outputs beyond the first.
	Duplicated, ExtraOutputs int
	// WrongCounts counts outputs whose count is impossible for the input
	// they handled: under exactly-once anything but the input's position
	// among its key's inputs; under at-least-once less than it (a lost
	// increment) or, for a probe, anything but one more than the key's
	// highest count before.
	WrongCounts int
	// WrongKeys is how many keys had a wrong count.
	WrongKeys int
	// WrongChangelog counts keys whose last changelog value is not their
	// final count. Under at-least-once it is reported, not failed: a
	// runtime may leave stale values of a fenced writer in the changelog
	// as long as its restore ignores them, which the probes check.
	WrongChangelog int
	// Unexpected counts outputs that match no input (or an input of
	// another key) or do not parse.
	Unexpected int
	// PoisonMissing counts poison records not dead-lettered (a poison
	// record handled as a good one shows as an unexpected output);
	// DeadLetters all records of the dead-letter topic.
	PoisonMissing, DeadLetters int

	// LongestGap is the longest time a partition had an input waiting
	// and produced no output; GapPartition is where.
	LongestGap   time.Duration
	GapPartition int32

	// Examples describe the first problems found, for the test log.
	Examples []string
}

// Failed lists the assertions the report fails: lost inputs, wrong state,
// unexpected or poison outputs, and duplicates under exactly-once.
func (r *Report) Failed() []string {
	var f []string
	add := func(n int, what string) {
		if n > 0 {
			f = append(f, fmt.Sprintf("%d %s", n, what))
		}
	}
	add(r.Lost, "lost inputs")
	add(r.WrongCounts, fmt.Sprintf("wrong counts (%d keys)", r.WrongKeys))
	if r.ExactlyOnce {
		add(r.Duplicated, "duplicated inputs")
		add(r.WrongChangelog, "wrong changelog values")
	}
	add(r.Unexpected, "unexpected outputs")
	add(r.PoisonMissing, "poison records not dead-lettered")
	return f
}

// Summary is the report in one line.
func (r *Report) Summary() string {
	mode := "at-least-once"
	if r.ExactlyOnce {
		mode = "exactly-once"
	}
	return fmt.Sprintf("%s: %d inputs (%d poison), %d outputs: lost %d, duplicated %d (+%d outputs), wrong counts %d (%d keys), wrong changelog %d, unexpected %d, longest gap %s (partition %d)",
		mode, r.Inputs, r.Poison, r.Outputs, r.Lost, r.Duplicated, r.ExtraOutputs, r.WrongCounts, r.WrongKeys, r.WrongChangelog,
		r.Unexpected, r.LongestGap.Round(time.Millisecond), r.GapPartition)
}

func (r *Report) example(format string, args ...any) {
	if len(r.Examples) < 12 {
		r.Examples = append(r.Examples, fmt.Sprintf(format, args...))
	}
}

// Check compares what came out with what went in. Outputs and changelog
// entries may come in any order; Check sorts them by partition and offset.
func Check(exactlyOnce bool, inputs []Input, outputs []Output, changelog []ChangelogEntry, dead []DeadLetter) *Report {
	r := &Report{ExactlyOnce: exactlyOnce}
	byPartOffset := func(ap, bp int32, ao, bo int64) int {
		return cmp.Or(cmp.Compare(ap, bp), cmp.Compare(ao, bo))
	}
	inputs = slices.Clone(inputs)
	slices.SortFunc(inputs, func(a, b Input) int { return byPartOffset(a.Partition, b.Partition, a.Offset, b.Offset) })
	outputs = slices.Clone(outputs)
	slices.SortFunc(outputs, func(a, b Output) int { return byPartOffset(a.Partition, b.Partition, a.Offset, b.Offset) })
	changelog = slices.Clone(changelog)
	slices.SortFunc(changelog, func(a, b ChangelogEntry) int { return byPartOffset(a.Partition, b.Partition, a.Offset, b.Offset) })

	// Each good input's position among its key's good inputs (1-based):
	// the count it must produce.
	type inputInfo struct {
		key   string
		pos   int64
		probe bool
		at    time.Time
	}
	byID := map[uint64]inputInfo{}
	perKey := map[string]int64{}
	for _, in := range inputs {
		if in.Poison {
			r.Poison++
			continue
		}
		r.Inputs++
		perKey[in.Key]++
		byID[in.ID] = inputInfo{key: in.Key, pos: perKey[in.Key], probe: in.Probe, at: in.Time}
	}

	seen := map[uint64]int{}
	maxCount := map[string]int64{}  // highest count output per key, probes excluded
	lastCount := map[string]int64{} // last count output per key (offset order)
	wrongKeys := map[string]bool{}
	r.Outputs = len(outputs)
	var prev *Output
	for i := range outputs {
		o := &outputs[i]
		if o.Bad != "" {
			r.Unexpected++
			r.example("output %d@%d does not parse: %s", o.Partition, o.Offset, o.Bad)
			continue
		}
		in, ok := byID[o.ID]
		if !ok || in.key != o.Key {
			r.Unexpected++
			r.example("output %d@%d (key %s, id %d) matches no input of that key", o.Partition, o.Offset, o.Key, o.ID)
			continue
		}
		seen[o.ID]++
		lastCount[o.Key] = o.Count
		wrong := false
		switch {
		case exactlyOnce:
			wrong = o.Count != in.pos
		case in.probe:
			wrong = o.Count != maxCount[o.Key]+1
		default:
			wrong = o.Count < in.pos
		}
		if wrong {
			r.WrongCounts++
			wrongKeys[o.Key] = true
			want := fmt.Sprintf("%d", in.pos)
			if !exactlyOnce {
				want = fmt.Sprintf("at least %d", in.pos)
				if in.probe {
					want = fmt.Sprintf("%d (restored state %d + 1)", maxCount[o.Key]+1, maxCount[o.Key])
				}
			}
			r.example("key %s: input %d (#%d of the key%s) output count %d, want %s", o.Key, o.ID, in.pos, probeNote(in.probe), o.Count, want)
		}
		if !in.probe {
			maxCount[o.Key] = max(maxCount[o.Key], o.Count)
			// Gap: the partition's time with this input waiting and no
			// output since the previous one.
			if prev != nil && prev.Partition == o.Partition {
				since := prev.At
				if in.at.After(since) {
					since = in.at
				}
				if g := o.At.Sub(since); g > r.LongestGap {
					r.LongestGap, r.GapPartition = g, o.Partition
				}
			}
			prev = o
		}
	}
	r.WrongKeys = len(wrongKeys)
	if len(wrongKeys) > 0 {
		// The whole story of the first wrong key, to tell a wrong restore
		// from a lost or repeated increment.
		first := ""
		for k := range wrongKeys {
			if first == "" || k < first {
				first = k
			}
		}
		var seq []string
		for _, o := range outputs {
			if o.Key == first && o.Bad == "" {
				seq = append(seq, fmt.Sprintf("%d@%d:#%d=%d", o.ID, o.Offset, byID[o.ID].pos, o.Count))
			}
		}
		if len(seq) > 40 {
			seq = append(seq[:40], "…")
		}
		r.Examples = append([]string{fmt.Sprintf("key %s outputs in offset order (id@offset:#position=count): %s", first, strings.Join(seq, " "))}, r.Examples...)
	}
	ids := make([]uint64, 0, len(byID))
	for id := range byID {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		switch n := seen[id]; {
		case n == 0:
			r.Lost++
			r.example("input %d (key %s) has no output", id, byID[id].key)
		case n > 1:
			r.Duplicated++
			r.ExtraOutputs += n - 1
			if exactlyOnce {
				r.example("input %d (key %s) has %d outputs", id, byID[id].key, n)
			}
		}
	}

	// The changelog's last value per key must be the key's final count.
	lastLog := map[string]int64{}
	for _, e := range changelog {
		lastLog[e.Key] = e.Count
	}
	keys := make([]string, 0, len(lastCount))
	for k := range lastCount {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		want := lastCount[k]
		if !exactlyOnce {
			want = max(maxCount[k], lastCount[k])
		}
		if got, ok := lastLog[k]; !ok || got != want {
			r.WrongChangelog++
			r.example("key %s: last changelog value %d (present %v), final count %d", k, got, ok, want)
		}
	}

	r.DeadLetters = len(dead)
	dlq := map[[2]int64]int{}
	for _, d := range dead {
		dlq[[2]int64{int64(d.Partition), d.Offset}]++
	}
	for _, in := range inputs {
		if !in.Poison {
			continue
		}
		if dlq[[2]int64{int64(in.Partition), in.Offset}] == 0 {
			r.PoisonMissing++
			r.example("poison record %d@%d was not dead-lettered", in.Partition, in.Offset)
		}
	}
	return r
}

func probeNote(probe bool) string {
	if probe {
		return ", a probe after the faults"
	}
	return ""
}

// parseOutput parses an output value "<id> <count> <unix micros>".
func parseOutput(s string) (id uint64, count int64, at time.Time, err error) {
	f := strings.Fields(s)
	if len(f) != 3 {
		return 0, 0, time.Time{}, fmt.Errorf("%q: want \"<id> <count> <micros>\"", s)
	}
	var micros int64
	if _, err := fmt.Sscan(f[0], &id); err != nil {
		return 0, 0, time.Time{}, fmt.Errorf("%q: id: %w", s, err)
	}
	if _, err := fmt.Sscan(f[1], &count); err != nil {
		return 0, 0, time.Time{}, fmt.Errorf("%q: count: %w", s, err)
	}
	if _, err := fmt.Sscan(f[2], &micros); err != nil {
		return 0, 0, time.Time{}, fmt.Errorf("%q: time: %w", s, err)
	}
	return id, count, time.UnixMicro(micros), nil
}
