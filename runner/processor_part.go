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
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kafmesh/kafmesh/runner/internal/store"
)

const (
	// maxPollRecords bounds one poll. Every record of a poll and its
	// outputs are in memory at once: 200,000 made kafmesh's W1 peak RSS
	// 155-200 MiB against the bare loop's 70-110; 50,000 (about 100 ms of
	// W1 at full speed, so polls also end near the commit interval) took
	// 25-50 MiB off with no throughput change seen (docs/benchmarks.md).
	maxPollRecords  = 50_000
	stateCacheLimit = 100_000 // entries per partition
	// readCacheLimit bounds the read caches in front of the Pebble stores
	// of joins (keys per partition) and of lookup and view tables (keys in
	// all): a join or lookup of a recently read key costs a map lookup
	// instead of a search of Pebble's memtable and files.
	readCacheLimit   = 100_000
	shutdownDeadline = 30 * time.Second
	// resumeFetchMaxWait is the processors' fetch max wait: the longest
	// a partition resumed after its restore waits for the fetch in flight.
	resumeFetchMaxWait = 100 * time.Millisecond
	// defaultLinger is every producer's linger (docs/runtime.md,
	// "Latency and the commit interval").
	defaultLinger = 5 * time.Millisecond
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
	// fences counts FENCED_INSTANCE_ID errors: a few rejoin, more stop
	// the processor (two processes share one instance id).
	fences fenceBudget
	// progress is when the processor last committed (unix nanoseconds;
	// an idle poll does not count: an input held up by a hanging
	// transaction looks idle); watchHanging looks only when it is old.
	progress atomic.Int64
	inTxn    bool
	restarts prometheus.Counter
	// clockBase is the fixed time handler durations are measured from:
	// time.Since(clockBase) reads only the monotonic clock.
	clockBase time.Time
	errLog    rateLimit
	// session counts group sessions; a callback of an earlier session's
	// client (one that did not close in time) changes nothing.
	sessionID atomic.Int64
	// joined is the session id + 1 of the last session whose assignment
	// arrived (franz-go calls OnPartitionsAssigned after every sync, also
	// with nothing new): until then the processor is not ready.
	joined    atomic.Int64
	memOpened bool // MemoryCluster stores exist

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
	// epoch counts the outputs produced since the last commit's cut
	// (at-least-once with Kafka; nil otherwise). It is replaced only on
	// the loop goroutine between polls (processor_commit.go).
	epoch *commitEpoch
}

type processorMetrics struct {
	in, out                                                            []prometheus.Counter
	latency                                                            *handlerCounts
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
		clockBase:  time.Now(),
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
	pp.m.latency = s.metrics.processorLatency.part(spec.Component, spec.Name)
	pp.m.errFailed, pp.m.errRetried, pp.m.errSkipped = errs("failed"), errs("retried"), errs("skipped")
	pp.m.errDeadLettered, pp.m.errUndecodable = errs("dead_lettered"), errs("undecodable")
	pp.m.commits = s.metrics.processorCommits.WithLabelValues(spec.Component, spec.Name)
	pp.restarts = s.metrics.processorRestarts.WithLabelValues(spec.Component, spec.Name)
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
	pp.progress.Store(time.Now().UnixNano())
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go pp.watchHanging(watchCtx)
	followCtx, stopFollow := context.WithCancel(context.WithoutCancel(ctx))
	followDone := make(chan struct{})
	go func() {
		defer close(followDone)
		if err := pp.follow.run(followCtx); err != nil {
			pp.fail(err)
		}
	}()

	// Each session is one consumer group membership with its own client.
	// What heals (a lost group session, a commit that failed because the
	// member was fenced or a broker went away) ends the session: its
	// uncommitted work is discarded and a new session rejoins, restoring
	// the partitions it gets from the local stores and the changelog.
	var err error
	backoff := restartBackoffMin
	for {
		var restart *restartError
		err = pp.session(ctx)
		if !errors.As(err, &restart) || ctx.Err() != nil || pp.err() != nil {
			if ctx.Err() != nil && restart != nil {
				err = nil
			}
			break
		}
		pp.restarts.Inc()
		pp.log.Warn("rejoining the group after a recoverable failure", "error", restart.err, "backoff", backoff)
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
		case <-pp.failed:
		}
		backoff = min(backoff*2, restartBackoffMax)
	}
	if err == nil {
		err = pp.err()
	}
	stopFollow()
	<-followDone
	if cerr := pp.closeStores(); err == nil {
		err = cerr
	}
	return err
}

