package topicsettings_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafmesh/kafmesh/internal/discovery/topicsettings"
	"github.com/kafmesh/kafmesh/kafmeshtest"
)

func admin(t *testing.T, brokers []string, opts ...kgo.Opt) *kadm.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

func alter(t *testing.T, adm *kadm.Client, topic string, kv ...string) {
	t.Helper()
	var cs []kadm.AlterConfig
	for i := 0; i+1 < len(kv); i += 2 {
		cs = append(cs, kadm.AlterConfig{Op: kadm.SetConfig, Name: kv[i], Value: kadm.StringPtr(kv[i+1])})
	}
	resp, err := adm.AlterTopicConfigs(context.Background(), cs, topic)
	if err == nil {
		for _, r := range resp {
			if r.Err != nil {
				err = r.Err
			}
		}
	}
	if err != nil {
		t.Fatalf("altering %s: %v", topic, err)
	}
}

func config(s topicsettings.Settings, name string) (topicsettings.Config, bool) {
	for _, c := range s.Configs {
		if c.Name == name {
			return c, true
		}
	}
	return topicsettings.Config{}, false
}

func value(c topicsettings.Config) string {
	if c.Value == nil {
		return "<nil>"
	}
	return *c.Value
}

// Settings come from the cluster: partitions, replication factor, and the
// configs with their source, a value set on the topic told from a default.
func TestReadTopicSettingsFromTheBrokers(t *testing.T) {
	ctx := context.Background()
	brokers := kafmeshtest.StartBroker(t)
	table, stream, missing := kafmeshtest.Unique(t, "table"), kafmeshtest.Unique(t, "stream"), kafmeshtest.Unique(t, "missing")
	kafmeshtest.CreateTopic(t, brokers, table, 3, true)
	kafmeshtest.CreateTopic(t, brokers, stream, 2, false)
	adm := admin(t, brokers)
	alter(t, adm, stream, "retention.ms", "3600000")

	got, err := topicsettings.Read(ctx, adm, []string{table, stream, missing}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := got[missing]; ok || len(got) != 2 {
		t.Fatalf("read %d topics (%v), want the two that exist", len(got), got)
	}

	tb := got[table]
	if tb.Partitions != 3 || tb.ReplicationFactor != 1 || tb.Err != "" || tb.ReadAt.IsZero() {
		t.Errorf("table: %d partitions, replication %d, err %q; want 3, 1, none", tb.Partitions, tb.ReplicationFactor, tb.Err)
	}
	if len(tb.Configs) == 0 || tb.Configs[0].Name != "cleanup.policy" {
		t.Fatalf("table configs %+v, want cleanup.policy first", tb.Configs)
	}
	if c := tb.Configs[0]; value(c) != "compact" || c.Source != topicsettings.SourceTopic || c.IsDefault() {
		t.Errorf("table cleanup.policy %s from %s, want compact set on the topic", value(c), c.Source)
	}

	st := got[stream]
	if st.Partitions != 2 || st.ReplicationFactor != 1 {
		t.Errorf("stream: %d partitions, replication %d; want 2, 1", st.Partitions, st.ReplicationFactor)
	}
	if c, ok := config(st, "cleanup.policy"); !ok || value(c) != "delete" || !c.IsDefault() || c.Source != topicsettings.SourceDefault {
		t.Errorf("stream cleanup.policy %+v (%s), want Kafka's default delete", c, value(c))
	}
	if c, ok := config(st, "retention.ms"); !ok || value(c) != "3600000" || c.IsDefault() {
		t.Errorf("stream retention.ms %+v (%s), want 3600000 set on the topic", c, value(c))
	}
	// min.insync.replicas: a cluster-wide default on Kafka 4 (scripts/kafka.sh
	// sets 1), Kafka's default on kfake; an inherited 1 either way.
	if c, ok := config(st, "min.insync.replicas"); !ok || value(c) != "1" || !c.IsDefault() ||
		(c.Source != topicsettings.SourceCluster && c.Source != topicsettings.SourceStaticBroker && c.Source != topicsettings.SourceDefault) {
		t.Errorf("stream min.insync.replicas %+v (%s), want an inherited 1", c, value(c))
	}
	for _, name := range []string{"segment.ms", "max.message.bytes", "retention.bytes", "segment.bytes"} {
		if c, ok := config(st, name); !ok || c.Value == nil || !c.IsDefault() {
			t.Errorf("stream %s: %+v, want an inherited value", name, c)
		}
	}
	// The configs come in DefaultConfigNames' order.
	last := -1
	for _, c := range st.Configs {
		i := indexOf(topicsettings.DefaultConfigNames, c.Name)
		if i < last {
			t.Errorf("config %s out of order in %v", c.Name, names(st.Configs))
		}
		last = i
	}
}

// Beside the configs asked for, every config set on the topic is reported.
func TestReadReportsEveryConfigSetOnTheTopic(t *testing.T) {
	brokers := kafmeshtest.StartBroker(t)
	topic := kafmeshtest.Unique(t, "tuned")
	kafmeshtest.CreateTopic(t, brokers, topic, 1, false)
	adm := admin(t, brokers)
	alter(t, adm, topic, "segment.bytes", "1048576", "max.message.bytes", "2000000")

	// A broker answers AlterConfigs before its metadata has applied the
	// change, so a read right after may not see it yet: read until it does
	// (10 s at most), then hold the answer to the exact list.
	const want = "cleanup.policy,max.message.bytes,segment.bytes"
	var n []string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		got, err := topicsettings.Read(context.Background(), adm, []string{topic}, []string{"cleanup.policy"})
		if err != nil {
			t.Fatal(err)
		}
		if n = names(got[topic].Configs); strings.Join(n, ",") == want || time.Now().After(deadline) {
			break
		}
	}
	if strings.Join(n, ",") != want {
		t.Errorf("configs %v, want cleanup.policy then the two set on the topic by name", n)
	}
}

