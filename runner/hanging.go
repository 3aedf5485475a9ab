package runner

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// HangingTransaction is a transaction left open on a partition although no
// transaction coordinator tracks it any more: its producer's transactional
// id has moved on (the transaction was completed or aborted) but the
// commit or abort marker never reached this partition. Kafka's coordinator
// skips the marker of a partition whose leader it cannot find when it
// writes the markers, taking the partition for deleted — which also
// happens while the partition's only replica is restarting (seen with a
// single broker: a restart right after a commit, docs/testing.md).
//
// A hanging transaction holds the partition's last stable offset: every
// read_committed reader (restores, sinks, views, the processors
// downstream) stops before its first record, and on a __consumer_offsets
// partition every OffsetFetch of a group with offsets in it answers
// UNSTABLE_OFFSET_COMMIT, so the group's members never start. Nothing is
// lost while it hangs; it ends only when a marker is written, by
// [AbortHangingTransactions] (or Kafka's kafka-transactions.sh abort).
type HangingTransaction struct {
	Topic            string
	Partition        int32
	ProducerID       int64
	ProducerEpoch    int16
	CoordinatorEpoch int32
	// StartOffset is the offset of the transaction's first record on the
	// partition: readers stop before it.
	StartOffset int64
	// LastWrite is when the producer last wrote to the partition.
	LastWrite time.Time
	// TransactionalID is the producer's transactional id, "" when no
	// coordinator knows the producer; CoordinatorState is the state the
	// coordinator holds for it (e.g. "CompleteCommit").
	TransactionalID  string
	CoordinatorState string
}

func (h HangingTransaction) String() string {
	id := h.TransactionalID
	if id == "" {
		id = "unknown to every coordinator"
	}
	return fmt.Sprintf("%s[%d]: producer %d epoch %d (transactional id %s, coordinator state %s) has a transaction open since offset %d, last written %s ago",
		h.Topic, h.Partition, h.ProducerID, h.ProducerEpoch, id, h.CoordinatorState, h.StartOffset, time.Since(h.LastWrite).Round(time.Second))
}

// FindHangingTransactions returns the hanging transactions on partitions:
// transactions open on a partition, last written more than minAge ago,
// that no coordinator holds open with that partition in it. minAge keeps
// a live transaction, between its first write and its end, out of the
// answer; the transaction timeout is a safe choice (a coordinator aborts
// what it tracks by then).
func FindHangingTransactions(ctx context.Context, adm *kadm.Client, partitions kadm.TopicsSet, minAge time.Duration) ([]HangingTransaction, error) {
	if len(partitions) == 0 {
		return nil, nil
	}
	described, err := adm.DescribeProducers(ctx, partitions)
	if err != nil {
		return nil, fmt.Errorf("describe producers: %w", err)
	}
	var open []HangingTransaction
	var pids []int64
	described.EachPartition(func(p kadm.DescribedProducersPartition) {
		for _, d := range p.ActiveProducers {
			last := time.UnixMilli(d.LastTimestamp)
			if d.CurrentTxnStartOffset < 0 || time.Since(last) < minAge {
				continue
			}
			open = append(open, HangingTransaction{Topic: d.Topic, Partition: d.Partition, ProducerID: d.ProducerID,
				ProducerEpoch: d.ProducerEpoch, CoordinatorEpoch: d.CoordinatorEpoch,
				StartOffset: d.CurrentTxnStartOffset, LastWrite: last})
			pids = append(pids, d.ProducerID)
		}
	})
	if len(open) == 0 {
		return nil, nil
	}
	slices.Sort(pids)
	pids = slices.Compact(pids)
	listed, err := adm.ListTransactions(ctx, pids, nil)
	if err != nil {
		return nil, fmt.Errorf("list transactions: %w", err)
	}
	idOf := map[int64]string{}
	var ids []string
	for id, l := range listed {
		idOf[l.ProducerID] = id
		ids = append(ids, id)
	}
	var txns kadm.DescribedTransactions
	if len(ids) > 0 {
		if txns, err = adm.DescribeTransactions(ctx, ids...); err != nil {
			return nil, fmt.Errorf("describe transactions: %w", err)
		}
	}
	var hanging []HangingTransaction
	for _, h := range open {
		h.TransactionalID = idOf[h.ProducerID]
		if d, ok := txns[h.TransactionalID]; ok {
			h.CoordinatorState = d.State
			if d.Err == nil && d.ProducerID == h.ProducerID && coordinatorBusy(d, h) {
				continue // a live transaction, or its markers are on their way
			}
		} else {
			h.CoordinatorState = "unknown"
		}
		hanging = append(hanging, h)
	}
	slices.SortFunc(hanging, func(a, b HangingTransaction) int {
		return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
	})
	return hanging, nil
}