const (
	restartBackoffMin = 100 * time.Millisecond
	restartBackoffMax = 10 * time.Second
)

// restartError is a failure a new group session heals: the current one's
// uncommitted work was discarded.
type restartError struct{ err error }

func (e *restartError) Error() string { return e.err.Error() }
func (e *restartError) Unwrap() error { return e.err }

func restartable(err error) error { return &restartError{err} }

// session joins the group with a new client, processes until ctx is done,
// the processor fails or the session must be restarted, and leaves.
func (pp *processorPart) session(ctx context.Context) error {
	pp.inTxn = false
	pp.rebalanceWanted.Store(false)
	pp.prodMu.Lock()
	pp.prodErr = nil
	pp.prodMu.Unlock()
	pp.batch.Reset()
	pp.cl, pp.sess = nil, nil
	err := pp.openClient(ctx)
	if err == nil {
		err = pp.loop(ctx)
	}
	if pp.cl == nil {
		pp.endSession()
		return err
	}

	// Leave the group: the revoke callback drops the tasks. It waits for
	// rebalances to be allowed, which is safe now that nothing is pending.
	pp.allowRebalance()
	if pp.sess != nil {
		closeBounded(pp.sess.Close, pp.svc.shutdownTimeout(), pp.log)
	} else {
		closeBounded(pp.cl.Close, pp.svc.shutdownTimeout(), pp.log)
	}
	if ctx.Err() != nil && err == nil && pp.svc.cfg.leaveGroupsOnStop {
		pp.leaveStatic()
	}
	pp.endSession()
	pp.sess = nil
	return err
}

// joinedGroup reports whether the current group session has received its
// assignment.
func (pp *processorPart) joinedGroup() bool {
	return pp.svc.mem != nil || pp.joined.Load() == pp.sessionID.Load()+1
}

// endSession drops whatever tasks the callbacks did not (a close that did
// not finish, a client that failed to start); from now on the old client's
// callbacks change nothing.
func (pp *processorPart) endSession() {
	pp.mu.Lock()
	pp.sessionID.Add(1)
	var rest []int32
	var tasks []*procTask
	for p, t := range pp.tasks {
		rest = append(rest, p)
		tasks = append(tasks, t)
	}
	clear(pp.tasks)
	pp.mu.Unlock()
	pp.dropTasks(tasks, rest, true)
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
	pp.follow, err = newFollower(pp.svc, spec.Group)
	return err
}

