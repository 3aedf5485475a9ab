package runner

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kgo"
)

// At-least-once commits run beside processing.
//
// A commit cuts the work at a point between two polls: the input offsets
// handled so far, the state changes made so far (prepared into changelog
// records and a store batch), and the outputs produced so far, which the
// cut's commitEpoch counts. Processing then goes on while a goroutine
// verifies the membership, produces the changelog records, waits until
// every record of the epoch is acknowledged, commits the offsets and
// writes the store: the same steps, in the same order, as a commit that
// stopped processing, so what is committed is exactly as safe. Only the
// outputs of the records handled before the cut are waited for, not a
// Flush of everything buffered (that would wait for the outputs being
// produced meanwhile too).
//
// One commit is in flight at a time; the next cut waits for it. The state
// cache keeps a prepared value until the commit that carries it finishes
// (stateCache.setEntry copies instead of writing into it), and the cache's
// bookkeeping (committed, aborted) changes only on the loop goroutine
// while processing is stopped, in finishCommit.

// commitEpoch counts the records produced between two cuts (and the cut's
// changelog records) that the producer has not acknowledged yet. It rides
// on each record as its Context (a background context that is never
// canceled), so the producer's promise finds it without a closure per
// record.
//
// The processing goroutines do not touch the counter per record (two of
// them adding to one atomic made at-least-once cost 10% more CPU than one
// goroutine): a task counts its records and adds the count once per poll,
// before the cut. Until the epoch is sealed the counter holds a bias far
// above any record count, so acknowledgements that arrive before their
// records were added can never bring it to zero early.
type commitEpoch struct {
	context.Context
	pending atomic.Int64 // records added minus acknowledged, + epochOpen until sealed
	done    chan struct{}
}

const epochOpen = 1 << 62

type commitEpochKey struct{}

func newCommitEpoch() *commitEpoch {
	e := &commitEpoch{Context: context.Background(), done: make(chan struct{})}
	e.pending.Store(epochOpen)
	return e
}

// Value finds the epoch also when a hook (kotel's tracing) replaced the
// record's Context with one derived from it.
func (e *commitEpoch) Value(key any) any {
	if key == (commitEpochKey{}) {
		return e
	}
	return e.Context.Value(key)
}

// track puts r in the epoch; the producer's promise releases it. The
// caller adds it to the count (add) before the epoch is sealed.
func (e *commitEpoch) track(r *kgo.Record) { r.Context = e }

// add counts n records tracked in the epoch.
func (e *commitEpoch) add(n int64) { e.settle(e.pending.Add(n)) }

func (e *commitEpoch) release() { e.settle(e.pending.Add(-1)) }

// seal ends the epoch: done closes once every record added is
// acknowledged.
func (e *commitEpoch) seal() { e.settle(e.pending.Add(-epochOpen)) }

func (e *commitEpoch) settle(pending int64) {
	if pending == 0 {
		close(e.done)
	}
}

// releaseEpoch releases the epoch r was produced in, if any.
func releaseEpoch(r *kgo.Record) {
	if r.Context == nil {
		return
	}
	e, ok := r.Context.(*commitEpoch)
	if !ok {
		e, _ = r.Context.Value(commitEpochKey{}).(*commitEpoch)
	}
	if e != nil {
		e.release()
	}
}

// aloCommit is an at-least-once commit from its cut to its end.
type aloCommit struct {
	tasks       []*procTask
	first, last map[string]map[int32]kgo.EpochOffset
	changelog   []*kgo.Record
	epoch       *commitEpoch
	cancel      context.CancelFunc
	done        chan struct{}
	err         error
}

func (c *aloCommit) finished() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// startCommit cuts the work handled so far and commits it in the
// background. It runs on the loop goroutine between polls, with no commit
// in flight.
func (pp *processorPart) startCommit(ctx context.Context) *aloCommit {
	c := &aloCommit{
		tasks: pp.readyTasks(),
		first: map[string]map[int32]kgo.EpochOffset{},
		last:  map[string]map[int32]kgo.EpochOffset{},
		epoch: pp.epoch,
		done:  make(chan struct{}),
	}
	pp.epoch = newCommitEpoch()
	for _, t := range c.tasks {
		for i, r := range t.first {
			if r != nil {
				addOffset(c.first, pp.p.spec.Inputs[i].Topic, t.partition, kgo.EpochOffset{Epoch: r.LeaderEpoch, Offset: r.Offset})
			}
		}
		for i, r := range t.last {
			if r != nil {
				addOffset(c.last, pp.p.spec.Inputs[i].Topic, t.partition, kgo.EpochOffset{Epoch: r.LeaderEpoch, Offset: r.Offset + 1})
			}
		}
		clear(t.first)
		clear(t.last)
	}
	c.changelog = pp.prepareChangelog(c.tasks)
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), pp.svc.shutdownTimeout())
	c.cancel = cancel
	go func() {
		defer close(c.done)
		c.err = pp.runCommit(cctx, c)
	}()
	return c
}

