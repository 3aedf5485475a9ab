package runner

import (
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
			cb.SetError(fmt.Errorf("inputs are not co-partitioned: %s has %d partitions, %s has %d", first, n, t, topics[t]))
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
