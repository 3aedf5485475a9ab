package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kafmesh/kafmesh/internal/dlq"
	"github.com/kafmesh/kafmesh/kafmeshtest"
	"github.com/kafmesh/kafmesh/runner"
	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// dlqFixture is a processor with the dead-letter policy whose handler fails
// on records starting with "bad" while broken is set.
type dlqFixture struct {
	in, out, group string
	mu             sync.Mutex
	broken         bool
	// handled holds, per value handled successfully, the
	// kafmesh-replayed-from header it carried.
	handled map[string]string
}

func (f *dlqFixture) setBroken(b bool) {
	f.mu.Lock()
	f.broken = b
	f.mu.Unlock()
}

func (f *dlqFixture) replayedFrom(v string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	h, ok := f.handled[v]
	return h, ok
}

func startDLQFixture(t *testing.T, brokers []string) *dlqFixture {
	t.Helper()
	f := &dlqFixture{in: kafmeshtest.Unique(t, "in"), out: kafmeshtest.Unique(t, "out"), group: kafmeshtest.Unique(t, "dlqproc"),
		broken: true, handled: map[string]string{}}
	kafmeshtest.CreateTopic(t, brokers, f.in, 1, false)
	codec := runner.Proto[wrapperspb.StringValue]()
	s, err := runner.NewService(runner.Definition{Name: "dlqtest"}, runner.WithBrokers(brokers...), runner.WithStateDir(t.TempDir()),
		runner.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	p := runner.NewProcessor(runner.ProcessorSpec{
		Component: "c", Name: "upper", Group: f.group,
		Inputs:  []runner.TopicRef{{Topic: f.in, Type: runner.TopicProtobuf}},
		Outputs: []runner.OutputRef{{TopicRef: runner.TopicRef{Topic: f.out, Type: runner.TopicProtobuf}}},
	}, runner.OnError(runner.DeadLetterOnError()))
	runner.HandleInput(p, 0, codec, func(ctx *runner.ProcessorContext, m *wrapperspb.StringValue) error {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.broken && strings.HasPrefix(m.GetValue(), "bad") {
			return errors.New("broken handler cannot take " + m.GetValue())
		}
		replayed := ""
		for _, h := range ctx.Headers() {
			if h.Key == dlq.HeaderReplayedFrom {
				replayed = string(h.Value)
			}
		}
		f.handled[m.GetValue()] = replayed
		runner.Output(ctx, 0, codec, ctx.Key(), wrapperspb.String(strings.ToUpper(m.GetValue())))
		return nil
	})
	if err := s.Register(p); err != nil {
		t.Fatal(err)
	}
	if err := s.ConfigureTopics(t.Context()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			t.Error("Run did not return within 60s of cancel")
		}
	})
	return f
}

func dlqCmd(t *testing.T, brokers []string, args ...string) result {
	t.Helper()
	return dlqCmdPrompt(t, brokers, &DLQPrompt{In: strings.NewReader(""), Terminal: false}, args...)
}

func dlqCmdPrompt(t *testing.T, brokers []string, prompt *DLQPrompt, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	env := &Env{Stdout: &stdout, Stderr: &stderr}
	newCmd := func(env *Env) *cobra.Command { return NewDLQCommand(env, prompt) }
	code := Execute(context.Background(), newCmd(env), append(args, "--brokers", strings.Join(brokers, ",")), env)
	return result{code, stdout.String(), stderr.String()}
}

