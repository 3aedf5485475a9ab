package runner_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/kafmesh/kafmesh/kafmeshtest"
	"github.com/kafmesh/kafmesh/runner"
)

// The crash tests run a counter in a child process (this test binary,
// re-executed), kill it hard, and check what another instance makes of
// what it left behind.

const (
	childEnv = "KAFMESH_CRASH_CHILD"
	// childDefaultSessionEnv keeps the child at the default 45s session
	// timeout.
	childDefaultSessionEnv = "KAFMESH_CRASH_DEFAULT_SESSION"
)

type childConfig struct {
	Brokers, In, Out, Group, StateDir, Instance string
	ExactlyOnce                                 bool
	CrashAfter                                  int // exit(3) while handling this record (0: never)
}

func (c childConfig) env() string {
	return strings.Join([]string{strings.Join(strings.Split(c.Brokers, ","), ";"), c.In, c.Out, c.Group, c.StateDir, c.Instance,
		strconv.FormatBool(c.ExactlyOnce), strconv.Itoa(c.CrashAfter)}, ",")
}

func parseChild(s string) childConfig {
	f := strings.Split(s, ",")
	eos, _ := strconv.ParseBool(f[6])
	n, _ := strconv.Atoi(f[7])
	return childConfig{Brokers: strings.ReplaceAll(f[0], ";", ","), In: f[1], Out: f[2], Group: f[3], StateDir: f[4], Instance: f[5], ExactlyOnce: eos, CrashAfter: n}
}

// TestCrashChild is the child process; it does nothing in a normal run.
func TestCrashChild(t *testing.T) {
	cfg := os.Getenv(childEnv)
	if cfg == "" {
		t.Skip("runs only as the child of a crash test")
	}
	c := parseChild(cfg)
	var opts []runner.PartOption
	if c.ExactlyOnce {
		opts = append(opts, runner.ExactlyOnce())
	}
	sopts := []runner.Option{runner.WithInstanceID(c.Instance)}
	if os.Getenv(childDefaultSessionEnv) == "" {
		sopts = append(sopts, runner.WithKafkaOptions(kgo.SessionTimeout(6*time.Second)))
	}
	s := newService(t, strings.Split(c.Brokers, ","), "crashing", c.StateDir, sopts...)
	var handled atomic.Int64
	p := runner.NewProcessor(counter{in: c.In, out: c.Out, group: c.Group}.spec(), opts...)
	runner.HandleInput(p, 0, stringCodec, func(ctx *runner.ProcessorContext, m *wrapperspb.StringValue) error {
		n, _ := runner.State(ctx, countCodec)
		next := wrapperspb.Int64(n.GetValue() + 1)
		runner.SaveState(ctx, countCodec, next)
		runner.Output(ctx, 0, countCodec, ctx.Key(), next)
		if handled.Add(1) == int64(c.CrashAfter) {
			// Let the outputs of this open commit cycle reach the
			// brokers, then die without committing anything.
			time.Sleep(300 * time.Millisecond)
			os.Exit(3)
		}
		return nil
	})
	if err := s.Register(p); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer cancel()
	if err := s.Run(ctx); err != nil {
		t.Fatal(err)
	}
}

func startChild(t *testing.T, c childConfig) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+c.env())
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	return cmd
}

// outputsPerKey returns the sequence of counts output for each key.
func outputsPerKey(t testing.TB, rs []*kgo.Record) map[string][]int64 {
	out := map[string][]int64{}
	for _, r := range rs {
		var v wrapperspb.Int64Value
		if err := proto.Unmarshal(r.Value, &v); err != nil {
			t.Fatal(err)
		}
		out[string(r.Key)] = append(out[string(r.Key)], v.Value)
	}
	return out
}

