package runner_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/kafmesh/kafmesh/kafmeshtest"
	"github.com/kafmesh/kafmesh/runner"
)

func stringRecord(topic, key string, value *string) *kgo.Record {
	r := &kgo.Record{Topic: topic, Key: []byte(key)}
	if value != nil {
		r.Value, _ = proto.Marshal(wrapperspb.String(*value))
	}
	return r
}

func ptr(s string) *string { return &s }

// eventually retries check until it returns "" or the timeout passes.
func eventually(t testing.TB, timeout time.Duration, check func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		msg := check()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(msg)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestViewCopiesTableAndFollowsUpdates(t *testing.T) {
	for _, memory := range []bool{false, true} {
		t.Run(fmt.Sprintf("memory=%v", memory), func(t *testing.T) {
			brokers := kafmeshtest.StartBroker(t)
			topic := kafmeshtest.Unique(t, "table")
			kafmeshtest.CreateTopic(t, brokers, topic, 3, true)
			cl := client(t, brokers)
			var initial []*kgo.Record
			for i := range 300 {
				initial = append(initial, stringRecord(topic, fmt.Sprintf("k%03d", i), ptr(fmt.Sprintf("v%d", i))))
			}
			// Overwrites and deletes in the history the view must apply.
			initial = append(initial, stringRecord(topic, "k000", ptr("v0-new")), stringRecord(topic, "k001", nil))
			produce(t, cl, initial...)

			stateDir := t.TempDir()
			var opts []runner.PartOption
			if memory {
				opts = append(opts, runner.MemoryState())
			}
			var s *runner.Service
			open := func() (*runner.View[*wrapperspb.StringValue], func() error) {
				s = newService(t, brokers, "viewer", stateDir)
				v, err := runner.NewView(s, runner.ViewSpec{Component: "c", TopicRef: runner.TopicRef{Topic: topic, Type: runner.TopicProtobuf}},
					stringCodec, opts...)
				if err != nil {
					t.Fatal(err)
				}
				if v.Ready() {
					t.Fatal("ready before Run")
				}
				stop := running(t, s)
				if err := v.WaitReady(t.Context()); err != nil {
					t.Fatal(err)
				}
				return v, stop
			}
			v, stop := open()
			got, ok, err := v.Get("k000")
			if err != nil || !ok || got.GetValue() != "v0-new" {
				t.Fatalf("Get k000 = %v %v %v", got, ok, err)
			}
			if _, ok, _ := v.Get("k001"); ok {
				t.Fatal("deleted key k001 is in the view")
			}
			keys, err := v.Keys()
			if err != nil || len(keys) != 299 || !slices.IsSorted(keys) {
				t.Fatalf("Keys: %d keys, sorted %v, err %v", len(keys), slices.IsSorted(keys), err)
			}
			seen := 0
			labels := map[string]string{"topic": topic}
			if r := metric(t, s.Gatherer(), "kafmesh_view_ready", labels); r != 1 {
				t.Errorf("kafmesh_view_ready = %v once ready", r)
			}
			if l := metric(t, s.Gatherer(), "kafmesh_view_lag_records", labels); l != 0 {
				t.Errorf("kafmesh_view_lag_records = %v once caught up", l)
			}
			if err := v.Range(func(key string, m *wrapperspb.StringValue) bool {
				seen++
				return seen < 10
			}); err != nil || seen != 10 {
				t.Fatalf("Range stopped after %d, err %v", seen, err)
			}

			// Updates while running.
			produce(t, cl, stringRecord(topic, "k002", ptr("changed")), stringRecord(topic, "k003", nil), stringRecord(topic, "new", ptr("x")))
			eventually(t, 10*time.Second, func() string {
				a, _, _ := v.Get("k002")
				_, del, _ := v.Get("k003")
				n, _, _ := v.Get("new")
				if a.GetValue() != "changed" || del || n.GetValue() != "x" {
					return fmt.Sprintf("updates not applied: k002=%v k003 present=%v new=%v", a, del, n)
				}
				return ""
			})
			if err := stop(); err != nil {
				t.Fatal(err)
			}

			// A restart is ready again with the same content (Pebble
			// resumes from its checkpoint; memory restores everything).
			produce(t, cl, stringRecord(topic, "after-restart", ptr("y")))
			v, stop = open()
			defer stop()
			for key, want := range map[string]string{"k002": "changed", "after-restart": "y", "k299": "v299"} {
				if got, _, _ := v.Get(key); got.GetValue() != want {
					t.Errorf("after restart %s = %v, want %s", key, got, want)
				}
			}
			if keys, _ := v.Keys(); len(keys) != 300 {
				t.Errorf("after restart %d keys, want 300", len(keys))
			}
		})
	}
}