// waitDLQ waits until show --json of topic returns n records, and returns
// them.
func waitDLQ(t *testing.T, brokers []string, topic string, n int) []dlq.DeadLetter {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		r := dlqCmd(t, brokers, "show", "--topic", topic, "--json", "--limit", "100")
		var got []dlq.DeadLetter
		if r.code == 0 {
			dec := json.NewDecoder(strings.NewReader(r.stdout))
			for {
				var d dlq.DeadLetter
				if err := dec.Decode(&d); err != nil {
					break
				}
				got = append(got, d)
			}
			if len(got) >= n {
				return got
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("DLQ %s: %d records after 60s, want %d (last: %+v)", topic, len(got), n, r)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// TestDLQReplay runs a processor with the dead-letter policy against the
// broker: a record it fails on lands in the DLQ, list counts it, show
// prints why; replaying it while the handler is still broken puts it back
// in the DLQ carrying kafmesh-replayed-from; once the handler is fixed,
// replaying that second dead letter succeeds and the handler sees the
// replay header.
func TestDLQReplay(t *testing.T) {
	brokers := kafmeshtest.StartBroker(t)
	f := startDLQFixture(t, brokers)
	dlqTopic := f.group + "-dlq"

	pcl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer pcl.Close()
	val := func(s string) []byte { b, _ := proto.Marshal(wrapperspb.String(s)); return b }
	if err := pcl.ProduceSync(t.Context(),
		&kgo.Record{Topic: f.in, Key: []byte("k1"), Value: val("good-1")},
		&kgo.Record{Topic: f.in, Key: []byte("k2"), Value: val("bad-2"), Headers: []kgo.RecordHeader{{Key: "trace", Value: []byte("abc")}}},
	).FirstErr(); err != nil {
		t.Fatal(err)
	}
	first := waitDLQ(t, brokers, dlqTopic, 1)[0]
	if first.OriginalTopic != f.in || first.OriginalPartition != 0 || first.OriginalOffset != 1 || string(first.Key) != "k2" ||
		first.Error != "broken handler cannot take bad-2" || first.ReplayedFrom != "" || first.Headers["trace"] != "abc" {
		t.Fatalf("first dead letter %+v", first)
	}

	r := dlqCmd(t, brokers, "list")
	if r.code != 0 || !strings.Contains(r.stdout, dlqTopic) {
		t.Fatalf("list: %+v", r)
	}
	r = dlqCmd(t, brokers, "list", "--json")
	var topics []dlq.Topic
	if err := json.Unmarshal([]byte(r.stdout), &topics); err != nil {
		t.Fatalf("list --json: %v in %q", err, r.stdout)
	}
	found := false
	for _, tp := range topics {
		if tp.Topic == dlqTopic {
			found = true
			if tp.Group != f.group || tp.Records < 1 {
				t.Errorf("list entry %+v", tp)
			}
		}
	}
	if !found {
		t.Fatalf("list --json has no %s: %s", dlqTopic, r.stdout)
	}
	r = dlqCmd(t, brokers, "show", "--topic", dlqTopic)
	for _, want := range []string{"from:     " + f.in + "[0]@1", "error:    broken handler cannot take bad-2", `key:      "k2"`, "header:   trace=\"abc\""} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("show lacks %q:\n%s", want, r.stdout)
		}
	}

	// Without a terminal and --yes nothing is sent.
	if r := dlqCmd(t, brokers, "replay", "--topic", dlqTopic, "--offsets", pos(first)); r.code != 1 || !strings.Contains(r.stderr, "pass --yes") {
		t.Fatalf("replay without --yes: %+v", r)
	}
	// On a terminal it asks; anything but y/yes sends nothing.
	if r := dlqCmdPrompt(t, brokers, &DLQPrompt{In: strings.NewReader("n\n"), Terminal: true}, "replay", "--topic", dlqTopic, "--offsets", pos(first)); r.code != 1 ||
		!strings.Contains(r.stdout, "Replay them? [y/N]") || !strings.Contains(r.stderr, "not confirmed") {
		t.Fatalf("replay answered no: %+v", r)
	}
	if r := dlqCmd(t, brokers, "replay", "--topic", dlqTopic, "--offsets", "0/99", "--yes"); r.code != 1 || !strings.Contains(r.stderr, "no dead letter at 0/99") {
		t.Fatalf("replay of a missing offset: %+v", r)
	}

	// Replay while still broken: it fails again and is visible as a replay.
	r = dlqCmd(t, brokers, "replay", "--topic", dlqTopic, "--offsets", pos(first), "--yes")
	if r.code != 0 || !strings.Contains(r.stdout, "replayed 1 dead letter(s)") || !strings.Contains(r.stderr, "msg=\"dlq replay\"") ||
		!strings.Contains(r.stderr, "dlq="+dlqTopic) {
		t.Fatalf("replay: %+v", r)
	}
	letters := waitDLQ(t, brokers, dlqTopic, 2)
	again := letters[1]
	wantFrom := dlqTopic + "/" + pos(first)
	if again.ReplayedFrom != wantFrom || again.OriginalOffset != 2 || string(again.Key) != "k2" || again.Headers["trace"] != "abc" {
		t.Fatalf("failed-again dead letter %+v, want replayed from %s at original offset 2", again, wantFrom)
	}
	if r := dlqCmd(t, brokers, "show", "--topic", dlqTopic, "--partition", itoa(int64(again.Partition)), "--offset", itoa(again.Offset)); !strings.Contains(r.stdout, "replayed: from "+wantFrom) {
		t.Errorf("show of the failed-again letter:\n%s", r.stdout)
	}

	// Fix the handler; replay the second dead letter: it succeeds.
	f.setBroken(false)
	r = dlqCmd(t, brokers, "replay", "--topic", dlqTopic, "--offsets", pos(again), "--yes")
	if r.code != 0 {
		t.Fatalf("replay: %+v", r)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if h, ok := f.replayedFrom("bad-2"); ok {
			if want := dlqTopic + "/" + pos(again); h != want {
				t.Fatalf("the handled record's %s = %q, want %q", dlq.HeaderReplayedFrom, h, want)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the replayed record was not handled within 60s")
		}
		time.Sleep(200 * time.Millisecond)
	}
	if n := len(waitDLQ(t, brokers, dlqTopic, 2)); n != 2 {
		t.Errorf("DLQ has %d records after the successful replay, want 2", n)
	}
}

// TestDLQBadInput checks the flag errors that need no broker.
func TestDLQBadInput(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"show"}, "--topic is required"},
		{[]string{"show", "--topic", "x-dlq", "--limit", "0"}, "--limit 0"},
		{[]string{"replay", "--topic", "x-dlq"}, "either --offsets or --all"},
		{[]string{"replay", "--topic", "x-dlq", "--all", "--offsets", "1"}, "either --offsets or --all"},
		{[]string{"replay", "--topic", "x-dlq", "--offsets", "a/b"}, `--offsets "a/b"`},
		{[]string{"list", "--sasl-mechanism", "GSSAPI", "--sasl-user", "u"}, "want PLAIN"},
	} {
		r := dlqCmd(t, []string{"127.0.0.1:1"}, c.args...)
		if r.code != 1 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%v: %+v, want an error with %q", c.args, r, c.want)
		}
	}
	var stdout, stderr bytes.Buffer
	env := &Env{Stdout: &stdout, Stderr: &stderr}
	if code := Execute(context.Background(), NewDLQCommand(env, &DLQPrompt{}), []string{"list"}, env); code != 1 || !strings.Contains(stderr.String(), "--brokers is required") {
		t.Errorf("list without --brokers: %d %s", code, stderr.String())
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// pos is d's position as --offsets takes it: PARTITION/OFFSET.
func pos(d dlq.DeadLetter) string { return itoa(int64(d.Partition)) + "/" + itoa(d.Offset) }
