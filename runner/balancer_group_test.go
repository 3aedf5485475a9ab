package runner_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/kafmesh/kafmesh/kafmeshtest"
	"github.com/kafmesh/kafmesh/runner"
)

type tallySink struct{ n atomic.Int64 }

func (s *tallySink) Collect(runner.SinkContext, string, *wrapperspb.StringValue) error {
	s.n.Add(1)
	return nil
}
func (s *tallySink) Flush(context.Context) error { return nil }

// waitGroupProtocol waits until group is stable with n members on protocol.
func waitGroupProtocol(t *testing.T, brokers []string, group string, n int, protocol string) {
	t.Helper()
	adm := kadm.NewClient(client(t, brokers))
	deadline := time.Now().Add(60 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		gs, err := adm.DescribeGroups(context.Background(), group)
		if err == nil {
			g := gs[group]
			last = fmt.Sprintf("state %s, protocol %q, %d members", g.State, g.Protocol, len(g.Members))
			if g.State == "Stable" && len(g.Members) == n && g.Protocol == protocol {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("group %s not stable with %d members on %q: %s", group, n, protocol, last)
}

// A sink joins a group whose other member speaks only "range", as a 2021
// kafmesh sink (sarama-cluster) does: the group forms on range, and moves
// to cooperative-sticky once the old member has left.
func TestSinkJoinsAGroupOf2021Members(t *testing.T) {
	brokers := kafmeshtest.StartBroker(t)
	topic, group := kafmeshtest.Unique(t, "sunk"), kafmeshtest.Unique(t, "sink")
	kafmeshtest.CreateTopic(t, brokers, topic, 4, false)
	old, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic), kgo.Balancers(kgo.RangeBalancer()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	polled := make(chan struct{})
	go func() {
		defer close(polled)
		for ctx.Err() == nil {
			old.PollFetches(ctx)
		}
	}()
	waitGroupProtocol(t, brokers, group, 1, "range")

	s := newService(t, brokers, "sink2021", t.TempDir())
	sink := &tallySink{}
	if err := runner.NewSink(s, runner.SinkSpec{Component: "c", Name: "counting", Group: group, TopicRef: runner.TopicRef{Topic: topic, Type: runner.TopicProtobuf}}, stringCodec, sink); err != nil {
		t.Fatal(err)
	}
	running(t, s)
	waitGroupProtocol(t, brokers, group, 2, "range")

	cancel()
	<-polled
	old.Close()
	waitGroupProtocol(t, brokers, group, 1, "cooperative-sticky")
	produce(t, client(t, brokers), inputRecords(topic, 0, 20, 5)...)
	deadline := time.Now().Add(30 * time.Second)
	for sink.n.Load() < 20 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if got := sink.n.Load(); got < 20 {
		t.Errorf("the sink collected %d of 20 records after taking over the group", got)
	}
}

// A processor joins a group whose other member speaks only "range", as a
// 2021 kafmesh (goka) processor does: the group forms on range, the new
// member takes over every partition when the old one leaves, the group
// moves to kafmesh-copartition, and every input is counted.
func TestProcessorJoinsAGroupOf2021Members(t *testing.T) {
	brokers := kafmeshtest.StartBroker(t)
	c := newCounter(t)
	kafmeshtest.CreateTopic(t, brokers, c.in, 4, false)
	kafmeshtest.CreateTopic(t, brokers, c.out, 4, false)
	kafmeshtest.CreateTopic(t, brokers, c.group+"-table", 4, true)
	// The old member only holds its partitions; it commits nothing.
	old, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumerGroup(c.group), kgo.ConsumeTopics(c.in),
		kgo.Balancers(kgo.RangeBalancer()), kgo.DisableAutoCommit())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	polled := make(chan struct{})
	go func() {
		defer close(polled)
		for ctx.Err() == nil {
			old.PollFetches(ctx)
		}
	}()
	waitGroupProtocol(t, brokers, c.group, 1, "range")

	s := newService(t, brokers, "proc2021", t.TempDir())
	c.register(t, s)
	running(t, s)
	waitGroupProtocol(t, brokers, c.group, 2, "range")
	produce(t, client(t, brokers), inputRecords(c.in, 0, 40, 8)...)

	cancel()
	<-polled
	old.Close()
	waitGroupProtocol(t, brokers, c.group, 1, "kafmesh-copartition")
	expectCounts(t, lastCounts(t, consumeN(t, brokers, c.out, 40, 60*time.Second)), 40, 8)
}
