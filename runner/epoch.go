package runner

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafmesh/kafmesh/runner/internal/store"
)

// epoch is what an at-least-once processor produced between two commits:
// outputs, dead letters and, when it is sealed, the changelog records of the
// state that changed. Sealing starts the next epoch at once, so processing
// goes on while the sealed epoch's records are being acknowledged; only
// then are its state writes applied to the local store and its input
// offsets committed. Epochs complete in order.
type epoch struct {
	pending atomic.Int64 // records produced and not yet acknowledged
	sealed  atomic.Bool
	once    sync.Once
	done    chan struct{} // closed once sealed and nothing is pending

	// The promises, as method values made once per epoch.
	outputAck, changelogAck func(*kgo.Record, error)

	mu            sync.Mutex
	err           error
	changelogLast map[int32]int64 // partition -> offset of the last changelog record acked

	// Set when sealed, read when complete (both on the processor's loop).
	batch    store.Batch
	prepared map[*procTask][]*cacheEntry
	last     []*kgo.Record // the last handled record of each input partition
}

func newEpoch() *epoch {
	e := &epoch{done: make(chan struct{}), changelogLast: map[int32]int64{}, prepared: map[*procTask][]*cacheEntry{}}
	e.outputAck, e.changelogAck = e.onOutputAck, e.onChangelogAck
	return e
}

// produce produces r as part of the epoch.
func (e *epoch) produce(cl *kgo.Client, r *kgo.Record, promise func(*kgo.Record, error)) {
	e.pending.Add(1)
	cl.Produce(context.Background(), r, promise)
}

func (e *epoch) onOutputAck(r *kgo.Record, err error) {
	if err != nil {
		e.fail(fmt.Errorf("produce to %s: %w", r.Topic, err))
	}
	e.finish()
}

func (e *epoch) onChangelogAck(r *kgo.Record, err error) {
	if err != nil {
		e.fail(fmt.Errorf("produce state to %s: %w", r.Topic, err))
	} else {
		e.mu.Lock()
		if last, ok := e.changelogLast[r.Partition]; !ok || r.Offset > last {
			e.changelogLast[r.Partition] = r.Offset
		}
		e.mu.Unlock()
	}
	e.finish()
}

func (e *epoch) fail(err error) {
	e.mu.Lock()
	if e.err == nil {
		e.err = err
	}
	e.mu.Unlock()
}

func (e *epoch) finish() {
	if e.pending.Add(-1) == 0 && e.sealed.Load() {
		e.once.Do(func() { close(e.done) })
	}
}

// seal ends the epoch: nothing more is produced in it.
func (e *epoch) seal() {
	e.sealed.Store(true)
	if e.pending.Load() == 0 {
		e.once.Do(func() { close(e.done) })
	}
}

func (e *epoch) complete() bool {
	select {
	case <-e.done:
		return true
	default:
		return false
	}
}

// sealEpoch produces the changelog of the state changed since the last
// seal into the current epoch, seals it and starts the next one.
func (pp *processorPart) sealEpoch() {
	e := pp.epoch
	pp.mu.Lock()
	tasks := make([]*procTask, 0, len(pp.tasks))
	for _, t := range pp.tasks {
		tasks = append(tasks, t)
	}
	pp.mu.Unlock()
	for _, t := range tasks {
		if t.state != nil && t.state.pending() {
			e.prepared[t] = t.state.prepare(&e.batch, func(key, value []byte) {
				e.produce(pp.cl, &kgo.Record{Topic: pp.stateTopic, Partition: t.partition, Key: key, Value: value}, e.changelogAck)
			})
		}
		for i, r := range t.last {
			if r != nil {
				e.last = append(e.last, r)
				t.last[i] = nil
			}
		}
	}
	e.seal()
	pp.sealed = append(pp.sealed, e)
	pp.epoch = newEpoch()
}

// completeEpochs finishes the sealed epochs whose records are all
// acknowledged, oldest first: their state goes to the local store with the
// changelog checkpoint, then their input offsets are committed. With wait,
// it waits for every sealed epoch.
func (pp *processorPart) completeEpochs(ctx context.Context, wait bool) error {
	for len(pp.sealed) > 0 {
		e := pp.sealed[0]
		if !e.complete() {
			if !wait {
				return nil
			}
			select {
			case <-e.done:
			case <-ctx.Done():
				return fmt.Errorf("waiting for outputs to be acknowledged: %w", ctx.Err())
			}
		}
		if e.err != nil {
			return e.err
		}
		if pp.stateStore != nil && (e.batch.Len() > 0 || len(e.changelogLast) > 0) {
			for p, off := range e.changelogLast {
				e.batch.SetCheckpoint(p, off+1)
			}
			if err := pp.stateStore.Apply(&e.batch); err != nil {
				return fmt.Errorf("write local state: %w", err)
			}
		}
		for t, prepared := range e.prepared {
			t.state.committed(prepared)
		}
		if err := pp.commitOffsets(ctx, e.last); err != nil {
			return err
		}
		pp.sealed = pp.sealed[1:]
		pp.m.commits.Inc()
	}
	return nil
}

// commitOffsets commits the offsets after the given records. A commit
// refused because this member lost the partitions (its session expired)
// is only logged: their new owner handles the records again, which
// at-least-once allows.
func (pp *processorPart) commitOffsets(ctx context.Context, last []*kgo.Record) error {
	if len(last) == 0 {
		return nil
	}
	err := pp.cl.CommitRecords(ctx, last...)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, kerr.IllegalGeneration), errors.Is(err, kerr.UnknownMemberID),
		errors.Is(err, kerr.RebalanceInProgress), errors.Is(err, kerr.FencedInstanceID):
		pp.log.Warn("offset commit refused: this member lost its partitions; their new owner handles the records again", "error", err)
		return nil
	}
	return fmt.Errorf("commit offsets: %w", err)
}
