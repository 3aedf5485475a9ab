// Command bench-franz is the practical upper bound of the peer benchmarks:
// a hand-written franz-go consume→produce loop with its state in a Go map,
// no changelog and no local store. Every 100ms it waits until everything it
// produced is acknowledged and then commits the offsets of what it handled,
// so a crash loses no output (at-least-once) but also restores no state.
//
// With -eos it is the transactional upper bound: the same loop in a
// kgo.GroupTransactSession, whose outputs and input offsets are committed in
// one Kafka transaction every commit interval (still no changelog).
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/kafmesh/kafmesh/bench/internal/contender"
)

func main() { contender.Main("bench-franz", run) }

func run(ctx context.Context, c contender.Config, first *contender.FirstRead, log *slog.Logger) error {
	common := []kgo.Opt{
		kgo.SeedBrokers(c.Brokers...),
		kgo.RequiredAcks(kgo.AllISRAcks()), // idempotent is franz-go's default
		kgo.ProducerLinger(c.Linger),
		kgo.ProducerBatchMaxBytes(int32(c.BatchBytes)),
		kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)),
		kgo.FetchMaxWait(c.FetchMaxWait),
	}
	var enrich func(key []byte) []byte
	if c.Mode == "enrich" {
		joined, err := readTable(ctx, common, c.Join)
		if err != nil {
			return err
		}
		lookup, err := readTable(ctx, common, c.Lookup)
		if err != nil {
			return err
		}
		enrich = func(key []byte) []byte {
			customer := joined[string(key)]
			b, _ := proto.Marshal(wrapperspb.String(customer + "|" + lookup[customer]))
			return b
		}
	}

	opts := append(common,
		kgo.ConsumerGroup(c.Group),
		kgo.ConsumeTopics(c.Input),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.MaxBufferedRecords(1<<20),
	)
	if c.EOS {
		return runTransactional(ctx, c, first, append(opts,
			kgo.TransactionalID(c.Group+"-"+filepath.Base(c.StateDir)),
			kgo.TransactionTimeout(time.Minute),
			// As the runtime does: a produce retried after Kafka 4's
			// CONCURRENT_TRANSACTIONS right after a commit waits for a
			// metadata refresh, which the default 5s minimum age makes a
			// 5s stall.
			kgo.MetadataMinAge(250*time.Millisecond),
			kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		), enrich)
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	// The loop may stop after a poll without allowing the rebalance that
	// leaving the group is; a plain Close would wait for it forever.
	defer cl.CloseAllowingRebalance()

	counts := map[string]int64{}
	var (
		errMu      sync.Mutex
		produceErr error
	)
	onAck := func(_ *kgo.Record, err error) {
		if err != nil {
			errMu.Lock()
			if produceErr == nil {
				produceErr = err
			}
			errMu.Unlock()
		}
	}
	commit := func() error {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if err := cl.Flush(fctx); err != nil {
			return err
		}
		errMu.Lock()
		err := produceErr
		errMu.Unlock()
		if err != nil {
			return fmt.Errorf("produce: %w", err)
		}
		return cl.CommitUncommittedOffsets(fctx)
	}
	lastCommit, dirty := time.Now(), false
	for {
		pctx, cancel := context.WithTimeout(ctx, c.CommitInterval)
		fs := cl.PollRecords(pctx, 10000)
		cancel()
		if ctx.Err() != nil {
			break // records of this poll are not handled, so not committed
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) {
			if ferr == nil && !errors.Is(err, context.DeadlineExceeded) {
				ferr = fmt.Errorf("fetch %s[%d]: %w", t, p, err)
			}
		})
		if ferr != nil {
			return ferr
		}
		fs.EachRecord(func(r *kgo.Record) {
			first.Mark()
			var value []byte
			if enrich != nil {
				value = enrich(r.Key)
			} else {
				k := string(r.Key)
				n := counts[k] + 1
				counts[k] = n
				value = appendInt64Value(make([]byte, 0, 11), n)
			}
			cl.Produce(ctx, &kgo.Record{Topic: c.Output, Key: r.Key, Value: value}, onAck)
			dirty = true
		})
		if dirty && time.Since(lastCommit) >= c.CommitInterval {
			if err := commit(); err != nil {
				return err
			}
			lastCommit, dirty = time.Now(), false
		}
		cl.AllowRebalance()
	}
	if dirty {
		return commit()
	}
	return nil
}

