package graph

import (
	"bytes"
	"cmp"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/kafmesh/kafmesh/internal/discovery/mesh"
	"github.com/kafmesh/kafmesh/internal/discovery/records"
	"github.com/kafmesh/kafmesh/internal/dlq"
	"github.com/kafmesh/kafmesh/runner"
)

// Bounds of reading and replaying dead letters through the API.
const (
	maxDeadLettersFirst  = 500   // DeadLetters.letters' first
	maxDeadLetterHeaders = 64    // DeadLetter.headers
	maxValueHex          = 1024  // DeadLetter.valueHex, in bytes of the value
	maxReplay            = 10000 // dead letters one replayDeadLetters sends
	maxReplayBytes       = 64 << 20
	maxLedger            = 1 << 20         // replayed positions remembered
	replayTimeout        = 2 * time.Minute // one replayDeadLetters, reading and sending
)

// ClientSource gives the Kafka client discover was started with
// (lag.Monitor with lag.WithClient); replayDeadLetters reads and sends
// through a client made with its options (DeadLetters.letters reads
// through the records reader instead).
type ClientSource interface {
	Client() *kgo.Client
}

// DeadLetters is a GraphQL DeadLetters: a processor's dead-letter topic.
type DeadLetters struct {
	Topic   string
	Records int64
	// RecordsPerSecond is the write rate between the last two measures.
	RecordsPerSecond *float64
}

// replayLedger remembers the dead letters this discover replayed
// ("<dlq>/<partition>/<offset>"), so that each is sent back once: a second
// replay of the same one is refused. It holds at most maxLedger positions;
// past that, the oldest half is forgotten.
type replayLedger struct {
	mu    sync.Mutex
	done  map[string]bool
	order []string
}

func (l *replayLedger) has(pos string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.done[pos]
}

// claim marks every position as replayed, or none when one already is (it
// returns those).
func (l *replayLedger) claim(pos []string) (already []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, p := range pos {
		if l.done[p] {
			already = append(already, p)
		}
	}
	if len(already) > 0 {
		return already
	}
	if l.done == nil {
		l.done = map[string]bool{}
	}
	for _, p := range pos {
		l.done[p] = true
		l.order = append(l.order, p)
	}
	if len(l.order) > maxLedger {
		cut := len(l.order) / 2
		for _, p := range l.order[:cut] {
			delete(l.done, p)
		}
		l.order = slices.Clone(l.order[cut:])
	}
	return nil
}

// release forgets positions whose send failed, so they can be replayed.
func (l *replayLedger) release(pos []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, p := range pos {
		delete(l.done, p)
	}
}

// kafkaClient opens a client with discover's connection settings and the
// extra options; it fails without --brokers.
func (r *Resolver) kafkaClient(extra ...kgo.Opt) (*kgo.Client, error) {
	cs, _ := r.lag.(ClientSource)
	if cs == nil || cs.Client() == nil {
		return nil, errors.New("dead letters need discover to run with --brokers")
	}
	return kgo.NewClient(append(slices.Clone(cs.Client().Opts()), extra...)...)
}

type deadLettersResolver struct{ r *Resolver }

func (r *Resolver) DeadLetters() DeadLettersResolver { return deadLettersResolver{r} }

