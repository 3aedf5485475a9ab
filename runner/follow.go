package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafmesh/kafmesh/runner/internal/store"
)

// follower copies topic partitions into local stores: it restores a store
// from its checkpoint up to the end offset the partition had when it was
// added, reports that it caught up, and then keeps applying new records
// (or stops, for state changelogs, whose only writer is the processor).
//
// It reads with isolation level read_committed and keeps control records,
// so its position moves past transaction markers and "caught up" is exact
// even when a changelog ends with a commit marker.
type follower struct {
	name string
	cl   *kgo.Client
	adm  *kadm.Client

	mu    sync.Mutex
	parts map[topicPartition]*followed
	wake  chan struct{}

	log    *slog.Logger
	errLog rateLimit
	// failingSince is when fetches began to fail (unix nanoseconds; 0
	// while they succeed).
	failingSince atomic.Int64
}

// failingFor is how long fetches have failed without a success between.
func (f *follower) failingFor() time.Duration {
	since := f.failingSince.Load()
	if since == 0 {
		return 0
	}
	return time.Since(time.Unix(0, since))
}

// followerFailingLimit is how long a table's fetches may fail before the
// table counts as not ready.
const followerFailingLimit = 15 * time.Second

type topicPartition struct {
	topic     string
	partition int32
}

// followed is one partition being copied.
type followed struct {
	store    store.Store
	pos      int64 // next offset to apply
	target   int64 // end offset when added
	hwm      int64 // high watermark last fetched
	once     bool  // stop following once caught up
	restored int64 // records applied since added
	caught   chan struct{}
	onRecord func(p int32, key, value []byte) // optional hook after apply
}

func (f *followed) caughtUp() bool {
	select {
	case <-f.caught:
		return true
	default:
		return false
	}
}

func newFollower(s *Service, name string) (*follower, error) {
	cl, err := kgo.NewClient(s.clientOpts(
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
		// 1 MiB per partition (Kafka's and franz-go's default): the
		// broker's answers stay small enough to be decoded while the
		// next is on its way. 8 MiB made one answer hold most of a
		// partition: a restore of 1,000,000 keys took 0.96-1.04 s
		// instead of 0.53-0.70 s, with 140 MiB more peak RSS (2 MiB:
		// 0.90-1.02 s; BenchmarkProcessorRestore, docs/benchmarks.md).
		kgo.FetchMaxBytes(16<<20),
		kgo.FetchMaxPartitionBytes(1<<20),
	)...)
	if err != nil {
		return nil, err
	}
	return &follower{
		name:  name,
		cl:    cl,
		adm:   kadm.NewClient(cl),
		parts: map[topicPartition]*followed{},
		wake:  make(chan struct{}, 1),
		log:   s.log.With("follower", name),
	}, nil
}

// add starts copying partitions of topic into st. It returns one
// followed per partition, in the order given. Partitions whose checkpoint
// is older than the topic's log start offset are dropped and restored from
// the start (for global stores that means the whole store).
func (f *follower) add(ctx context.Context, topic string, partitions []int32, st store.Store, global, once bool) ([]*followed, error) {
	starts, ends, err := f.listOffsets(ctx, topic)
	if err != nil {
		return nil, err
	}
	from := make([]int64, len(partitions))
	dropAll := false
	for i, p := range partitions {
		start, ok1 := starts.Lookup(topic, p)
		if _, ok2 := ends.Lookup(topic, p); !ok1 || !ok2 {
			return nil, fmt.Errorf("topic %s has no partition %d", topic, p)
		}
		cp, ok, err := st.Checkpoint(p)
		if err != nil {
			return nil, err
		}
		switch {
		case !ok:
			from[i] = start.Offset
		case cp < start.Offset:
			// The log was truncated past our checkpoint: records we
			// never saw (including deletes) are gone. Start over.
			if global {
				dropAll = true
			} else if err := st.Drop(p); err != nil {
				return nil, err
			}
			from[i] = start.Offset
		default:
			from[i] = cp
		}
	}
	if dropAll {
		if err := st.Drop(0); err != nil {
			return nil, err
		}
		for i, p := range partitions {
			s, _ := starts.Lookup(topic, p)
			from[i] = s.Offset
		}
	}

	out := make([]*followed, len(partitions))
	offsets := map[int32]kgo.Offset{}
	f.mu.Lock()
	for i, p := range partitions {
		end, _ := ends.Lookup(topic, p)
		fp := &followed{store: st, pos: from[i], target: end.Offset, once: once, caught: make(chan struct{})}
		out[i] = fp
		if fp.pos >= fp.target {
			close(fp.caught)
			if once {
				continue
			}
		}
		f.parts[topicPartition{topic, p}] = fp
		offsets[p] = kgo.NewOffset().At(fp.pos)
	}
	f.mu.Unlock()
	if len(offsets) > 0 {
		f.cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets})
		select {
		case f.wake <- struct{}{}:
		default:
		}
	}
	return out, nil
}

