package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafmesh/kafmesh/runner/internal/store"
)

const (
	maxPollRecords  = 200_000
	stateCacheLimit = 100_000 // entries per partition
	// readCacheLimit bounds the read caches in front of the Pebble stores
	// of joins (keys per partition) and of lookup and view tables (keys in
	// all): a join or lookup of a recently read key costs a map lookup
	// instead of a search of Pebble's memtable and files.
	readCacheLimit   = 100_000
	shutdownDeadline = 30 * time.Second
)

// processorPart runs one registered processor.
type processorPart struct {
	svc        *Service
	p          *Processor
	log        *slog.Logger
	inputIndex map[string]int
	lookups    []*table
	stateTopic string
	dlqTopic   string
	watch      *processorWatch
	m          processorMetrics

	// Set up by run.
	cl         *kgo.Client
	sess       *kgo.GroupTransactSession // exactly-once only
	follow     *follower
	stateStore store.Store
	joinStores []store.Store
	batch      store.Batch

	mu    sync.Mutex
	tasks map[int32]*procTask

	rebalanceWanted atomic.Bool
	inTxn           bool
	memOpened       bool // MemoryCluster stores exist

	failMu  sync.Mutex
	failErr error
	failed  chan struct{}

	prodMu        sync.Mutex
	prodErr       error
	changelogLast map[int32]int64 // partition -> offset of the last changelog record acked
	outputs       map[string]prometheus.Counter

	// The promises, as method values made once: a method value made per
	// record would be an allocation per record.
	outputAck, changelogAck func(*kgo.Record, error)
}

type processorMetrics struct {
	in, out                                                            []prometheus.Counter
	latency                                                            prometheus.Observer
	errFailed, errRetried, errSkipped, errDeadLettered, errUndecodable prometheus.Counter
	commits                                                            prometheus.Counter
}

func newProcessorPart(s *Service, p *Processor) *processorPart {
	spec := p.spec
	pp := &processorPart{
		svc:        s,
		p:          p,
		log:        s.log.With("processor", spec.Component+"/"+spec.Name, "group", spec.Group),
		inputIndex: map[string]int{},
		dlqTopic:   spec.Group + "-dlq",
		watch:      s.watch.processor(spec.Component, spec.Name),
		tasks:      map[int32]*procTask{},
		failed:     make(chan struct{}),
		outputs:    map[string]prometheus.Counter{},
	}
	for i, in := range spec.Inputs {
		pp.inputIndex[in.Topic] = i
		pp.m.in = append(pp.m.in, s.metrics.processorIn.WithLabelValues(spec.Component, spec.Name, in.Topic))
	}
	if spec.State != nil {
		pp.stateTopic = spec.State.Topic
	}
	for _, l := range spec.Lookups {
		pp.lookups = append(pp.lookups, s.tables.get(l, s.cfg.memoryState || p.cfg.memoryState))
	}
	errs := func(outcome string) prometheus.Counter {
		return s.metrics.processorErrors.WithLabelValues(spec.Component, spec.Name, outcome)
	}
	pp.m.latency = s.metrics.processorLatency.WithLabelValues(spec.Component, spec.Name)
	pp.m.errFailed, pp.m.errRetried, pp.m.errSkipped = errs("failed"), errs("retried"), errs("skipped")
	pp.m.errDeadLettered, pp.m.errUndecodable = errs("dead_lettered"), errs("undecodable")
	pp.m.commits = s.metrics.processorCommits.WithLabelValues(spec.Component, spec.Name)
	for _, o := range spec.Outputs {
		c := s.metrics.processorOut.WithLabelValues(spec.Component, spec.Name, o.Topic)
		pp.outputs[o.Topic] = c
		pp.m.out = append(pp.m.out, c)
	}
	pp.outputs[pp.dlqTopic] = s.metrics.processorOut.WithLabelValues(spec.Component, spec.Name, pp.dlqTopic)
	pp.outputAck, pp.changelogAck = pp.onOutputAck, pp.onChangelogAck
	return pp
}

func (pp *processorPart) kind() partKind    { return kindProcessor }
func (pp *processorPart) component() string { return pp.p.spec.Component }
func (pp *processorPart) name() string      { return pp.p.spec.Name }
func (pp *processorPart) describe() any     { return pp.p.spec }

