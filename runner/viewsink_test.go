package runner_test

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/kafmesh/kafmesh/kafmeshtest"
	"github.com/kafmesh/kafmesh/runner"
)

// mirror is a view sink whose outside store is a map: each sync replaces
// it with the table's contents.
type mirror struct {
	mu    sync.Mutex
	store map[string]string
	sizes []int // keys seen by each sync
}

func (m *mirror) Sync(ctx context.Context, view runner.Reader[*wrapperspb.StringValue]) error {
	keys, err := view.Keys()
	if err != nil {
		return err
	}
	next := map[string]string{}
	if err := view.Range(func(key string, v *wrapperspb.StringValue) bool {
		next[key] = v.GetValue()
		return true
	}); err != nil {
		return err
	}
	for _, k := range keys {
		v, found, err := view.Get(k)
		if err != nil {
			return err
		}
		if !found || v.GetValue() != next[k] {
			return fmt.Errorf("Get(%q) = %v, %v but Range gave %q", k, v, found, next[k])
		}
	}
	if len(keys) != len(next) {
		return fmt.Errorf("Keys lists %d keys, Range %d", len(keys), len(next))
	}
	m.mu.Lock()
	m.store = next
	m.sizes = append(m.sizes, len(keys))
	m.mu.Unlock()
	return nil
}

func (m *mirror) snapshot() (map[string]string, []int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return maps.Clone(m.store), append([]int(nil), m.sizes...)
}

func TestViewSinkMirrorsTable(t *testing.T) {
	brokers := kafmeshtest.StartBroker(t)
	topic := kafmeshtest.Unique(t, "prices")
	kafmeshtest.CreateTopic(t, brokers, topic, 3, true)
	cl := client(t, brokers)
	want := map[string]string{}
	for i := range 50 {
		k, v := fmt.Sprintf("k%02d", i), fmt.Sprintf("v%d", i)
		produce(t, cl, tableRecord(topic, k, v))
		want[k] = v
	}
	produce(t, cl, tombstoneRecord(topic, "k49"))
	delete(want, "k49")

	s := newService(t, brokers, "pricing", t.TempDir())
	m := &mirror{}
	spec := runner.ViewSinkSpec{Component: "pricing", Name: "warehouse", Description: "prices to the warehouse",
		TopicRef: runner.TopicRef{Topic: topic, Message: "google.protobuf.StringValue", Type: runner.TopicProtobuf}}
	if err := runner.NewViewSink(s, spec, stringCodec, m, runner.Interval(50*time.Millisecond), runner.Timeout(5*time.Second)); err != nil {
		t.Fatal(err)
	}
	stop := running(t, s)
	waitUntil(t, 60*time.Second, func() string {
		if _, sizes := m.snapshot(); len(sizes) == 0 {
			return "no sync yet"
		}
		return ""
	})
	// The first sync ran only once the table had caught up.
	store, sizes := m.snapshot()
	if sizes[0] != len(want) || !maps.Equal(store, want) {
		t.Fatalf("first sync saw %d keys (%v), want the whole table %v", sizes[0], store, want)
	}

	produce(t, cl, tableRecord(topic, "k00", "changed"), tombstoneRecord(topic, "k01"), tableRecord(topic, "k50", "new"))
	want["k00"], want["k50"] = "changed", "new"
	delete(want, "k01")
	waitUntil(t, 60*time.Second, func() string {
		if store, _ := m.snapshot(); !maps.Equal(store, want) {
			return fmt.Sprintf("outside store %v, want %v", store, want)
		}
		return ""
	})
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	ok := metric(t, s.Gatherer(), "kafmesh_view_sink_syncs_total", map[string]string{"component": "pricing", "part": "warehouse", "result": "ok"})
	if _, sizes := m.snapshot(); ok < 2 || ok != float64(len(sizes)) {
		t.Errorf("ok syncs metric %v, handler saw %d syncs", ok, len(sizes))
	}
}
