package runner_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/kafmesh/kafmesh/kafmeshtest"
	"github.com/kafmesh/kafmesh/runner"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// outsideSet is the outside data set a view source mirrors. Its mode says
// how Sync ends after reporting every key.
type outsideSet struct {
	mu   sync.Mutex
	data map[string]string
	mode syncMode
}

type syncMode int

const (
	syncComplete syncMode = iota
	syncHangs             // report, then wait past the timeout and claim success
	syncFails             // report, then return an error
)

func (o *outsideSet) set(data map[string]string, mode syncMode) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.data, o.mode = data, mode
}

func (o *outsideSet) Sync(ctx context.Context, up runner.Updater[*wrapperspb.StringValue]) error {
	o.mu.Lock()
	data, mode := maps.Clone(o.data), o.mode
	o.mu.Unlock()
	for _, k := range slices.Sorted(maps.Keys(data)) {
		if err := up.Update(k, wrapperspb.String(data[k])); err != nil {
			return err
		}
	}
	switch mode {
	case syncHangs:
		<-ctx.Done()
		return nil
	case syncFails:
		return errors.New("the outside store went away mid-read")
	}
	return nil
}

// topicRecords is every record of a table topic as "key=value" ("key=<nil>"
// for tombstones), sorted.
func topicRecords(t testing.TB, brokers []string, topic string) []string {
	t.Helper()
	var out []string
	for _, r := range readToEnd(t, brokers, topic) {
		if r.Value == nil {
			out = append(out, string(r.Key)+"=<nil>")
			continue
		}
		m, err := stringCodec.Decode(r.Value)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(r.Key)+"="+m.GetValue())
	}
	slices.Sort(out)
	return out
}

func sorted(s ...string) []string { slices.Sort(s); return s }

func viewSourceSpec(topic string) runner.ViewSourceSpec {
	return runner.ViewSourceSpec{Component: "catalog", Name: "products", Description: "products from the catalog database",
		TopicRef: runner.TopicRef{Topic: topic, Message: "google.protobuf.StringValue", Type: runner.TopicProtobuf}}
}

func syncs(t testing.TB, s *runner.Service, result string) float64 {
	return metric(t, s.Gatherer(), "kafmesh_view_source_syncs_total", map[string]string{"component": "catalog", "part": "products", "result": result})
}

// waitSyncs waits until n more syncs ended with result than before.
func waitSyncs(t testing.TB, s *runner.Service, result string, n float64) {
	t.Helper()
	start := syncs(t, s, result)
	waitUntil(t, 60*time.Second, func() string {
		if got := syncs(t, s, result) - start; got < n {
			return fmt.Sprintf("%v of %v %s syncs", got, n, result)
		}
		return ""
	})
}

// Each sync writes only what changed and deletes what the outside set no
// longer has; repeated syncs of an unchanged set write nothing.
func TestViewSourceWritesOnlyChanges(t *testing.T) {
	brokers := kafmeshtest.StartBroker(t)
	topic := kafmeshtest.Unique(t, "products")
	kafmeshtest.CreateTopic(t, brokers, topic, 3, true)
	cl := client(t, brokers)
	produce(t, cl, tableRecord(topic, "a", "old"), tableRecord(topic, "c", "3"), tableRecord(topic, "d", "4"))

	s := newService(t, brokers, "catalog", t.TempDir())
	outside := &outsideSet{}
	outside.set(map[string]string{"a": "1", "b": "2", "c": "3"}, syncComplete)
	if err := runner.NewViewSource(s, viewSourceSpec(topic), stringCodec, outside,
		runner.Interval(50*time.Millisecond), runner.Timeout(10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := s.ConfigureTopics(t.Context()); err != nil {
		t.Fatal(err)
	}
	stop := running(t, s)
	// Several syncs: the first writes, the others find nothing to do,
	// even those that start before the table shows the first one's writes.
	waitSyncs(t, s, "ok", 5)
	want := sorted("a=old", "c=3", "d=4", "a=1", "b=2", "d=<nil>")
	if got := topicRecords(t, brokers, topic); !slices.Equal(got, want) {
		t.Fatalf("topic after the first syncs:\n got %v\nwant %v", got, want)
	}

	outside.set(map[string]string{"b": "22", "c": "3", "e": "5"}, syncComplete)
	waitSyncs(t, s, "ok", 5)
	want = sorted(append(want, "a=<nil>", "b=22", "e=5")...)
	if got := topicRecords(t, brokers, topic); !slices.Equal(got, want) {
		t.Fatalf("topic after the set changed:\n got %v\nwant %v", got, want)
	}
	// A key deleted and reported again comes back at once.
	outside.set(map[string]string{"a": "again", "b": "22", "c": "3", "e": "5"}, syncComplete)
	waitSyncs(t, s, "ok", 3)
	want = sorted(append(want, "a=again")...)
	if got := topicRecords(t, brokers, topic); !slices.Equal(got, want) {
		t.Fatalf("topic after a deleted key came back:\n got %v\nwant %v", got, want)
	}
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	writes := func(kind string) float64 {
		return metric(t, s.Gatherer(), "kafmesh_view_source_writes_total", map[string]string{"component": "catalog", "part": "products", "kind": kind})
	}
	if writes("update") != 5 || writes("delete") != 2 {
		t.Errorf("writes: %v updates, %v deletes; want 5 and 2", writes("update"), writes("delete"))
	}
}

// A sync that times out or fails deletes nothing, however little it
// reported; a complete one then deletes what was not reported.
func TestViewSourceTimeoutDeletesNothing(t *testing.T) {
	brokers := kafmeshtest.StartBroker(t)
	topic := kafmeshtest.Unique(t, "products")
	kafmeshtest.CreateTopic(t, brokers, topic, 2, true)
	produce(t, client(t, brokers), tableRecord(topic, "a", "old"), tableRecord(topic, "b", "x"), tableRecord(topic, "c", "y"))

	s := newService(t, brokers, "catalog", t.TempDir())
	outside := &outsideSet{}
	outside.set(map[string]string{"a": "new"}, syncHangs)
	if err := runner.NewViewSource(s, viewSourceSpec(topic), stringCodec, outside,
		runner.Interval(50*time.Millisecond), runner.Timeout(300*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	stop := running(t, s)
	waitSyncs(t, s, "timeout", 3)
	outside.set(map[string]string{"a": "new"}, syncFails)
	waitSyncs(t, s, "error", 3)
	if n := syncs(t, s, "ok"); n != 0 {
		t.Fatalf("%v syncs counted ok while every one timed out or failed", n)
	}
	// The update reported in time was written (once); nothing was deleted.
	want := sorted("a=old", "b=x", "c=y", "a=new")
	if got := topicRecords(t, brokers, topic); !slices.Equal(got, want) {
		t.Fatalf("topic after timed-out and failed syncs:\n got %v\nwant %v", got, want)
	}

	outside.set(map[string]string{"a": "new"}, syncComplete)
	waitSyncs(t, s, "ok", 1)
	want = sorted(append(want, "b=<nil>", "c=<nil>")...)
	if got := topicRecords(t, brokers, topic); !slices.Equal(got, want) {
		t.Fatalf("topic after a complete sync:\n got %v\nwant %v", got, want)
	}
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
}