// openClient creates the group client of a session. With exactly-once it
// first fences the previous owner of the transactional id (InitProducerID),
// so that no restore waits on a transaction the crashed predecessor left
// open: the restores read the changelog read_committed.
func (pp *processorPart) openClient(ctx context.Context) error {
	spec := pp.p.spec
	inputs := make([]string, len(spec.Inputs))
	for i, in := range spec.Inputs {
		inputs[i] = in.Topic
	}
	// fenced closes once the session's transactional producer fenced its
	// predecessor (at once without exactly-once); restores wait for it.
	fenced := make(chan struct{})
	sid := pp.sessionID.Load()
	extra := append(producerOpts(),
		kgo.ConsumerGroup(spec.Group),
		kgo.ConsumeTopics(inputs...),
		kgo.Balancers(processorBalancers()...),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.OnPartitionsAssigned(func(ctx context.Context, cl *kgo.Client, m map[string][]int32) { pp.assigned(ctx, cl, sid, fenced, m) }),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			pp.drop(sid, partitionNumbers(m), false)
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			pp.drop(sid, partitionNumbers(m), true)
		}),
		kgo.OnPartitionsCallbackBlocked(func(context.Context, *kgo.Client) { pp.rebalanceWanted.Store(true) }),
		kgo.RecordPartitioner(partitioner(map[string]bool{pp.stateTopic: true})),
		kgo.MaxBufferedRecords(1<<20),
		// A partition is paused until its restore is done, and resuming
		// it does not interrupt the fetch already in flight for the
		// others: with franz-go's default 5s max wait, a partition
		// restored while the others sit at their end waited up to 5s
		// before its first fetch. resumeFetchMaxWait bounds that wait
		// (and costs an empty fetch per broker that often when idle).
		// WithKafkaOptions(kgo.FetchMaxWait(...)) overrides it.
		kgo.FetchMaxWait(resumeFetchMaxWait),
		// A produce that must be retried (a leader moved; with Kafka 4's
		// transactions, CONCURRENT_TRANSACTIONS right after a commit)
		// waits for a metadata refresh, which the default 5s minimum age
		// would turn into a 5s stall of the whole processor.
		kgo.MetadataMinAge(250*time.Millisecond),
	)
	if id := pp.svc.staticInstanceID(); id != "" {
		extra = append(extra, kgo.InstanceID(id))
	}
	if !pp.p.cfg.exactlyOnce {
		close(fenced)
		var err error
		pp.cl, err = kgo.NewClient(pp.svc.clientOpts(extra...)...)
		return err
	}
	// In clientOpts' extra, so WithKafkaOptions (appended last) wins.
	extra = append(extra, kgo.TransactionalID(spec.Group+"-"+pp.svc.instanceID()),
		kgo.TransactionTimeout(pp.svc.transactionTimeout()))
	sess, err := kgo.NewGroupTransactSession(pp.svc.clientOpts(extra...)...)
	if err != nil {
		close(fenced)
		return err
	}
	pp.sess, pp.cl = sess, sess.Client()
	fctx, cancel := context.WithTimeout(ctx, pp.svc.shutdownTimeout())
	defer cancel()
	_, _, err = pp.cl.ProducerID(fctx)
	close(fenced)
	if err != nil {
		if ctx.Err() != nil {
			return nil // the loop ends at once; session closes the client
		}
		sess.Close()
		pp.sess, pp.cl = nil, nil
		if fatalKafkaError(err) {
			return fmt.Errorf("init transactional producer: %w", err)
		}
		return restartable(fmt.Errorf("init transactional producer: %w", err))
	}
	return nil
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