func (pp *processorPart) uses() []topicUse {
	spec := pp.p.spec
	var u []topicUse
	for _, t := range spec.Inputs {
		u = append(u, topicUse{ref: t, role: roleInput, copartition: spec.Group})
	}
	for _, t := range spec.Joins {
		u = append(u, topicUse{ref: t, role: roleJoin, table: true, copartition: spec.Group})
	}
	for _, t := range spec.Lookups {
		u = append(u, topicUse{ref: t, role: roleLookup, table: true})
	}
	for _, t := range spec.Outputs {
		u = append(u, topicUse{ref: t.TopicRef, role: roleOutput, owned: true})
	}
	if spec.State != nil {
		u = append(u, topicUse{ref: *spec.State, role: roleState, owned: true, table: true, copartition: spec.Group})
	}
	if pp.p.cfg.policy.final().action == actionDeadLetter {
		u = append(u, topicUse{ref: TopicRef{Topic: pp.dlqTopic, Type: TopicRaw}, role: roleDeadLetter, owned: true})
	}
	return u
}

// fail records the first error that stops the processor.
func (pp *processorPart) fail(err error) {
	pp.failMu.Lock()
	defer pp.failMu.Unlock()
	if pp.failErr == nil {
		pp.failErr = err
		close(pp.failed)
	}
}

func (pp *processorPart) err() error {
	pp.failMu.Lock()
	defer pp.failMu.Unlock()
	return pp.failErr
}

// checkCopartitioned fails unless every input, join and the state topic
// have the same number of partitions.
func (pp *processorPart) checkCopartitioned(ctx context.Context, adm *kadm.Client) error {
	spec := pp.p.spec
	var topics []string
	for _, t := range spec.Inputs {
		topics = append(topics, t.Topic)
	}
	for _, t := range spec.Joins {
		topics = append(topics, t.Topic)
	}
	if spec.State != nil {
		topics = append(topics, spec.State.Topic)
	}
	counts, err := partitionCounts(ctx, adm, topics)
	if err != nil {
		return err
	}
	for _, t := range topics[1:] {
		if counts[t] != counts[topics[0]] {
			return fmt.Errorf("not co-partitioned: %s has %d partitions but %s has %d; a processor's inputs, joins and state must have equal partition counts",
				topics[0], counts[topics[0]], t, counts[t])
		}
	}
	return nil
}

