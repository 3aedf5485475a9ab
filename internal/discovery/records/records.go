// Package records reads the records of a Kafka topic for discover's topic
// browser: by partition and offset, by timestamp, the earliest or the
// latest N, optionally only those with one key. Every read is bounded: at
// most MaxRecords records and MaxBytes bytes per answer, at most
// MaxScanBytes fetched from the brokers, a deadline, and a cap on reads
// running at once, so a browser can never make discover read a whole
// topic.
//
// Each read uses a short-lived consumer client of its own (no consumer
// group, nothing committed), with read-committed isolation, so it sees
// what the mesh's consumers see.
package records

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Defaults of Limits.
const (
	DefaultMaxRecords    = 500
	DefaultMaxBytes      = 2 << 20
	DefaultMaxScanBytes  = 64 << 20
	DefaultScanWindow    = 10_000
	DefaultTimeout       = 5 * time.Second
	DefaultMaxConcurrent = 4
)

// Limits bound one read. A zero field keeps its default.
type Limits struct {
	// MaxRecords is the largest limit a request may ask for (default 500);
	// more is refused.
	MaxRecords int
	// MaxBytes caps the bytes (keys, values and headers) of the records of
	// one answer (default 2 MiB); the records past it are left out and
	// the answer says so. The answer renders each value several ways
	// (text, hex, base64, JSON), about 8 times its bytes, so 2 MiB stays
	// well under the API's 32 MiB answer limit.
	MaxBytes int
	// MaxScanBytes caps the bytes of records one read scans (default
	// 64 MiB): it bounds a read filtered by key, which may skip many
	// records. The read stops there and says so; the rest of the fetch
	// that passed it (at most one fetch: 16 MiB, or one record batch when
	// a batch is larger) is dropped unread.
	MaxScanBytes int
	// ScanWindow is how many offsets per partition a latest-N read filtered
	// by key looks back over (default 10,000).
	ScanWindow int64
	// Timeout is the deadline of one read (default 5 s); at the deadline
	// the read returns what it has and says it stopped.
	Timeout time.Duration
	// MaxConcurrent caps the reads running at once (default 4); one more
	// waits for a slot until its deadline, then fails.
	MaxConcurrent int
	// MaxTails caps the tails open at once (default 8); one more is
	// refused.
	MaxTails int
	// TailInterval is the least time between two batches of a tail
	// (default 1 s): a busy topic is shown as a sample of at most
	// MaxRecords per batch, the rest counted as skipped.
	TailInterval time.Duration
}

func (l *Limits) defaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.MaxRecords, DefaultMaxRecords)
	def(&l.MaxBytes, DefaultMaxBytes)
	def(&l.MaxScanBytes, DefaultMaxScanBytes)
	def(&l.MaxConcurrent, DefaultMaxConcurrent)
	def(&l.MaxTails, DefaultMaxTails)
	if l.TailInterval <= 0 {
		l.TailInterval = DefaultTailInterval
	}
	if l.ScanWindow <= 0 {
		l.ScanWindow = DefaultScanWindow
	}
	if l.Timeout <= 0 {
		l.Timeout = DefaultTimeout
	}
}

// Reader reads records for the topic browser. It is safe for concurrent
// use.
type Reader struct {
	connect []kgo.Opt
	adm     *kadm.Client
	limits  Limits
	slots   chan struct{}
	tails   chan struct{}
	logger  *slog.Logger
}

// Option configures New.
type Option func(*Reader)

// WithLimits sets the limits (zero fields keep their defaults).
func WithLimits(l Limits) Option { return func(r *Reader) { r.limits = l } }

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(r *Reader) { r.logger = l } }

// New returns a reader that reaches the brokers as cl does (its options:
// seed brokers, TLS, SASL) and lists offsets through cl. cl stays the
// caller's to close; the reader's own consumers are closed after each
// read.
func New(cl *kgo.Client, opts ...Option) *Reader {
	r := &Reader{connect: cl.Opts(), adm: kadm.NewClient(cl), logger: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(r)
	}
	r.limits.defaults()
	r.slots = make(chan struct{}, r.limits.MaxConcurrent)
	r.tails = make(chan struct{}, r.limits.MaxTails)
	return r
}

// Limits returns the limits in force.
func (r *Reader) Limits() Limits { return r.limits }

