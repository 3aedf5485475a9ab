package runner

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

type testMember struct {
	id    string
	owned []int32 // partition numbers owned in every topic
}

func balance(t *testing.T, topics map[string]int32, members ...testMember) map[string]map[string][]int32 {
	t.Helper()
	var b copartitionBalancer
	var jms []kmsg.JoinGroupResponseMember
	names := make([]string, 0, len(topics))
	for n := range topics {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, m := range members {
		current := map[string][]int32{}
		for _, n := range names {
			if len(m.owned) > 0 {
				current[n] = m.owned
			}
		}
		jm := kmsg.NewJoinGroupResponseMember()
		jm.MemberID = m.id
		jm.ProtocolMetadata = b.JoinGroupMetadata(names, current, 1)
		jms = append(jms, jm)
	}
	mb, _, err := b.MemberBalancer(jms)
	if err != nil {
		t.Fatal(err)
	}
	into, err := mb.(kgo.GroupMemberBalancerOrError).BalanceOrError(topics)
	if err != nil {
		t.Fatalf("balance: %v", err)
	}
	out := map[string]map[string][]int32{}
	for _, a := range into.IntoSyncAssignment() {
		parsed, err := b.ParseSyncAssignment(a.MemberAssignment)
		if err != nil {
			t.Fatal(err)
		}
		out[a.MemberID] = parsed
	}
	return out
}

// numbers returns the partition numbers a member got, checking they are
// the same in every topic (co-partitioned).
func numbers(t *testing.T, topics map[string]int32, got map[string][]int32) []int32 {
	t.Helper()
	var first []int32
	seen := false
	for topic := range topics {
		ps := slices.Sorted(slices.Values(got[topic]))
		if !seen {
			first, seen = ps, true
		} else if !slices.Equal(first, ps) {
			t.Fatalf("not co-partitioned: %v", got)
		}
	}
	return first
}

func TestCopartitionBalancerAssignsEveryPartitionOnce(t *testing.T) {
	topics := map[string]int32{"in-a": 8, "in-b": 8}
	plan := balance(t, topics, testMember{id: "m1"}, testMember{id: "m2"}, testMember{id: "m3"})
	count := map[int32]int{}
	for id, got := range plan {
		ps := numbers(t, topics, got)
		if len(ps) < 2 || len(ps) > 3 {
			t.Errorf("%s got %d partitions, want 2 or 3", id, len(ps))
		}
		for _, p := range ps {
			count[p]++
		}
	}
	for p := int32(0); p < 8; p++ {
		if count[p] != 1 {
			t.Errorf("partition %d assigned %d times", p, count[p])
		}
	}
}

func TestCopartitionBalancerIsStickyAndCooperative(t *testing.T) {
	topics := map[string]int32{"in": 6}
	// m1 owns everything; m2 joins.
	plan := balance(t, topics, testMember{id: "m1", owned: []int32{0, 1, 2, 3, 4, 5}}, testMember{id: "m2"})
	m1 := numbers(t, topics, plan["m1"])
	m2 := numbers(t, topics, plan["m2"])
	// Cooperative: what moves is revoked now and handed over next round,
	// so m2 gets nothing yet and m1 keeps half (all of them from its own).
	if len(m2) != 0 {
		t.Fatalf("m2 got %v in the revoking round", m2)
	}
	if len(m1) != 3 {
		t.Fatalf("m1 keeps %v, want 3 of its partitions", m1)
	}
	// Next round: m1 owns what it kept; the freed partitions go to m2.
	plan = balance(t, topics, testMember{id: "m1", owned: m1}, testMember{id: "m2"})
	if got := numbers(t, topics, plan["m1"]); !slices.Equal(got, m1) {
		t.Fatalf("m1 moved from %v to %v: not sticky", m1, got)
	}
	if got := numbers(t, topics, plan["m2"]); len(got) != 3 || slices.ContainsFunc(got, func(p int32) bool { return slices.Contains(m1, p) }) {
		t.Fatalf("m2 got %v, want the other 3", got)
	}
}

func TestCopartitionBalancerRefusesUnequalInputs(t *testing.T) {
	var b copartitionBalancer
	jm := kmsg.NewJoinGroupResponseMember()
	jm.MemberID = "m1"
	jm.ProtocolMetadata = b.JoinGroupMetadata([]string{"a", "b"}, nil, 1)
	mb, _, err := b.MemberBalancer([]kmsg.JoinGroupResponseMember{jm})
	if err != nil {
		t.Fatal(err)
	}
	_, err = mb.(kgo.GroupMemberBalancerOrError).BalanceOrError(map[string]int32{"a": 4, "b": 6})
	if err == nil || fmt.Sprint(err) == "" {
		t.Fatal("balanced inputs with 4 and 6 partitions")
	}
}

// rangeMembers joins members to the range protocol processors offer for
// kafmesh 2021 members, each subscribing subs[i] (all of topics if nil).
func rangeBalance(topics map[string]int32, subs ...[]string) (map[string]map[string][]int32, error) {
	b := processorBalancers()[1]
	var jms []kmsg.JoinGroupResponseMember
	for i, s := range subs {
		if s == nil {
			for t := range topics {
				s = append(s, t)
			}
			slices.Sort(s)
		}
		jm := kmsg.NewJoinGroupResponseMember()
		jm.MemberID = fmt.Sprintf("m%d", i)
		jm.ProtocolMetadata = b.JoinGroupMetadata(s, nil, -1)
		jms = append(jms, jm)
	}
	mb, _, err := b.MemberBalancer(jms)
	if err != nil {
		return nil, err
	}
	into, err := mb.(kgo.GroupMemberBalancerOrError).BalanceOrError(topics)
	if err != nil {
		return nil, err
	}
	out := map[string]map[string][]int32{}
	for _, a := range into.IntoSyncAssignment() {
		parsed, err := b.ParseSyncAssignment(a.MemberAssignment)
		if err != nil {
			return nil, err
		}
		out[a.MemberID] = parsed
	}
	return out, nil
}

// With equal partition counts, range gives each member the same partition
// numbers of every input: a group of kafmesh 2021 and new members stays
// co-partitioned.
func TestRangeForKafmesh2021IsCopartitioned(t *testing.T) {
	for _, n := range []int{1, 2, 3, 5, 7} {
		topics := map[string]int32{"in-a": 6, "in-b": 6, "in-c": 6}
		got, err := rangeBalance(topics, make([][]string, n)...)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[int32]bool{}
		for _, m := range got {
			for _, p := range numbers(t, topics, m) {
				if seen[p] {
					t.Fatalf("%d members: partition %d assigned twice", n, p)
				}
				seen[p] = true
			}
		}
		if len(seen) != 6 {
			t.Fatalf("%d members: %d of 6 partitions assigned", n, len(seen))
		}
	}
}

// Whatever range cannot co-partition is refused loudly: unequal partition
// counts and members subscribing different inputs as the leader, and an
// assignment another leader made that is not co-partitioned as a member.
func TestRangeForKafmesh2021RefusesWhatIsNotCopartitioned(t *testing.T) {
	if _, err := rangeBalance(map[string]int32{"a": 6, "b": 4}, nil, nil); !errors.Is(err, ErrNotCopartitioned) {
		t.Errorf("unequal partition counts: %v", err)
	}
	if _, err := rangeBalance(map[string]int32{"a": 6, "b": 6}, []string{"a", "b"}, []string{"a"}); !errors.Is(err, ErrNotCopartitioned) {
		t.Errorf("different subscriptions: %v", err)
	}
	a := kmsg.NewConsumerMemberAssignment()
	for t, ps := range map[string][]int32{"a": {0, 1}, "b": {1, 2}} {
		ta := kmsg.NewConsumerMemberAssignmentTopic()
		ta.Topic, ta.Partitions = t, ps
		a.Topics = append(a.Topics, ta)
	}
	if _, err := processorBalancers()[1].ParseSyncAssignment(a.AppendTo(nil)); !errors.Is(err, ErrNotCopartitioned) {
		t.Errorf("a crossed assignment was accepted: %v", err)
	}
}

// Processors offer their cooperative protocol first and range second,
// sinks cooperative-sticky, then range and roundrobin: Kafka runs the
// first protocol every member supports, so new members join a group of
// 2021 members and move it to cooperative once those are gone.
func TestBalancersOfferThe2021Protocols(t *testing.T) {
	names := func(bs []kgo.GroupBalancer) (out []string) {
		for _, b := range bs {
			out = append(out, b.ProtocolName())
		}
		return out
	}
	if got := names(processorBalancers()); !slices.Equal(got, []string{copartitionProtocol, "range"}) {
		t.Errorf("processor protocols %v", got)
	}
	if got := names(sinkBalancers()); !slices.Equal(got, []string{"cooperative-sticky", "range", "roundrobin"}) {
		t.Errorf("sink protocols %v", got)
	}
}
