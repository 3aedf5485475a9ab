package runner_test

import (
	"context"
	"testing"
	"time"

	"github.com/kafmesh/kafmesh/kafmeshtest"
	"github.com/kafmesh/kafmesh/runner"
)

// Stopping a processor in the middle of a stream flushes what it buffered
// and commits exactly what it processed: a successor continues where it
// stopped, with no output lost or repeated.
func TestShutdownMidStreamLosesNothing(t *testing.T) {
	brokers := kafmeshtest.StartBroker(t)
	c := newCounter(t)
	kafmeshtest.CreateTopic(t, brokers, c.in, 4, false)
	stateDir := t.TempDir()
	const total, keys = 20000, 50

	first := newService(t, brokers, "counting", stateDir)
	c.register(t, first)
	if err := first.ConfigureTopics(t.Context()); err != nil {
		t.Fatal(err)
	}
	stop := running(t, first)
	produce(t, client(t, brokers), inputRecords(c.in, 0, total, keys)...)
	consumeN(t, brokers, c.out, 1, 30*time.Second) // it is working
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	partial := len(consumeQuiet(t, brokers, c.out, time.Second))
	t.Logf("first instance produced %d of %d outputs before it stopped", partial, total)

	// Second instance on a fresh state dir: its state comes from the
	// changelog alone.
	second := newService(t, brokers, "counting", t.TempDir())
	c.register(t, second)
	stop = running(t, second)
	outs := consumeN(t, brokers, c.out, total, 60*time.Second)
	time.Sleep(500 * time.Millisecond)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	outs = consumeQuiet(t, brokers, c.out, time.Second)
	if len(outs) != total {
		t.Fatalf("%d outputs for %d inputs: a clean stop must neither lose nor repeat", len(outs), total)
	}
	perKey := outputsPerKey(t, outs)
	for key, seq := range perKey {
		for i, v := range seq {
			if v != int64(i+1) {
				t.Fatalf("%s: output %d is count %d, want %d", key, i, v, i+1)
			}
		}
	}
	expectCounts(t, lastCounts(t, outs), total, keys)
}

// A service told to stop while it is still starting (here: before Run
// began, so its tables' first metadata request is cancelled) stops cleanly:
// Run returns nil, as for any stop.
func TestStopWhileStartingIsClean(t *testing.T) {
	brokers := kafmeshtest.StartBroker(t)
	topic := kafmeshtest.Unique(t, "starting-view")
	kafmeshtest.CreateTopic(t, brokers, topic, 2, true)
	s := newService(t, brokers, "starting", t.TempDir())
	if _, err := runner.NewView(s, runner.ViewSpec{Component: "c", TopicRef: runner.TopicRef{Topic: topic, Type: runner.TopicProtobuf}}, stringCodec); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Run(ctx); err != nil {
		t.Fatalf("Run stopped before it started returned %v, want nil", err)
	}
}
