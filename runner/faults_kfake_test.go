package runner_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafmesh/kafmesh/kafmeshtest"
	"github.com/kafmesh/kafmesh/runner"
)

// The fault-injection tests run against an in-process kfake cluster of
// their own (whatever KAFMESH_TEST_BROKERS says), whose control hooks
// fail chosen requests.

func faultCluster(t *testing.T) (*kfake.Cluster, []string) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c, c.ListenAddrs()
}

// runCounter starts a counter service on brokers, feeds it total records
// over keys keys, and returns it with its stop function once the group
// committed them all.
func runCounter(t *testing.T, brokers []string, c counter, opts ...runner.Option) (*runner.Service, func() error) {
	t.Helper()
	kafmeshtest.CreateTopic(t, brokers, c.in, 4, false)
	s := newService(t, brokers, "faults", t.TempDir(), opts...)
	c.register(t, s)
	if err := s.ConfigureTopics(t.Context()); err != nil {
		t.Fatal(err)
	}
	return s, running(t, s)
}

// expectExact checks the counts in the outputs (highest per key) and in the
// changelog (last per key).
func expectExact(t *testing.T, brokers []string, c counter, total, keys int) {
	t.Helper()
	expectCounts(t, lastCounts(t, consumeQuiet(t, brokers, c.out, time.Second)), total, keys)
	expectCounts(t, lastValues(t, consumeQuiet(t, brokers, c.group+"-table", time.Second)), total, keys)
}

