package chaos

import (
	"strings"
	"testing"
	"time"
)

// history builds a clean run: n inputs of keys "a" and "b" alternating on
// partitions 0 and 1, one output each with the right count, 10ms apart,
// and the changelog's final values.
func history(n int) ([]Input, []Output, []ChangelogEntry) {
	t0 := time.Unix(1000, 0)
	var ins []Input
	var outs []Output
	counts := map[string]int64{}
	for i := range n {
		key, part := "a", int32(0)
		if i%2 == 1 {
			key, part = "b", 1
		}
		counts[key]++
		at := t0.Add(time.Duration(i) * 10 * time.Millisecond)
		ins = append(ins, Input{Partition: part, Offset: int64(i / 2), Key: key, ID: uint64(i), Time: at})
		outs = append(outs, Output{Partition: part, Offset: int64(i / 2), Key: key, ID: uint64(i), Count: counts[key], At: at.Add(time.Millisecond)})
	}
	log := []ChangelogEntry{{Partition: 0, Offset: 0, Key: "a", Count: counts["a"]}, {Partition: 1, Offset: 0, Key: "b", Count: counts["b"]}}
	return ins, outs, log
}

func TestCheckCleanRun(t *testing.T) {
	ins, outs, log := history(20)
	for _, eos := range []bool{false, true} {
		r := Check(eos, ins, outs, log, nil)
		if f := r.Failed(); len(f) > 0 || r.Duplicated > 0 || r.WrongChangelog > 0 {
			t.Errorf("eos %v: a clean run fails: %v (%s)", eos, f, r.Summary())
		}
		// Inputs of a partition come 20ms apart, each handled 1ms later:
		// nothing waits longer than the 1ms handling.
		if r.LongestGap != time.Millisecond {
			t.Errorf("eos %v: longest gap %s in a run without stalls, want 1ms", eos, r.LongestGap)
		}
	}
}

func TestCheckFindsEachFault(t *testing.T) {
	cases := []struct {
		name   string
		eos    bool
		break_ func(ins []Input, outs []Output, log []ChangelogEntry) ([]Input, []Output, []ChangelogEntry, []DeadLetter)
		want   string
	}{
		{"lost input", true, func(ins []Input, outs []Output, log []ChangelogEntry) ([]Input, []Output, []ChangelogEntry, []DeadLetter) {
			// Drop the last output of key a; its count stays right.
			outs = append(outs[:18:18], outs[19:]...)
			return ins, outs, []ChangelogEntry{{Key: "a", Count: 9}, {Partition: 1, Key: "b", Count: 10}}, nil
		}, "1 lost inputs"},
		{"duplicate under exactly-once", true, func(ins []Input, outs []Output, log []ChangelogEntry) ([]Input, []Output, []ChangelogEntry, []DeadLetter) {
			d := outs[0]
			d.Offset = 100
			return ins, append(outs, d), log, nil
		}, "1 duplicated inputs"},
		{"lost increment at-least-once", false, func(ins []Input, outs []Output, log []ChangelogEntry) ([]Input, []Output, []ChangelogEntry, []DeadLetter) {
			outs[6].Count-- // key a's 4th input counted 3
			return ins, outs, log, nil
		}, "1 wrong counts (1 keys)"},
		{"stale changelog under exactly-once", true, func(ins []Input, outs []Output, log []ChangelogEntry) ([]Input, []Output, []ChangelogEntry, []DeadLetter) {
			return ins, outs, append(log, ChangelogEntry{Offset: 5, Key: "a", Count: 3}), nil
		}, "1 wrong changelog values"},
		{"wrong restore at-least-once", false, func(ins []Input, outs []Output, log []ChangelogEntry) ([]Input, []Output, []ChangelogEntry, []DeadLetter) {
			// A probe after the faults finds key a restored at 8, not 10.
			ins = append(ins, Input{Partition: 0, Offset: 50, Key: "a", ID: probeFrom, Probe: true})
			outs = append(outs, Output{Partition: 0, Offset: 50, Key: "a", ID: probeFrom, Count: 9})
			return ins, outs, log, nil
		}, "1 wrong counts"},
		{"output of no input", true, func(ins []Input, outs []Output, log []ChangelogEntry) ([]Input, []Output, []ChangelogEntry, []DeadLetter) {
			return ins, append(outs, Output{Partition: 0, Offset: 99, Key: "a", ID: 777, Count: 11}), log, nil
		}, "1 unexpected outputs"},
		{"poison not dead-lettered", false, func(ins []Input, outs []Output, log []ChangelogEntry) ([]Input, []Output, []ChangelogEntry, []DeadLetter) {
			ins = append(ins, Input{Partition: 1, Offset: 40, Key: "b", Poison: true}, Input{Partition: 0, Offset: 41, Key: "a", Poison: true})
			return ins, outs, log, []DeadLetter{{Partition: 1, Offset: 40}}
		}, "1 poison records not dead-lettered"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ins, outs, log := history(20)
			r := Check(c.eos, ins, outs, log, nil)
			if len(r.Failed()) != 0 {
				t.Fatalf("the clean history fails: %v", r.Failed())
			}
			ins2, outs2, log2, dead := c.break_(ins, outs, log)
			r = Check(c.eos, ins2, outs2, log2, dead)
			if got := strings.Join(r.Failed(), "; "); !strings.Contains(got, c.want) {
				t.Errorf("failures %q, want %q (examples %v)", got, c.want, r.Examples)
			}
		})
	}
}

func TestCheckAtLeastOnceAllowsRedelivery(t *testing.T) {
	ins, outs, log := history(20)
	// A crash made key a's 3rd and 4th inputs be handled again from the
	// restored count 2: counts 3 and 4 repeat, nothing is wrong.
	redo := []Output{outs[4], outs[6]}
	redo[0].Offset, redo[1].Offset = 20, 21
	r := Check(false, ins, append(outs, redo...), log, nil)
	if f := r.Failed(); len(f) > 0 || r.Duplicated != 2 {
		t.Errorf("redelivery: failures %v, duplicated %d (want none, 2)", f, r.Duplicated)
	}
}

func TestCheckLongestGap(t *testing.T) {
	ins, outs, log := history(20)
	// Partition 0's 6th output comes 3s late: its input waited 3s.
	for i := range outs {
		if outs[i].Partition == 0 && outs[i].Offset >= 5 {
			outs[i].At = outs[i].At.Add(3 * time.Second)
		}
	}
	r := Check(true, ins, outs, log, nil)
	if r.LongestGap < 3*time.Second || r.LongestGap > 3*time.Second+10*time.Millisecond || r.GapPartition != 0 {
		t.Errorf("longest gap %s on partition %d, want about 3s on 0", r.LongestGap, r.GapPartition)
	}
}

func TestParseOutput(t *testing.T) {
	id, n, at, err := parseOutput("42 7 1000000")
	if err != nil || id != 42 || n != 7 || !at.Equal(time.Unix(1, 0)) {
		t.Errorf("parse: %d %d %v %v", id, n, at, err)
	}
	for _, bad := range []string{"", "42 7", "x 7 1", "42 y 1", "42 7 z"} {
		if _, _, _, err := parseOutput(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}