// coordinatorBusy reports whether the coordinator still works on the
// transaction open on h's partition: it is ongoing with the partition in
// it, or it is writing its markers (PrepareCommit, PrepareAbort,
// PrepareEpochFence). Only a coordinator that has moved on (Empty,
// CompleteCommit, CompleteAbort, Dead) leaves the transaction hanging.
func coordinatorBusy(d kadm.DescribedTransaction, h HangingTransaction) bool {
	switch d.State {
	case "Ongoing":
		return d.Topics.Lookup(h.Topic, h.Partition)
	case "PrepareCommit", "PrepareAbort", "PrepareEpochFence":
		return true
	}
	return false
}

// FindGroupHangingTransactions returns the hanging transactions that hold
// group up: on every partition of topics (what its members read
// read_committed) and on the __consumer_offsets partition with the group's
// offsets (which a hanging transaction keeps every OffsetFetch of the group
// from answering). A topic that does not exist is an error.
func FindGroupHangingTransactions(ctx context.Context, adm *kadm.Client, group string, topics []string, minAge time.Duration) ([]HangingTransaction, error) {
	topics = append([]string{"__consumer_offsets"}, topics...)
	md, err := adm.Metadata(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	set := kadm.TopicsSet{}
	for _, t := range topics {
		td, ok := md.Topics[t]
		switch {
		case (!ok || td.Err != nil) && t == "__consumer_offsets":
			// No group has committed anything yet.
		case !ok || td.Err != nil:
			return nil, fmt.Errorf("topic %s: not found", t)
		case t == "__consumer_offsets":
			set.Add(t, offsetsPartition(group, len(td.Partitions)))
		default:
			for p := range td.Partitions {
				set.Add(t, p)
			}
		}
	}
	return FindHangingTransactions(ctx, adm, set, minAge)
}

// AbortHangingTransactions writes an abort marker for each hanging
// transaction (KIP-664's way out, what kafka-transactions.sh abort does):
// its records on that partition are discarded and the partition's readers
// move on. It needs the ClusterAction permission on the cluster.
//
// What aborting means: if the transaction's coordinator had committed it
// (its other partitions hold commit markers), the records on this
// partition are lost to read_committed readers, or, on a
// __consumer_offsets partition, the group's offsets go back to the
// previous commit and its inputs are processed again (exactly-once outputs
// of those inputs then appear twice). Read the transaction's
// CoordinatorState first.
func AbortHangingTransactions(ctx context.Context, adm *kadm.Client, hanging []HangingTransaction) error {
	for _, h := range hanging {
		resp, err := adm.WriteTxnMarkers(ctx, kadm.TxnMarkers{ProducerID: h.ProducerID, ProducerEpoch: h.ProducerEpoch,
			CoordinatorEpoch: h.CoordinatorEpoch, Topics: kadm.TopicsSet{h.Topic: {h.Partition: struct{}{}}}})
		if err != nil {
			return fmt.Errorf("abort %s: %w", h, err)
		}
		var perr error
		resp.EachPartition(func(p kadm.TxnMarkersPartitionResponse) {
			if p.Err != nil && perr == nil {
				perr = fmt.Errorf("abort %s: %w", h, p.Err)
			}
		})
		if perr != nil {
			return perr
		}
	}
	return nil
}

// offsetsPartition is the __consumer_offsets partition that holds group's
// offsets, as Kafka places it: Utils.abs(groupId.hashCode()) % partitions,
// where the hash code is Java's String.hashCode over UTF-16 code units and
// Utils.abs negates a negative hash code, except Integer.MIN_VALUE, which
// it maps to 0.
func offsetsPartition(group string, partitions int) int32 {
	var h int32
	for _, r := range group {
		if r >= 0x10000 { // Java hashes UTF-16 code units
			r -= 0x10000
			h = 31*h + int32(0xD800+(r>>10))
			h = 31*h + int32(0xDC00+(r&0x3FF))
			continue
		}
		h = 31*h + int32(r)
	}
	abs := int64(h)
	switch {
	case h == math.MinInt32:
		abs = 0
	case h < 0:
		abs = -abs
	}
	return int32(abs % int64(partitions))
}