// listOffsets returns the start and end offsets of every partition of
// topic. Errors the brokers call retriable (a topic created a moment ago
// whose leaders are not known yet, a leader moving) are retried for up to
// 30 seconds.
func (f *follower) listOffsets(ctx context.Context, topic string) (starts, ends kadm.ListedOffsets, err error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		starts, err = f.adm.ListStartOffsets(ctx, topic)
		if err == nil {
			err = starts.Error()
		}
		if err == nil {
			ends, err = f.adm.ListEndOffsets(ctx, topic)
			if err == nil {
				err = ends.Error()
			}
		}
		if err == nil || !retryListing(err) || time.Now().After(deadline) {
			if err != nil {
				err = fmt.Errorf("list offsets of %s: %w", topic, err)
			}
			return starts, ends, err
		}
		select {
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
	}
}

// retryListing reports whether a failed offset listing is tried again:
// Kafka's non-retriable errors end it at once; anything else (a retriable
// code, or a broker that cannot be reached: a partition's leader that just
// died stays in the metadata until the controller moves it) is retried.
func retryListing(err error) bool {
	var ke *kerr.Error
	return !errors.As(err, &ke) || ke.Retriable
}

// remove stops copying partitions of topic.
func (f *follower) remove(topic string, partitions []int32) {
	f.mu.Lock()
	for _, p := range partitions {
		delete(f.parts, topicPartition{topic, p})
	}
	f.mu.Unlock()
	f.cl.RemoveConsumePartitions(map[string][]int32{topic: partitions})
}

// run applies fetched records until ctx is done or a store fails.
func (f *follower) run(ctx context.Context) error {
	defer f.cl.Close()
	batches := map[store.Store]*store.Batch{}
	for {
		f.mu.Lock()
		idle := len(f.parts) == 0
		f.mu.Unlock()
		if idle {
			select {
			case <-ctx.Done():
				return nil
			case <-f.wake:
				continue
			}
		}
		fetches := f.cl.PollRecords(ctx, 10000)
		if ctx.Err() != nil {
			return nil
		}
		var fetchErr error
		fetches.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.Canceled) && fetchErr == nil {
				fetchErr = fmt.Errorf("follow %s[%d]: %w", t, p, err)
			}
		})
		if fetchErr != nil && fatalKafkaError(fetchErr) {
			return fetchErr
		}
		if fetchErr == nil {
			f.failingSince.Store(0)
		} else if f.failingSince.Load() == 0 {
			f.failingSince.Store(time.Now().UnixNano())
		}
		if fetchErr != nil && f.errLog.allow() {
			// franz-go retries what heals (brokers restarting, leaders
			// moving) by itself.
			f.log.Warn("kafka error; retrying", "error", fetchErr)
		}
		var done []*followed
		var finished []topicPartition
		f.mu.Lock()
		fetches.EachPartition(func(ftp kgo.FetchTopicPartition) {
			fp := f.parts[topicPartition{ftp.Topic, ftp.Partition}]
			if fp == nil {
				return // removed while fetching
			}
			b := batches[fp.store]
			if b == nil {
				b = &store.Batch{}
				batches[fp.store] = b
			}
			for _, r := range ftp.Records {
				if r.Offset < fp.pos {
					continue
				}
				fp.pos = r.Offset + 1
				if r.Attrs.IsControl() {
					continue
				}
				if r.Value == nil {
					b.Delete(r.Partition, r.Key)
				} else {
					b.Set(r.Partition, r.Key, r.Value)
				}
				fp.restored++
			}
			b.SetCheckpoint(ftp.Partition, fp.pos)
			fp.hwm = ftp.HighWatermark
			if !fp.caughtUp() && fp.pos >= fp.target {
				done = append(done, fp)
				if fp.once {
					finished = append(finished, topicPartition{ftp.Topic, ftp.Partition})
				}
			}
		})
		f.mu.Unlock()
		for st, b := range batches {
			if b.Empty() {
				// Nothing for this store in this poll; a store no
				// longer followed drops out here.
				delete(batches, st)
				continue
			}
			if err := st.Apply(b); err != nil {
				return fmt.Errorf("apply to local store: %w", err)
			}
			// Kept for the next poll: its slices grow once, not in
			// every poll (they were 3% of a restore's CPU).
			b.Reset()
		}
		for _, fp := range done {
			close(fp.caught)
		}
		for _, tp := range finished {
			f.remove(tp.topic, []int32{tp.partition})
		}
	}
}
