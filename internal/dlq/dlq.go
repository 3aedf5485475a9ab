// Package dlq reads and replays the dead letters kafmesh processors and
// sinks write with the dead-letter error policy (runner.DeadLetterOnError):
// each record they fail to handle goes, unchanged, to "<group>-dlq" with
// headers naming where it came from and why it failed.
//
// `kafmesh dlq` and discover's GraphQL API (DeadLetters.letters,
// Mutation.replayDeadLetters) both use it, so a dead letter reads and
// replays the same way from the command line and from the UI.
package dlq

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The headers the runtime writes on a dead letter (runner/errorpolicy.go),
// and the one a replay adds to the record it sends back.
const (
	HeaderError     = "kafmesh-error"
	HeaderTopic     = "kafmesh-topic"
	HeaderPartition = "kafmesh-partition"
	HeaderOffset    = "kafmesh-offset"
	HeaderGroup     = "kafmesh-group"
	// HeaderReplayedFrom is set on every replayed record, as
	// "<dlq topic>/<partition>/<offset>" of the dead letter. The runtime
	// copies a failed record's headers onto its dead letter, so a replayed
	// record that fails again shows it in the DLQ.
	HeaderReplayedFrom = "kafmesh-replayed-from"
)

// Suffix ends the name of every dead-letter topic: "<group>-dlq".
const Suffix = "-dlq"

// TopicOf is the dead-letter topic of a consumer group.
func TopicOf(group string) string { return group + Suffix }

// idle is how long a read of a DLQ waits for more records before it takes
// the partitions as read to their end.
const idle = 1500 * time.Millisecond

// Topic is one dead-letter topic.
type Topic struct {
	Topic      string `json:"topic"`
	Group      string `json:"group"`
	Partitions int    `json:"partitions"`
	// Records is end minus start offset over the partitions. Dead letters
	// written in transactions count their commit markers too, so it is an
	// upper bound.
	Records int64 `json:"records"`
}

// ListTopics returns every topic named "<group>-dlq" with its record
// count, sorted by name.
func ListTopics(ctx context.Context, adm *kadm.Client) ([]Topic, error) {
	md, err := adm.ListTopics(ctx)
	if err != nil {
		return nil, fmt.Errorf("list topics: %w", err)
	}
	var names []string
	for _, t := range md.Sorted() {
		if t.Err == nil && !t.IsInternal && strings.HasSuffix(t.Topic, Suffix) && len(t.Topic) > len(Suffix) {
			names = append(names, t.Topic)
		}
	}
	if len(names) == 0 {
		return nil, nil
	}
	starts, err := adm.ListStartOffsets(ctx, names...)
	if err != nil {
		return nil, fmt.Errorf("start offsets: %w", err)
	}
	ends, err := adm.ListEndOffsets(ctx, names...)
	if err != nil {
		return nil, fmt.Errorf("end offsets: %w", err)
	}
	out := make([]Topic, 0, len(names))
	for _, n := range names {
		d := Topic{Topic: n, Group: strings.TrimSuffix(n, Suffix), Partitions: len(md[n].Partitions)}
		ends.Each(func(e kadm.ListedOffset) {
			if e.Topic != n || e.Err != nil {
				return
			}
			if s, ok := starts.Lookup(n, e.Partition); ok && s.Err == nil && e.Offset > s.Offset {
				d.Records += e.Offset - s.Offset
			}
		})
		out = append(out, d)
	}
	return out, nil
}

// DeadLetter is one record of a DLQ topic.
type DeadLetter struct {
	Partition int32     `json:"partition"`
	Offset    int64     `json:"offset"`
	Timestamp time.Time `json:"timestamp"`
	// Where the record was read from when it failed, and why.
	OriginalTopic     string `json:"originalTopic"`
	OriginalPartition int32  `json:"originalPartition"`
	OriginalOffset    int64  `json:"originalOffset"`
	Group             string `json:"group,omitempty"`
	Error             string `json:"error"`
	// ReplayedFrom is set when this dead letter is a replayed record that
	// failed again: the DLQ position it was replayed from.
	ReplayedFrom string `json:"replayedFrom,omitempty"`
	Key          []byte `json:"key"`
	Value        []byte `json:"value"`
	// Headers are the record's other headers (the original record's).
	Headers map[string]string `json:"headers,omitempty"`

	record *kgo.Record
}