// The monitor forgets topics no longer asked about, keeps what it read when
// the cluster stops answering, and reads a new topic without waiting an
// interval.
func TestMonitorRefreshAndRun(t *testing.T) {
	ctx := context.Background()
	brokers := kafmeshtest.StartBroker(t)
	a, b := kafmeshtest.Unique(t, "a"), kafmeshtest.Unique(t, "b")
	kafmeshtest.CreateTopic(t, brokers, a, 2, false)
	kafmeshtest.CreateTopic(t, brokers, b, 4, true)
	m := topicsettings.New(admin(t, brokers))
	if st := m.Status(); !st.ReadAt.IsZero() || st.Err != "" {
		t.Errorf("status before a read %+v", st)
	}
	if err := m.Refresh(ctx, []string{a, b}); err != nil {
		t.Fatal(err)
	}
	if s, ok := m.Topic(b); !ok || s.Partitions != 4 {
		t.Fatalf("b: %+v %v", s, ok)
	}
	if st := m.Status(); st.ReadAt.IsZero() || st.Err != "" {
		t.Errorf("status after a read %+v", st)
	}
	if err := m.Refresh(ctx, []string{a}); err != nil {
		t.Fatal(err)
	}
	if _, ok := m.Topic(b); ok {
		t.Error("b is still reported after it left the list")
	}

	// Run: a topic that appears is read within the new-topic check, long
	// before the interval.
	list := make(chan []string, 1)
	list <- []string{a}
	current := []string{a}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	run := topicsettings.New(admin(t, brokers), topicsettings.WithInterval(time.Hour), topicsettings.WithNewTopicCheck(50*time.Millisecond))
	go func() {
		done <- run.Run(rctx, func(context.Context) ([]string, error) {
			select {
			case current = <-list:
			default:
			}
			return current, nil
		})
	}()
	waitFor(t, func() bool { _, ok := run.Topic(a); return ok })
	if _, ok := run.Topic(b); ok {
		t.Fatal("b read before it was listed")
	}
	list <- []string{a, b}
	waitFor(t, func() bool { s, ok := run.Topic(b); return ok && s.Partitions == 4 })
	cancel()
	if err := <-done; err != context.Canceled {
		t.Errorf("Run returned %v, want context.Canceled", err)
	}
}

// A cluster that does not answer leaves the last good read in place and
// says why in Status.
func TestMonitorKeepsTheLastReadWhenTheClusterFails(t *testing.T) {
	brokers := kafmeshtest.StartBroker(t)
	topic := kafmeshtest.Unique(t, "kept")
	kafmeshtest.CreateTopic(t, brokers, topic, 2, false)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	m := topicsettings.New(kadm.NewClient(cl))
	if err := m.Refresh(context.Background(), []string{topic}); err != nil {
		t.Fatal(err)
	}
	cl.Close() // every request now fails at once
	if err := m.Refresh(context.Background(), []string{topic}); err == nil {
		t.Fatal("a read through a closed client succeeded")
	}
	if s, ok := m.Topic(topic); !ok || s.Partitions != 2 {
		t.Errorf("settings after a failed read: %+v %v, want the last good ones", s, ok)
	}
	if st := m.Status(); st.Err == "" || st.ReadAt.IsZero() {
		t.Errorf("status %+v, want the error and the time of the last good read", st)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func names(cs []topicsettings.Config) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Name
	}
	return out
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}
