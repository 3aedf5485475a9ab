package harness

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafmesh/kafmesh/bench/internal/workload"
)

func smallSpec() workload.Spec {
	s := workload.Default()
	s.Records, s.Keys, s.Customers, s.Probes = 250, 7, 5, 20
	return s
}

// countOutputs is what a correct count-by-key emits for spec.
func countOutputs(spec workload.Spec) []*kgo.Record {
	counts := map[string]int64{}
	var out []*kgo.Record
	for i := range spec.Records {
		k := spec.Key(i)
		counts[k]++
		out = append(out, &kgo.Record{Key: []byte(k), Value: workload.Int64Value(counts[k])})
	}
	return out
}

func TestCheckCounts(t *testing.T) {
	spec := smallSpec()
	if err := checkCounts(spec, countOutputs(spec)); err != nil {
		t.Fatalf("correct output refused: %v", err)
	}
	lost := countOutputs(spec)
	lost = lost[:len(lost)-1]
	if checkCounts(spec, lost) == nil {
		t.Error("a lost output passed")
	}
	dup := countOutputs(spec)
	dup = append(dup[:len(dup)-1], dup[0])
	if checkCounts(spec, dup) == nil {
		t.Error("a duplicate in place of the last output passed")
	}
	wrong := countOutputs(spec)
	wrong[len(wrong)-1].Value = workload.Int64Value(1000)
	if checkCounts(spec, wrong) == nil {
		t.Error("a wrong final count passed")
	}
	undecodable := countOutputs(spec)
	undecodable[3].Value = []byte{0xff}
	if checkCounts(spec, undecodable) == nil {
		t.Error("an undecodable output passed")
	}
}

func TestCheckEnriched(t *testing.T) {
	spec := smallSpec()
	good := func() []*kgo.Record {
		var out []*kgo.Record
		for i := range spec.Records {
			out = append(out, &kgo.Record{Key: []byte(spec.Key(i)), Value: workload.StringValue(spec.Enriched(i % spec.Keys))})
		}
		return out
	}
	if err := checkEnriched(spec, good()); err != nil {
		t.Fatalf("correct output refused: %v", err)
	}
	bad := good()
	bad[10].Value = workload.StringValue("cust-1|")
	if checkEnriched(spec, bad) == nil {
		t.Error("a missing lookup passed")
	}
	moved := good()
	moved[0].Key = moved[1].Key
	if checkEnriched(spec, moved) == nil {
		t.Error("outputs under the wrong key passed")
	}
}

func TestCheckRestored(t *testing.T) {
	spec := smallSpec()
	good := func() []*kgo.Record {
		var out []*kgo.Record
		for p := range spec.Probes {
			i := spec.Probe(p)
			out = append(out, &kgo.Record{Key: []byte(workload.RestoreKey(i)), Value: workload.Int64Value(workload.RestoredCount(i) + 1)})
		}
		return out
	}
	if err := checkRestored(spec, good()); err != nil {
		t.Fatalf("correct output refused: %v", err)
	}
	fresh := good()
	fresh[5].Value = workload.Int64Value(1) // counted on an empty state
	if checkRestored(spec, fresh) == nil {
		t.Error("a probe counted without its restored state passed")
	}
	twice := good()
	twice[1] = twice[0]
	if checkRestored(spec, twice) == nil {
		t.Error("one probe output twice, another missing, passed")
	}
}

func TestKeyIndex(t *testing.T) {
	for _, c := range []struct {
		key string
		n   int
		ok  bool
	}{{"key-12", 12, true}, {"key-", 0, false}, {"rkey-3", 0, false}, {"key-x", 0, false}} {
		n, ok := keyIndex([]byte(c.key), "key-")
		if n != c.n || ok != c.ok {
			t.Errorf("keyIndex(%q) = %d, %v; want %d, %v", c.key, n, ok, c.n, c.ok)
		}
	}
}