// From is where a read starts.
type From int

const (
	// Latest reads the last Limit records of each partition read and
	// answers the newest Limit of them.
	Latest From = iota
	// Earliest reads from the start of each partition.
	Earliest
	// AtOffset reads from Request.Offsets.
	AtOffset
	// AtTimestamp reads from the first record at or after
	// Request.Timestamp in each partition.
	AtTimestamp
)

// Request is one read.
type Request struct {
	Topic string
	// Partitions limits the read to these partitions; empty reads all.
	Partitions []int32
	From       From
	// Offsets are the start offsets, by partition, of an AtOffset read.
	// AllOffset, when Offsets has no entry for a partition read, is its
	// start offset.
	Offsets   map[int32]int64
	AllOffset *int64
	// ClampOffsets moves an AtOffset offset outside a partition's range
	// into it instead of refusing the read: before the start, the read
	// starts there; past the end, it reads nothing of that partition.
	ClampOffsets bool
	Timestamp    time.Time
	// Limit is the most records answered (1 to Limits.MaxRecords).
	Limit int
	// Key, when not nil, keeps only the records whose key is exactly these
	// bytes.
	Key []byte
}

// Record is one record read.
type Record struct {
	Partition int32
	Offset    int64
	Timestamp time.Time
	// Key and Value are nil when the record has none (a nil value is a
	// tombstone).
	Key, Value []byte
	Headers    []kgo.RecordHeader
}

func (r *Record) size() int {
	n := len(r.Key) + len(r.Value)
	for _, h := range r.Headers {
		n += len(h.Key) + len(h.Value)
	}
	return n
}

// Partition is the range of one partition read.
type Partition struct {
	Partition int32
	// Start and End are the partition's first and next offsets when the
	// read began (End is the last stable offset: records of open
	// transactions are not read).
	Start, End int64
	// Next is where a following read continues: past the last record
	// fetched from this partition, or where the read started when it
	// fetched none.
	Next int64
}

// Page is the answer of a read.
type Page struct {
	Topic string
	// Records in timestamp order (then partition, offset), oldest first.
	Records    []Record
	Partitions []Partition
	// Scanned counts the records fetched, matching the key or not.
	Scanned int
	// Stopped says why the read ended before it had read every partition
	// it was asked to up to Limit records (a limit, the deadline); "" when
	// it did not.
	Stopped string
}

// RequestError is a bad request: unknown topic, partition out of range,
// limit over the maximum, and the like.
type RequestError struct{ msg string }

func (e *RequestError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &RequestError{fmt.Sprintf(format, args...)}
}

// Read reads the records req asks for, within the limits.
func (r *Reader) Read(ctx context.Context, req Request) (*Page, error) {
	if req.Topic == "" {
		return nil, badRequest("topic is required")
	}
	if req.Limit < 1 || req.Limit > r.limits.MaxRecords {
		return nil, badRequest("limit %d is outside 1 to %d (the most records one read answers)", req.Limit, r.limits.MaxRecords)
	}
	ctx, cancel := context.WithTimeout(ctx, r.limits.Timeout)
	defer cancel()
	select {
	case r.slots <- struct{}{}:
		defer func() { <-r.slots }()
	case <-ctx.Done():
		return nil, fmt.Errorf("%d reads of records are running, the limit; try again", r.limits.MaxConcurrent)
	}

	parts, err := r.plan(ctx, req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("the read's deadline of %s passed while listing the offsets of %s: %w", r.limits.Timeout, req.Topic, err)
		}
		return nil, err
	}
	page := &Page{Topic: req.Topic, Records: []Record{}}
	for _, p := range parts {
		page.Partitions = append(page.Partitions, p.Partition)
	}
	if err := r.fetch(ctx, req, parts, page); err != nil {
		return nil, err
	}
	r.trim(req, parts, page)
	for i, p := range parts {
		page.Partitions[i].Next = p.next
	}
	return page, nil
}

// plannedPartition is one partition of a read: its range and where the
// read starts and stops.
type plannedPartition struct {
	Partition
	from, next int64
	kept       []Record
	done       bool
}

