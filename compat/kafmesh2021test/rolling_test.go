package kafmesh2021test

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

const partitions = 6

func brokersOrSkip(t *testing.T) []string {
	v := os.Getenv("KAFMESH_TEST_BROKERS")
	if v == "" {
		t.Skip("KAFMESH_TEST_BROKERS is not set: the rolling deploy with goka members needs a real Kafka broker (scripts/test.sh starts one)")
	}
	return strings.Split(v, ",")
}

func logger(t *testing.T) *slog.Logger {
	if os.Getenv("KAFMESH_TEST_VERBOSE") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("test", t.Name())
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// decode2021 decodes a value as the 2021 decoder does: 0x02, 4 bytes of
// schema id, proto.Unmarshal of the rest.
func decode2021(value []byte, m proto.Message) (uint32, error) {
	if len(value) < 5 || value[0] != 0x02 {
		return 0, fmt.Errorf("not 0x02-framed: %x (a 2021 reader fails on it)", value)
	}
	return binary.BigEndian.Uint32(value[1:5]), proto.Unmarshal(value[5:], m)
}

// A processor group of 2021 kafmesh (goka) members is replaced by new
// members one at a time while input flows: old and new members share the
// group (sarama's range protocol), the partitions move without loss, the
// state carries over in both directions, everything new members write is
// readable by the 2021 members, and once the last 2021 member has left the
// group runs kafmesh's cooperative protocol.
func TestRollingDeployFromKafmesh2021(t *testing.T) {
	brokers := brokersOrSkip(t)
	log := logger(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	suffix := strconv.FormatInt(time.Now().UnixNano(), 36)
	c := counterTopics{group: "kafmesh2021test.counting.counter-" + suffix, in: "kafmesh2021test.in-" + suffix, out: "kafmesh2021test.out-" + suffix}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	for _, topic := range []string{c.in, c.out, c.table()} {
		cfg := map[string]*string{}
		if topic == c.table() {
			compact := "compact"
			cfg["cleanup.policy"] = &compact
		}
		if _, err := adm.CreateTopic(ctx, partitions, 1, cfg, topic); err != nil {
			t.Fatalf("create %s: %v", topic, err)
		}
	}
	// The broker answers CreateTopics before its metadata lists the new
	// topics; a goka member that looked then would try to create the table
	// itself and stop on "already exists". Wait until metadata has them.
	for {
		td, err := adm.ListTopics(ctx, c.in, c.out, c.table())
		ready := err == nil
		for _, topic := range []string{c.in, c.out, c.table()} {
			ready = ready && td.Has(topic) && td[topic].Err == nil && len(td[topic].Partitions) == partitions
		}
		if ready {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the created topics never showed in the metadata: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = adm.DeleteTopics(ctx, c.in, c.out, c.table())
		_, _ = adm.DeleteGroup(ctx, c.group)
	})

	// Inputs: 60 keys, per-key sequence numbers, 0x02-framed as a 2021
	// source wrote them, partitioned by murmur2 (franz-go's default).
	const keys = 60
	var (
		mu       sync.Mutex
		produced = map[string]int64{}
	)
	stopInput := make(chan struct{})
	inputDone := make(chan error, 1)
	go func() {
		enc := codec2021[wrapperspb.StringValue]{idString}
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stopInput:
				inputDone <- nil
				return
			case <-tick.C:
			}
			var rs []*kgo.Record
			mu.Lock()
			for j := range 4 { // about 400 inputs/s
				key := fmt.Sprintf("k%02d", (i*4+j)%keys)
				produced[key]++
				v, _ := enc.Encode(wrapperspb.String(strconv.FormatInt(produced[key], 10)))
				rs = append(rs, &kgo.Record{Topic: c.in, Key: []byte(key), Value: v})
			}
			mu.Unlock()
			if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
				inputDone <- err
				return
			}
		}
	}()

	members := map[string]*running{}
	gokaMember := func(name string) *running {
		dir := t.TempDir()
		members[name] = start(func(ctx context.Context) error { return runGoka(ctx, brokers, c, dir, log.With("member", name)) })
		return members[name]
	}
	newMember := func(name string) *running {
		svc, err := newCounter(brokers, c, name, t.TempDir(), log.With("member", name))
		if err != nil {
			t.Fatal(err)
		}
		members[name] = start(svc.Run)
		return members[name]
	}
	stop := func(name string, r *running) {
		t.Helper()
		delete(members, name)
		if err := r.stop(); err != nil {
			t.Fatalf("%s ended with %v", name, err)
		}
	}
	defer func() {
		for _, r := range members {
			_ = r.stop()
		}
	}()
	// waitGroup waits until the group is stable with n members on protocol.
	waitGroup := func(n int, protocol string) {
		t.Helper()
		deadline := time.Now().Add(2 * time.Minute)
		var last string
		for time.Now().Before(deadline) {
			for name, r := range members {
				select {
				case err := <-r.done:
					delete(members, name)
					t.Fatalf("member %s stopped on its own: %v", name, err)
				default:
				}
			}
			gs, err := adm.DescribeGroups(ctx, c.group)
			if err == nil {
				g := gs[c.group]
				last = fmt.Sprintf("state %s, protocol %q, %d members", g.State, g.Protocol, len(g.Members))
				if g.Err == nil && g.State == "Stable" && len(g.Members) == n && g.Protocol == protocol {
					t.Logf("group: %s", last)
					return
				}
			}
			time.Sleep(200 * time.Millisecond)
		}
		t.Fatalf("group not stable with %d members on %q within 2m: %s", n, protocol, last)
	}
	flow := func() { time.Sleep(4 * time.Second) }

	old1, old2 := gokaMember("old-1"), gokaMember("old-2")
	waitGroup(2, "range")
	flow()
	new1 := newMember("new-1")
	waitGroup(3, "range")
	flow()
	stop("old-1", old1)
	waitGroup(2, "range")
	flow()
	new2 := newMember("new-2")
	waitGroup(3, "range")
	flow()
	stop("old-2", old2)
	// The last 2021 member left: the next rebalance picks the cooperative
	// protocol every remaining member prefers.
	waitGroup(2, "kafmesh-copartition")
	flow()
	close(stopInput)
	if err := <-inputDone; err != nil {
		t.Fatalf("produce: %v", err)
	}
	mu.Lock()
	total := int64(0)
	for _, n := range produced {
		total += n
	}
	mu.Unlock()

	// Read outputs until every key's last input has its output.
	type out struct {
		seq     int64
		verdict string
		who     string
	}
	outputs := map[string][]out{}
	rd, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(c.out), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	seen := map[string]int64{}
	complete := func() bool {
		for k, n := range produced {
			if seen[k] < n {
				return false
			}
		}
		return true
	}
	readCtx, readCancel := context.WithTimeout(ctx, 2*time.Minute)
	defer readCancel()
	for !complete() {
		fs := rd.PollFetches(readCtx)
		if readCtx.Err() != nil {
			break
		}
		fs.EachRecord(func(r *kgo.Record) {
			var v wrapperspb.StringValue
			if id, err := decode2021(r.Value, &v); err != nil || id != idString {
				t.Errorf("output %x: id %d, %v", r.Value, id, err)
				return
			}
			parts := strings.SplitN(v.GetValue(), ":", 3)
			seq, _ := strconv.ParseInt(parts[0], 10, 64)
			outputs[string(r.Key)] = append(outputs[string(r.Key)], out{seq, parts[1], parts[2]})
			seen[string(r.Key)] = max(seen[string(r.Key)], seq)
		})
	}
	stop("new-1", new1)
	stop("new-2", new2)

	// Count: lost inputs (no output), gaps (state lost or wrong),
	// duplicates (at-least-once redelivery), and who handled what.
	var lost, gaps, dups int
	by := map[string]int{}
	for k, n := range produced {
		got := map[int64]int{}
		for _, o := range outputs[k] {
			got[o.seq]++
			by[o.who]++
			switch o.verdict {
			case "gap":
				gaps++
				t.Errorf("key %s: input %d handled by %s after a gap in the state", k, o.seq, o.who)
			case "dup":
				dups++
			}
		}
		for s := int64(1); s <= n; s++ {
			switch got[s] {
			case 0:
				lost++
			case 1:
			default:
				dups += got[s] - 1
			}
		}
	}

	// The state topic: every record readable by the 2021 decoder, and each
	// key's latest state is its last input.
	state := map[string]int64{}
	tr, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(c.table()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	ends, err := adm.ListEndOffsets(ctx, c.table())
	if err != nil {
		t.Fatal(err)
	}
	want := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) { want[o.Partition] = o.Offset })
	at := map[int32]int64{}
	tableCtx, tableCancel := context.WithTimeout(ctx, time.Minute)
	defer tableCancel()
	for done := false; !done; {
		fs := tr.PollFetches(tableCtx)
		if tableCtx.Err() != nil {
			t.Fatalf("state topic not read to its end: at %v, end %v", at, want)
		}
		fs.EachRecord(func(r *kgo.Record) {
			at[r.Partition] = r.Offset + 1
			var v wrapperspb.Int64Value
			if id, err := decode2021(r.Value, &v); err != nil || id != idInt64 {
				t.Errorf("state record %x: id %d, %v", r.Value, id, err)
				return
			}
			state[string(r.Key)] = v.GetValue()
		})
		done = true
		for p, end := range want {
			if at[p] < end {
				done = false
			}
		}
	}
	var wrong int
	for k, n := range produced {
		if state[k] != n {
			wrong++
			t.Errorf("key %s: state %d, want %d", k, state[k], n)
		}
	}
	t.Logf("%d inputs over %d keys: lost %d, wrong states %d, gaps %d, duplicates %d; outputs by goka %d, by kafmesh %d",
		total, keys, lost, wrong, gaps, dups, by["goka"], by["kafmesh"])
	if lost != 0 {
		t.Errorf("%d inputs lost", lost)
	}
	if by["goka"] == 0 || by["kafmesh"] == 0 {
		t.Errorf("both runtimes must have handled inputs: goka %d, kafmesh %d", by["goka"], by["kafmesh"])
	}
}