// Letters reads the dead letters through the topic browser's reader, so
// they share its limits (reads at once, time, bytes) and need --records as
// it does. It answers at most first of the oldest ones, by partition and
// offset.
func (x deadLettersResolver) Letters(ctx context.Context, d *DeadLetters, firstArg *int, partition *int, offset *int64) ([]*DeadLetter, error) {
	n := 50
	if firstArg != nil {
		n = *firstArg
	}
	if n < 0 || n > maxDeadLettersFirst {
		return nil, fmt.Errorf("letters: first must be 0 to %d, got %d", maxDeadLettersFirst, n)
	}
	if n == 0 {
		return []*DeadLetter{}, nil
	}
	if x.r.records == nil {
		return nil, errNoRecords
	}
	req := records.Request{Topic: d.Topic, From: records.Earliest, Limit: n}
	if partition != nil {
		if *partition < 0 || *partition > math.MaxInt32 {
			return nil, fmt.Errorf("letters: partition %d is out of range", *partition)
		}
		req.Partitions = []int32{int32(*partition)}
	}
	if offset != nil {
		if *offset < 0 {
			return nil, fmt.Errorf("letters: offset %d is negative", *offset)
		}
		req.From, req.AllOffset, req.ClampOffsets = records.AtOffset, offset, true
	}
	page, err := x.r.records.Read(ctx, req)
	if err != nil {
		return nil, err
	}
	recs := page.Records
	slices.SortFunc(recs, func(a, b records.Record) int {
		if a.Partition != b.Partition {
			return cmp.Compare(a.Partition, b.Partition)
		}
		return cmp.Compare(a.Offset, b.Offset)
	})
	g := snapshot(ctx)
	out := make([]*DeadLetter, 0, len(recs))
	for _, rec := range recs {
		out = append(out, x.r.deadLetter(g, d.Topic, &kgo.Record{Topic: d.Topic, Partition: rec.Partition, Offset: rec.Offset,
			Timestamp: rec.Timestamp, Key: rec.Key, Value: rec.Value, Headers: rec.Headers}))
	}
	return out, nil
}

// deadLetter is the GraphQL view of one record of a dead-letter topic.
func (r *Resolver) deadLetter(g *mesh.Graph, topic string, rec *kgo.Record) *DeadLetter {
	d, perr := dlq.Parse(rec)
	pos := fmt.Sprintf("%d/%d", d.Partition, d.Offset)
	out := &DeadLetter{Partition: int(d.Partition), Offset: d.Offset, Position: pos, Timestamp: d.Timestamp, Error: d.Error,
		Group: optString(d.Group), ReplayedFrom: optString(d.ReplayedFrom), Replayed: r.replays.has(d.Position(topic)),
		ValueBytes: len(d.Value), ValueHex: hex.EncodeToString(d.Value[:min(len(d.Value), maxValueHex)]), Headers: []*DeadLetterHeader{}}
	if perr == nil {
		op, oo := int(d.OriginalPartition), d.OriginalOffset
		out.OriginalTopic, out.OriginalPartition, out.OriginalOffset = &d.OriginalTopic, &op, &oo
	}
	if d.Key != nil {
		k := text(d.Key)
		out.Key = &k
	}
	if d.Value != nil && perr == nil {
		v, err := decodeValue(g, d.OriginalTopic, d.Value)
		if err != nil {
			e := err.Error()
			out.ValueError = &e
		} else {
			out.Value = &v
		}
	}
	keys := make([]string, 0, len(d.Headers))
	for k := range d.Headers {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys[:min(len(keys), maxDeadLetterHeaders)] {
		out.Headers = append(out.Headers, &DeadLetterHeader{Key: k, Value: text([]byte(d.Headers[k]))})
	}
	return out
}

// text is b as a string when it is UTF-8 text, else 0x and its hex.
func text(b []byte) string {
	if utf8.Valid(b) && !strings.ContainsFunc(string(b), func(c rune) bool { return c < 0x20 && c != '\n' && c != '\t' }) {
		return string(b)
	}
	return "0x" + hex.EncodeToString(b)
}

// decodeValue decodes a value of topic with the schema of the topic's
// message (any of the three framings), as indented JSON with default
// values shown.
func decodeValue(g *mesh.Graph, topic string, value []byte) (string, error) {
	n := g.Node(mesh.TopicID(topic))
	if n == nil || n.Message == "" {
		return "", fmt.Errorf("topic %s is not in the mesh: its message type is unknown", topic)
	}
	md, _ := g.MessageDescriptor(n.Message)
	if md == nil {
		return "", fmt.Errorf("no service described message %s", n.Message)
	}
	payload := value
	if len(value) > 0 && (value[0] == 0 || value[0] == 2) {
		p, _, err := runner.Unframe(value)
		if err != nil {
			return "", fmt.Errorf("framing: %w", err)
		}
		payload = p
	}
	m := dynamicpb.NewMessage(md)
	if err := proto.Unmarshal(payload, m); err != nil {
		return "", fmt.Errorf("not a %s: %w", n.Message, err)
	}
	b, err := protojson.MarshalOptions{EmitUnpopulated: true}.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("as JSON: %w", err)
	}
	// protojson varies its spacing on purpose; encoding/json's indent is
	// stable, so one value always reads the same.
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return "", fmt.Errorf("as JSON: %w", err)
	}
	return out.String(), nil
}

