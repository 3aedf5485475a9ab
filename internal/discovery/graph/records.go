package graph

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/kafmesh/kafmesh/internal/discovery/mesh"
	"github.com/kafmesh/kafmesh/internal/discovery/records"
)

// RecordSource reads the records of topics for Query.topicRecords
// (records.Reader).
type RecordSource interface {
	Read(ctx context.Context, req records.Request) (*records.Page, error)
	Tail(ctx context.Context, req records.TailRequest) (*records.Tail, error)
	Limits() records.Limits
}

// TopicRecordPage is a GraphQL TopicRecordPage.
type TopicRecordPage struct {
	Topic      string             `json:"topic"`
	Message    *string            `json:"message"`
	Type       string             `json:"type"`
	Undecoded  *string            `json:"undecoded"`
	Records    []*TopicRecord     `json:"records"`
	Partitions []*RecordPartition `json:"partitions"`
	Scanned    int                `json:"scanned"`
	Stopped    *string            `json:"stopped"`
}

// RecordPartition is a GraphQL RecordPartition.
type RecordPartition struct {
	Partition   int   `json:"partition"`
	StartOffset int64 `json:"startOffset"`
	EndOffset   int64 `json:"endOffset"`
	NextOffset  int64 `json:"nextOffset"`
}

// TopicRecord is a GraphQL TopicRecord.
type TopicRecord struct {
	Partition     int             `json:"partition"`
	Offset        int64           `json:"offset"`
	Timestamp     time.Time       `json:"timestamp"`
	TimestampMs   int64           `json:"timestampMs"`
	Key           *RecordBytes    `json:"key"`
	Value         *RecordBytes    `json:"value"`
	Headers       []*RecordHeader `json:"headers"`
	JSON          *string         `json:"json"`
	Framing       *string         `json:"framing"`
	SchemaID      *int64          `json:"schemaId"`
	DecodeError   *string         `json:"decodeError"`
	DecodeWarning *string         `json:"decodeWarning"`
}

// RecordBytes is a GraphQL RecordBytes.
type RecordBytes struct {
	Size      int     `json:"size"`
	Text      *string `json:"text"`
	Printable string  `json:"printable"`
	Hex       string  `json:"hex"`
	Base64    string  `json:"base64"`
}

// RecordLimits is a GraphQL RecordLimits.
type RecordLimits struct {
	MaxRecords   int   `json:"maxRecords"`
	MaxBytes     int   `json:"maxBytes"`
	MaxScanBytes int   `json:"maxScanBytes"`
	ScanWindow   int64 `json:"scanWindow"`
	TimeoutMs    int   `json:"timeoutMs"`
	MaxTails     int   `json:"maxTails"`
}

// TopicRecordBatch is a GraphQL TopicRecordBatch.
type TopicRecordBatch struct {
	Topic       string             `json:"topic"`
	Message     *string            `json:"message"`
	Records     []*TopicRecord     `json:"records"`
	Skipped     int                `json:"skipped"`
	NextOffsets []*PartitionOffset `json:"nextOffsets"`
	Error       *string            `json:"error"`
}

// PartitionOffset is a GraphQL PartitionOffset.
type PartitionOffset struct {
	Partition int   `json:"partition"`
	Offset    int64 `json:"offset"`
}

var errNoRecords = errors.New("reading records needs discover to run with --brokers and --records (the default)")

func (q queryResolver) RecordLimits(ctx context.Context) (*RecordLimits, error) {
	if q.r.records == nil {
		return nil, nil
	}
	l := q.r.records.Limits()
	return &RecordLimits{MaxRecords: l.MaxRecords, MaxBytes: l.MaxBytes, MaxScanBytes: l.MaxScanBytes, ScanWindow: l.ScanWindow, TimeoutMs: int(l.Timeout.Milliseconds()), MaxTails: l.MaxTails}, nil
}

