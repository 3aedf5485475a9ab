package runner_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/kafmesh/kafmesh/kafmeshtest"
	"github.com/kafmesh/kafmesh/runner"
)

func topicConfig(t *testing.T, adm *kadm.Client, topic, key string) string {
	t.Helper()
	rcs, err := adm.DescribeTopicConfigs(t.Context(), topic)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range rcs[0].Configs {
		if c.Key == key && c.Value != nil {
			return *c.Value
		}
	}
	return ""
}

func TestConfigureTopics(t *testing.T) {
	brokers := kafmeshtest.StartBroker(t)
	adm := kadm.NewClient(client(t, brokers))
	in, out := kafmeshtest.Unique(t, "in"), kafmeshtest.Unique(t, "out")
	group := kafmeshtest.Unique(t, "g")
	lookup, source := kafmeshtest.Unique(t, "lookup"), kafmeshtest.Unique(t, "source")
	def := runner.Definition{Name: "topics", Topics: []runner.TopicConfig{
		{Name: out, Partitions: 3, Retention: 2 * time.Hour, Segment: time.Hour},
		{Name: group + "-table", Partitions: 2, Compact: true},
		{Name: source, Partitions: 2, Compact: true},
	}}
	build := func(def runner.Definition) *runner.Service {
		s, err := runner.NewService(def, runner.WithBrokers(brokers...), runner.WithStateDir(t.TempDir()), runner.WithLogger(testLogger(t)))
		if err != nil {
			t.Fatal(err)
		}
		p := runner.NewProcessor(runner.ProcessorSpec{Component: "c", Name: "p", Group: group,
			Inputs:  []runner.TopicRef{{Topic: in}},
			Lookups: []runner.TopicRef{{Topic: lookup}},
			Outputs: []runner.OutputRef{{TopicRef: runner.TopicRef{Topic: out}}},
			State:   &runner.TopicRef{Topic: group + "-table"},
		})
		runner.HandleInput(p, 0, stringCodec, func(*runner.ProcessorContext, *wrapperspb.StringValue) error { return nil })
		if err := s.Register(p); err != nil {
			t.Fatal(err)
		}
		if _, err := runner.NewSource(s, runner.SourceSpec{Component: "c", TopicRef: runner.TopicRef{Topic: source}}, stringCodec); err != nil {
			t.Fatal(err)
		}
		return s
	}

	// Missing: every topic read but not owned is named in one error.
	err := build(def).ConfigureTopics(t.Context())
	if err == nil || !strings.Contains(err.Error(), in) || !strings.Contains(err.Error(), lookup) {
		t.Fatalf("want one error naming %s and %s, got %v", in, lookup, err)
	}
	if ts, _ := adm.ListTopics(t.Context(), out); ts.Has(out) {
		t.Fatal("created owned topics although read topics are missing")
	}

	// Not co-partitioned: the state is declared with 2 partitions, the input has 3.
	kafmeshtest.CreateTopic(t, brokers, in, 3, false)
	kafmeshtest.CreateTopic(t, brokers, lookup, 1, false) // not compacted: a warning only
	err = build(def).ConfigureTopics(t.Context())
	if err == nil || !strings.Contains(err.Error(), "not co-partitioned") {
		t.Fatalf("want a co-partitioning error, got %v", err)
	}

	// Correct declaration: owned topics are created with their settings.
	def.Topics[1].Partitions = 3
	if err := build(def).ConfigureTopics(t.Context()); err != nil {
		t.Fatal(err)
	}
	ts, err := adm.ListTopics(t.Context(), out, group+"-table", source)
	if err != nil {
		t.Fatal(err)
	}
	for topic, want := range map[string]int{out: 3, group + "-table": 3, source: 2} {
		if got := len(ts[topic].Partitions); got != want {
			t.Errorf("%s has %d partitions, want %d", topic, got, want)
		}
	}
	if got := topicConfig(t, adm, group+"-table", "cleanup.policy"); got != "compact" {
		t.Errorf("state topic cleanup.policy = %q", got)
	}
	if got := topicConfig(t, adm, out, "retention.ms"); got != "7200000" {
		t.Errorf("retention.ms = %q", got)
	}

	// Already correct: nothing to do, no error. A config someone else set
	// on an owned topic survives (incremental alter, never a wipe).
	if _, err := adm.AlterTopicConfigs(t.Context(), []kadm.AlterConfig{
		{Op: kadm.SetConfig, Name: "max.message.bytes", Value: kadm.StringPtr("123456")},
		{Op: kadm.SetConfig, Name: "retention.ms", Value: kadm.StringPtr("1000")},
	}, out); err != nil {
		t.Fatal(err)
	}
	if err := build(def).ConfigureTopics(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := topicConfig(t, adm, out, "retention.ms"); got != "7200000" {
		t.Errorf("drifted retention.ms not restored: %q", got)
	}
	if got := topicConfig(t, adm, out, "max.message.bytes"); got != "123456" {
		t.Errorf("unrelated config was wiped: max.message.bytes = %q", got)
	}

	// A declared partition count change is refused, never applied.
	def.Topics[0].Partitions = 6
	err = build(def).ConfigureTopics(context.Background())
	if err == nil || !strings.Contains(err.Error(), "does not change partition counts") {
		t.Fatalf("want a refusal to repartition, got %v", err)
	}
	if ts, _ := adm.ListTopics(t.Context(), out); len(ts[out].Partitions) != 3 {
		t.Fatalf("partition count changed to %d", len(ts[out].Partitions))
	}
}
