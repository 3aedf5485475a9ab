package graph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// AdminSource gives the Kafka admin client mutations act through
// (lag.Monitor).
type AdminSource interface {
	Admin() *kadm.Client
}

type mutationResolver struct{ r *Resolver }

func (r *Resolver) Mutation() MutationResolver { return mutationResolver{r} }

// errNoToken refuses a mutation on a discover without --token.
var errNoToken = errors.New("mutations need discover to run with --token")

func (m mutationResolver) ResetGroupOffsets(ctx context.Context, group, topic string, to OffsetResetMode, timestamp *time.Time, offset *int64, partitions []int) (*GroupOffsetReset, error) {
	if !m.r.mutations {
		return nil, errNoToken
	}
	as, _ := m.r.lag.(AdminSource)
	if as == nil || as.Admin() == nil {
		return nil, errors.New("resetGroupOffsets needs discover to run with --brokers")
	}
	if group == "" || topic == "" {
		return nil, errors.New("group and topic are required")
	}
	if !to.IsValid() {
		return nil, fmt.Errorf("unknown reset mode %q", to)
	}
	if (to == OffsetResetModeTimestamp) != (timestamp != nil) {
		return nil, errors.New("timestamp goes with to: TIMESTAMP, and only with it")
	}
	if (to == OffsetResetModeOffset) != (offset != nil) {
		return nil, errors.New("offset goes with to: OFFSET, and only with it")
	}
	res, err := resetGroupOffsets(ctx, as.Admin(), group, topic, to, timestamp, offset, partitions)
	moves := make([]string, 0)
	if res != nil {
		for _, p := range res.Partitions {
			from := "none"
			if p.From != nil {
				from = fmt.Sprint(*p.From)
			}
			moves = append(moves, fmt.Sprintf("%d:%s->%d", p.Partition, from, p.To))
		}
	}
	logger := m.r.logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger.Info("audit: reset consumer group offsets", "group", group, "topic", topic, "to", to.String(),
		"timestamp", timestamp, "offset", offset, "moves", moves, "error", err)
	return res, err
}

func resetGroupOffsets(ctx context.Context, adm *kadm.Client, group, topic string, to OffsetResetMode, timestamp *time.Time, offset *int64, only []int) (*GroupOffsetReset, error) {
	described, err := adm.DescribeGroups(ctx, group)
	if err != nil {
		return nil, fmt.Errorf("describe group %s: %w", group, err)
	}
	d, ok := described[group]
	if !ok || d.Err != nil {
		return nil, fmt.Errorf("describe group %s: %v", group, d.Err)
	}
	if len(d.Members) > 0 || (d.State != "Empty" && d.State != "Dead") {
		return nil, fmt.Errorf("group %s is %s with %d member(s): stop its service before resetting its offsets", group, d.State, len(d.Members))
	}
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("start offsets of %s: %w", topic, err)
	}
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("end offsets of %s: %w", topic, err)
	}
	if len(ends[topic]) == 0 {
		return nil, fmt.Errorf("topic %s does not exist", topic)
	}
	var at kadm.ListedOffsets
	if to == OffsetResetModeTimestamp {
		if at, err = adm.ListOffsetsAfterMilli(ctx, timestamp.UnixMilli(), topic); err != nil {
			return nil, fmt.Errorf("offsets of %s at %s: %w", topic, timestamp, err)
		}
	}
	committed, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		return nil, fmt.Errorf("committed offsets of %s: %w", group, err)
	}
	var parts []int32
	for p := range ends[topic] {
		if len(only) == 0 || slices.Contains(only, int(p)) {
			parts = append(parts, p)
		}
	}
	for _, p := range only {
		if _, ok := ends[topic][int32(p)]; !ok {
			return nil, fmt.Errorf("topic %s has no partition %d", topic, p)
		}
	}
	slices.Sort(parts)
	out := &GroupOffsetReset{Group: group, Topic: topic, Partitions: []*GroupOffsetMove{}}
	commit := kadm.Offsets{}
	for _, p := range parts {
		s, e := starts[topic][p], ends[topic][p]
		if s.Err != nil || e.Err != nil {
			return nil, fmt.Errorf("%s[%d]: %v", topic, p, errors.Join(s.Err, e.Err))
		}
		var target int64
		switch to {
		case OffsetResetModeEarliest:
			target = s.Offset
		case OffsetResetModeLatest:
			target = e.Offset
		case OffsetResetModeTimestamp:
			target = e.Offset
			if l, ok := at.Lookup(topic, p); ok && l.Err == nil && l.Offset >= 0 {
				target = l.Offset
			}
		case OffsetResetModeOffset:
			if *offset < s.Offset || *offset > e.Offset {
				return nil, fmt.Errorf("offset %d is outside %s[%d]'s range %d to %d", *offset, topic, p, s.Offset, e.Offset)
			}
			target = *offset
		}
		move := &GroupOffsetMove{Partition: int(p), To: target}
		if c, ok := committed.Lookup(topic, p); ok && c.Err == nil && c.At >= 0 {
			from := c.At
			move.From = &from
		}
		out.Partitions = append(out.Partitions, move)
		commit.Add(kadm.Offset{Topic: topic, Partition: p, At: target, LeaderEpoch: -1})
	}
	r, err := adm.CommitOffsets(ctx, group, commit)
	if err == nil {
		err = r.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("commit offsets of %s: %w", group, err)
	}
	return out, nil
}
