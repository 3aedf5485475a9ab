package runner_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/kafmesh/kafmesh/kafmeshtest"
	"github.com/kafmesh/kafmesh/runner"
)

// upper is a stateless processor that upper-cases its input; inputs
// "bad..." fail, and "flaky..." fail on their first two attempts.
type upper struct {
	in, out, group string
	mu             sync.Mutex
	attempts       map[string]int
}

func newUpper(t *testing.T) *upper {
	return &upper{in: kafmeshtest.Unique(t, "in"), out: kafmeshtest.Unique(t, "out"), group: kafmeshtest.Unique(t, "upper"), attempts: map[string]int{}}
}

func (u *upper) register(t *testing.T, s *runner.Service, opts ...runner.PartOption) {
	t.Helper()
	p := runner.NewProcessor(runner.ProcessorSpec{
		Component: "c", Name: "upper", Group: u.group,
		Inputs:  []runner.TopicRef{{Topic: u.in, Type: runner.TopicProtobuf}},
		Outputs: []runner.OutputRef{{TopicRef: runner.TopicRef{Topic: u.out, Type: runner.TopicProtobuf}}},
	}, opts...)
	runner.HandleInput(p, 0, stringCodec, func(ctx *runner.ProcessorContext, m *wrapperspb.StringValue) error {
		v := m.GetValue()
		u.mu.Lock()
		u.attempts[v]++
		n := u.attempts[v]
		u.mu.Unlock()
		// The output is staged before the failure: it must be dropped.
		runner.Output(ctx, 0, stringCodec, ctx.Key(), wrapperspb.String(strings.ToUpper(v)))
		switch {
		case strings.HasPrefix(v, "bad"):
			return errors.New("cannot handle " + v)
		case strings.HasPrefix(v, "flaky") && n <= 2:
			return errors.New("not yet")
		}
		return nil
	})
	if err := s.Register(p); err != nil {
		t.Fatal(err)
	}
}

var poison = []byte{0xff, 0xff} // a truncated varint tag: not protobuf

func (u *upper) inputs() []*kgo.Record {
	rec := func(key, v string) *kgo.Record {
		b, _ := proto.Marshal(wrapperspb.String(v))
		return &kgo.Record{Topic: u.in, Key: []byte(key), Value: b}
	}
	return []*kgo.Record{
		rec("k", "one"), rec("k", "bad-two"), rec("k", "flaky-three"),
		{Topic: u.in, Key: []byte("k"), Value: poison},
		rec("k", "four"),
	}
}

func values(t *testing.T, rs []*kgo.Record) []string {
	var out []string
	for _, r := range rs {
		var v wrapperspb.StringValue
		if err := proto.Unmarshal(r.Value, &v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v.Value)
	}
	return out
}

func header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

