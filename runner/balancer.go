package runner

import (
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// copartitionBalancer assigns partition number i of every input topic to
// the same member, so one member owns partition i of all inputs, and with
// them the same partition of the joins and the state changelog.
//
// It is sticky (a member keeps the partition numbers it owns while the
// group's size allows) and cooperative (KIP-429): a partition that moves is
// first revoked from its owner in one rebalance and assigned to the new
// owner in the next, so no two members ever process it at once.
type copartitionBalancer struct{}

const copartitionProtocol = "kafmesh-copartition"

func (copartitionBalancer) ProtocolName() string { return copartitionProtocol }
func (copartitionBalancer) IsCooperative() bool  { return true }

func (copartitionBalancer) JoinGroupMetadata(interests []string, current map[string][]int32, generation int32) []byte {
	meta := kmsg.NewConsumerMemberMetadata()
	meta.Version = 3
	meta.Topics = interests
	meta.Generation = generation
	topics := make([]string, 0, len(current))
	for t := range current {
		topics = append(topics, t)
	}
	sort.Strings(topics)
	for _, t := range topics {
		owned := kmsg.NewConsumerMemberMetadataOwnedPartition()
		owned.Topic = t
		owned.Partitions = current[t]
		meta.OwnedPartitions = append(meta.OwnedPartitions, owned)
	}
	return meta.AppendTo(nil)
}

func (copartitionBalancer) ParseSyncAssignment(assignment []byte) (map[string][]int32, error) {
	return kgo.ParseConsumerSyncAssignment(assignment)
}

func (b copartitionBalancer) MemberBalancer(members []kmsg.JoinGroupResponseMember) (kgo.GroupMemberBalancer, map[string]struct{}, error) {
	cb, err := kgo.NewConsumerBalancer(b, members)
	if err != nil {
		return nil, nil, err
	}
	return cb, cb.MemberTopics(), nil
}

// Balance implements kgo.ConsumerBalancerBalance.
func (copartitionBalancer) Balance(cb *kgo.ConsumerBalancer, topics map[string]int32) kgo.IntoSyncAssignment {
	// Every input must have the same partition count; anything else
	// would make partition i mean different keys in different topics.
	n := int32(-1)
	var first string
	names := make([]string, 0, len(topics))
	for t := range topics {
		names = append(names, t)
	}
	sort.Strings(names)
	for _, t := range names {
		if n < 0 {
			n, first = topics[t], t
		} else if topics[t] != n {
			cb.SetError(fmt.Errorf("%w: %s has %d partitions, %s has %d", ErrNotCopartitioned, first, n, t, topics[t]))
			return nil
		}
	}
	plan := cb.NewPlan()
	if n <= 0 {
		return plan
	}

	type member struct {
		jm     *kmsg.JoinGroupResponseMember
		topics []string
		owned  []int32 // partition numbers it owns now, sorted
		got    []int32
	}
	var members []*member
	cb.EachMember(func(m *kmsg.JoinGroupResponseMember, meta *kmsg.ConsumerMemberMetadata) {
		mem := &member{jm: m, topics: meta.Topics}
		for _, o := range meta.OwnedPartitions {
			mem.owned = append(mem.owned, o.Partitions...)
		}
		slices.Sort(mem.owned)
		mem.owned = slices.Compact(mem.owned)
		members = append(members, mem)
	})
	if len(members) == 0 {
		return plan
	}
	// Quotas: n/m each, one more for the first n%m members, preferring
	// those that own the most already (fewest moves).
	order := make([]*member, len(members))
	copy(order, members)
	sort.SliceStable(order, func(i, j int) bool { return len(order[i].owned) > len(order[j].owned) })
	quota := map[*member]int{}
	base, extra := int(n)/len(members), int(n)%len(members)
	for i, m := range order {
		quota[m] = base
		if i < extra {
			quota[m]++
		}
	}
	taken := make([]bool, n)
	for _, m := range order {
		for _, p := range m.owned {
			if p >= 0 && p < n && !taken[p] && len(m.got) < quota[m] {
				taken[p] = true
				m.got = append(m.got, p)
			}
		}
	}
	next := int32(0)
	for _, m := range members {
		for len(m.got) < quota[m] {
			for taken[next] {
				next++
			}
			taken[next] = true
			m.got = append(m.got, next)
		}
		slices.Sort(m.got)
	}
	for _, m := range members {
		for _, t := range m.topics {
			if _, ok := topics[t]; !ok {
				continue
			}
			plan.AddPartitions(m.jm, t, m.got)
		}
	}
	plan.AdjustCooperative(cb)
	return plan
}

// ErrNotCopartitioned is wrapped by the error of a processor group whose
// inputs cannot be co-partitioned: unequal partition counts, members that
// subscribe different topics, or an assignment (made by another group
// member, e.g. a kafmesh 2021 one) that gives a member different partition
// numbers of different inputs. It cannot heal by retrying.
var ErrNotCopartitioned = errors.New("inputs are not co-partitioned")

// processorBalancers are the group protocols a processor offers, most
// preferred first. Kafka picks, among the protocols every member offers,
// the one most members prefer: a group of new members runs the
// cooperative kafmesh-copartition protocol; while a kafmesh 2021 (goka,
// sarama) member is in the group, only "range" is common to all, and the
// group runs range, eagerly (every member revokes everything at each
// rebalance). The first rebalance after the last 2021 member left moves
// the group back to kafmesh-copartition.
func processorBalancers() []kgo.GroupBalancer {
	return []kgo.GroupBalancer{copartitionBalancer{}, copartitionedRange{kgo.RangeBalancer()}}
}

// sinkBalancers are the group protocols a sink offers: cooperative-sticky
// first, then the "range" and "roundrobin" of kafmesh 2021 sinks
// (sarama-cluster), so a group with old and new members forms.
func sinkBalancers() []kgo.GroupBalancer {
	return []kgo.GroupBalancer{kgo.CooperativeStickyBalancer(), kgo.RangeBalancer(), kgo.RoundRobinBalancer()}
}

// copartitionedRange is the "range" protocol (the Java and sarama range
// assignor) for processors, checked for co-partitioning. Range assigns
// each topic on its own, with the members in the same order; when every
// input has the same partition count and every member subscribes the same
// inputs, it gives one member the same partition numbers of every input,
// which is co-partitioning. As the leader it refuses to balance anything
// else; as a member it refuses an assignment (whoever made it) that is not
// co-partitioned, with ErrNotCopartitioned, rather than process
// partition i of one input with the state of another partition.
type copartitionedRange struct{ kgo.GroupBalancer }

func (b copartitionedRange) ParseSyncAssignment(assignment []byte) (map[string][]int32, error) {
	m, err := b.GroupBalancer.ParseSyncAssignment(assignment)
	if err != nil {
		return nil, err
	}
	if err := checkCopartitioned(m); err != nil {
		return nil, err
	}
	return m, nil
}

// checkCopartitioned checks that every topic of an assignment has the same
// partition numbers.
func checkCopartitioned(m map[string][]int32) error {
	var first string
	var want []int32
	topics := make([]string, 0, len(m))
	for t := range m {
		topics = append(topics, t)
	}
	sort.Strings(topics)
	for i, t := range topics {
		ps := slices.Sorted(slices.Values(m[t]))
		if i == 0 {
			first, want = t, ps
			continue
		}
		if !slices.Equal(ps, want) {
			return fmt.Errorf("%w: assigned %s partitions %v but %s partitions %v", ErrNotCopartitioned, first, want, t, ps)
		}
	}
	return nil
}

func (b copartitionedRange) MemberBalancer(members []kmsg.JoinGroupResponseMember) (kgo.GroupMemberBalancer, map[string]struct{}, error) {
	inner, topics, err := b.GroupBalancer.MemberBalancer(members)
	if err != nil {
		return nil, nil, err
	}
	rc := rangeCheck{inner: inner}
	var first []string
	for i, m := range members {
		meta := kmsg.NewConsumerMemberMetadata()
		if err := meta.ReadFrom(m.ProtocolMetadata); err != nil {
			return nil, nil, fmt.Errorf("member %s: %w", m.MemberID, err)
		}
		subs := slices.Sorted(slices.Values(meta.Topics))
		if i == 0 {
			first = subs
		} else if !slices.Equal(subs, first) && rc.err == nil {
			rc.err = fmt.Errorf("%w: member %s subscribes %v, member %s subscribes %v", ErrNotCopartitioned, members[0].MemberID, first, m.MemberID, subs)
		}
	}
	return rc, topics, nil
}

type rangeCheck struct {
	inner kgo.GroupMemberBalancer
	err   error
}

// Balance is never called: kgo calls BalanceOrError.
func (r rangeCheck) Balance(topics map[string]int32) kgo.IntoSyncAssignment {
	into, _ := r.BalanceOrError(topics)
	return into
}

func (r rangeCheck) BalanceOrError(topics map[string]int32) (kgo.IntoSyncAssignment, error) {
	if r.err != nil {
		return nil, r.err
	}
	names := make([]string, 0, len(topics))
	for t := range topics {
		names = append(names, t)
	}
	sort.Strings(names)
	for _, t := range names[min(1, len(names)):] {
		if topics[t] != topics[names[0]] {
			return nil, fmt.Errorf("%w: %s has %d partitions, %s has %d", ErrNotCopartitioned, names[0], topics[names[0]], t, topics[t])
		}
	}
	if oe, ok := r.inner.(kgo.GroupMemberBalancerOrError); ok {
		return oe.BalanceOrError(topics)
	}
	return r.inner.Balance(topics), nil
}
