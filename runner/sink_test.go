package runner_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafmesh/kafmesh/kafmeshtest"
	"github.com/kafmesh/kafmesh/runner"
)

func sinkSpec(topic, group string) runner.SinkSpec {
	return runner.SinkSpec{
		Component: "export", Name: "store", Description: "writes events to the store", Group: group,
		TopicRef: runner.TopicRef{Topic: topic, Message: "google.protobuf.StringValue", Type: runner.TopicProtobuf},
	}
}

// sinkRecords are n records key-(i%keys) = value-i; every tombstoneEvery-th
// is a tombstone instead (0: none).
func sinkRecords(topic string, from, to, keys, tombstoneEvery int) []*kgo.Record {
	var rs []*kgo.Record
	for i := from; i < to; i++ {
		r := &kgo.Record{Topic: topic, Key: fmt.Appendf(nil, "key-%d", i%keys)}
		if tombstoneEvery == 0 || i%tombstoneEvery != 0 {
			r.Value = strValue(fmt.Sprintf("value-%d", i))
		}
		rs = append(rs, r)
	}
	return rs
}

// expectFlushed checks that the sink flushed exactly the records of the
// topic, with their keys, values and tombstones.
func expectFlushed(t testing.TB, brokers []string, topic string, sinks ...*memorySink) {
	t.Helper()
	want := map[[2]int64]sinkRecord{}
	for _, r := range readToEnd(t, brokers, topic) {
		sr := sinkRecord{Key: string(r.Key), Partition: r.Partition, Offset: r.Offset, Deleted: r.Value == nil}
		if r.Value != nil {
			m, err := stringCodec.Decode(r.Value)
			if err != nil {
				t.Fatal(err)
			}
			sr.Value = m.GetValue()
		}
		want[[2]int64{int64(r.Partition), r.Offset}] = sr
	}
	got := map[[2]int64]sinkRecord{}
	for _, s := range sinks {
		for _, r := range s.snapshot() {
			got[[2]int64{int64(r.Partition), r.Offset}] = r
		}
	}
	if len(got) != len(want) {
		t.Errorf("flushed %d distinct records, the topic has %d", len(got), len(want))
	}
	for k, w := range want {
		if g, ok := got[k]; !ok {
			t.Errorf("record %v was never flushed", w)
		} else if g != w {
			t.Errorf("flushed %v, the topic has %v", g, w)
		}
	}
}

func expectCommittedToEnd(t testing.TB, brokers []string, group, topic string) {
	t.Helper()
	got, want := committed(t, brokers, group, topic), endOffsets(t, brokers, topic)
	if !maps.Equal(got, want) {
		t.Errorf("committed offsets %v, want the end offsets %v", got, want)
	}
}

func TestSinkFlushesBySize(t *testing.T) {
	brokers := kafmeshtest.StartBroker(t)
	topic, group := kafmeshtest.Unique(t, "events"), kafmeshtest.Unique(t, "sink")
	kafmeshtest.CreateTopic(t, brokers, topic, 3, false)
	s := newService(t, brokers, "sinks", t.TempDir())
	h := newMemorySink()
	if err := runner.NewSink(s, sinkSpec(topic, group), stringCodec, h, runner.BatchSize(10), runner.Interval(time.Hour)); err != nil {
		t.Fatal(err)
	}
	stop := running(t, s)
	produce(t, client(t, brokers), sinkRecords(topic, 0, 35, 7, 0)...)

	waitUntil(t, 60*time.Second, func() string {
		if collected, flushed, _ := h.counts(); collected < 35 || flushed < 30 {
			return fmt.Sprintf("collected %d of 35 and flushed %d of the first 30 records", collected, flushed)
		}
		return ""
	})
	// The interval is an hour: only full batches flush while running.
	if _, _, sizes := h.counts(); fmt.Sprint(sizes) != "[10 10 10]" {
		t.Errorf("flush sizes while running %v, want [10 10 10]", sizes)
	}
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	// Shutdown flushes the rest.
	if _, _, sizes := h.counts(); fmt.Sprint(sizes) != "[10 10 10 5]" {
		t.Errorf("flush sizes %v, want [10 10 10 5]", sizes)
	}
	expectFlushed(t, brokers, topic, h)
	expectCommittedToEnd(t, brokers, group, topic)
	g := s.Gatherer()
	if n := metric(t, g, "kafmesh_sink_records_total", map[string]string{"component": "export", "part": "store"}); n != 35 {
		t.Errorf("kafmesh_sink_records_total = %v, want 35", n)
	}
	if n := metric(t, g, "kafmesh_sink_batch_records", map[string]string{"component": "export", "part": "store"}); n != 4 {
		t.Errorf("kafmesh_sink_batch_records observed %v batches, want 4", n)
	}
	if n := metric(t, g, "kafmesh_sink_flush_seconds", map[string]string{"component": "export", "part": "store"}); n != 4 {
		t.Errorf("kafmesh_sink_flush_seconds observed %v flushes, want 4", n)
	}
}