// plan lists the topic's partitions and offsets and decides where each
// partition's read starts.
func (r *Reader) plan(ctx context.Context, req Request) ([]*plannedPartition, error) {
	starts, err := r.adm.ListStartOffsets(ctx, req.Topic)
	if err != nil {
		return nil, fmt.Errorf("listing the start offsets of %s: %w", req.Topic, err)
	}
	ends, err := r.adm.ListCommittedOffsets(ctx, req.Topic)
	if err != nil {
		return nil, fmt.Errorf("listing the end offsets of %s: %w", req.Topic, err)
	}
	var all []int32
	for p, o := range ends[req.Topic] {
		if p < 0 || errors.Is(o.Err, kerr.UnknownTopicOrPartition) {
			continue
		}
		all = append(all, p)
	}
	if len(all) == 0 {
		return nil, badRequest("topic %s does not exist in Kafka", req.Topic)
	}
	slices.Sort(all)
	read := all
	if len(req.Partitions) > 0 {
		read = nil
		for _, p := range req.Partitions {
			if p < 0 || int(p) >= len(all) {
				return nil, badRequest("partition %d is out of range: topic %s has partitions 0 to %d", p, req.Topic, len(all)-1)
			}
			if !slices.Contains(read, p) {
				read = append(read, p)
			}
		}
		slices.Sort(read)
	}
	for p := range req.Offsets {
		if !slices.Contains(read, p) {
			return nil, badRequest("an offset is given for partition %d, which this read does not read (topic %s has partitions 0 to %d)", p, req.Topic, len(all)-1)
		}
	}
	var at kadm.ListedOffsets
	if req.From == AtTimestamp {
		if at, err = r.adm.ListOffsetsAfterMilli(ctx, req.Timestamp.UnixMilli(), req.Topic); err != nil {
			return nil, fmt.Errorf("listing the offsets of %s at %s: %w", req.Topic, req.Timestamp.Format(time.RFC3339), err)
		}
	}
	var out []*plannedPartition
	for _, p := range read {
		s, e := starts[req.Topic][p], ends[req.Topic][p]
		if s.Err != nil || e.Err != nil {
			return nil, fmt.Errorf("offsets of %s partition %d: %w", req.Topic, p, errors.Join(s.Err, e.Err))
		}
		pp := &plannedPartition{Partition: Partition{Partition: p, Start: s.Offset, End: e.Offset}}
		switch req.From {
		case Earliest:
			pp.from = s.Offset
		case Latest:
			back := int64(req.Limit)
			if req.Key != nil {
				back = r.limits.ScanWindow
			}
			pp.from = max(s.Offset, e.Offset-back)
		case AtTimestamp:
			pp.from = e.Offset
			if l, ok := at.Lookup(req.Topic, p); ok && l.Err == nil && l.Offset >= 0 {
				pp.from = min(max(l.Offset, s.Offset), e.Offset)
			}
		case AtOffset:
			o, ok := req.Offsets[p]
			if !ok {
				if req.AllOffset == nil {
					return nil, badRequest("no start offset for partition %d: give offsets for every partition read, or one offset for all", p)
				}
				o = *req.AllOffset
			}
			if req.ClampOffsets {
				o = min(max(o, s.Offset), e.Offset)
			}
			if o < s.Offset || o > e.Offset {
				return nil, badRequest("offset %d is outside partition %d's range %d to %d (older records were deleted; newer ones do not exist yet)", o, p, s.Offset, e.Offset)
			}
			pp.from = o
		default:
			return nil, badRequest("unknown start %d", req.From)
		}
		pp.next = pp.from
		pp.done = pp.from >= pp.End
		out = append(out, pp)
	}
	return out, nil
}