// runCommit is a commit's background half; see processorPart.commit for
// the order of its steps and why.
func (pp *processorPart) runCommit(ctx context.Context, c *aloCommit) error {
	if pp.stateStore != nil && len(c.first) > 0 {
		if err := pp.commitOffsetsSync(ctx, c.first); err != nil {
			c.epoch.seal()
			return restartable(fmt.Errorf("lost the partitions before committing (a pause longer than the session timeout?); discarding uncommitted state: %w", err))
		}
	}
	c.epoch.add(int64(len(c.changelog)))
	for _, r := range c.changelog {
		c.epoch.track(r)
		pp.cl.Produce(context.Background(), r, pp.changelogAck)
	}
	c.epoch.seal()
	var err error
	select {
	case <-c.epoch.done:
		err = pp.produceErr()
	case <-ctx.Done():
		err = fmt.Errorf("waiting for the outputs to be acknowledged: %w", ctx.Err())
	}
	if err == nil && len(c.last) > 0 {
		err = pp.commitOffsetsSync(ctx, c.last)
	}
	if err != nil {
		if fatalKafkaError(err) {
			return fmt.Errorf("commit: %w", err)
		}
		return restartable(fmt.Errorf("commit: %w", err))
	}
	if pp.stateStore != nil && (pp.batch.Len() > 0 || len(c.changelog) > 0) {
		pp.prodMu.Lock()
		for p, off := range pp.changelogLast {
			pp.batch.SetCheckpoint(p, off+1)
		}
		pp.prodMu.Unlock()
		if err := pp.stateStore.Apply(&pp.batch); err != nil {
			return fmt.Errorf("write local state: %w", err)
		}
	}
	return nil
}

// finishCommit waits for c and settles the state caches on the loop
// goroutine: committed values may be evicted again, or, if the commit
// failed, every change since the last commit is forgotten.
func (pp *processorPart) finishCommit(c *aloCommit) error {
	<-c.done
	c.cancel()
	pp.batch.Reset()
	if c.err != nil {
		pp.abortTasks(c.tasks)
		return c.err
	}
	for _, t := range c.tasks {
		if t.state != nil {
			t.state.committed()
		}
	}
	pp.m.commits.Inc()
	return nil
}

// prepareChangelog turns the tasks' state changes since the last commit
// into changelog records (one per changed key, with its latest value) and
// the store batch that writes them locally once they are committed, and
// starts counting the changelog's acknowledged offsets afresh.
func (pp *processorPart) prepareChangelog(tasks []*procTask) []*kgo.Record {
	pp.prodMu.Lock()
	pp.changelogLast = map[int32]int64{}
	pp.prodMu.Unlock()
	var out []*kgo.Record
	var headers []kgo.RecordHeader
	for _, t := range tasks {
		if t.state == nil || !t.state.pending() {
			continue
		}
		if headers == nil {
			headers = pp.changelogHeaders()
		}
		// The task's changelog records in one allocation, not one each
		// (records are never reused: the slab is freed once the
		// producer let go of all of them).
		recs := make([]kgo.Record, t.state.changed())
		t.state.prepare(&pp.batch, func(key, value []byte) {
			r := &recs[0]
			recs = recs[1:]
			r.Topic, r.Partition, r.Key, r.Value, r.Headers = pp.stateTopic, t.partition, key, value, headers
			out = append(out, r)
		})
	}
	return out
}

func addOffset(m map[string]map[int32]kgo.EpochOffset, topic string, p int32, o kgo.EpochOffset) {
	if m[topic] == nil {
		m[topic] = map[int32]kgo.EpochOffset{}
	}
	m[topic][p] = o
}