// loop polls, processes and commits until ctx is done, a record fails or
// the session must be restarted (a *restartError).
//
// Commits never use ctx: a commit that has begun completes (within the
// shutdown timeout) even when shutdown starts meanwhile. Records polled but
// not processed when ctx ends are never committed: with at-least-once only
// the offsets of processed records are committed, and with exactly-once the
// open transaction is aborted instead.
func (pp *processorPart) loop(ctx context.Context) error {
	interval := pp.p.cfg.commitInterval
	lastCommit := time.Now()
	uncommitted, unprocessed := false, false
	var restart error
	// inflight is the at-least-once commit running beside processing
	// (processor_commit.go); exactly-once commits stop processing.
	var inflight *aloCommit
	if pp.sess == nil {
		pp.epoch = newCommitEpoch()
	}
	settle := func() error {
		if inflight == nil {
			return nil
		}
		c := inflight
		inflight = nil
		return pp.finishCommit(c)
	}
	// commit commits everything handled so far and waits for it.
	commit := func() error {
		if err := settle(); err != nil {
			return err
		}
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), pp.svc.shutdownTimeout())
		defer cancel()
		return pp.commit(cctx)
	}
	// committed notes a commit's cut (at-least-once) or end: the
	// interval counts from there.
	committed := func() {
		lastCommit = time.Now()
		pp.progress.Store(lastCommit.UnixNano())
	}
	// fault sorts an error: a *restartError ends the session, anything
	// else fails the processor.
	fault := func(err error) {
		var r *restartError
		switch {
		case errors.As(err, &r) && !errors.Is(err, kerr.FencedInstanceID):
			restart = err
		case errors.Is(err, kerr.FencedInstanceID) && pp.fences.allow():
			// Another member joined with this instance id. That is
			// another process running with the same WithInstanceID
			// (fatal, below, if it keeps happening), or this one's
			// own earlier session right after a broker restart.
			restart = restartable(err)
		case errors.Is(err, kerr.FencedInstanceID):
			pp.fail(fmt.Errorf("%w (fenced %d times in %s: another process runs with instance id %q; give every instance its own WithInstanceID, e.g. its pod name)",
				err, maxFenceRestarts+1, fenceWindow, pp.svc.staticInstanceID()))
		default:
			pp.fail(err)
		}
	}
	for ctx.Err() == nil && pp.err() == nil && restart == nil {
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
		if err := pp.fetchError(fetches); err != nil {
			// A lost group session with work pending: that work can
			// no longer be committed, so discard it and rejoin.
			var gs *kgo.ErrGroupSession
			if errors.As(err, &gs) && (uncommitted || inflight != nil) {
				fault(restartable(err))
				break
			}
			if fatalKafkaError(err) {
				fault(err)
				break
			}
		}
		if fetches.NumRecords() > 0 {
			if pp.sess != nil && !pp.inTxn {
				if err := pp.sess.Begin(); err != nil {
					fault(restartable(fmt.Errorf("begin transaction: %w", err)))
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
				var poison *PoisonError
				if pp.sess == nil && errors.As(err, &poison) {
					// At-least-once commits exactly the records
					// handled, so keep those before the poison one:
					// the group's committed offset is then the poison
					// record's own, and `kafmesh offsets skip` moves
					// past it without skipping anything else.
					if cerr := commit(); cerr != nil {
						pp.log.Warn("committing the records before the failed one failed; they are processed again", "error", cerr)
					} else {
						uncommitted = false
					}
				}
				fault(err)
				break
			}
		}
		// A poll that came back empty means the input is idle: nothing
		// would join this commit by waiting for the interval, so commit
		// now rather than hold the last records (and, exactly-once,
		// their outputs' visibility) until the next tick.
		idle := fetches.NumRecords() == 0
		// A rebalance, or an idle input, waits for the commit's end; a
		// commit due by the interval runs beside the next polls.
		wait := idle || pp.rebalanceWanted.Load()
		if inflight != nil && (wait || inflight.finished()) {
			if err := settle(); err != nil {
				fault(err)
				break
			}
			pp.progress.Store(time.Now().UnixNano())
		}
		if uncommitted && inflight == nil && (wait || time.Since(lastCommit) >= interval) {
			if pp.sess != nil {
				if err := commit(); err != nil {
					fault(err)
					break
				}
			} else {
				inflight = pp.startCommit(ctx)
				if wait {
					if err := settle(); err != nil {
						fault(err)
						break
					}
				}
			}
			uncommitted = false
			committed()
			if inflight == nil {
				pp.rebalanceWanted.Store(false)
			}
		}
		if !uncommitted && inflight == nil {
			pp.allowRebalance()
		}
	}
	if inflight != nil {
		if err := settle(); err != nil {
			fault(err)
		}
	}

	abort := pp.err() != nil || restart != nil || (pp.sess != nil && unprocessed)
	if abort {
		// With transactions the open one is aborted, so its outputs are
		// never visible and its input offsets stay uncommitted.
		if pp.inTxn {
			pp.abortTxn(ctx)
		}
		pp.discardAll()
		if restart != nil && pp.err() == nil {
			return restart
		}
		return pp.err()
	}
	if uncommitted {
		if err := commit(); err != nil {
			var r *restartError
			if errors.As(err, &r) {
				// Nothing of it was applied locally; the next owner
				// redoes it.
				pp.discardAll()
				pp.log.Warn("final commit failed; the uncommitted records are processed again by the next owner", "error", err)
				return nil
			}
			return fmt.Errorf("final commit: %w", err)
		}
	}
	return nil
}