func (q queryResolver) TopicRecords(ctx context.Context, topic string, from *RecordStart, partitions []int, offset *int64, offsets []*PartitionOffsetInput, timestamp *time.Time, limit *int, key *string) (*TopicRecordPage, error) {
	if q.r.records == nil {
		return nil, errNoRecords
	}
	dec, err := decoderOf(snapshot(ctx), topic)
	if err != nil {
		return nil, err
	}
	out := &TopicRecordPage{Topic: topic, Type: dec.typ, Message: dec.message, Undecoded: dec.undecoded, Records: []*TopicRecord{}, Partitions: []*RecordPartition{}}

	req := records.Request{Topic: topic, Limit: 20, From: records.Latest}
	if limit != nil {
		req.Limit = *limit
	}
	start := RecordStartLatest
	if from != nil {
		start = *from
	}
	switch start {
	case RecordStartEarliest:
		req.From = records.Earliest
	case RecordStartLatest:
		req.From = records.Latest
	case RecordStartOffset:
		req.From = records.AtOffset
		if offset == nil && len(offsets) == 0 {
			return nil, errors.New("from: OFFSET needs offset or offsets")
		}
	case RecordStartTimestamp:
		req.From = records.AtTimestamp
		if timestamp == nil {
			return nil, errors.New("from: TIMESTAMP needs timestamp")
		}
		req.Timestamp = *timestamp
	default:
		return nil, fmt.Errorf("unknown start %q", start)
	}
	if start != RecordStartOffset && (offset != nil || len(offsets) > 0) {
		return nil, errors.New("offset and offsets go with from: OFFSET, and only with it")
	}
	if start != RecordStartTimestamp && timestamp != nil {
		return nil, errors.New("timestamp goes with from: TIMESTAMP, and only with it")
	}
	req.AllOffset = offset
	if len(offsets) > 0 {
		req.Offsets = map[int32]int64{}
		for _, o := range offsets {
			if _, dup := req.Offsets[int32(o.Partition)]; dup {
				return nil, fmt.Errorf("offsets names partition %d twice", o.Partition)
			}
			req.Offsets[int32(o.Partition)] = o.Offset
		}
		if len(partitions) == 0 && offset == nil {
			for p := range req.Offsets {
				req.Partitions = append(req.Partitions, p)
			}
		}
	}
	for _, p := range partitions {
		if p < 0 || p > 1<<20 {
			return nil, fmt.Errorf("partition %d is out of range", p)
		}
		req.Partitions = append(req.Partitions, int32(p))
	}
	if key != nil {
		req.Key = []byte(*key)
	}

	page, err := q.r.records.Read(ctx, req)
	if err != nil {
		return nil, err
	}
	for _, p := range page.Partitions {
		out.Partitions = append(out.Partitions, &RecordPartition{Partition: int(p.Partition), StartOffset: p.Start, EndOffset: p.End, NextOffset: p.Next})
	}
	out.Scanned = page.Scanned
	if page.Stopped != "" {
		out.Stopped = ptr(page.Stopped)
	}
	for _, rec := range page.Records {
		out.Records = append(out.Records, dec.record(rec))
	}
	return out, nil
}

// decoder decodes the values of one topic.
type decoder struct {
	typ       string
	message   *string
	undecoded *string
	md        protoreflect.MessageDescriptor
	files     *protoregistry.Files
}

// decoderOf finds how the values of topic decode: the topic's message
// schema from the services' descriptors, or why they are shown as bytes.
// A topic that is neither a mesh topic nor a processor's dead-letter topic
// is an error.
func decoderOf(g *mesh.Graph, topic string) (*decoder, error) {
	d := &decoder{typ: "RAW"}
	t := g.Node(mesh.TopicID(topic))
	switch {
	case t != nil && t.Kind == mesh.KindTopic:
		d.typ = t.TopicType
	case isDeadLetterTopic(g, topic):
		d.undecoded = ptr("a dead-letter topic holds the failed records of every input of its processor: values are shown as bytes")
		return d, nil
	default:
		return nil, fmt.Errorf("topic %q is not a topic of the mesh (no part reads or writes it, and it is no processor's dead-letter topic)", topic)
	}
	switch {
	case d.typ != "PROTOBUF":
		d.undecoded = ptr(fmt.Sprintf("the topic is %s: its values are not protobuf, so they are shown as bytes", d.typ))
	case t.Message == "":
		d.undecoded = ptr("the topic names no message")
	default:
		md, svc := g.MessageDescriptor(t.Message)
		if md == nil {
			d.undecoded = ptr(fmt.Sprintf("no service reported the schema of %s (services of kafmesh 2021 send none): values are shown as bytes", t.Message))
			break
		}
		d.md, d.files, d.message = md, g.MessageFiles(svc), ptr(t.Message)
	}
	return d, nil
}

