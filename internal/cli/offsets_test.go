package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/kafmesh/kafmesh/internal/testcert"
	"github.com/kafmesh/kafmesh/kafmeshtest"
	"github.com/kafmesh/kafmesh/runner"
)

func offsetsRun(t *testing.T, prompt *OffsetsPrompt, args ...string) result {
	t.Helper()
	return execute(t, "", nil, func(env *Env) *cobra.Command { return NewOffsetsCommand(env, prompt) }, args...)
}

func offsetsClient(t *testing.T, brokers []string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func committedAt(t *testing.T, adm *kadm.Client, group, topic string, p int32) int64 {
	t.Helper()
	offs, err := adm.FetchOffsets(context.Background(), group)
	if err != nil {
		return -1 // kfake answers GROUP_ID_NOT_FOUND before the first commit
	}
	o, ok := offs.Lookup(topic, p)
	if !ok {
		return -1
	}
	return o.At
}

func TestOffsetsShowAndSkip(t *testing.T) {
	brokers := kafmeshtest.StartBroker(t)
	topic, group := kafmeshtest.Unique(t, "offsets"), kafmeshtest.Unique(t, "offsets-group")
	kafmeshtest.CreateTopic(t, brokers, topic, 2, false)
	cl := offsetsClient(t, brokers, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	var rs []*kgo.Record
	for i := range 15 {
		rs = append(rs, &kgo.Record{Topic: topic, Partition: int32(i % 3 / 2), Value: []byte("v")}) // 10 to p0, 5 to p1
	}
	if err := cl.ProduceSync(context.Background(), rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	adm := kadm.NewClient(cl)
	commit := func(p int32, at int64) {
		resp, err := adm.CommitOffsets(context.Background(), group, kadm.Offsets{topic: {p: {Topic: topic, Partition: p, At: at, LeaderEpoch: -1}}})
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	commit(0, 4)
	commit(1, 5)
	bs := strings.Join(brokers, ",")

	t.Run("show", func(t *testing.T) {
		r := offsetsRun(t, nil, "show", "--brokers", bs, "--group", group)
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		for _, want := range []string{"total lag 6", topic + "  0          4          10   6", topic + "  1          5          5    0"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("show output lacks %q:\n%s", want, r.stdout)
			}
		}
		r = offsetsRun(t, nil, "show", "--brokers", bs, "--group", group, "--json")
		var g GroupOffsets
		if err := json.Unmarshal([]byte(r.stdout), &g); err != nil {
			t.Fatalf("--json: %v\n%s", err, r.stdout)
		}
		want := []PartitionOffsets{{topic, 0, 4, 10, 6}, {topic, 1, 5, 5, 0}}
		if g.Group != group || g.Members != 0 || g.TotalLag != 6 || fmt.Sprint(g.Partitions) != fmt.Sprint(want) {
			t.Errorf("--json: %+v, want partitions %+v and total lag 6", g, want)
		}
	})

	t.Run("refusals", func(t *testing.T) {
		for _, c := range []struct {
			args []string
			want string
		}{
			{[]string{"--topic", topic, "--partition", "0", "--offset", "3", "--yes"}, "already past offset 3"},
			{[]string{"--topic", topic, "--partition", "0", "--offset", "10", "--yes"}, "no record at offset 10"},
			{[]string{"--topic", topic, "--partition", "7", "--offset", "1", "--yes"}, "no such topic or partition"},
			{[]string{"--topic", topic, "--partition", "0", "--offset", "6", "--yes"}, "--allow-gap"},
			{[]string{"--partition", "0", "--offset", "6"}, "--topic is required"},
			{[]string{"--topic", topic, "--partition", "0"}, "--offset -1: must be 0 or more"},
		} {
			r := offsetsRun(t, nil, append([]string{"skip", "--brokers", bs, "--group", group}, c.args...)...)
			if r.code == 0 || !strings.Contains(r.stderr, c.want) {
				t.Errorf("skip %v: exit %d, stderr %q; want an error with %q", c.args, r.code, r.stderr, c.want)
			}
		}
		if got := committedAt(t, adm, group, topic, 0); got != 4 {
			t.Errorf("a refused skip moved the offset to %d", got)
		}
		if !kafmeshtest.UsingRealBroker() {
			return // kfake describes any group name as an empty group
		}
		r := offsetsRun(t, nil, "show", "--brokers", bs, "--group", group+"-typo")
		if r.code == 0 || !strings.Contains(r.stderr, "does not exist") {
			t.Errorf("show of a group that does not exist: exit %d, stderr %q", r.code, r.stderr)
		}
	})

	t.Run("confirmation", func(t *testing.T) {
		args := []string{"skip", "--brokers", bs, "--group", group, "--topic", topic, "--partition", "0", "--offset", "4"}
		r := offsetsRun(t, &OffsetsPrompt{In: strings.NewReader(""), Terminal: false}, args...)
		if r.code == 0 || !strings.Contains(r.stderr, "pass --yes") {
			t.Errorf("no terminal, no --yes: exit %d, stderr %q", r.code, r.stderr)
		}
		r = offsetsRun(t, &OffsetsPrompt{In: strings.NewReader("no\n"), Terminal: true}, args...)
		if r.code == 0 || !strings.Contains(r.stderr, "not confirmed") || !strings.Contains(r.stdout, "committed offset 4 -> 5") {
			t.Errorf("answered no: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
		}
		if got := committedAt(t, adm, group, topic, 0); got != 4 {
			t.Fatalf("an unconfirmed skip moved the offset to %d", got)
		}
		r = offsetsRun(t, &OffsetsPrompt{In: strings.NewReader("yes\n"), Terminal: true}, args...)
		if r.code != 0 {
			t.Fatalf("answered yes: exit %d: %s", r.code, r.stderr)
		}
		if !strings.Contains(r.stdout, "audit: ") || !strings.Contains(r.stdout, fmt.Sprintf("moved group %s %s[0] from 4 to 5, skipping offsets 4 to 4", group, topic)) {
			t.Errorf("no audit line on stdout:\n%s", r.stdout)
		}
		if !strings.Contains(r.stderr, "audit=true") || !strings.Contains(r.stderr, "old_offset=4 new_offset=5") {
			t.Errorf("no audit log on stderr:\n%s", r.stderr)
		}
		if got := committedAt(t, adm, group, topic, 0); got != 5 {
			t.Errorf("committed %d after the skip, want 5", got)
		}
	})

	t.Run("allow-gap", func(t *testing.T) {
		r := offsetsRun(t, nil, "skip", "--brokers", bs, "--group", group, "--topic", topic, "--partition", "0", "--offset", "7", "--yes", "--allow-gap")
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		if !strings.Contains(r.stdout, "and the 2 records before it, offsets 5 to 6") {
			t.Errorf("the plan does not name the gap:\n%s", r.stdout)
		}
		if got := committedAt(t, adm, group, topic, 0); got != 8 {
			t.Errorf("committed %d, want 8", got)
		}
	})

	t.Run("group with members", func(t *testing.T) {
		member := offsetsClient(t, brokers, kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic), kgo.DisableAutoCommit())
		waitFor(t, 30*time.Second, func() bool {
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			member.PollFetches(ctx)
			_, n, err := describeGroup(context.Background(), adm, group)
			return err == nil && n == 1
		})
		r := offsetsRun(t, nil, "skip", "--brokers", bs, "--group", group, "--topic", topic, "--partition", "0", "--offset", "8", "--yes")
		if r.code == 0 || !strings.Contains(r.stderr, "has 1 members") || !strings.Contains(r.stderr, "stop every instance") {
			t.Errorf("skip on a running group: exit %d, stderr %q", r.code, r.stderr)
		}
		r = offsetsRun(t, nil, "show", "--brokers", bs, "--group", group)
		if !strings.Contains(r.stdout, "1 members") {
			t.Errorf("show does not count the member:\n%s", r.stdout)
		}
	})
}

func waitFor(t *testing.T, limit time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestOffsetsSkipPastPoisonRecord is the runbook of docs/runtime.md end to
// end: a processor with the default (fail) policy stops at a record it
// cannot decode; `offsets show` shows where; `offsets skip` moves the
// stopped group past it; the restarted processor handles everything after.
func TestOffsetsSkipPastPoisonRecord(t *testing.T) {
	brokers := kafmeshtest.StartBroker(t)
	in, out := kafmeshtest.Unique(t, "poison-in"), kafmeshtest.Unique(t, "poison-out")
	group := kafmeshtest.Unique(t, "poison")
	kafmeshtest.CreateTopic(t, brokers, in, 1, false)
	kafmeshtest.CreateTopic(t, brokers, out, 1, false)
	kafmeshtest.CreateTopic(t, brokers, group+"-table", 1, true)
	bs := strings.Join(brokers, ",")
	stateDir := t.TempDir()

	// start runs the counter; stop cancels it and returns Run's error,
	// done is closed when Run returned on its own.
	start := func() (stop func() error, done <-chan struct{}) {
		s, err := runner.NewService(runner.Definition{Name: "poison"}, runner.WithBrokers(brokers...), runner.WithStateDir(stateDir),
			runner.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
		if err != nil {
			t.Fatal(err)
		}
		p := runner.NewProcessor(runner.ProcessorSpec{Component: "c", Name: "count", Group: group,
			Inputs:  []runner.TopicRef{{Topic: in, Message: "google.protobuf.StringValue", Type: runner.TopicProtobuf}},
			Outputs: []runner.OutputRef{{TopicRef: runner.TopicRef{Topic: out, Message: "google.protobuf.Int64Value", Type: runner.TopicProtobuf}}},
			State:   &runner.TopicRef{Topic: group + "-table", Message: "google.protobuf.Int64Value", Type: runner.TopicProtobuf},
		})
		codec := runner.Proto[wrapperspb.Int64Value]()
		runner.HandleInput(p, 0, runner.Proto[wrapperspb.StringValue](), func(c *runner.ProcessorContext, _ *wrapperspb.StringValue) error {
			n, _ := runner.State(c, codec)
			next := wrapperspb.Int64(n.GetValue() + 1)
			runner.SaveState(c, codec, next)
			runner.Output(c, 0, codec, c.Key(), next)
			return nil
		})
		if err := s.Register(p); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		ended := make(chan struct{})
		var runErr error
		go func() { runErr = s.Run(ctx); close(ended) }()
		stop = func() error {
			cancel()
			select {
			case <-ended:
			case <-time.After(60 * time.Second):
				t.Fatal("Run did not return within 60s of cancel")
			}
			return runErr
		}
		t.Cleanup(func() { _ = stop() })
		return stop, ended
	}

	cl := offsetsClient(t, brokers, kgo.DefaultProduceTopic(in))
	adm := kadm.NewClient(cl)
	produce := func(values ...[]byte) {
		var rs []*kgo.Record
		for _, v := range values {
			rs = append(rs, &kgo.Record{Key: []byte("k"), Value: v})
		}
		if err := cl.ProduceSync(context.Background(), rs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	good := func(n int) {
		v, _ := proto.Marshal(wrapperspb.String("ok"))
		for range n {
			produce(v)
		}
	}
	waitCommitted := func(at int64) {
		waitFor(t, 60*time.Second, func() bool { return committedAt(t, adm, group, in, 0) == at })
	}

	stop, ended := start()
	good(20)
	waitCommitted(20)
	produce([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}) // offset 20
	good(10)
	select {
	case <-ended:
	case <-time.After(60 * time.Second):
		t.Fatal("the processor did not stop at the poison record")
	}
	err := stop()
	if err == nil || !strings.Contains(err.Error(), in+"[0] offset 20") {
		t.Fatalf("Run returned %v, want the undecodable record at %s[0] offset 20", err, in)
	}

	r := offsetsRun(t, nil, "show", "--brokers", bs, "--group", group, "--json")
	var g GroupOffsets
	if jerr := json.Unmarshal([]byte(r.stdout), &g); jerr != nil || len(g.Partitions) != 1 || g.Partitions[0].Committed != 20 || g.Partitions[0].End != 31 || g.Members != 0 {
		t.Fatalf("show after the stop: %v %+v (%s)", jerr, g, r.stderr)
	}
	r = offsetsRun(t, nil, "skip", "--brokers", bs, "--group", group, "--topic", in, "--partition", "0", "--offset", "20", "--yes")
	if r.code != 0 {
		t.Fatalf("skip: exit %d: %s", r.code, r.stderr)
	}

	stop, _ = start()
	waitCommitted(31)
	if err := stop(); err != nil {
		t.Fatalf("after the skip: %v", err)
	}
	oc := offsetsClient(t, brokers, kgo.ConsumeTopics(out), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var counts []int64
	for len(counts) < 30 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		fs := oc.PollFetches(ctx)
		timedOut := ctx.Err() != nil
		cancel()
		if timedOut {
			break
		}
		fs.EachRecord(func(r *kgo.Record) {
			var v wrapperspb.Int64Value
			_ = proto.Unmarshal(r.Value, &v)
			counts = append(counts, v.Value)
		})
	}
	if len(counts) < 30 || counts[len(counts)-1] != 30 {
		t.Errorf("outputs %v: want the 30 good records counted, the last count 30", counts)
	}
}

// The offsets commands reach brokers that require TLS and SASL; a wrong
// password is an error, not a hang.
func TestOffsetsOverTLSWithSASL(t *testing.T) {
	cert, certPEM := testcert.SelfSigned(t)
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(), kfake.Superuser("PLAIN", "ops", "s3cret"),
		kfake.TLS(&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(certPEM)
	cl := offsetsClient(t, cluster.ListenAddrs(), kgo.DialTLSConfig(&tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}),
		kgo.SASL(plain.Auth{User: "ops", Pass: "s3cret"}.AsMechanism()))
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(context.Background(), 1, 1, nil, "secure"); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: "secure", Value: []byte("v")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if resp, err := adm.CommitOffsets(context.Background(), "g", kadm.Offsets{"secure": {0: {Topic: "secure", At: 0, LeaderEpoch: -1}}}); err != nil || resp.Error() != nil {
		t.Fatal(err, resp.Error())
	}
	args := []string{"show", "--brokers", strings.Join(cluster.ListenAddrs(), ","), "--group", "g", "--tls-ca", ca,
		"--sasl-mechanism", "plain", "--sasl-user", "ops"}
	t.Setenv(saslPasswordEnv, "s3cret")
	if r := offsetsRun(t, nil, args...); r.code != 0 || !strings.Contains(r.stdout, "total lag 1") {
		t.Errorf("show over TLS and SASL: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	t.Setenv(saslPasswordEnv, "guess")
	start := time.Now()
	if r := offsetsRun(t, nil, args...); r.code == 0 || time.Since(start) > 20*time.Second {
		t.Errorf("a wrong password: exit %d after %s, stderr %q", r.code, time.Since(start), r.stderr)
	}
	t.Setenv(saslPasswordEnv, "")
	if r := offsetsRun(t, nil, args...); r.code == 0 || !strings.Contains(r.stderr, saslPasswordEnv) {
		t.Errorf("no password: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := offsetsRun(t, nil, "show", "--brokers", "x:1", "--group", "g", "--sasl-mechanism", "GSSAPI", "--sasl-user", "u"); r.code == 0 || !strings.Contains(r.stderr, "want PLAIN") {
		t.Errorf("unknown mechanism: exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestOffsetsHanging: a group whose transactions completed has no hanging
// transaction to list or abort; a transaction still open and tracked by
// its coordinator is never listed either, even with no minimum age; bad
// flags are refused with the reason.
func TestOffsetsHanging(t *testing.T) {
	brokers := kafmeshtest.StartBroker(t)
	topic := kafmeshtest.Unique(t, "hanging-in")
	group := topic + "-group"
	kafmeshtest.CreateTopic(t, brokers, topic, 2, false)
	cl := offsetsClient(t, brokers, kgo.TransactionalID(topic+"-txn"), kgo.DefaultProduceTopic(topic))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Key: []byte("k"), Value: []byte("v")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	// The group has committed on the topic (outside the transaction).
	adm := kadm.NewClient(offsetsClient(t, brokers))
	if _, err := adm.CommitOffsets(ctx, group, kadm.Offsets{topic: {0: {Topic: topic, Partition: 0, At: 0, LeaderEpoch: -1}}}); err != nil {
		t.Fatal(err)
	}
	b := strings.Join(brokers, ",")
	r := offsetsRun(t, nil, "hanging", "--brokers", b, "--group", group, "--min-age", "0s", "--abort", "--yes")
	if r.code != 0 || !strings.Contains(r.stdout, "no hanging transaction") {
		t.Fatalf("with a live transaction: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	r = offsetsRun(t, nil, "hanging", "--brokers", b, "--group", group)
	if r.code != 0 || !strings.Contains(r.stdout, "no hanging transaction on the partitions of group "+group) {
		t.Fatalf("after the commit: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"hanging", "--brokers", b, "--group", group, "--min-age", "-1s"}, "--min-age -1s: must be 0 or more"},
		{[]string{"hanging", "--brokers", b, "--group", group, "--topic", topic + "-missing"}, "topic " + topic + "-missing: not found"},
		{[]string{"hanging", "--brokers", b}, "--group is required"},
	} {
		if r := offsetsRun(t, nil, c.args...); r.code == 0 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", c.args, r.code, r.stderr, c.want)
		}
	}
}