// partitionCounts returns the partition count of each topic, or one error
// naming every missing topic.
func partitionCounts(ctx context.Context, adm *kadm.Client, topics []string) (map[string]int, error) {
	md, err := adm.Metadata(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	counts := map[string]int{}
	var missing []string
	for _, t := range topics {
		td, ok := md.Topics[t]
		if !ok || td.Err != nil {
			missing = append(missing, t)
			continue
		}
		counts[t] = len(td.Partitions)
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		missing = slices.Compact(missing)
		return nil, fmt.Errorf("missing topics: %v (create them, e.g. with Service.ConfigureTopics)", missing)
	}
	return counts, nil
}

func (pp *processorPart) run(ctx context.Context) error {
	for _, t := range pp.lookups {
		if err := t.waitReady(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
	if err := pp.open(ctx); err != nil {
		pp.closeStores()
		return err
	}
	followCtx, stopFollow := context.WithCancel(context.WithoutCancel(ctx))
	followDone := make(chan struct{})
	go func() {
		defer close(followDone)
		if err := pp.follow.run(followCtx); err != nil {
			pp.fail(err)
		}
	}()

	err := pp.loop(ctx)

	// Leave the group: the revoke callback drops the tasks. It waits for
	// rebalances to be allowed, which is safe now that nothing is pending.
	pp.allowRebalance()
	if pp.sess != nil {
		pp.sess.Close()
	} else {
		pp.cl.Close()
	}
	stopFollow()
	<-followDone
	if cerr := pp.closeStores(); err == nil {
		err = cerr
	}
	return err
}

func (pp *processorPart) open(ctx context.Context) error {
	spec := pp.p.spec
	probe, err := kgo.NewClient(pp.svc.clientOpts()...)
	if err != nil {
		return err
	}
	err = pp.checkCopartitioned(ctx, kadm.NewClient(probe))
	probe.Close()
	if err != nil {
		return err
	}

	dir := filepath.Join(pp.svc.cfg.stateDir, "processors", spec.Group)
	memory := pp.svc.cfg.memoryState || pp.p.cfg.memoryState
	openStore := func(name string) (store.Store, error) {
		if memory {
			return store.NewMemory(true), nil
		}
		d := filepath.Join(dir, name)
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
		return store.OpenPebble(d, true)
	}
	if spec.State != nil {
		// The state has its own write-back cache (stateCache).
		if pp.stateStore, err = openStore("state"); err != nil {
			return err
		}
	}
	for _, j := range spec.Joins {
		st, err := openStore("join-" + j.Topic)
		if err != nil {
			return err
		}
		if !memory {
			st = store.NewCached(st, true, readCacheLimit)
		}
		pp.joinStores = append(pp.joinStores, st)
	}
	if pp.follow, err = newFollower(pp.svc, spec.Group); err != nil {
		return err
	}

	inputs := make([]string, len(spec.Inputs))
	for i, in := range spec.Inputs {
		inputs[i] = in.Topic
	}
	opts := pp.svc.clientOpts(append(producerOpts(),
		kgo.ConsumerGroup(spec.Group),
		kgo.ConsumeTopics(inputs...),
		kgo.Balancers(copartitionBalancer{}),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.OnPartitionsAssigned(pp.assigned),
		kgo.OnPartitionsRevoked(pp.revoked),
		kgo.OnPartitionsLost(pp.lost),
		kgo.OnPartitionsCallbackBlocked(func(context.Context, *kgo.Client) { pp.rebalanceWanted.Store(true) }),
		kgo.RecordPartitioner(partitioner(map[string]bool{pp.stateTopic: true})),
		kgo.MaxBufferedRecords(1<<20),
		// A produce that must be retried (a leader moved; with Kafka 4's
		// transactions, CONCURRENT_TRANSACTIONS right after a commit)
		// waits for a metadata refresh, which the default 5s minimum age
		// would turn into a 5s stall of the whole processor.
		kgo.MetadataMinAge(250*time.Millisecond),
	)...)
	if pp.p.cfg.exactlyOnce {
		opts = append(opts, kgo.TransactionalID(spec.Group+"-"+pp.svc.instanceID()), kgo.TransactionTimeout(time.Minute))
		if pp.sess, err = kgo.NewGroupTransactSession(opts...); err != nil {
			return err
		}
		pp.cl = pp.sess.Client()
		return nil
	}
	pp.cl, err = kgo.NewClient(opts...)
	return err
}

func (pp *processorPart) closeStores() error {
	var errs []error
	if pp.stateStore != nil {
		errs = append(errs, pp.stateStore.Close())
	}
	for _, st := range pp.joinStores {
		errs = append(errs, st.Close())
	}
	return errors.Join(errs...)
}

// loop polls, processes and commits until ctx is done or a record fails.
//
// Commits never use ctx: a commit that has begun completes (within
// shutdownDeadline) even when shutdown starts meanwhile. Records polled but
// not processed when ctx ends are never committed: with at-least-once only
// the offsets of processed records are committed, and with exactly-once the
// open transaction is aborted instead.
func (pp *processorPart) loop(ctx context.Context) error {
	interval := pp.p.cfg.commitInterval
	lastCommit := time.Now()
	uncommitted, unprocessed := false, false
	commit := func() error {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownDeadline)
		defer cancel()
		return pp.commit(cctx)
	}
	for ctx.Err() == nil && pp.err() == nil {
		pollCtx, cancel := context.WithTimeout(ctx, min(interval, 100*time.Millisecond))
		var fetches kgo.Fetches
		if pp.sess != nil {
			fetches = pp.sess.PollRecords(pollCtx, maxPollRecords)
		} else {
			fetches = pp.cl.PollRecords(pollCtx, maxPollRecords)
		}
		cancel()
		if ctx.Err() != nil {
			unprocessed = unprocessed || fetches.NumRecords() > 0
			break
		}
		if err := fetchError(fetches); err != nil {
			pp.fail(err)
			break
		}
		if fetches.NumRecords() > 0 {
			if pp.sess != nil && !pp.inTxn {
				if err := pp.sess.Begin(); err != nil {
					pp.fail(fmt.Errorf("begin transaction: %w", err))
					break
				}
				pp.inTxn = true
			}
			uncommitted = true
			if err := pp.processFetches(ctx, fetches); err != nil {
				if ctx.Err() != nil {
					unprocessed = true
					break
				}
				pp.fail(err)
				break
			}
		}
		if uncommitted && (time.Since(lastCommit) >= interval || pp.rebalanceWanted.Load()) {
			if err := commit(); err != nil {
				pp.fail(err)
				break
			}
			uncommitted, lastCommit = false, time.Now()
			pp.rebalanceWanted.Store(false)
		}
		if !uncommitted {
			pp.allowRebalance()
		}
	}

	abort := pp.err() != nil || (pp.sess != nil && unprocessed)
	if abort {
		// With transactions the open one is aborted, so its outputs are
		// never visible and its input offsets stay uncommitted.
		if pp.inTxn {
			actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownDeadline)
			_, _ = pp.sess.End(actx, kgo.TryAbort)
			cancel()
			pp.inTxn = false
		}
		pp.discardAll()
		return pp.err()
	}
	if uncommitted {
		if err := commit(); err != nil {
			return fmt.Errorf("final commit: %w", err)
		}
	}
	return nil
}

func (pp *processorPart) allowRebalance() {
	if pp.sess != nil {
		pp.sess.AllowRebalance()
	} else {
		pp.cl.AllowRebalance()
	}
}

// fetchError returns the first fetch error that is not the poll's own
// timeout.
func fetchError(fetches kgo.Fetches) error {
	var first error
	fetches.EachError(func(t string, p int32, err error) {
		if first != nil || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			return
		}
		first = fmt.Errorf("fetch %s[%d]: %w", t, p, err)
	})
	return first
}