// Parse reads the runtime's headers off r. It fails when r has no
// original topic, partition or offset (it was not written by the runtime);
// the DeadLetter it returns then still holds what r has.
func Parse(r *kgo.Record) (DeadLetter, error) {
	d := DeadLetter{Partition: r.Partition, Offset: r.Offset, Timestamp: r.Timestamp, Key: r.Key, Value: r.Value, record: r,
		OriginalPartition: -1, OriginalOffset: -1}
	for _, h := range r.Headers {
		v := string(h.Value)
		switch h.Key {
		case HeaderError:
			d.Error = v
		case HeaderTopic:
			d.OriginalTopic = v
		case HeaderPartition:
			if p, err := strconv.ParseInt(v, 10, 32); err == nil {
				d.OriginalPartition = int32(p)
			}
		case HeaderOffset:
			if o, err := strconv.ParseInt(v, 10, 64); err == nil {
				d.OriginalOffset = o
			}
		case HeaderGroup:
			d.Group = v
		case HeaderReplayedFrom:
			d.ReplayedFrom = v
		default:
			if d.Headers == nil {
				d.Headers = map[string]string{}
			}
			d.Headers[h.Key] = v
		}
	}
	if d.OriginalTopic == "" || d.OriginalPartition < 0 || d.OriginalOffset < 0 {
		return d, fmt.Errorf("%s[%d]@%d has no %s/%s/%s headers: not a kafmesh dead letter", r.Topic, r.Partition, r.Offset,
			HeaderTopic, HeaderPartition, HeaderOffset)
	}
	return d, nil
}

// Position names the dead letter as replay's header does:
// "<dlq topic>/<partition>/<offset>".
func (d DeadLetter) Position(dlqTopic string) string {
	return fmt.Sprintf("%s/%d/%d", dlqTopic, d.Partition, d.Offset)
}

// ReplayRecord is the record a replay sends for d: d's original topic,
// partition, key and value, its headers without the runtime's dead-letter
// headers, and kafmesh-replayed-from naming d. It is nil when d was not
// read by Parse.
func (d DeadLetter) ReplayRecord(dlqTopic string) *kgo.Record {
	if d.record == nil {
		return nil
	}
	headers := make([]kgo.RecordHeader, 0, len(d.record.Headers)+1)
	for _, h := range d.record.Headers {
		switch h.Key {
		case HeaderError, HeaderTopic, HeaderPartition, HeaderOffset, HeaderGroup, HeaderReplayedFrom:
			continue
		}
		headers = append(headers, h)
	}
	headers = append(headers, kgo.RecordHeader{Key: HeaderReplayedFrom, Value: []byte(d.Position(dlqTopic))})
	return &kgo.Record{Topic: d.OriginalTopic, Partition: d.OriginalPartition, Key: slices.Clone(d.Key), Value: slices.Clone(d.Value), Headers: headers}
}

// Read is what ReadRecords reads: from where, and how much at most.
type Read struct {
	Topic string
	// Partition -1 means every partition.
	Partition int32
	// From is the first offset per partition; -1 means the start.
	From int64
	// Want, when set, is the exact positions to read (partition →
	// offsets); reading stops once all are found.
	Want     map[int32][]int64
	Limit    int
	MaxBytes int64
}

// ReadOptions are the options every client that reads dead letters needs:
// exactly-once processors write their dead letters inside their
// transaction, so only committed records are dead letters (an aborted
// transaction's would otherwise be shown and replayed, sending its original
// twice), and the transaction markers are kept so a read knows it reached
// the end of a partition whose last offset is a marker.
func ReadOptions() []kgo.Opt {
	return []kgo.Opt{kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords()}
}

