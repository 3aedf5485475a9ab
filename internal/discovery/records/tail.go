package records

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Defaults of the tail limits.
const (
	DefaultMaxTails     = 8
	DefaultTailInterval = time.Second
)

// TailRequest opens a tail: the records written to a topic from now on.
type TailRequest struct {
	Topic string
	// Partitions limits the tail to these partitions; empty tails all.
	Partitions []int32
	// Offsets are start offsets by partition (to continue a read without a
	// gap); a partition without one starts at its end.
	Offsets map[int32]int64
	// Key, when not nil, keeps only the records whose key is exactly these
	// bytes.
	Key []byte
}

// Batch is what a tail read since its last batch.
type Batch struct {
	// Records in the order they were fetched (per partition, by offset).
	Records []Record
	// Skipped counts the matching records left out: more than MaxRecords,
	// or MaxBytes, arrived since the last batch.
	Skipped int
	// Next is where each partition's tail goes on, by partition.
	Next []PartitionOffset
}

// PartitionOffset is an offset of one partition.
type PartitionOffset struct {
	Partition int32
	Offset    int64
}

// Tail follows a topic. Next blocks until records arrive; Close releases
// its consumer and its slot. A Tail is used by one goroutine.
type Tail struct {
	r     *Reader
	cl    *kgo.Client
	key   []byte
	parts []*plannedPartition
	by    map[int32]*plannedPartition
	last  time.Time
	done  func()
}

// Tail opens a tail of req's topic. At most Limits.MaxTails are open at
// once; one more is refused. Bad arguments (unknown topic, partition out
// of range, offset outside its partition) are a *RequestError.
func (r *Reader) Tail(ctx context.Context, req TailRequest) (*Tail, error) {
	if req.Topic == "" {
		return nil, badRequest("topic is required")
	}
	select {
	case r.tails <- struct{}{}:
	default:
		return nil, fmt.Errorf("%d tails are open on this server, the limit; close one", r.limits.MaxTails)
	}
	release := func() { <-r.tails }
	listCtx, cancel := context.WithTimeout(ctx, r.limits.Timeout)
	defer cancel()
	parts, err := r.plan(listCtx, Request{Topic: req.Topic, Partitions: req.Partitions, From: Latest})
	if err != nil {
		release()
		return nil, err
	}
	t := &Tail{r: r, key: req.Key, parts: parts, by: map[int32]*plannedPartition{}, done: release}
	offsets := map[int32]kgo.Offset{}
	for _, p := range parts {
		p.from = p.End
		if o, ok := req.Offsets[p.Partition.Partition]; ok {
			if o < p.Start || o > p.End {
				release()
				return nil, badRequest("offset %d is outside partition %d's range %d to %d", o, p.Partition.Partition, p.Start, p.End)
			}
			p.from = o
		}
		p.next = p.from
		t.by[p.Partition.Partition] = p
		offsets[p.Partition.Partition] = kgo.NewOffset().At(p.from)
	}
	for p := range req.Offsets {
		if t.by[p] == nil {
			release()
			return nil, badRequest("an offset is given for partition %d, which this tail does not follow", p)
		}
	}
	fetchMax := int32(min(r.limits.MaxScanBytes, 16<<20))
	t.cl, err = kgo.NewClient(append(slices.Clone(r.connect),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{req.Topic: offsets}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
		// A short wait per fetch makes Close quick, so a closed page
		// frees its slot at once.
		kgo.FetchMaxWait(500*time.Millisecond),
		kgo.FetchMaxBytes(fetchMax),
		kgo.FetchMaxPartitionBytes(min(fetchMax, 4<<20)),
	)...)
	if err != nil {
		release()
		return nil, fmt.Errorf("connecting to tail %s: %w", req.Topic, err)
	}
	return t, nil
}

// Next waits for the next records (at most one batch per TailInterval)
// and returns them, at most MaxRecords and MaxBytes of them (the rest
// counted in Skipped). It fails when ctx ends or the brokers refuse the
// topic for good (it was deleted, access was revoked).
func (t *Tail) Next(ctx context.Context) (Batch, error) {
	if wait := time.Until(t.last.Add(t.r.limits.TailInterval)); wait > 0 {
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return Batch{}, ctx.Err()
		}
	}
	for {
		fetches := t.cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return Batch{}, err
		}
		var fatal error
		fetches.EachError(func(topic string, p int32, err error) {
			if !kgo.IsRetryableBrokerErr(err) && fatal == nil {
				fatal = fmt.Errorf("tailing %s partition %d: %w", topic, p, err)
			}
		})
		if fatal != nil {
			return Batch{}, fatal
		}
		var b Batch
		size := 0
		fetches.EachRecord(func(rec *kgo.Record) {
			p := t.by[rec.Partition]
			if p == nil || rec.Offset < p.next {
				return
			}
			p.next = rec.Offset + 1
			if rec.Attrs.IsControl() || t.key != nil && string(rec.Key) != string(t.key) {
				return
			}
			out := Record{Partition: rec.Partition, Offset: rec.Offset, Timestamp: rec.Timestamp, Key: rec.Key, Value: rec.Value, Headers: rec.Headers}
			if len(b.Records) >= t.r.limits.MaxRecords || size+out.size() > t.r.limits.MaxBytes {
				b.Skipped++
				return
			}
			size += out.size()
			b.Records = append(b.Records, out)
		})
		if len(b.Records) == 0 && b.Skipped == 0 {
			continue
		}
		for _, p := range t.parts {
			b.Next = append(b.Next, PartitionOffset{Partition: p.Partition.Partition, Offset: p.next})
		}
		t.last = time.Now()
		return b, nil
	}
}

// Close stops the tail's consumer and frees its slot.
func (t *Tail) Close() {
	t.cl.Close()
	t.done()
}