// processFetches hands each partition's records to its task; tasks run in
// parallel, each in offset order.
func (pp *processorPart) processFetches(ctx context.Context, fetches kgo.Fetches) error {
	byTask := map[int32][]kgo.FetchTopicPartition{}
	fetches.EachPartition(func(ftp kgo.FetchTopicPartition) {
		if len(ftp.Records) == 0 {
			return
		}
		byTask[ftp.Partition] = append(byTask[ftp.Partition], ftp)
		last := ftp.Records[len(ftp.Records)-1]
		pp.svc.metrics.processorLag.WithLabelValues(pp.p.spec.Component, pp.p.spec.Name, ftp.Topic, strconv.Itoa(int(ftp.Partition))).
			Set(float64(ftp.HighWatermark - last.Offset - 1))
	})
	pp.mu.Lock()
	work := make([]*procTask, 0, len(byTask))
	for p := range byTask {
		t := pp.tasks[p]
		if t == nil {
			pp.mu.Unlock()
			return fmt.Errorf("received records of partition %d, which is not assigned", p)
		}
		work = append(work, t)
	}
	pp.mu.Unlock()
	for _, t := range work {
		select {
		case <-t.ready:
			if t.err != nil {
				return t.err
			}
		case <-ctx.Done():
			return ctx.Err()
		case <-pp.failed:
			return pp.err()
		}
	}
	workers := min(len(work), runtime.GOMAXPROCS(0))
	if workers <= 1 {
		var errs []error
		for _, t := range work {
			if err := t.process(ctx, byTask[t.partition]); err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	}
	// One worker per CPU takes tasks in turn: more goroutines than CPUs
	// would only contend for the producer's locks and be switched out.
	errs := make([]error, len(work))
	var next atomic.Int32
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < len(work); i = int(next.Add(1)) - 1 {
				errs[i] = work[i].process(ctx, byTask[work[i].partition])
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// produceOutput produces an output or dead letter. A failure fails the
// processor at the next commit.
func (pp *processorPart) produceOutput(r *kgo.Record) {
	pp.produce(r, pp.outputAck)
}

func (pp *processorPart) produce(r *kgo.Record, promise func(*kgo.Record, error)) {
	if pp.svc.mem != nil {
		pp.svc.mem.emit(r, r.Topic == pp.stateTopic, promise)
		return
	}
	if pp.sess != nil {
		pp.sess.Produce(context.Background(), r, promise)
	} else {
		pp.cl.Produce(context.Background(), r, promise)
	}
}

func (pp *processorPart) onOutputAck(r *kgo.Record, err error) {
	if err != nil {
		pp.setProduceErr(fmt.Errorf("produce to %s: %w", r.Topic, err))
	}
}

func (pp *processorPart) onChangelogAck(r *kgo.Record, err error) {
	if err != nil {
		pp.setProduceErr(fmt.Errorf("produce state to %s: %w", r.Topic, err))
		return
	}
	pp.prodMu.Lock()
	if r.Offset > pp.changelogLast[r.Partition] {
		pp.changelogLast[r.Partition] = r.Offset
	}
	pp.prodMu.Unlock()
}

func (pp *processorPart) setProduceErr(err error) {
	pp.prodMu.Lock()
	if pp.prodErr == nil {
		pp.prodErr = err
	}
	pp.prodMu.Unlock()
}

// commit makes everything processed so far durable: state changes go to
// the changelog, every produced record is acknowledged, and the input
// offsets are committed (in one transaction with exactly-once). Only then
// are state changes written to the local stores, with their changelog
// checkpoints.
func (pp *processorPart) commit(ctx context.Context) error {
	pp.mu.Lock()
	tasks := make([]*procTask, 0, len(pp.tasks))
	for _, t := range pp.tasks {
		tasks = append(tasks, t)
	}
	pp.mu.Unlock()

	pp.prodMu.Lock()
	pp.changelogLast = map[int32]int64{}
	pp.prodMu.Unlock()
	for _, t := range tasks {
		if t.state == nil || !t.state.pending() {
			continue
		}
		t.state.prepare(&pp.batch, func(key, value []byte) {
			pp.produce(&kgo.Record{Topic: pp.stateTopic, Partition: t.partition, Key: key, Value: value}, pp.changelogAck)
		})
	}

	if pp.sess != nil {
		committed, err := pp.sess.End(ctx, kgo.TryCommit)
		pp.inTxn = false
		if err == nil {
			err = pp.produceErr()
		}
		if err != nil {
			return fmt.Errorf("commit transaction: %w", err)
		}
		if !committed {
			// A rebalance or fencing aborted the transaction; the session
			// rewound to the committed offsets, so the aborted records
			// are processed again. Forget their state changes.
			pp.log.Info("transaction aborted by a rebalance; reprocessing from the last commit")
			pp.batch.Reset()
			for _, t := range tasks {
				if t.state != nil {
					t.state.aborted()
				}
			}
			return nil
		}
	} else {
		if err := pp.cl.Flush(ctx); err != nil {
			return fmt.Errorf("flush: %w", err)
		}
		if err := pp.produceErr(); err != nil {
			return err
		}
	}

	if pp.stateStore != nil && (pp.batch.Len() > 0 || len(pp.changelogLast) > 0) {
		for p, off := range pp.changelogLast {
			pp.batch.SetCheckpoint(p, off+1)
		}
		if err := pp.stateStore.Apply(&pp.batch); err != nil {
			return fmt.Errorf("write local state: %w", err)
		}
	}
	pp.batch.Reset()
	for _, t := range tasks {
		if t.state != nil {
			t.state.committed()
		}
	}
	if pp.sess == nil {
		// Commit exactly what was processed: the last handled record of
		// each input partition.
		var last []*kgo.Record
		for _, t := range tasks {
			for i, r := range t.last {
				if r != nil {
					last = append(last, r)
					t.last[i] = nil
				}
			}
		}
		if err := pp.cl.CommitRecords(ctx, last...); err != nil {
			return fmt.Errorf("commit offsets: %w", err)
		}
	}
	pp.m.commits.Inc()
	return nil
}

func (pp *processorPart) produceErr() error {
	pp.prodMu.Lock()
	defer pp.prodMu.Unlock()
	return pp.prodErr
}

// discardAll forgets uncommitted state changes after a failure.
func (pp *processorPart) discardAll() {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	for _, t := range pp.tasks {
		if t.state != nil {
			t.state.aborted()
		}
	}
}

func partitionNumbers(m map[string][]int32) []int32 {
	var ps []int32
	for _, parts := range m {
		ps = append(ps, parts...)
	}
	slices.Sort(ps)
	return slices.Compact(ps)
}

func (pp *processorPart) inputPartitions(ps []int32) map[string][]int32 {
	m := map[string][]int32{}
	for _, in := range pp.p.spec.Inputs {
		m[in.Topic] = ps
	}
	return m
}

// assigned creates a task per new partition number and restores its state
// and joins in the background; its inputs stay paused until then.
func (pp *processorPart) assigned(ctx context.Context, cl *kgo.Client, assigned map[string][]int32) {
	ps := partitionNumbers(assigned)
	var fresh []*procTask
	var numbers []int32
	pp.mu.Lock()
	for _, p := range ps {
		if pp.tasks[p] != nil {
			continue
		}
		taskCtx, cancel := context.WithCancel(ctx)
		t := &procTask{svc: pp.svc, p: pp.p, pp: pp, partition: p, ready: make(chan struct{}), cancel: cancel,
			last: make([]*kgo.Record, len(pp.p.spec.Inputs)), restoreCtx: taskCtx,
			outCounts: make([]int, len(pp.p.spec.Outputs))}
		pp.tasks[p] = t
		fresh = append(fresh, t)
		numbers = append(numbers, p)
	}
	pp.mu.Unlock()
	if len(fresh) == 0 {
		return
	}
	// Pause before any restore can finish and resume: a resume that came
	// first would leave the partition paused for good.
	cl.PauseFetchPartitions(pp.inputPartitions(numbers))
	pp.log.Info("partitions assigned", "partitions", numbers)
	for _, t := range fresh {
		// cl, not pp.cl: the callback can run before NewClient returned.
		go pp.restore(t.restoreCtx, cl, t)
	}
}

// restore brings partition t.partition of the state and join stores up to
// the end of their topics, then lets the task's inputs flow.
func (pp *processorPart) restore(ctx context.Context, cl *kgo.Client, t *procTask) {
	start := time.Now()
	spec := pp.p.spec
	var waits []*followed
	err := func() error {
		if spec.State != nil {
			fs, err := pp.follow.add(ctx, pp.stateTopic, []int32{t.partition}, pp.stateStore, false, true)
			if err != nil {
				return err
			}
			waits = append(waits, fs...)
		}
		for i, j := range spec.Joins {
			fs, err := pp.follow.add(ctx, j.Topic, []int32{t.partition}, pp.joinStores[i], false, false)
			if err != nil {
				return err
			}
			waits = append(waits, fs...)
		}
		for _, w := range waits {
			select {
			case <-w.caught:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	}()
	if err != nil {
		if ctx.Err() == nil {
			t.err = fmt.Errorf("restore partition %d: %w", t.partition, err)
			pp.fail(t.err)
		} else {
			t.err = ctx.Err()
		}
		close(t.ready)
		return
	}
	if spec.State != nil {
		t.state = newStateCache(pp.stateStore, t.partition, stateCacheLimit)
	}
	var restored int64
	pp.follow.mu.Lock()
	for _, w := range waits {
		restored += w.restored
	}
	pp.follow.mu.Unlock()
	label := strconv.Itoa(int(t.partition))
	pp.svc.metrics.restoreRecords.WithLabelValues(spec.Component, spec.Name, label).Set(float64(restored))
	pp.svc.metrics.restoreSeconds.WithLabelValues(spec.Component, spec.Name, label).Set(time.Since(start).Seconds())
	pp.log.Info("partition restored", "partition", t.partition, "records", restored, "took", time.Since(start))
	close(t.ready)
	cl.ResumeFetchPartitions(pp.inputPartitions([]int32{t.partition}))
}

// revoked drops the tasks of revoked partitions. Rebalances are only
// allowed right after a commit, so nothing of theirs is pending.
func (pp *processorPart) revoked(_ context.Context, _ *kgo.Client, revoked map[string][]int32) {
	pp.drop(partitionNumbers(revoked), false)
}

// lost drops the tasks of partitions taken away without a clean revoke;
// their uncommitted changes are discarded (the new owner redoes them).
func (pp *processorPart) lost(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	pp.drop(partitionNumbers(lost), true)
}

func (pp *processorPart) drop(ps []int32, discard bool) {
	if len(ps) == 0 {
		return
	}
	pp.mu.Lock()
	var dropped []*procTask
	for _, p := range ps {
		if t := pp.tasks[p]; t != nil {
			dropped = append(dropped, t)
			delete(pp.tasks, p)
		}
	}
	pp.mu.Unlock()
	for _, t := range dropped {
		t.cancel()
		if discard && t.isReady() && t.state != nil {
			t.state.aborted()
		}
	}
	for _, j := range pp.p.spec.Joins {
		pp.follow.remove(j.Topic, ps)
	}
	if pp.stateTopic != "" {
		pp.follow.remove(pp.stateTopic, ps)
	}
	pp.log.Info("partitions revoked", "partitions", ps, "lost", discard)
}