// record converts a record read, decoding its value when the topic's
// values decode.
func (d *decoder) record(rec records.Record) *TopicRecord {
	r := &TopicRecord{Partition: int(rec.Partition), Offset: rec.Offset, Timestamp: rec.Timestamp.UTC(), TimestampMs: rec.Timestamp.UnixMilli(),
		Key: recordBytes(rec.Key), Value: recordBytes(rec.Value), Headers: []*RecordHeader{}}
	for _, h := range rec.Headers {
		rh := &RecordHeader{Key: h.Key, Base64: base64.StdEncoding.EncodeToString(h.Value)}
		if utf8.Valid(h.Value) {
			rh.Value = ptr(string(h.Value))
		}
		r.Headers = append(r.Headers, rh)
	}
	if d.md == nil || rec.Value == nil {
		return r
	}
	v := records.Decode(rec.Value, d.md, d.files)
	if v.Framing != "" {
		r.Framing = ptr(v.Framing)
	}
	if v.Framing != records.FramingPlain && v.Framing != "" {
		id := int64(v.SchemaID)
		r.SchemaID = &id
	}
	if v.Err != nil {
		r.DecodeError = ptr(v.Err.Error())
	} else {
		r.JSON = ptr(v.JSON)
	}
	if v.Warning != "" {
		r.DecodeWarning = ptr(v.Warning)
	}
	return r
}

// TailTopicRecords streams a topic's new records, one batch at a time. A
// failure while tailing is sent as a batch with error, then the stream
// ends.
func (s subscriptionResolver) TailTopicRecords(ctx context.Context, topic string, partitions []int, key *string, offsets []*PartitionOffsetInput) (<-chan *TopicRecordBatch, error) {
	if s.r.records == nil {
		return nil, errNoRecords
	}
	dec, err := decoderOf(snapshot(ctx), topic)
	if err != nil {
		return nil, err
	}
	req := records.TailRequest{Topic: topic}
	for _, p := range partitions {
		if p < 0 || p > 1<<20 {
			return nil, fmt.Errorf("partition %d is out of range", p)
		}
		req.Partitions = append(req.Partitions, int32(p))
	}
	if len(offsets) > 0 {
		req.Offsets = map[int32]int64{}
		for _, o := range offsets {
			if _, dup := req.Offsets[int32(o.Partition)]; dup {
				return nil, fmt.Errorf("offsets names partition %d twice", o.Partition)
			}
			req.Offsets[int32(o.Partition)] = o.Offset
		}
	}
	if key != nil {
		req.Key = []byte(*key)
	}
	tail, err := s.r.records.Tail(ctx, req)
	if err != nil {
		return nil, err
	}
	out := make(chan *TopicRecordBatch)
	go func() {
		defer close(out)
		defer tail.Close()
		for {
			b, err := tail.Next(ctx)
			if ctx.Err() != nil {
				return
			}
			batch := &TopicRecordBatch{Topic: topic, Message: dec.message, Records: []*TopicRecord{}, NextOffsets: []*PartitionOffset{}, Skipped: b.Skipped}
			if err != nil {
				batch.Error = ptr(err.Error())
			}
			for _, rec := range b.Records {
				batch.Records = append(batch.Records, dec.record(rec))
			}
			for _, n := range b.Next {
				batch.NextOffsets = append(batch.NextOffsets, &PartitionOffset{Partition: int(n.Partition), Offset: n.Offset})
			}
			select {
			case out <- batch:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return out, nil
}

// isDeadLetterTopic tells whether topic is "<group>-dlq" of a processor of
// the mesh.
func isDeadLetterTopic(g *mesh.Graph, topic string) bool {
	for _, p := range g.Nodes(mesh.KindProcessor) {
		if p.GroupName != "" && p.GroupName+"-dlq" == topic {
			return true
		}
	}
	return false
}

func recordBytes(b []byte) *RecordBytes {
	if b == nil {
		return nil
	}
	out := &RecordBytes{Size: len(b), Printable: records.Printable(b), Hex: hex.EncodeToString(b), Base64: base64.StdEncoding.EncodeToString(b)}
	if utf8.Valid(b) {
		out.Text = ptr(string(b))
	}
	return out
}

func ptr[T any](v T) *T { return &v }