// runTransactional is the loop of run in a GroupTransactSession: a
// transaction begins with the first record after a commit and ends (commits
// its outputs with the offsets of the records handled) every commit
// interval; a rebalance is only allowed between transactions.
func runTransactional(ctx context.Context, c contender.Config, first *contender.FirstRead, opts []kgo.Opt, enrich func([]byte) []byte) error {
	sess, err := kgo.NewGroupTransactSession(opts...)
	if err != nil {
		return err
	}
	defer sess.CloseAllowingRebalance()
	counts := map[string]int64{}
	end := func(try kgo.TransactionEndTry) error {
		ectx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		committed, err := sess.End(ectx, try)
		if err == nil && try == kgo.TryCommit && !committed {
			// A rebalance took the partitions: the session aborted; the
			// counts of the records of that transaction are void.
			clear(counts)
		}
		return err
	}
	lastCommit, inTxn := time.Now(), false
	for {
		pctx, cancel := context.WithTimeout(ctx, c.CommitInterval)
		fs := sess.PollRecords(pctx, 10000)
		cancel()
		if ctx.Err() != nil {
			break
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) {
			if ferr == nil && !errors.Is(err, context.DeadlineExceeded) {
				ferr = fmt.Errorf("fetch %s[%d]: %w", t, p, err)
			}
		})
		if ferr != nil {
			return ferr
		}
		if fs.NumRecords() > 0 && !inTxn {
			if err := sess.Begin(); err != nil {
				return err
			}
			inTxn = true
		}
		fs.EachRecord(func(r *kgo.Record) {
			first.Mark()
			var value []byte
			if enrich != nil {
				value = enrich(r.Key)
			} else {
				k := string(r.Key)
				n := counts[k] + 1
				counts[k] = n
				value = appendInt64Value(make([]byte, 0, 11), n)
			}
			sess.Produce(ctx, &kgo.Record{Topic: c.Output, Key: r.Key, Value: value}, nil)
		})
		if inTxn && time.Since(lastCommit) >= c.CommitInterval {
			if err := end(kgo.TryCommit); err != nil {
				return err
			}
			lastCommit, inTxn = time.Now(), false
		}
		if !inTxn {
			sess.AllowRebalance()
		}
	}
	if inTxn {
		return end(kgo.TryAbort) // the last poll's records were not handled
	}
	return nil
}

// appendInt64Value appends a google.protobuf.Int64Value of n > 0 (field 1,
// varint), what proto.Marshal writes, without its allocations.
func appendInt64Value(b []byte, n int64) []byte {
	b = append(b, 0x08)
	u := uint64(n)
	for u >= 0x80 {
		b = append(b, byte(u)|0x80)
		u >>= 7
	}
	return append(b, byte(u))
}

// readTable reads a table topic of StringValues to its end offsets.
func readTable(ctx context.Context, common []kgo.Opt, topic string) (map[string]string, error) {
	cl, err := kgo.NewClient(append(common, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, err
	}
	remaining := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			remaining[o.Partition] = o.Offset
		}
	})
	table := map[string]string{}
	for len(remaining) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := fs.Err(); err != nil {
			return nil, fmt.Errorf("read %s: %w", topic, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			var v wrapperspb.StringValue
			if r.Value == nil {
				delete(table, string(r.Key))
			} else if proto.Unmarshal(r.Value, &v) == nil {
				table[string(r.Key)] = v.GetValue()
			}
			if r.Offset+1 >= remaining[r.Partition] {
				delete(remaining, r.Partition)
			}
		})
	}
	return table, nil
}
