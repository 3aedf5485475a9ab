package runner_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafmesh/kafmesh/kafmeshtest"
	"github.com/kafmesh/kafmesh/runner"
)

// TestProcessorResumesRestoredPartitionsPromptly starts a stateful processor
// on 1,000 waiting records in 8 partitions, 20 times, alternating
// at-least-once and exactly-once. Each partition is paused until its
// (empty) restore finishes; the restores finish a few milliseconds apart,
// so most partitions resume while a fetch of the others is in flight. That
// fetch must not hold them back: the first output must be visible to a
// read_committed consumer within 1s of Run, and all outputs within 2.5s (a
// fetch held for franz-go's default 5s max wait would miss both).
func TestProcessorResumesRestoredPartitionsPromptly(t *testing.T) {
	brokers := kafmeshtest.StartBroker(t)
	const records, partitions, repeats = 1000, 8, 20
	in := kafmeshtest.Unique(t, "in")
	kafmeshtest.CreateTopic(t, brokers, in, partitions, false)
	produce(t, client(t, brokers, kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil))),
		inputRecords(in, 0, records, 100)...)

	var worstFirst, worstAll time.Duration
	for i := range repeats {
		var opts []runner.PartOption
		mode := "at-least-once"
		if i%2 == 1 {
			opts, mode = []runner.PartOption{runner.ExactlyOnce()}, "exactly-once"
		}
		c := counter{in: in, out: kafmeshtest.Unique(t, "out"), group: kafmeshtest.Unique(t, "resume"), opts: opts}
		kafmeshtest.CreateTopic(t, brokers, c.out, partitions, false)
		s := newService(t, brokers, "resume", t.TempDir())
		c.register(t, s)
		if err := s.ConfigureTopics(t.Context()); err != nil {
			t.Fatal(err)
		}
		out := client(t, brokers, kgo.ConsumeTopics(c.out), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
			kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.FetchMaxWait(50*time.Millisecond))

		start := time.Now()
		stop := running(t, s)
		firstAt, allAt, err := waitOutputs(out, records, 10*time.Second)
		if stopErr := stop(); stopErr != nil {
			t.Fatalf("run %d (%s): Run: %v", i, mode, stopErr)
		}
		out.Close()
		if err != nil {
			t.Fatalf("run %d (%s): %v", i, mode, err)
		}
		first, all := firstAt.Sub(start), allAt.Sub(start)
		t.Logf("run %d (%s): first output after %v, all %d after %v", i, mode, first.Round(time.Millisecond), records, all.Round(time.Millisecond))
		if first > time.Second {
			t.Errorf("run %d (%s): the first output came %v after Run, want at most 1s", i, mode, first)
		}
		if all > 2500*time.Millisecond {
			t.Errorf("run %d (%s): the last of %d outputs came %v after Run, want at most 2.5s", i, mode, records, all)
		}
		worstFirst, worstAll = max(worstFirst, first), max(worstAll, all)
	}
	t.Logf("worst of %d runs: first output %v, all outputs %v", repeats, worstFirst, worstAll)
}

// waitOutputs polls cl until n records arrived and returns when the first
// and the n-th were seen.
func waitOutputs(cl *kgo.Client, n int, timeout time.Duration) (first, all time.Time, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	seen := 0
	for seen < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return first, all, fmt.Errorf("saw %d of %d outputs within %v", seen, n, timeout)
		}
		if k := fs.NumRecords(); k > 0 {
			if seen == 0 {
				first = time.Now()
			}
			seen += k
		}
	}
	return first, time.Now(), nil
}

// TestProcessorCommitsWhenInputIdles: with a commit interval of a minute,
// the offsets of the last records (and, exactly-once, their outputs) are
// still committed as soon as the input is idle, not at the next tick.
func TestProcessorCommitsWhenInputIdles(t *testing.T) {
	for _, mode := range []struct {
		name string
		opts []runner.PartOption
	}{{"at-least-once", nil}, {"exactly-once", []runner.PartOption{runner.ExactlyOnce()}}} {
		t.Run(mode.name, func(t *testing.T) {
			brokers := kafmeshtest.StartBroker(t)
			c := newCounter(t, append(mode.opts, runner.CommitInterval(time.Minute))...)
			kafmeshtest.CreateTopic(t, brokers, c.in, 4, false)
			s := newService(t, brokers, "idle", t.TempDir())
			c.register(t, s)
			if err := s.ConfigureTopics(t.Context()); err != nil {
				t.Fatal(err)
			}
			stop := running(t, s)
			const total = 200
			produce(t, client(t, brokers), inputRecords(c.in, 0, total, 10)...)
			start := time.Now()
			// read_committed: exactly-once outputs show only once committed.
			consumeN(t, brokers, c.out, total, 10*time.Second)
			adm := kadm.NewClient(client(t, brokers))
			for {
				offs, err := adm.FetchOffsets(t.Context(), c.group)
				var at int64
				if err == nil {
					offs.Each(func(o kadm.OffsetResponse) { at += max(o.At, 0) })
				}
				if at == total {
					break
				}
				if time.Since(start) > 10*time.Second {
					t.Fatalf("the group committed %d of %d offsets 10s after the input went idle (commit interval 1m)", at, total)
				}
				time.Sleep(20 * time.Millisecond)
			}
			t.Logf("all %d offsets committed %v after the input was written", total, time.Since(start).Round(time.Millisecond))
			if err := stop(); err != nil {
				t.Fatal(err)
			}
		})
	}
}
