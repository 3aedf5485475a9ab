// Command counter is the service the chaos suite (internal/chaos) runs as
// subprocesses and kills, pauses and restarts: one stateful processor that
// counts the records of each key.
//
// Each input value is a google.protobuf.StringValue holding the record's
// id (a decimal number). For each input the processor increments its key's
// count (state: google.protobuf.Int64Value, changelog <group>-table) and
// outputs a StringValue "<id> <count> <unix micros>": which input it
// handled, the count after it, and when. From the inputs, outputs and
// changelog the suite finds lost and duplicated inputs, wrong counts and
// wrong changelog values, and the longest processing gap.
//
// The process exits 0 after SIGTERM or SIGINT once Run returned nil, and 1
// with the error on stderr when Run failed. With -crash-in-commit N it kills
// itself (SIGKILL) inside a commit: at the Nth changelog batch acknowledged
// (-crash-point changelog) or right after writing its Nth commit request
// (-crash-point request).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/kafmesh/kafmesh/runner"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "counter:", err)
		os.Exit(1)
	}
}

type config struct {
	brokers, in, out, group, stateDir, instance, policy, crashPoint string
	exactlyOnce                                                     bool
	sessionTimeout                                                  time.Duration
	crashInCommit                                                   int
}

func run() error {
	var c config
	flag.StringVar(&c.brokers, "brokers", "", "seed brokers, comma separated")
	flag.StringVar(&c.in, "in", "", "input topic")
	flag.StringVar(&c.out, "out", "", "output topic")
	flag.StringVar(&c.group, "group", "", "consumer group (state topic <group>-table)")
	flag.StringVar(&c.stateDir, "state-dir", "", "local state folder")
	flag.StringVar(&c.instance, "instance", "", "instance id (stable across restarts of one instance)")
	flag.StringVar(&c.policy, "policy", "fail", "error policy: fail, skip or deadletter")
	flag.BoolVar(&c.exactlyOnce, "exactly-once", false, "run the processor exactly-once")
	flag.DurationVar(&c.sessionTimeout, "session-timeout", 6*time.Second, "consumer group session timeout")
	flag.IntVar(&c.crashInCommit, "crash-in-commit", 0, "kill this process (SIGKILL) inside a commit, at the Nth event of -crash-point (0: never)")
	flag.StringVar(&c.crashPoint, "crash-point", "changelog",
		"where in the commit: changelog (its state records were acknowledged, the commit request not sent) or request (the offset or transaction commit request was written)")
	flag.Parse()
	if c.brokers == "" || c.in == "" || c.out == "" || c.group == "" || c.stateDir == "" || c.instance == "" {
		return errors.New("-brokers, -in, -out, -group, -state-dir and -instance are required")
	}
	var policy runner.ErrorPolicy
	switch c.policy {
	case "fail":
		policy = runner.FailOnError()
	case "skip":
		policy = runner.SkipOnError()
	case "deadletter":
		policy = runner.DeadLetterOnError()
	default:
		return fmt.Errorf("-policy %q: want fail, skip or deadletter", c.policy)
	}

	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})).With("instance", c.instance)
	kopts := []kgo.Opt{kgo.SessionTimeout(c.sessionTimeout), kgo.HeartbeatInterval(c.sessionTimeout / 6)}
	if c.crashInCommit > 0 {
		h, err := newCrashHook(c.group+"-table", c.crashPoint, c.crashInCommit, log)
		if err != nil {
			return err
		}
		kopts = append(kopts, kgo.WithHooks(h))
	}
	svc, err := runner.NewService(runner.Definition{Name: "chaos"},
		runner.WithBrokers(strings.Split(c.brokers, ",")...),
		runner.WithStateDir(c.stateDir),
		runner.WithInstanceID(c.instance),
		runner.WithLogger(log),
		runner.WithKafkaOptions(kopts...))
	if err != nil {
		return err
	}
	opts := []runner.PartOption{runner.OnError(policy)}
	if c.exactlyOnce {
		opts = append(opts, runner.ExactlyOnce())
	}
	proto := runner.TopicProtobuf
	p := runner.NewProcessor(runner.ProcessorSpec{
		Component: "chaos",
		Name:      "counter",
		Group:     c.group,
		Inputs:    []runner.TopicRef{{Topic: c.in, Message: "google.protobuf.StringValue", Type: proto}},
		Outputs:   []runner.OutputRef{{TopicRef: runner.TopicRef{Topic: c.out, Message: "google.protobuf.StringValue", Type: proto}}},
		State:     &runner.TopicRef{Topic: c.group + "-table", Message: "google.protobuf.Int64Value", Type: proto},
	}, opts...)
	countCodec := runner.Proto[wrapperspb.Int64Value]()
	runner.HandleInput(p, 0, runner.Proto[wrapperspb.StringValue](), func(ctx *runner.ProcessorContext, m *wrapperspb.StringValue) error {
		if _, err := strconv.ParseUint(m.GetValue(), 10, 64); err != nil {
			return fmt.Errorf("input id %q: %w", m.GetValue(), err)
		}
		n, _ := runner.State(ctx, countCodec)
		next := n.GetValue() + 1
		runner.SaveState(ctx, countCodec, wrapperspb.Int64(next))
		out := fmt.Sprintf("%s %d %d", m.GetValue(), next, time.Now().UnixMicro())
		runner.Output(ctx, 0, runner.Proto[wrapperspb.StringValue](), ctx.Key(), wrapperspb.String(out))
		return nil
	})
	if err := svc.Register(p); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	log.Info("counter starting", "group", c.group, "exactly_once", c.exactlyOnce, "policy", c.policy)
	return svc.Run(ctx)
}

// crashHook kills the process inside a commit. A commit first produces the
// state changes to the changelog, flushes, and then commits the offsets
// (at-least-once) or ends the transaction (exactly-once): point
// "changelog" dies when the nth changelog batch was acknowledged (before
// the offsets or the transaction are committed), point "request" right
// after the nth OffsetCommit or EndTxn request was written (the broker may
// or may not complete it).
type crashHook struct {
	stateTopic, point string
	n                 int64
	log               *slog.Logger
	seen              atomic.Int64
}

func newCrashHook(stateTopic, point string, n int, log *slog.Logger) (*crashHook, error) {
	if point != "changelog" && point != "request" {
		return nil, fmt.Errorf("-crash-point %q: want changelog or request", point)
	}
	return &crashHook{stateTopic: stateTopic, point: point, n: int64(n), log: log}, nil
}

// Kafka request keys of the commit requests.
const (
	keyOffsetCommit = 8
	keyEndTxn       = 26
)

func (h *crashHook) OnProduceBatchWritten(_ kgo.BrokerMetadata, topic string, _ int32, _ kgo.ProduceBatchMetrics) {
	if h.point == "changelog" && topic == h.stateTopic && h.seen.Add(1) == h.n {
		h.die("a changelog batch was acknowledged")
	}
}

func (h *crashHook) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if h.point == "request" && err == nil && (key == keyOffsetCommit || key == keyEndTxn) && h.seen.Add(1) == h.n {
		h.die("a commit request was written")
	}
}

func (h *crashHook) die(why string) {
	h.log.Warn("crashing inside a commit on purpose", "why", why, "n", h.n)
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {} // never returns: SIGKILL cannot be caught
}