func TestCrashedProcessorIsTakenOver(t *testing.T) {
	for _, mode := range []struct {
		name string
		eos  bool
	}{{"at-least-once", false}, {"exactly-once", true}} {
		t.Run(mode.name, func(t *testing.T) {
			brokers := kafmeshtest.StartBroker(t) // the child reaches kfake over TCP too
			c := newCounter(t)
			kafmeshtest.CreateTopic(t, brokers, c.in, 4, false)
			cfg := childConfig{Brokers: strings.Join(brokers, ","), In: c.in, Out: c.out, Group: c.group,
				StateDir: t.TempDir(), Instance: "crashy", ExactlyOnce: mode.eos, CrashAfter: 1500}
			// Create the topics from this process, then let the child work.
			var opts []runner.PartOption
			if mode.eos {
				opts = append(opts, runner.ExactlyOnce())
			}
			c.opts = opts
			setup := newService(t, brokers, "crashing", t.TempDir())
			c.register(t, setup)
			if err := setup.ConfigureTopics(t.Context()); err != nil {
				t.Fatal(err)
			}

			const total, keys = 3000, 20
			produce(t, client(t, brokers), inputRecords(c.in, 0, total, keys)...)
			child := startChild(t, cfg)
			err := child.Wait()
			if code := child.ProcessState.ExitCode(); code != 3 {
				t.Fatalf("child exited with %d (%v), want the crash exit 3", code, err)
			}

			// A new instance with the same instance id (so the same
			// transactional id) finishes the work.
			s := newService(t, brokers, "crashing", cfg.StateDir, runner.WithInstanceID(cfg.Instance))
			c.register(t, s)
			stop := running(t, s)
			// Done when the group committed the whole input (which comes
			// after its outputs were acknowledged). Counting outputs would
			// not do: at-least-once repeats some, so their number can
			// reach the input's before every partition was processed.
			ends := endOffsets(t, brokers, c.in)
			adm := kadm.NewClient(client(t, brokers))
			waitUntil(t, 90*time.Second, func() string {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				offs, err := adm.FetchOffsets(ctx, c.group)
				if err != nil {
					return fmt.Sprintf("fetch offsets: %v", err)
				}
				var behind []string
				for p, end := range ends {
					if o, _ := offs.Lookup(c.in, p); o.At < end {
						behind = append(behind, fmt.Sprintf("partition %d committed %d of %d", p, o.At, end))
					}
				}
				if len(behind) > 0 {
					time.Sleep(100 * time.Millisecond)
					return "input not processed: " + strings.Join(behind, ", ")
				}
				return ""
			})
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			outs := consumeQuiet(t, brokers, c.out, 2*time.Second)
			perKey := outputsPerKey(t, outs)
			for k := range keys {
				key := fmt.Sprintf("key-%d", k)
				seq := perKey[key]
				want := total / keys
				last := seq[len(seq)-1]
				if mode.eos {
					// Read committed: every count exactly once, in order.
					if len(seq) != want {
						t.Errorf("%s: %d outputs, want exactly %d", key, len(seq), want)
					}
					for i, v := range seq {
						if v != int64(i+1) {
							t.Errorf("%s: output %d is count %d, want %d", key, i, v, i+1)
							break
						}
					}
				} else if len(seq) < want || last < int64(want) {
					t.Errorf("%s: %d outputs, last count %d: lost records (want at least %d)", key, len(seq), last, want)
				}
			}
			if !mode.eos {
				t.Logf("at-least-once after a crash: %d outputs for %d inputs", len(outs), total)
			}
		})
	}
}

// TestRestartAfterKillResumesFast: an instance dies hard inside a commit
// cycle (an exactly-once transaction open) with the default 45s session
// timeout, and restarts at once with the same instance id. Static
// membership gets it its partitions back without waiting for the dead
// member to expire, and fencing the dead transaction before the restore
// keeps the restore from waiting for the transaction timeout. It must
// handle records again within 10s.
func TestRestartAfterKillResumesFast(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a child process")
	}
	for _, mode := range []struct {
		name string
		eos  bool
	}{{"at-least-once", false}, {"exactly-once", true}} {
		t.Run(mode.name, func(t *testing.T) {
			brokers := kafmeshtest.StartBroker(t)
			c := newCounter(t)
			kafmeshtest.CreateTopic(t, brokers, c.in, 4, false)
			cfg := childConfig{Brokers: strings.Join(brokers, ","), In: c.in, Out: c.out, Group: c.group,
				StateDir: t.TempDir(), Instance: "restarty", ExactlyOnce: mode.eos, CrashAfter: 1500}
			if mode.eos {
				c.opts = []runner.PartOption{runner.ExactlyOnce()}
			}
			setup := newService(t, brokers, "crashing", t.TempDir())
			c.register(t, setup)
			if err := setup.ConfigureTopics(t.Context()); err != nil {
				t.Fatal(err)
			}
			const total, keys = 3000, 20
			produce(t, client(t, brokers), inputRecords(c.in, 0, total, keys)...)
			t.Setenv(childDefaultSessionEnv, "1")
			child := startChild(t, cfg)
			_ = child.Wait()
			if code := child.ProcessState.ExitCode(); code != 3 {
				t.Fatalf("child exited with %d, want the crash exit 3", code)
			}

			var first atomic.Int64
			c.firstRead = &first
			s := newService(t, brokers, "crashing", cfg.StateDir, runner.WithInstanceID(cfg.Instance))
			c.register(t, s)
			start := time.Now()
			stop := running(t, s)
			waitUntil(t, 60*time.Second, func() string {
				if first.Load() == 0 {
					return "no record handled after the restart"
				}
				return ""
			})
			took := time.Unix(0, first.Load()).Sub(start)
			t.Logf("%s: first record handled %v after the restart", mode.name, took.Round(time.Millisecond))
			if took > 10*time.Second {
				t.Errorf("resumed %v after the restart, want within 10s", took)
			}
			waitGroupCommitted(t, brokers, c.group, c.in, 60*time.Second)
			if err := stop(); err != nil {
				t.Fatal(err)
			}
		})
	}
}