// abortTxn aborts the open transaction. A failed abort leaves the
// transaction to the brokers, which abort it once the next session's
// producer fences it (or at the transaction timeout).
func (pp *processorPart) abortTxn(ctx context.Context) {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), pp.svc.shutdownTimeout())
	defer cancel()
	pp.sess.AllowRebalance()
	if _, err := pp.sess.End(actx, kgo.TryAbort); err != nil {
		pp.log.Warn("aborting the transaction failed; the next session's producer fences it", "error", err)
	}
	pp.inTxn = false
}

func (pp *processorPart) allowRebalance() {
	if pp.sess != nil {
		pp.sess.AllowRebalance()
	} else {
		pp.cl.AllowRebalance()
	}
}

// fetchError returns the first fetch error that is not the poll's own
// timeout. Errors that heal (a lost group session, which franz-go rejoins
// by itself; brokers restarting; a coordinator moving) are logged, at most
// one a second.
func (pp *processorPart) fetchError(fetches kgo.Fetches) error {
	first := fetchError(fetches)
	if first != nil && !fatalKafkaError(first) && pp.errLog.allow() {
		pp.log.Warn("kafka error; retrying", "error", first)
	}
	return first
}

// fetchError returns the first fetch error that is not the poll's own
// timeout.
func fetchError(fetches kgo.Fetches) error {
	var first error
	fetches.EachError(func(t string, p int32, err error) {
		if first != nil || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			return
		}
		if t == "" {
			first = err
		} else {
			first = fmt.Errorf("fetch %s[%d]: %w", t, p, err)
		}
	})
	return first
}

