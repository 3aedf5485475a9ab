package kafmeshtest_test

import (
	"testing"

	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/kafmesh/kafmesh/kafmeshtest"
	"github.com/kafmesh/kafmesh/runner"
)

var (
	words  = runner.Proto[wrapperspb.StringValue]()
	counts = runner.Proto[wrapperspb.Int64Value]()
)

// A word counter registered exactly as generated code registers one.
func registerCounter(t *testing.T, s *runner.Service) {
	p := runner.NewProcessor(runner.ProcessorSpec{
		Component: "words", Name: "counter", Group: "words.counter",
		Inputs:  []runner.TopicRef{{Topic: "words"}},
		Outputs: []runner.OutputRef{{TopicRef: runner.TopicRef{Topic: "counts"}}},
		State:   &runner.TopicRef{Topic: "words.counter-table"},
	})
	runner.HandleInput(p, 0, words, func(c *runner.ProcessorContext, m *wrapperspb.StringValue) error {
		n, _ := runner.State(c, counts)
		next := wrapperspb.Int64(n.GetValue() + 1)
		runner.SaveState(c, counts, next)
		runner.Output(c, 0, counts, m.GetValue(), next)
		return nil
	})
	if err := s.Register(p); err != nil {
		t.Fatal(err)
	}
}

func TestDriverRunsAProcessorAcrossPartitions(t *testing.T) {
	d := kafmeshtest.NewDriver(t, 3)
	registerCounter(t, d.Service(runner.Definition{Name: "words"}))
	for _, w := range []string{"a", "b", "a", "c", "a"} {
		kafmeshtest.Send(t, d, "words", words, w, wrapperspb.String(w))
	}
	outs := kafmeshtest.Read(t, d, "counts", counts)
	if len(outs) != 5 || outs[4].Key != "a" || outs[4].Value.GetValue() != 3 {
		t.Fatalf("outputs %v", outs)
	}
	state := kafmeshtest.Latest(t, d, "words.counter-table", counts)
	if state["a"].GetValue() != 3 || state["b"].GetValue() != 1 || state["c"].GetValue() != 1 {
		t.Fatalf("state %v", state)
	}
	partitions := map[int32]bool{}
	for _, o := range outs {
		partitions[o.Partition] = true
	}
	if len(partitions) < 2 {
		t.Fatalf("keys all landed on partitions %v; the driver must spread them like Kafka", partitions)
	}
	kafmeshtest.Delete(t, d, "words.counter-table", "a")
	if _, ok := kafmeshtest.Latest(t, d, "words.counter-table", counts)["a"]; ok {
		t.Fatal("Latest kept a deleted key")
	}
}