// failOffsetCommits makes the next n OffsetCommit requests fail with err on
// every partition, as the coordinator answers a member it evicted.
func failOffsetCommits(cl *kfake.Cluster, n int32, err *kerr.Error, failed *atomic.Int32) {
	cl.ControlKey(int16(kmsg.OffsetCommit), func(req kmsg.Request) (kmsg.Response, error, bool) {
		if failed.Load() >= n {
			return nil, nil, false
		}
		cl.KeepControl()
		failed.Add(1)
		r := req.(*kmsg.OffsetCommitRequest)
		resp := r.ResponseKind().(*kmsg.OffsetCommitResponse)
		for _, rt := range r.Topics {
			st := kmsg.NewOffsetCommitResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewOffsetCommitResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = err.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
}

// TestFencedCommitDiscardsStateAndRejoins: at-least-once, the coordinator
// refuses commits as it does from an evicted member. The processor must
// not write the refused batch's state anywhere, must rejoin instead of
// exiting, restore, redo the batch, and end with exact counts.
func TestFencedCommitDiscardsStateAndRejoins(t *testing.T) {
	cl, brokers := faultCluster(t)
	c := newCounter(t, runner.CommitInterval(50*time.Millisecond))
	s, stop := runCounter(t, brokers, c)
	const keys, batch = 20, 500
	prod := client(t, brokers)
	produce(t, prod, inputRecords(c.in, 0, batch, keys)...)
	waitGroupCommitted(t, brokers, c.group, c.in, 30*time.Second)

	var failed atomic.Int32
	failOffsetCommits(cl, 3, kerr.IllegalGeneration, &failed)
	produce(t, prod, inputRecords(c.in, batch, 2*batch, keys)...)
	waitGroupCommitted(t, brokers, c.group, c.in, 30*time.Second)
	if err := stop(); err != nil {
		t.Fatalf("Run: %v (a fenced commit must rejoin, not exit)", err)
	}
	if failed.Load() == 0 {
		t.Fatal("no commit was refused")
	}
	if g := metric(t, s.Gatherer(), "kafmesh_processor_restarts_total", nil); g < 1 {
		t.Errorf("restarts_total = %v, want at least 1", g)
	}
	expectExact(t, brokers, c, 2*batch, keys)
}

// TestTransactionAbortedByTheGroupIsRedone: exactly-once, the offset
// commit inside the transaction is refused (the group moved on); the
// session aborts the transaction, the state cache forgets the aborted
// changes, and the records are processed again with exact results.
func TestTransactionAbortedByTheGroupIsRedone(t *testing.T) {
	cl, brokers := faultCluster(t)
	c := newCounter(t, runner.ExactlyOnce())
	_, stop := runCounter(t, brokers, c, runner.WithInstanceID("txn-abort"))
	const keys, batch = 20, 500
	prod := client(t, brokers)
	produce(t, prod, inputRecords(c.in, 0, batch, keys)...)
	waitGroupCommitted(t, brokers, c.group, c.in, 30*time.Second)

	var failed atomic.Int32
	cl.ControlKey(int16(kmsg.TxnOffsetCommit), func(req kmsg.Request) (kmsg.Response, error, bool) {
		if failed.Load() >= 2 {
			return nil, nil, false
		}
		cl.KeepControl()
		failed.Add(1)
		r := req.(*kmsg.TxnOffsetCommitRequest)
		resp := r.ResponseKind().(*kmsg.TxnOffsetCommitResponse)
		for _, rt := range r.Topics {
			st := kmsg.NewTxnOffsetCommitResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewTxnOffsetCommitResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = kerr.IllegalGeneration.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	produce(t, prod, inputRecords(c.in, batch, 2*batch, keys)...)
	waitGroupCommitted(t, brokers, c.group, c.in, 30*time.Second)
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if failed.Load() == 0 {
		t.Fatal("no transactional offset commit was refused")
	}
	// Read committed: every count exactly once.
	outs := outputsPerKey(t, consumeQuiet(t, brokers, c.out, time.Second))
	for k, seq := range outs {
		for i, v := range seq {
			if v != int64(i+1) {
				t.Fatalf("%s: output %d is count %d, want %d (an aborted change leaked)", k, i, v, i+1)
			}
		}
	}
	expectExact(t, brokers, c, 2*batch, keys)
}

// TestCoordinatorOutageIsRiddenOut: the group coordinator stops answering
// heartbeats and joins for a few seconds (as during a broker restart). The
// member loses its session; the processor must stay up, rejoin when the
// coordinator is back, and count exactly.
func TestCoordinatorOutageIsRiddenOut(t *testing.T) {
	for _, mode := range []struct {
		name string
		opts []runner.PartOption
	}{{"at-least-once", nil}, {"exactly-once", []runner.PartOption{runner.ExactlyOnce()}}} {
		t.Run(mode.name, func(t *testing.T) {
			cl, brokers := faultCluster(t)
			c := newCounter(t, mode.opts...)
			_, stop := runCounter(t, brokers, c, runner.WithInstanceID("outage"),
				runner.WithKafkaOptions(kgo.SessionTimeout(6*time.Second), kgo.HeartbeatInterval(300*time.Millisecond),
					kgo.RetryTimeout(time.Second)))
			const keys, batch = 20, 300
			prod := client(t, brokers)
			produce(t, prod, inputRecords(c.in, 0, batch, keys)...)
			waitGroupCommitted(t, brokers, c.group, c.in, 30*time.Second)

			var down atomic.Bool
			down.Store(true)
			var refused atomic.Int32
			for _, key := range []kmsg.Key{kmsg.Heartbeat, kmsg.JoinGroup, kmsg.SyncGroup, kmsg.OffsetCommit, kmsg.TxnOffsetCommit} {
				cl.ControlKey(int16(key), func(kmsg.Request) (kmsg.Response, error, bool) {
					if !down.Load() {
						return nil, nil, false
					}
					cl.KeepControl()
					refused.Add(1)
					return nil, errOutage, true // closes the connection
				})
			}
			produce(t, prod, inputRecords(c.in, batch, 2*batch, keys)...)
			// Longer than the session timeout: the member is evicted.
			time.Sleep(7 * time.Second)
			down.Store(false)
			if refused.Load() == 0 {
				t.Fatal("the outage refused nothing")
			}
			produce(t, prod, inputRecords(c.in, 2*batch, 3*batch, keys)...)
			waitGroupCommitted(t, brokers, c.group, c.in, 60*time.Second)
			if err := stop(); err != nil {
				t.Fatalf("Run: %v (a coordinator outage must be ridden out)", err)
			}
			expectExact(t, brokers, c, 3*batch, keys)
		})
	}
}

type outageError struct{}

func (outageError) Error() string { return "injected coordinator outage" }

var errOutage error = outageError{}

// TestShutdownIsBoundedWhenCommitsHang: the coordinator stops answering
// offset commits; a stop must still return within about the shutdown
// timeout, and what was not committed is handled again by the next owner.
func TestShutdownIsBoundedWhenCommitsHang(t *testing.T) {
	cl, brokers := faultCluster(t)
	c := newCounter(t)
	_, stop := runCounter(t, brokers, c, runner.WithShutdownTimeout(2*time.Second))
	prod := client(t, brokers)
	produce(t, prod, inputRecords(c.in, 0, 100, 10)...)
	waitGroupCommitted(t, brokers, c.group, c.in, 30*time.Second)

	var hung atomic.Int32
	cl.ControlKey(int16(kmsg.OffsetCommit), func(kmsg.Request) (kmsg.Response, error, bool) {
		cl.KeepControl()
		hung.Add(1)
		return nil, nil, true // no answer: the request hangs
	})
	produce(t, prod, inputRecords(c.in, 100, 200, 10)...)
	waitUntil(t, 30*time.Second, func() string {
		if hung.Load() == 0 {
			return "no commit attempted"
		}
		return ""
	})
	start := time.Now()
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if took := time.Since(start); took > 8*time.Second {
		t.Fatalf("Run returned %v after cancel with a 2s shutdown timeout", took)
	} else {
		t.Logf("Run returned %v after cancel while commits hung", took.Round(time.Millisecond))
	}
}

// TestFencedInstanceRejoinsAFewTimes: a static member whose commit is
// refused with FENCED_INSTANCE_ID (what a broker restart can answer the
// session that a newer session of the same process replaced) rejoins and
// ends with exact counts, as for any fenced commit.
func TestFencedInstanceRejoinsAFewTimes(t *testing.T) {
	cl, brokers := faultCluster(t)
	c := newCounter(t, runner.CommitInterval(50*time.Millisecond))
	_, stop := runCounter(t, brokers, c, runner.WithInstanceID("fenced-once"))
	const keys, batch = 20, 500
	prod := client(t, brokers)
	produce(t, prod, inputRecords(c.in, 0, batch, keys)...)
	waitGroupCommitted(t, brokers, c.group, c.in, 30*time.Second)

	var failed atomic.Int32
	failOffsetCommits(cl, 1, kerr.FencedInstanceID, &failed)
	produce(t, prod, inputRecords(c.in, batch, 2*batch, keys)...)
	waitGroupCommitted(t, brokers, c.group, c.in, 30*time.Second)
	if err := stop(); err != nil {
		t.Fatalf("Run: %v (one FENCED_INSTANCE_ID must rejoin, not exit)", err)
	}
	if failed.Load() == 0 {
		t.Fatal("no commit was refused")
	}
	expectExact(t, brokers, c, 2*batch, keys)
}

// TestFencedInstanceWithoutEndStops: commits refused with
// FENCED_INSTANCE_ID again and again are two processes sharing an instance
// id; the processor stops and says so.
func TestFencedInstanceWithoutEndStops(t *testing.T) {
	cl, brokers := faultCluster(t)
	c := newCounter(t, runner.CommitInterval(50*time.Millisecond))
	kafmeshtest.CreateTopic(t, brokers, c.in, 4, false)
	s := newService(t, brokers, "faults", t.TempDir(), runner.WithInstanceID("twice"))
	c.register(t, s)
	if err := s.ConfigureTopics(t.Context()); err != nil {
		t.Fatal(err)
	}
	var failed atomic.Int32
	failOffsetCommits(cl, 1_000, kerr.FencedInstanceID, &failed)
	produce(t, client(t, brokers), inputRecords(c.in, 0, 100, 10)...)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	err := s.Run(ctx)
	if ctx.Err() != nil {
		t.Fatalf("Run did not stop within 60s though every commit was fenced (%d refused)", failed.Load())
	}
	if !errors.Is(err, kerr.FencedInstanceID) || !strings.Contains(err.Error(), `another process runs with instance id "twice"`) {
		t.Fatalf("Run: %v, want FENCED_INSTANCE_ID naming the shared instance id", err)
	}
}

// TestSinkShutdownIsBoundedWhenLeavingHangs: a sink whose LeaveGroup the
// coordinator never answers still returns from Run within about the
// shutdown timeout.
func TestSinkShutdownIsBoundedWhenLeavingHangs(t *testing.T) {
	cl, brokers := faultCluster(t)
	topic := kafmeshtest.Unique(t, "sink-leave")
	kafmeshtest.CreateTopic(t, brokers, topic, 2, false)
	s := newService(t, brokers, "sinkleave", t.TempDir(), runner.WithShutdownTimeout(2*time.Second))
	sink := &tallySink{}
	if err := runner.NewSink(s, runner.SinkSpec{Component: "c", Name: "leaving", Group: topic + "-group",
		TopicRef: runner.TopicRef{Topic: topic, Type: runner.TopicProtobuf}}, stringCodec, sink); err != nil {
		t.Fatal(err)
	}
	stop := running(t, s)
	produce(t, client(t, brokers), inputRecords(topic, 0, 10, 5)...)
	waitUntil(t, 30*time.Second, func() string {
		if n := sink.n.Load(); n < 10 {
			return fmt.Sprintf("the sink collected %d of 10", n)
		}
		return ""
	})
	var hung atomic.Int32
	cl.ControlKey(int16(kmsg.LeaveGroup), func(kmsg.Request) (kmsg.Response, error, bool) {
		cl.KeepControl()
		hung.Add(1)
		return nil, nil, true // no answer: leaving hangs
	})
	start := time.Now()
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if took := time.Since(start); took > 8*time.Second {
		t.Fatalf("Run returned %v after cancel with a 2s shutdown timeout (%d LeaveGroup requests held)", took, hung.Load())
	}
	if hung.Load() == 0 {
		t.Fatal("no LeaveGroup request was held: the test did not make leaving hang")
	}
}
