package harness

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/kafmesh/kafmesh/bench/internal/workload"
)

// readAll reads topic from the start with read_committed until want
// records arrived and then one more quiet second passed, or until nothing
// arrived for 10s.
func readAll(ctx context.Context, brokers []string, topic string, want int) ([]*kgo.Record, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	out := make([]*kgo.Record, 0, want)
	for {
		quiet := 10 * time.Second
		if len(out) >= want {
			quiet = time.Second
		}
		pctx, cancel := context.WithTimeout(ctx, quiet)
		fs := cl.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		n := 0
		fs.EachRecord(func(r *kgo.Record) { out = append(out, r); n++ })
		if n == 0 {
			return out, nil
		}
	}
}

// keyIndex parses "<prefix><n>".
func keyIndex(key []byte, prefix string) (int, bool) {
	s, ok := strings.CutPrefix(string(key), prefix)
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}

func int64Value(b []byte) (int64, error) {
	var v wrapperspb.Int64Value
	if err := proto.Unmarshal(b, &v); err != nil {
		return 0, err
	}
	return v.GetValue(), nil
}

// checkCounts checks W1: exactly one output per input, and each key's last
// count equals its number of inputs.
func checkCounts(spec workload.Spec, outs []*kgo.Record) error {
	if len(outs) != spec.Records {
		return fmt.Errorf("%d outputs for %d inputs", len(outs), spec.Records)
	}
	last := make([]int64, spec.Keys)
	for _, r := range outs {
		k, ok := keyIndex(r.Key, "key-")
		if !ok || k >= spec.Keys {
			return fmt.Errorf("output with unknown key %q", r.Key)
		}
		n, err := int64Value(r.Value)
		if err != nil {
			return fmt.Errorf("output of %s: %w", r.Key, err)
		}
		if n > last[k] {
			last[k] = n
		}
	}
	for k, n := range last {
		if want := spec.ExpectedCount(k); n != want {
			return fmt.Errorf("key-%d counted %d, want %d", k, n, want)
		}
	}
	return nil
}

// checkEnriched checks W3: one output per input, each carrying its key's
// customer and that customer's name.
func checkEnriched(spec workload.Spec, outs []*kgo.Record) error {
	if len(outs) != spec.Records {
		return fmt.Errorf("%d outputs for %d inputs", len(outs), spec.Records)
	}
	perKey := make([]int, spec.Keys)
	for _, r := range outs {
		k, ok := keyIndex(r.Key, "key-")
		if !ok || k >= spec.Keys {
			return fmt.Errorf("output with unknown key %q", r.Key)
		}
		var v wrapperspb.StringValue
		if err := proto.Unmarshal(r.Value, &v); err != nil {
			return fmt.Errorf("output of %s: %w", r.Key, err)
		}
		if want := spec.Enriched(k); v.GetValue() != want {
			return fmt.Errorf("output of %s is %q, want %q", r.Key, v.GetValue(), want)
		}
		perKey[k]++
	}
	for k, n := range perKey {
		if want := int(spec.ExpectedCount(k)); n != want {
			return fmt.Errorf("key-%d has %d outputs, want %d", k, n, want)
		}
	}
	return nil
}

// checkRestored checks W2: every probe's output is its restored count plus
// one, which only a fully restored state gives.
func checkRestored(spec workload.Spec, outs []*kgo.Record) error {
	if len(outs) != spec.Probes {
		return fmt.Errorf("%d outputs for %d probes", len(outs), spec.Probes)
	}
	want := map[int]int64{}
	for p := range spec.Probes {
		i := spec.Probe(p)
		want[i] = workload.RestoredCount(i) + 1
	}
	for _, r := range outs {
		i, ok := keyIndex(r.Key, "rkey-")
		w, probed := want[i]
		if !ok || !probed {
			return fmt.Errorf("output with unexpected key %q", r.Key)
		}
		n, err := int64Value(r.Value)
		if err != nil {
			return fmt.Errorf("output of %s: %w", r.Key, err)
		}
		if n != w {
			return fmt.Errorf("%s counted %d after restore, want %d (restored %d + 1)", r.Key, n, w, w-1)
		}
		delete(want, i)
	}
	if len(want) > 0 {
		return fmt.Errorf("%d probes have no output", len(want))
	}
	return nil
}