// ReadRecords reads the committed records of a DLQ topic up to its last
// stable offsets at the time of the call, bounded by r.Limit records and
// r.MaxBytes of keys and values. truncated reports that a bound stopped it
// early. cl must be made with ReadOptions (else it fails, reading
// nothing) and must not consume anything else: the partitions are added to
// it and purged again. Transaction markers are never returned.
func ReadRecords(ctx context.Context, cl *kgo.Client, r Read) (recs []*kgo.Record, truncated bool, err error) {
	// OptValue gives the isolation level as Kafka's int8: 1 is read committed.
	if cl.OptValue(kgo.FetchIsolationLevel) != int8(1) || cl.OptValue(kgo.KeepControlRecords) != true {
		return nil, false, errors.New("dead letters are read by a client made with dlq.ReadOptions (read committed, control records kept)")
	}
	adm := kadm.NewClient(cl)
	// The last stable offset: a read committed fetch returns nothing past it.
	ends, err := adm.ListCommittedOffsets(ctx, r.Topic)
	if err != nil {
		return nil, false, fmt.Errorf("end offsets of %s: %w", r.Topic, err)
	}
	starts, err := adm.ListStartOffsets(ctx, r.Topic)
	if err != nil {
		return nil, false, fmt.Errorf("start offsets of %s: %w", r.Topic, err)
	}
	if len(ends[r.Topic]) == 0 {
		return nil, false, fmt.Errorf("topic %s does not exist", r.Topic)
	}
	if r.Partition >= 0 && len(ends[r.Topic]) <= int(r.Partition) {
		return nil, false, fmt.Errorf("topic %s has no partition %d", r.Topic, r.Partition)
	}
	// Per partition: where to start and the end to stop at.
	assign := map[int32]kgo.Offset{}
	stop := map[int32]int64{}
	for p, e := range ends[r.Topic] {
		if e.Err != nil {
			return nil, false, fmt.Errorf("%s[%d]: %w", r.Topic, p, e.Err)
		}
		if r.Partition >= 0 && p != r.Partition {
			continue
		}
		from := starts[r.Topic][p].Offset
		if r.From > from {
			from = r.From
		}
		if r.Want != nil {
			offs, ok := r.Want[p]
			if !ok || len(offs) == 0 {
				continue
			}
			from = max(from, slices.Min(offs))
		}
		if from >= e.Offset {
			continue
		}
		assign[p] = kgo.NewOffset().At(from)
		stop[p] = e.Offset
	}
	if len(assign) == 0 {
		return nil, false, nil
	}
	cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{r.Topic: assign})
	defer cl.PurgeTopicsFromConsuming(r.Topic)
	var bytes int64
	remaining := 0
	wanted := map[int32]map[int64]bool{}
	for p, offs := range r.Want {
		wanted[p] = map[int64]bool{}
		for _, o := range offs {
			wanted[p][o] = true
			remaining++
		}
	}
	for len(stop) > 0 {
		// Transaction markers are kept, so the record at end-1 comes
		// even when it is a marker; a poll that stays empty for idle
		// still means everything up to the end was read (a fallback).
		pctx, pcancel := context.WithTimeout(ctx, idle)
		fs := cl.PollFetches(pctx)
		wasIdle := pctx.Err() != nil && ctx.Err() == nil
		pcancel()
		if err := ctx.Err(); err != nil {
			return recs, true, err
		}
		if wasIdle && fs.NumRecords() == 0 {
			break
		}
		var ferr error
		fs.EachError(func(t string, p int32, e error) { ferr = fmt.Errorf("%s[%d]: %w", t, p, e) })
		if ferr != nil {
			return recs, true, ferr
		}
		done := false
		fs.EachRecord(func(rec *kgo.Record) {
			end, ok := stop[rec.Partition]
			if done || !ok || rec.Topic != r.Topic {
				return
			}
			if rec.Offset+1 >= end {
				delete(stop, rec.Partition)
			}
			if rec.Offset >= end || rec.Attrs.IsControl() {
				return
			}
			if r.Want != nil {
				if !wanted[rec.Partition][rec.Offset] {
					return
				}
				delete(wanted[rec.Partition], rec.Offset)
				remaining--
				if remaining == 0 {
					stop = nil
				}
			}
			if (r.Limit > 0 && len(recs) >= r.Limit) || (r.MaxBytes > 0 && bytes+int64(len(rec.Key)+len(rec.Value)) > r.MaxBytes && len(recs) > 0) {
				truncated, done = true, true
				return
			}
			bytes += int64(len(rec.Key) + len(rec.Value))
			recs = append(recs, rec)
		})
		if done {
			break
		}
	}
	return recs, truncated, nil
}

// ClientOptions are the options a client that replays needs on top of its
// connection: ReadOptions to choose the dead letters, the partition of each
// record kept (a replay goes back to the partition it was read from) and
// every in-sync replica acknowledging.
func ClientOptions() []kgo.Opt {
	return append(ReadOptions(), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.RequiredAcks(kgo.AllISRAcks()))
}

// Select is what a replay sends: every dead letter of Topic (Want nil) or
// exactly the positions in Want, bounded by MaxRecords and MaxBytes.
type Select struct {
	Topic string
	// Want is partition → offsets; nil means every dead letter.
	Want       map[int32][]int64
	MaxRecords int
	MaxBytes   int64
}

// ErrTooMany is Choose's error when more than its bounds are selected.
var ErrTooMany = errors.New("too many dead letters selected")