// fatalKafkaError reports whether err cannot heal by retrying: missing
// authorization, a topic that no longer exists, a group configuration the
// brokers refuse, or another instance with the same instance id.
func fatalKafkaError(err error) bool {
	for _, e := range []error{kerr.TopicAuthorizationFailed, kerr.GroupAuthorizationFailed,
		kerr.ClusterAuthorizationFailed, kerr.TransactionalIDAuthorizationFailed,
		kerr.SaslAuthenticationFailed, kerr.UnknownTopicID, kgo.ErrClientClosed,
		// Configuration the brokers refuse, and another instance running
		// with the same WithInstanceID.
		kerr.InvalidSessionTimeout, kerr.InconsistentGroupProtocol, kerr.FencedInstanceID} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// rateLimit allows one event per second.
type rateLimit struct{ last atomic.Int64 }

func (r *rateLimit) allow() bool {
	now := time.Now().UnixNano()
	last := r.last.Load()
	return now-last >= int64(time.Second) && r.last.CompareAndSwap(last, now)
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
func (t *procTask) produceOutput(r *kgo.Record) {
	if ep := t.pp.epoch; ep != nil {
		// At-least-once: the commit after this record waits for it
		// (the task adds its count to the epoch when the poll's records
		// are handled, see process).
		ep.track(r)
		t.unacked++
	}
	t.pp.produce(r, t.pp.outputAck)
}

func (pp *processorPart) produce(r *kgo.Record, promise func(*kgo.Record, error)) {
	if pp.svc.mem != nil {
		pp.svc.mem.emit(r, r.Topic == pp.stateTopic, promise)
		return
	}
	if pp.sess != nil {
		pp.sess.Produce(context.Background(), r, promise)
		return
	}
	pp.cl.Produce(context.Background(), r, promise)
}

func (pp *processorPart) onOutputAck(r *kgo.Record, err error) {
	if err != nil {
		pp.setProduceErr(fmt.Errorf("produce to %s: %w", r.Topic, err))
	}
	releaseEpoch(r)
}

func (pp *processorPart) onChangelogAck(r *kgo.Record, err error) {
	if err != nil {
		pp.setProduceErr(fmt.Errorf("produce state to %s: %w", r.Topic, err))
	} else {
		pp.prodMu.Lock()
		if r.Offset > pp.changelogLast[r.Partition] {
			pp.changelogLast[r.Partition] = r.Offset
		}
		pp.prodMu.Unlock()
	}
	releaseEpoch(r)
}

func (pp *processorPart) setProduceErr(err error) {
	pp.prodMu.Lock()
	if pp.prodErr == nil {
		pp.prodErr = err
	}
	pp.prodMu.Unlock()
}

// commit makes everything processed so far durable.
//
// With exactly-once, outputs, state changes and input offsets go in one
// transaction; rebalances are allowed while it ends (the session aborts it
// if the partitions moved meanwhile), and a failed end is aborted and the
// session restarted.
//
// With at-least-once (startCommit cuts the work, runCommit does the rest
// in the background while the loop processes on, finishCommit settles it;
// this waits for all three) the order keeps a member that lost its
// partitions (a pause longer than the session timeout) from writing
// anything stale:
//
//  1. the membership is verified: the input positions the batch started
//     from are committed again, which the group coordinator refuses
//     (UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION, FENCED_INSTANCE_ID) from a
//     member that is no longer the owner;
//  2. the state changes go to the changelog and every output of the
//     records before the cut is acknowledged;
//  3. the input offsets are committed;
//  4. only then are the state changes written to the local store, with
//     their changelog checkpoints.
//
// A failure at any step discards the uncommitted state changes and
// restarts the session (a *restartError): the partitions are restored from
// the local store, whose checkpoint never moved past what was committed,
// and the changelog.
func (pp *processorPart) commit(ctx context.Context) error {
	if pp.sess == nil {
		return pp.finishCommit(pp.startCommit(ctx))
	}
	tasks := pp.readyTasks()
	for _, r := range pp.prepareChangelog(tasks) {
		pp.produce(r, pp.changelogAck)
	}

	// Let the rebalance that may be waiting go on while the transaction
	// ends: End waits for a heartbeat, and the group loop for
	// AllowRebalance. A revoke meanwhile makes End abort.
	pp.sess.AllowRebalance()
	committed, err := pp.sess.End(ctx, kgo.TryCommit)
	if err == nil {
		err = pp.produceErr()
	}
	if err != nil {
		// Still in the transaction as far as the brokers know: abort it
		// now rather than leave it to block read_committed readers until
		// the transaction timeout.
		pp.abortTxn(ctx)
		pp.batch.Reset()
		pp.abortTasks(tasks)
		if fatalKafkaError(err) {
			return fmt.Errorf("commit transaction: %w", err)
		}
		return restartable(fmt.Errorf("commit transaction: %w", err))
	}
	pp.inTxn = false
	if !committed {
		// A rebalance or fencing aborted the transaction; the session
		// rewound to the committed offsets, so the aborted records are
		// processed again. Forget their state changes.
		pp.log.Info("transaction aborted by a rebalance; reprocessing from the last commit")
		pp.batch.Reset()
		pp.abortTasks(tasks)
		return nil
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
	pp.m.commits.Inc()
	return nil
}

// readyTasks returns the tasks that have finished their restore. A task
// still restoring has handled nothing, and its state is being set up by
// the restore (ready orders the two).
func (pp *processorPart) readyTasks() []*procTask {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	tasks := make([]*procTask, 0, len(pp.tasks))
	for _, t := range pp.tasks {
		if t.isReady() {
			tasks = append(tasks, t)
		}
	}
	return tasks
}

// changelogHeaders tag the changelog records of one commit with the
// writer's group generation and instance ("kafmesh-generation",
// "kafmesh-instance"), so an operator (or a test) can tell which member
// wrote a value and under which generation. Restores do not filter on them:
// a group's generations start over when the group is deleted, and
// compaction may leave a key's stale record alone.
func (pp *processorPart) changelogHeaders() []kgo.RecordHeader {
	if pp.cl == nil {
		return nil
	}
	_, gen := pp.cl.GroupMetadata()
	return []kgo.RecordHeader{
		{Key: "kafmesh-generation", Value: strconv.AppendInt(nil, int64(gen), 10)},
		{Key: "kafmesh-instance", Value: []byte(pp.svc.instanceID())},
	}
}

func (pp *processorPart) abortTasks(tasks []*procTask) {
	for _, t := range tasks {
		if t.state != nil {
			t.state.aborted()
		}
	}
}

// commitOffsetsSync commits offsets and returns the first error, of the
// request or of any partition.
func (pp *processorPart) commitOffsetsSync(ctx context.Context, offsets map[string]map[int32]kgo.EpochOffset) error {
	var first error
	pp.cl.CommitOffsetsSync(ctx, offsets, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			first = err
			return
		}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if err := kerr.ErrorForCode(p.ErrorCode); err != nil && first == nil {
					first = fmt.Errorf("commit offset of %s[%d]: %w", t.Topic, p.Partition, err)
				}
			}
		}
	})
	return first
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
		if t.isReady() && t.state != nil {
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
func (pp *processorPart) assigned(ctx context.Context, cl *kgo.Client, sid int64, fenced chan struct{}, assigned map[string][]int32) {
	ps := partitionNumbers(assigned)
	var fresh []*procTask
	var numbers []int32
	pp.mu.Lock()
	if pp.sessionID.Load() != sid {
		pp.mu.Unlock()
		return
	}
	pp.joined.Store(sid + 1)
	for _, p := range ps {
		if pp.tasks[p] != nil {
			continue
		}
		taskCtx, cancel := context.WithCancel(ctx)
		t := &procTask{svc: pp.svc, p: pp.p, pp: pp, partition: p, ready: make(chan struct{}), cancel: cancel,
			last: make([]*kgo.Record, len(pp.p.spec.Inputs)), first: make([]*kgo.Record, len(pp.p.spec.Inputs)),
			restoreCtx: taskCtx, fenced: fenced,
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
		// With exactly-once, the predecessor's open transaction must be
		// fenced first: the changelog is read read_committed, and an
		// open transaction would hold the restore up to its timeout.
		select {
		case <-t.fenced:
		case <-ctx.Done():
			return ctx.Err()
		}
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

// drop drops the tasks of partitions revoked (discard false: rebalances
// are only allowed right after a commit, so nothing of theirs is pending)
// or lost without a clean revoke (discard true: their uncommitted changes
// are discarded, the new owner redoes them).
func (pp *processorPart) drop(sid int64, ps []int32, discard bool) {
	if len(ps) == 0 {
		return
	}
	pp.mu.Lock()
	if pp.sessionID.Load() != sid {
		pp.mu.Unlock()
		return
	}
	var dropped []*procTask
	for _, p := range ps {
		if t := pp.tasks[p]; t != nil {
			dropped = append(dropped, t)
			delete(pp.tasks, p)
		}
	}
	pp.mu.Unlock()
	pp.dropTasks(dropped, ps, discard)
}

func (pp *processorPart) dropTasks(dropped []*procTask, ps []int32, discard bool) {
	if len(ps) == 0 {
		return
	}
	// A dropped task's cache is never read again (a new assignment makes
	// a new task that reads the store), so its uncommitted changes need no
	// undoing; touching it here would race with a commit under way.
	for _, t := range dropped {
		t.cancel()
	}
	for _, j := range pp.p.spec.Joins {
		pp.follow.remove(j.Topic, ps)
	}
	if pp.stateTopic != "" {
		pp.follow.remove(pp.stateTopic, ps)
	}
	pp.log.Info("partitions revoked", "partitions", ps, "lost", discard)
}

// fenceBudget allows maxFenceRestarts rejoins after FENCED_INSTANCE_ID
// within fenceWindow. A static member is fenced when another member joins
// with its instance id: once after a broker restart, when this process's
// own new session takes over from the old one, heals by rejoining; two
// processes configured with the same WithInstanceID fence each other
// without end, and that must stop one of them with the reason.
type fenceBudget struct {
	mu    sync.Mutex
	times []time.Time
}

const (
	maxFenceRestarts = 3
	fenceWindow      = 10 * time.Minute
)

func (b *fenceBudget) allow() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	b.times = slices.DeleteFunc(b.times, func(t time.Time) bool { return now.Sub(t) > fenceWindow })
	if len(b.times) >= maxFenceRestarts {
		return false
	}
	b.times = append(b.times, now)
	return true
}