// fetch consumes the planned partitions until each is done (at its end,
// or Limit records kept) or a limit or the deadline stops the read.
func (r *Reader) fetch(ctx context.Context, req Request, parts []*plannedPartition, page *Page) error {
	offsets := map[int32]kgo.Offset{}
	byPartition := map[int32]*plannedPartition{}
	for _, p := range parts {
		byPartition[p.Partition.Partition] = p
		if !p.done {
			offsets[p.Partition.Partition] = kgo.NewOffset().At(p.from)
		}
	}
	if len(offsets) == 0 {
		return nil
	}
	fetchMax := int32(min(r.limits.MaxScanBytes, 16<<20))
	cl, err := kgo.NewClient(append(slices.Clone(r.connect),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{req.Topic: offsets}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
		kgo.FetchMaxWait(250*time.Millisecond),
		kgo.FetchMaxBytes(fetchMax),
		kgo.FetchMaxPartitionBytes(min(fetchMax, 4<<20)),
		kgo.DisableFetchSessions(),
	)...)
	if err != nil {
		return fmt.Errorf("connecting to read %s: %w", req.Topic, err)
	}
	defer cl.Close()

	scanned := 0
	for {
		pending := 0
		for _, p := range parts {
			if !p.done {
				pending++
			}
		}
		if pending == 0 {
			return nil
		}
		if scanned >= r.limits.MaxScanBytes {
			page.Stopped = fmt.Sprintf("scanned %d bytes of records, the limit of one read (--records-max-scan-bytes); narrow it by partition, offset or timestamp", scanned)
			return nil
		}
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			page.Stopped = fmt.Sprintf("the read's deadline of %s passed before every partition was read; narrow it by partition, offset or timestamp", r.limits.Timeout)
			return nil
		}
		var fatal error
		fetches.EachError(func(topic string, p int32, err error) {
			if !kgo.IsRetryableBrokerErr(err) && fatal == nil {
				fatal = fmt.Errorf("reading %s partition %d: %w", topic, p, err)
			}
		})
		if fatal != nil {
			return fatal
		}
		fetches.EachRecord(func(rec *kgo.Record) {
			p := byPartition[rec.Partition]
			if p == nil || p.done || rec.Offset < p.next || scanned >= r.limits.MaxScanBytes {
				// Past the scan limit the rest of the fetch is dropped
				// unread: Next stays at the first record not scanned.
				return
			}
			if rec.Offset >= p.End {
				p.done = true
				return
			}
			p.next = rec.Offset + 1
			if p.next >= p.End {
				p.done = true
			}
			if rec.Attrs.IsControl() {
				return
			}
			out := Record{Partition: rec.Partition, Offset: rec.Offset, Timestamp: rec.Timestamp, Key: rec.Key, Value: rec.Value, Headers: rec.Headers}
			scanned += out.size()
			page.Scanned++
			if req.Key != nil && string(rec.Key) != string(req.Key) {
				return
			}
			p.kept = append(p.kept, out)
			switch {
			case req.From == Latest && len(p.kept) > req.Limit:
				p.kept = p.kept[1:] // the newest Limit only
			case req.From != Latest && len(p.kept) == req.Limit:
				p.done = true
			}
		})
	}
}

// trim merges the partitions' records in time order, keeps Limit of them
// (the newest for Latest, the oldest otherwise) and then as many as fit in
// MaxBytes. Where the answer leaves out records of a partition that come
// after those it holds, that partition's Next moves back to the first one
// left out, so a following read returns them.
func (r *Reader) trim(req Request, parts []*plannedPartition, page *Page) {
	var all []Record
	for _, p := range parts {
		all = append(all, p.kept...)
	}
	slices.SortStableFunc(all, func(a, b Record) int {
		if c := a.Timestamp.Compare(b.Timestamp); c != 0 {
			return c
		}
		if a.Partition != b.Partition {
			return int(a.Partition - b.Partition)
		}
		return int(a.Offset - b.Offset)
	})
	latest := req.From == Latest
	var dropped []Record
	if len(all) > req.Limit {
		if latest {
			all = all[len(all)-req.Limit:]
		} else {
			dropped, all = all[req.Limit:], all[:req.Limit]
		}
	}
	total, fit := 0, 0
	for i := range all {
		j := i
		if latest {
			j = len(all) - 1 - i
		}
		if total+all[j].size() > r.limits.MaxBytes {
			break
		}
		total += all[j].size()
		fit++
	}
	if fit < len(all) {
		page.Stopped = fmt.Sprintf("%d of the records read are left out: together they pass the limit of %d bytes per answer (--records-max-bytes); ask for fewer", len(all)-fit, r.limits.MaxBytes)
		if latest {
			all = all[len(all)-fit:]
		} else {
			dropped, all = append(all[fit:len(all):len(all)], dropped...), all[:fit]
		}
	}
	for _, d := range dropped {
		for _, p := range parts {
			if p.Partition.Partition == d.Partition && d.Offset < p.next {
				p.next = d.Offset
			}
		}
	}
	page.Records = all
}