func TestErrorPolicies(t *testing.T) {
	t.Run("skip", func(t *testing.T) {
		brokers := kafmeshtest.StartBroker(t)
		u := newUpper(t)
		kafmeshtest.CreateTopic(t, brokers, u.in, 1, false)
		s := newService(t, brokers, "policies", t.TempDir())
		u.register(t, s, runner.OnError(runner.SkipOnError()))
		if err := s.ConfigureTopics(t.Context()); err != nil {
			t.Fatal(err)
		}
		stop := running(t, s)
		produce(t, client(t, brokers), u.inputs()...)
		// "flaky-three" fails its first attempt and skip does not retry.
		got := values(t, consumeN(t, brokers, u.out, 2, 30*time.Second))
		if fmt.Sprint(got) != "[ONE FOUR]" {
			t.Fatalf("outputs %v, want [ONE FOUR]", got)
		}
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		if extra := consumeQuiet(t, brokers, u.out, time.Second); len(extra) != 2 {
			t.Fatalf("%d outputs, want 2", len(extra))
		}
	})

	t.Run("retry then dead-letter", func(t *testing.T) {
		brokers := kafmeshtest.StartBroker(t)
		u := newUpper(t)
		kafmeshtest.CreateTopic(t, brokers, u.in, 1, false)
		s := newService(t, brokers, "policies", t.TempDir())
		u.register(t, s, runner.OnError(runner.RetryOnError(3, 10*time.Millisecond, runner.DeadLetterOnError())))
		if err := s.ConfigureTopics(t.Context()); err != nil {
			t.Fatal(err)
		}
		stop := running(t, s)
		produce(t, client(t, brokers), u.inputs()...)
		got := values(t, consumeN(t, brokers, u.out, 3, 30*time.Second))
		if fmt.Sprint(got) != "[ONE FLAKY-THREE FOUR]" {
			t.Fatalf("outputs %v, want [ONE FLAKY-THREE FOUR]", got)
		}
		dead := consumeN(t, brokers, u.group+"-dlq", 2, 30*time.Second)
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		u.mu.Lock()
		if n := u.attempts["bad-two"]; n != 4 {
			t.Errorf("bad-two was tried %d times, want 1 + 3 retries", n)
		}
		if n := u.attempts["flaky-three"]; n != 3 {
			t.Errorf("flaky-three was tried %d times, want 3", n)
		}
		u.mu.Unlock()
		// The dead letters are the original records, with why and where.
		var bad wrapperspb.StringValue
		if err := proto.Unmarshal(dead[0].Value, &bad); err != nil || bad.Value != "bad-two" {
			t.Fatalf("first dead letter = %v (%v), want the bad-two record", bad.Value, err)
		}
		if h := header(dead[0], "kafmesh-error"); h != "cannot handle bad-two" {
			t.Errorf("kafmesh-error = %q", h)
		}
		if string(dead[1].Value) != string(poison) || !strings.Contains(header(dead[1], "kafmesh-error"), "undecodable") {
			t.Errorf("second dead letter: value %x, error %q; want the poison record", dead[1].Value, header(dead[1], "kafmesh-error"))
		}
		for _, d := range dead {
			if header(d, "kafmesh-topic") != u.in || header(d, "kafmesh-partition") != "0" || header(d, "kafmesh-group") != u.group {
				t.Errorf("origin headers: %v", d.Headers)
			}
		}
		if header(dead[0], "kafmesh-offset") != "1" || header(dead[1], "kafmesh-offset") != "3" {
			t.Errorf("offsets %s, %s; want 1, 3", header(dead[0], "kafmesh-offset"), header(dead[1], "kafmesh-offset"))
		}
	})

	t.Run("fail", func(t *testing.T) {
		brokers := kafmeshtest.StartBroker(t)
		u := newUpper(t)
		kafmeshtest.CreateTopic(t, brokers, u.in, 1, false)
		s := newService(t, brokers, "policies", t.TempDir())
		u.register(t, s)
		if err := s.ConfigureTopics(t.Context()); err != nil {
			t.Fatal(err)
		}
		ctxDone := make(chan error, 1)
		go func() { ctxDone <- s.Run(t.Context()) }()
		produce(t, client(t, brokers), u.inputs()...)
		var err error
		select {
		case err = <-ctxDone:
		case <-time.After(30 * time.Second):
			t.Fatal("Run did not stop on the failing record")
		}
		if err == nil || !strings.Contains(err.Error(), "cannot handle bad-two") || !strings.Contains(err.Error(), "offset 1") {
			t.Fatalf("Run returned %v; want the handler error naming offset 1", err)
		}
		// Nothing from the failed record or after it was committed: a
		// successor that skips failures handles everything after "one".
		u2 := &upper{in: u.in, out: u.out, group: u.group, attempts: map[string]int{}}
		s2 := newService(t, brokers, "policies", t.TempDir())
		u2.register(t, s2, runner.OnError(runner.SkipOnError()))
		stop := running(t, s2)
		defer stop()
		eventually(t, 90*time.Second, func() string {
			u2.mu.Lock()
			defer u2.mu.Unlock()
			if u2.attempts["four"] == 0 {
				return "successor never handled four"
			}
			return ""
		})
		u2.mu.Lock()
		defer u2.mu.Unlock()
		if u2.attempts["bad-two"] != 1 || u2.attempts["one"] > 1 {
			t.Errorf("successor attempts %v: want bad-two redone once (one may be redone at most once)", u2.attempts)
		}
	})
}