func (m mutationResolver) ReplayDeadLetters(ctx context.Context, processorID string, positions []string, all *bool) (*DeadLetterReplay, error) {
	if !m.r.mutations {
		return nil, errNoToken
	}
	every := all != nil && *all
	if every == (len(positions) > 0) {
		return nil, errors.New("give either positions or all: true")
	}
	if len(positions) > maxReplay {
		return nil, fmt.Errorf("%d positions: at most %d in one replay", len(positions), maxReplay)
	}
	p := byID[*Processor](ctx, processorID)
	if p == nil {
		return nil, fmt.Errorf("no processor %q", processorID)
	}
	if p.n.GroupName == "" {
		return nil, fmt.Errorf("processor %s has no consumer group", processorID)
	}
	topic := dlq.TopicOf(p.n.GroupName)
	sel := dlq.Select{Topic: topic, MaxRecords: maxReplay, MaxBytes: maxReplayBytes}
	if !every {
		want, err := dlq.ParsePositions(positions, 0, maxReplay)
		if err != nil {
			return nil, fmt.Errorf("positions %w", err)
		}
		for _, s := range positions {
			if !strings.Contains(s, "/") {
				return nil, fmt.Errorf("positions %q: want PARTITION/OFFSET", s)
			}
		}
		sel.Want = want
	}
	cl, err := m.r.kafkaClient(dlq.ClientOptions()...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	// Every operation runs under the handler's query timeout, too short for
	// a large replay: the replay has its own bound instead, and a send is
	// not cut when the request ends (its positions are claimed).
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), replayTimeout)
	defer cancel()
	letters, err := dlq.Choose(ctx, cl, sel)
	if err != nil {
		return nil, err
	}
	out := &DeadLetterReplay{Topic: topic, Positions: []string{}, Targets: dlq.Plan(letters)}
	if every {
		// "all" is every dead letter not replayed yet.
		letters = slices.DeleteFunc(letters, func(d dlq.DeadLetter) bool { return m.r.replays.has(d.Position(topic)) })
		out.Targets = dlq.Plan(letters)
	}
	if len(letters) == 0 {
		return out, nil
	}
	claimed := make([]string, len(letters))
	for i, d := range letters {
		claimed[i] = d.Position(topic)
		out.Positions = append(out.Positions, strconv.Itoa(int(d.Partition))+"/"+strconv.FormatInt(d.Offset, 10))
	}
	if already := m.r.replays.claim(claimed); len(already) > 0 {
		return nil, fmt.Errorf("already replayed: %s (each dead letter is replayed once)", strings.Join(already, ", "))
	}
	sent, unsent, err := dlq.Send(ctx, cl, topic, letters)
	out.Sent = sent
	if len(unsent) > 0 {
		// What was not sent can be replayed again.
		release := make([]string, len(unsent))
		for i, d := range unsent {
			release[i] = d.Position(topic)
		}
		m.r.replays.release(release)
	}
	logger := m.r.logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger.Info("audit: replay dead letters", "processor", processorID, "dlq", topic, "records", len(letters), "sent", sent,
		"positions", strings.Join(out.Positions, ","), "targets", strings.Join(out.Targets, ", "), "error", err)
	if err != nil {
		return nil, fmt.Errorf("replayed %d of %d: %w", sent, len(letters), err)
	}
	return out, nil
}