// Choose reads the dead letters s selects. It fails, sending nothing, when
// a wanted position holds no record, when a record is not a kafmesh dead
// letter, or when more than the bounds are selected.
func Choose(ctx context.Context, cl *kgo.Client, s Select) ([]DeadLetter, error) {
	if s.MaxRecords < 1 {
		return nil, fmt.Errorf("replay bound %d: want at least 1 record", s.MaxRecords)
	}
	recs, truncated, err := ReadRecords(ctx, cl, Read{Topic: s.Topic, Partition: -1, From: -1, Want: s.Want, Limit: s.MaxRecords + 1, MaxBytes: s.MaxBytes})
	if err != nil {
		return nil, err
	}
	if truncated || len(recs) > s.MaxRecords {
		return nil, fmt.Errorf("%w: more than %d records or %d bytes: replay fewer, or raise the bounds", ErrTooMany, s.MaxRecords, s.MaxBytes)
	}
	read := make(map[[2]int64]bool, len(recs))
	for _, r := range recs {
		read[[2]int64{int64(r.Partition), r.Offset}] = true
	}
	var missing []string
	for p, offs := range s.Want {
		for _, o := range offs {
			if !read[[2]int64{int64(p), o}] {
				missing = append(missing, fmt.Sprintf("%d/%d", p, o))
			}
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return nil, fmt.Errorf("no dead letter at %s in %s", strings.Join(missing, ", "), s.Topic)
	}
	out := make([]DeadLetter, 0, len(recs))
	for _, r := range recs {
		d, err := Parse(r)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// Plan says where letters go: "<n> to <topic>" per original topic, sorted.
func Plan(letters []DeadLetter) []string {
	targets := map[string]int{}
	for _, d := range letters {
		targets[d.OriginalTopic]++
	}
	plan := make([]string, 0, len(targets))
	for t, n := range targets {
		plan = append(plan, fmt.Sprintf("%d to %s", n, t))
	}
	slices.Sort(plan)
	return plan
}

// Send sends each dead letter back once (ReplayRecord) through cl, which
// must be made with ClientOptions and should be idempotent (kgo's default),
// so a retried send is not written twice. It returns how many were written,
// the dead letters that were not (in the order given: their send failed or
// ctx ended first) and the first failure. When a letter was not read by
// Parse, nothing is sent and every letter is unsent.
func Send(ctx context.Context, cl *kgo.Client, dlqTopic string, letters []DeadLetter) (sent int, unsent []DeadLetter, err error) {
	out := make([]*kgo.Record, 0, len(letters))
	index := make(map[*kgo.Record]int, len(letters))
	for i, d := range letters {
		r := d.ReplayRecord(dlqTopic)
		if r == nil {
			return 0, letters, fmt.Errorf("dead letter %s was not read from Kafka", d.Position(dlqTopic))
		}
		out = append(out, r)
		index[r] = i
	}
	// ProduceSync returns the results in the order they completed.
	failed := make([]bool, len(letters))
	for _, r := range cl.ProduceSync(ctx, out...) {
		if r.Err == nil {
			sent++
			continue
		}
		i := index[r.Record]
		failed[i] = true
		if err == nil {
			err = fmt.Errorf("%s[%d] (from %s): %w", r.Record.Topic, r.Record.Partition, letters[i].Position(dlqTopic), r.Err)
		}
	}
	for i, f := range failed {
		if f {
			unsent = append(unsent, letters[i])
		}
	}
	return sent, unsent, err
}

// ParsePositions reads positions "O" (an offset of partition) or "P/O",
// each position once however often it is given. More than limit positions
// (the replay bound) are refused before any is read.
func ParsePositions(list []string, partition int32, limit int) (map[int32][]int64, error) {
	if len(list) > limit {
		return nil, fmt.Errorf("%d positions: at most %d in one replay", len(list), limit)
	}
	want := map[int32][]int64{}
	seen := make(map[[2]int64]bool, len(list))
	for _, s := range list {
		p, o := partition, strings.TrimSpace(s)
		if ps, off, ok := strings.Cut(o, "/"); ok {
			n, err := strconv.ParseInt(ps, 10, 32)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("%q: want OFFSET or PARTITION/OFFSET", s)
			}
			p, o = int32(n), off
		}
		n, err := strconv.ParseInt(o, 10, 64)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%q: want OFFSET or PARTITION/OFFSET", s)
		}
		if k := [2]int64{int64(p), n}; !seen[k] {
			seen[k] = true
			want[p] = append(want[p], n)
		}
	}
	return want, nil
}