func TestSinkFlushesByInterval(t *testing.T) {
	brokers := kafmeshtest.StartBroker(t)
	topic, group := kafmeshtest.Unique(t, "events"), kafmeshtest.Unique(t, "sink")
	kafmeshtest.CreateTopic(t, brokers, topic, 2, false)
	s := newService(t, brokers, "sinks", t.TempDir())
	h := newMemorySink()
	if err := runner.NewSink(s, sinkSpec(topic, group), stringCodec, h, runner.BatchSize(100000), runner.Interval(200*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	stop := running(t, s)
	produce(t, client(t, brokers), sinkRecords(topic, 0, 7, 3, 0)...)
	// Far below the batch size, and the service keeps running: only the
	// interval can flush these.
	waitUntil(t, 60*time.Second, func() string {
		if _, flushed, _ := h.counts(); flushed < 7 {
			return fmt.Sprintf("flushed %d of 7 records while running", flushed)
		}
		return ""
	})
	waitUntil(t, 30*time.Second, func() string {
		if got, want := committed(t, brokers, group, topic), endOffsets(t, brokers, topic); !maps.Equal(got, want) {
			return fmt.Sprintf("committed %v while running, want %v", got, want)
		}
		return ""
	})
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	expectFlushed(t, brokers, topic, h)
}

// Shutdown flushes the open batch and commits it; a new member of the group
// then receives nothing twice.
func TestSinkShutdownFlushesAndCommits(t *testing.T) {
	brokers := kafmeshtest.StartBroker(t)
	topic, group := kafmeshtest.Unique(t, "events"), kafmeshtest.Unique(t, "sink")
	kafmeshtest.CreateTopic(t, brokers, topic, 4, false)
	cl := client(t, brokers)

	s := newService(t, brokers, "sinks", t.TempDir())
	h := newMemorySink()
	if err := runner.NewSink(s, sinkSpec(topic, group), stringCodec, h, runner.BatchSize(100000), runner.Interval(time.Hour)); err != nil {
		t.Fatal(err)
	}
	stop := running(t, s)
	const total = 200
	produce(t, cl, sinkRecords(topic, 0, total, 13, 10)...)
	waitUntil(t, 60*time.Second, func() string {
		if collected, _, _ := h.counts(); collected < total {
			return fmt.Sprintf("collected %d of %d", collected, total)
		}
		return ""
	})
	if _, _, sizes := h.counts(); len(sizes) != 0 {
		t.Fatalf("flushed %v before shutdown with an hour's interval and a 100000 batch", sizes)
	}
	if got := committed(t, brokers, group, topic); len(got) != 0 {
		t.Fatalf("committed %v before anything was flushed", got)
	}
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if _, _, sizes := h.counts(); fmt.Sprint(sizes) != "[200]" {
		t.Fatalf("flush sizes %v, want one shutdown flush of 200", sizes)
	}
	expectFlushed(t, brokers, topic, h)
	tombstones := 0
	for _, r := range h.snapshot() {
		if r.Deleted {
			tombstones++
		}
	}
	if tombstones != total/10 {
		t.Errorf("%d tombstones reached Collect as deletes, want %d", tombstones, total/10)
	}
	expectCommittedToEnd(t, brokers, group, topic)

	// A new member of the group starts after the commit: it sees only
	// what is produced from now on.
	s2 := newService(t, brokers, "sinks", t.TempDir())
	h2 := newMemorySink()
	if err := runner.NewSink(s2, sinkSpec(topic, group), stringCodec, h2, runner.BatchSize(100000), runner.Interval(time.Hour)); err != nil {
		t.Fatal(err)
	}
	stop2 := running(t, s2)
	produce(t, cl, &kgo.Record{Topic: topic, Key: []byte("marker"), Value: strValue("after restart")})
	waitUntil(t, 60*time.Second, func() string {
		if collected, _, _ := h2.counts(); collected < 1 {
			return "the marker was not collected"
		}
		return ""
	})
	if err := stop2(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	got := h2.snapshot()
	if len(got) != 1 || got[0].Key != "marker" || got[0].Value != "after restart" {
		t.Errorf("after restart the sink flushed %v, want only the marker", got)
	}
}

// Two members share the group; partitions move when the second joins and
// when the first leaves. Nothing is lost, and at no time is an offset
// committed that no member flushed.
func TestSinkRebalanceLosesNothingAndCommitsNothingUnflushed(t *testing.T) {
	brokers := kafmeshtest.StartBroker(t)
	topic, group := kafmeshtest.Unique(t, "events"), kafmeshtest.Unique(t, "sink")
	kafmeshtest.CreateTopic(t, brokers, topic, 6, false)
	cl := client(t, brokers)

	// Only rebalances and shutdowns can flush.
	opts := []runner.PartOption{runner.BatchSize(1_000_000), runner.Interval(time.Hour)}
	hA, hB := newMemorySink(), newMemorySink()
	sA := newService(t, brokers, "sinks", t.TempDir(), runner.WithClientID("sink-a"))
	if err := runner.NewSink(sA, sinkSpec(topic, group), stringCodec, hA, opts...); err != nil {
		t.Fatal(err)
	}
	sB := newService(t, brokers, "sinks", t.TempDir(), runner.WithClientID("sink-b"))
	if err := runner.NewSink(sB, sinkSpec(topic, group), stringCodec, hB, opts...); err != nil {
		t.Fatal(err)
	}

	// Watch the invariant the whole time: every committed offset is
	// preceded only by flushed records. Commits are read before flushes,
	// and flushes only grow, so a violation is real.
	var (
		checkMu    sync.Mutex
		violations []string
		checks     int
	)
	adm := kadm.NewClient(client(t, brokers))
	checkDone := make(chan struct{})
	checkStopped := make(chan struct{})
	var stopCheck sync.Once
	stopChecking := func() {
		stopCheck.Do(func() { close(checkDone) })
		<-checkStopped
	}
	t.Cleanup(stopChecking) // before the admin client closes
	go func() {
		defer close(checkStopped)
		for {
			select {
			case <-checkDone:
				return
			case <-time.After(30 * time.Millisecond):
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			resp, err := adm.FetchOffsets(ctx, group)
			cancel()
			if errors.Is(err, kerr.GroupIDNotFound) {
				err = nil // no commit yet
			}
			offsets := map[int32]int64{}
			if err == nil {
				resp.Each(func(o kadm.OffsetResponse) {
					if o.Topic == topic && o.Err == nil && o.At >= 0 {
						offsets[o.Partition] = o.At
					}
				})
			}
			checkMu.Lock()
			if err != nil {
				violations = append(violations, fmt.Sprintf("fetch committed offsets: %v", err))
				checkMu.Unlock()
				return
			}
			checks++
			for p, off := range offsets {
				for o := int64(0); o < off; o++ {
					if !hA.has(p, o) && !hB.has(p, o) {
						violations = append(violations, fmt.Sprintf("partition %d committed at %d but offset %d was not flushed", p, off, o))
						break
					}
				}
			}
			checkMu.Unlock()
		}
	}()

	stopA := running(t, sA)
	produce(t, cl, sinkRecords(topic, 0, 300, 50, 0)...)
	waitUntil(t, 60*time.Second, func() string {
		if collected, _, _ := hA.counts(); collected < 300 {
			return fmt.Sprintf("A collected %d of 300", collected)
		}
		return ""
	})

	// B joins: A must flush before giving partitions up (nothing else can
	// make it flush while it runs).
	stopB := running(t, sB)
	waitUntil(t, 60*time.Second, func() string {
		if _, flushed, _ := hA.counts(); flushed < 300 {
			return fmt.Sprintf("A flushed %d of 300 records when B joined", flushed)
		}
		return ""
	})
	produce(t, cl, sinkRecords(topic, 300, 600, 50, 0)...)
	waitUntil(t, 60*time.Second, func() string {
		a, _, _ := hA.counts()
		b, _, _ := hB.counts()
		if a+b < 600 {
			return fmt.Sprintf("A and B collected %d of 600", a+b)
		}
		return ""
	})
	if _, _, sizes := hB.counts(); len(sizes) != 0 {
		t.Logf("B flushed batches %v (a later rebalance)", sizes)
	}

	// A leaves: it flushes at shutdown, and B takes its partitions.
	if err := stopA(); err != nil {
		t.Fatalf("Run A: %v", err)
	}
	produce(t, cl, sinkRecords(topic, 600, 900, 50, 0)...)
	ends := endOffsets(t, brokers, topic)
	waitUntil(t, 60*time.Second, func() string {
		for p, end := range ends {
			for o := int64(0); o < end; o++ {
				if !hA.has(p, o) && !hB.seenAt(p, o) {
					return fmt.Sprintf("partition %d offset %d neither flushed by A nor collected by B", p, o)
				}
			}
		}
		return ""
	})
	if err := stopB(); err != nil {
		t.Fatalf("Run B: %v", err)
	}
	stopChecking()

	checkMu.Lock()
	defer checkMu.Unlock()
	if checks < 3 {
		t.Errorf("the commit invariant was checked only %d times", checks)
	}
	for _, v := range violations {
		t.Error(v)
	}
	if msg := flushedAll(ends, hA, hB); msg != "" {
		t.Error(msg)
	}
	expectFlushed(t, brokers, topic, hA, hB)
	expectCommittedToEnd(t, brokers, group, topic)
}

// A Flush that keeps failing stops the service and commits nothing; a
// restart flushes everything.
func TestSinkFailedFlushCommitsNothing(t *testing.T) {
	brokers := kafmeshtest.StartBroker(t)
	topic, group := kafmeshtest.Unique(t, "events"), kafmeshtest.Unique(t, "sink")
	kafmeshtest.CreateTopic(t, brokers, topic, 3, false)
	produce(t, client(t, brokers), sinkRecords(topic, 0, 25, 5, 0)...)

	s := newService(t, brokers, "sinks", t.TempDir())
	h := newMemorySink()
	h.failFlush = func(int) error { return errors.New("store is down") }
	if err := runner.NewSink(s, sinkSpec(topic, group), stringCodec, h, runner.BatchSize(10), runner.Interval(time.Hour)); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(t.Context()) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "store is down") {
			t.Fatalf("Run = %v, want the flush error", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("Run did not stop after the flush failed")
	}
	if got := committed(t, brokers, group, topic); len(got) != 0 {
		t.Fatalf("committed %v after every flush failed", got)
	}
	if n := metric(t, s.Gatherer(), "kafmesh_sink_errors_total", map[string]string{"component": "export", "part": "store", "outcome": "flush_failed"}); n != 1 {
		t.Errorf("flush_failed errors = %v, want 1", n)
	}

	s2 := newService(t, brokers, "sinks", t.TempDir())
	h2 := newMemorySink()
	if err := runner.NewSink(s2, sinkSpec(topic, group), stringCodec, h2, runner.BatchSize(10), runner.Interval(100*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	stop := running(t, s2)
	waitUntil(t, 60*time.Second, func() string {
		if _, flushed, _ := h2.counts(); flushed < 25 {
			return fmt.Sprintf("after restart flushed %d of 25", flushed)
		}
		return ""
	})
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	expectFlushed(t, brokers, topic, h2)
	expectCommittedToEnd(t, brokers, group, topic)
}

// With RetryOnError a Flush is tried again with the same batch.
func TestSinkRetriesFlush(t *testing.T) {
	brokers := kafmeshtest.StartBroker(t)
	topic, group := kafmeshtest.Unique(t, "events"), kafmeshtest.Unique(t, "sink")
	kafmeshtest.CreateTopic(t, brokers, topic, 1, false)
	produce(t, client(t, brokers), sinkRecords(topic, 0, 5, 5, 0)...)

	s := newService(t, brokers, "sinks", t.TempDir())
	h := newMemorySink()
	h.failFlush = func(call int) error {
		if call <= 2 {
			return fmt.Errorf("transient failure %d", call)
		}
		return nil
	}
	if err := runner.NewSink(s, sinkSpec(topic, group), stringCodec, h, runner.BatchSize(5), runner.Interval(time.Hour),
		runner.OnError(runner.RetryOnError(2, 10*time.Millisecond, runner.FailOnError()))); err != nil {
		t.Fatal(err)
	}
	stop := running(t, s)
	waitUntil(t, 60*time.Second, func() string {
		if _, flushed, _ := h.counts(); flushed < 5 {
			return fmt.Sprintf("flushed %d of 5", flushed)
		}
		return ""
	})
	waitUntil(t, 30*time.Second, func() string {
		if got, want := committed(t, brokers, group, topic), endOffsets(t, brokers, topic); !maps.Equal(got, want) {
			return fmt.Sprintf("committed %v, want %v", got, want)
		}
		return ""
	})
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if _, _, sizes := h.counts(); fmt.Sprint(sizes) != "[5]" {
		t.Errorf("flush sizes %v, want the one batch of 5 flushed once", sizes)
	}
	if n := metric(t, s.Gatherer(), "kafmesh_sink_errors_total", map[string]string{"component": "export", "part": "store", "outcome": "flush_retried"}); n != 2 {
		t.Errorf("flush_retried = %v, want 2", n)
	}
}

func TestSinkErrorPolicies(t *testing.T) {
	for _, tc := range []struct {
		name   string
		policy runner.ErrorPolicy
	}{
		{"dead-letter", runner.DeadLetterOnError()},
		{"skip", runner.SkipOnError()},
		{"fail", runner.FailOnError()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			brokers := kafmeshtest.StartBroker(t)
			topic, group := kafmeshtest.Unique(t, "events"), kafmeshtest.Unique(t, "sink")
			kafmeshtest.CreateTopic(t, brokers, topic, 1, false)
			rs := sinkRecords(topic, 0, 10, 4, 0)
			rs = append(rs,
				&kgo.Record{Topic: topic, Key: []byte("poison"), Value: strValue("bad"), Headers: []kgo.RecordHeader{{Key: "trace", Value: []byte("t1")}}},
				&kgo.Record{Topic: topic, Key: []byte("garbled"), Value: []byte{0x0a, 0xff}}, // truncated field: undecodable
			)
			rs = append(rs, sinkRecords(topic, 10, 15, 4, 0)...)
			produce(t, client(t, brokers), rs...)

			s := newService(t, brokers, "sinks", t.TempDir())
			h := newMemorySink()
			h.failCollect = func(key string) error {
				if key == "poison" {
					return errors.New("cannot store poison")
				}
				return nil
			}
			if err := runner.NewSink(s, sinkSpec(topic, group), stringCodec, h,
				runner.BatchSize(1000), runner.Interval(100*time.Millisecond), runner.OnError(tc.policy)); err != nil {
				t.Fatal(err)
			}
			if err := s.ConfigureTopics(t.Context()); err != nil {
				t.Fatal(err)
			}
			g := s.Gatherer()
			errs := func(outcome string) float64 {
				return metric(t, g, "kafmesh_sink_errors_total", map[string]string{"component": "export", "part": "store", "outcome": outcome})
			}

			if tc.name == "fail" {
				done := make(chan error, 1)
				go func() { done <- s.Run(t.Context()) }()
				select {
				case err := <-done:
					if err == nil || !strings.Contains(err.Error(), "offset 10") || !strings.Contains(err.Error(), "cannot store poison") {
						t.Fatalf("Run = %v, want the collect error at offset 10", err)
					}
				case <-time.After(60 * time.Second):
					t.Fatal("Run did not stop at the poison record")
				}
				if got := committed(t, brokers, group, topic); len(got) != 0 {
					t.Errorf("committed %v after the sink failed in its first batch", got)
				}
				if _, flushed, _ := h.counts(); flushed != 0 {
					t.Errorf("flushed %d records of a batch that failed", flushed)
				}
				if errs("failed") != 1 {
					t.Errorf("failed = %v, want 1", errs("failed"))
				}
				return
			}

			stop := running(t, s)
			waitUntil(t, 60*time.Second, func() string {
				if _, flushed, _ := h.counts(); flushed < 15 {
					return fmt.Sprintf("flushed %d of 15 good records", flushed)
				}
				return ""
			})
			waitUntil(t, 30*time.Second, func() string {
				if got, want := committed(t, brokers, group, topic), endOffsets(t, brokers, topic); !maps.Equal(got, want) {
					return fmt.Sprintf("committed %v, want %v (past the failed records)", got, want)
				}
				return ""
			})
			if err := stop(); err != nil {
				t.Fatalf("Run: %v", err)
			}
			for _, r := range h.snapshot() {
				if r.Key == "poison" || r.Key == "garbled" {
					t.Errorf("the failed record %v was flushed", r)
				}
			}
			if errs("undecodable") != 1 {
				t.Errorf("undecodable = %v, want 1", errs("undecodable"))
			}
			if tc.name == "skip" {
				if errs("skipped") != 2 {
					t.Errorf("skipped = %v, want 2", errs("skipped"))
				}
				return
			}
			if errs("dead_lettered") != 2 {
				t.Errorf("dead_lettered = %v, want 2", errs("dead_lettered"))
			}
			dead := consumeN(t, brokers, group+"-dlq", 2, 30*time.Second)
			for _, d := range dead {
				h := map[string]string{}
				for _, hd := range d.Headers {
					h[hd.Key] = string(hd.Value)
				}
				wantOffset, wantErr, wantValue := "10", "cannot store poison", strValue("bad")
				if string(d.Key) == "garbled" {
					wantOffset, wantErr, wantValue = "11", "undecodable", []byte{0x0a, 0xff}
				} else if h["trace"] != "t1" {
					t.Errorf("dead letter lost the record's own header: %v", h)
				}
				if h["kafmesh-topic"] != topic || h["kafmesh-partition"] != "0" || h["kafmesh-offset"] != wantOffset ||
					h["kafmesh-group"] != group || !strings.Contains(h["kafmesh-error"], wantErr) {
					t.Errorf("dead letter %s headers %v", d.Key, h)
				}
				if string(d.Value) != string(wantValue) {
					t.Errorf("dead letter %s value %q, want the record's value %q", d.Key, d.Value, wantValue)
				}
			}
		})
	}
}
