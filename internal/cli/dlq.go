package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/user"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The headers the runtime writes on a dead letter (runner/errorpolicy.go),
// and the one replay adds to the record it sends back.
const (
	DLQHeaderError     = "kafmesh-error"
	DLQHeaderTopic     = "kafmesh-topic"
	DLQHeaderPartition = "kafmesh-partition"
	DLQHeaderOffset    = "kafmesh-offset"
	DLQHeaderGroup     = "kafmesh-group"
	// DLQHeaderReplayedFrom is set by `kafmesh dlq replay` on every record
	// it sends back, as "<dlq topic>/<partition>/<offset>" of the dead
	// letter. The runtime copies a failed record's headers onto its dead
	// letter, so a replayed record that fails again shows it in the DLQ.
	DLQHeaderReplayedFrom = "kafmesh-replayed-from"
)

// dlqSuffix ends the name of every dead-letter topic: "<group>-dlq".
const dlqSuffix = "-dlq"

// dlqIdle is how long a read of a DLQ waits for more records before it
// takes the partitions as read to their end.
const dlqIdle = 1500 * time.Millisecond

// DLQPrompt is how `dlq replay` asks for confirmation: the input and
// whether it is an interactive terminal. Tests replace it.
type DLQPrompt struct {
	In       io.Reader
	Terminal bool
}

// NewDLQCommand returns `dlq list|show|replay`, the dead letters of
// processors and sinks run with runner.DeadLetterOnError. prompt nil means
// the process's stdin.
func NewDLQCommand(env *Env, prompt *DLQPrompt) *cobra.Command {
	conn := &kafkaConn{}
	cmd := &cobra.Command{
		Use:   "dlq",
		Short: "List, read and replay the dead letters of processors and sinks",
		Long: `A processor or sink run with the dead-letter error policy writes each record
it fails to handle, unchanged, to "<group>-dlq" with the headers
kafmesh-error, kafmesh-topic, kafmesh-partition, kafmesh-offset and
kafmesh-group.

  kafmesh dlq list   --brokers B [--json]
  kafmesh dlq show   --brokers B --topic T [--partition P] [--offset O] [--limit N] [--json]
  kafmesh dlq replay --brokers B --topic T (--offsets O,P/O,... | --all) [--yes]

list prints every *-dlq topic with its partitions and record count. show
prints each dead letter: where it came from, why it failed, its key and
value (cut to --value-bytes), at most --limit records and --max-bytes read.
replay sends each chosen dead letter back to its original topic and
partition, with its original key, value and headers, through an idempotent
producer, adding the header kafmesh-replayed-from: <dlq>/<partition>/<offset>.
A replayed record that fails again comes back to the DLQ carrying that
header. Each replay is one send: running replay twice sends twice.

--tls (or --tls-ca) connects over TLS; --sasl-mechanism and --sasl-user
authenticate, with the password in $KAFMESH_SASL_PASSWORD.`,
	}
	conn.addFlags(cmd.PersistentFlags())
	if prompt == nil {
		fi, err := os.Stdin.Stat()
		prompt = &DLQPrompt{In: os.Stdin, Terminal: err == nil && fi.Mode()&os.ModeCharDevice != 0}
	}
	cmd.AddCommand(newDLQListCommand(env, conn), newDLQShowCommand(env, conn), newDLQReplayCommand(env, conn, prompt))
	return cmd
}

// DLQTopic is one dead-letter topic as `dlq list --json` prints it.
type DLQTopic struct {
	Topic      string `json:"topic"`
	Group      string `json:"group"`
	Partitions int    `json:"partitions"`
	// Records is end minus start offset over the partitions. Dead letters
	// written in transactions count their commit markers too, so it is an
	// upper bound.
	Records int64 `json:"records"`
}

// ListDLQTopics returns every topic named "<group>-dlq" with its record
// count, sorted by name.
func ListDLQTopics(ctx context.Context, adm *kadm.Client) ([]DLQTopic, error) {
	md, err := adm.ListTopics(ctx)
	if err != nil {
		return nil, fmt.Errorf("list topics: %w", err)
	}
	var names []string
	for _, t := range md.Sorted() {
		if t.Err == nil && !t.IsInternal && strings.HasSuffix(t.Topic, dlqSuffix) && len(t.Topic) > len(dlqSuffix) {
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
	out := make([]DLQTopic, 0, len(names))
	for _, n := range names {
		d := DLQTopic{Topic: n, Group: strings.TrimSuffix(n, dlqSuffix), Partitions: len(md[n].Partitions)}
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

func newDLQListCommand(env *Env, conn *kafkaConn) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the dead-letter topics (*-dlq) with their record counts",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := conn.client()
			if err != nil {
				return err
			}
			defer cl.Close()
			ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
			defer cancel()
			topics, err := ListDLQTopics(ctx, kadm.NewClient(cl))
			if err != nil {
				return err
			}
			if asJSON {
				if topics == nil {
					topics = []DLQTopic{}
				}
				enc := json.NewEncoder(env.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(topics)
			}
			if len(topics) == 0 {
				fmt.Fprintln(env.Stdout, "no dead-letter topics")
				return nil
			}
			tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "TOPIC\tGROUP\tPARTITIONS\tRECORDS")
			for _, t := range topics {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\n", t.Topic, t.Group, t.Partitions, t.Records)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// DeadLetter is one record of a DLQ topic as `dlq show --json` prints it.
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
	ReplayedFrom string            `json:"replayedFrom,omitempty"`
	Key          []byte            `json:"key"`
	Value        []byte            `json:"value"`
	Headers      map[string]string `json:"headers,omitempty"`

	record *kgo.Record
}

// parseDeadLetter reads the runtime's headers off r. It fails when r has no
// original topic, partition or offset (it was not written by the runtime).
func parseDeadLetter(r *kgo.Record) (DeadLetter, error) {
	d := DeadLetter{Partition: r.Partition, Offset: r.Offset, Timestamp: r.Timestamp, Key: r.Key, Value: r.Value, record: r,
		OriginalPartition: -1, OriginalOffset: -1}
	for _, h := range r.Headers {
		v := string(h.Value)
		switch h.Key {
		case DLQHeaderError:
			d.Error = v
		case DLQHeaderTopic:
			d.OriginalTopic = v
		case DLQHeaderPartition:
			if p, err := strconv.ParseInt(v, 10, 32); err == nil {
				d.OriginalPartition = int32(p)
			}
		case DLQHeaderOffset:
			if o, err := strconv.ParseInt(v, 10, 64); err == nil {
				d.OriginalOffset = o
			}
		case DLQHeaderGroup:
			d.Group = v
		case DLQHeaderReplayedFrom:
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
			DLQHeaderTopic, DLQHeaderPartition, DLQHeaderOffset)
	}
	return d, nil
}

// replayRecord is the record replay sends for d: d's original topic,
// partition, key and value, its headers without the runtime's dead-letter
// headers, and kafmesh-replayed-from naming d.
func (d DeadLetter) replayRecord(dlqTopic string) *kgo.Record {
	headers := make([]kgo.RecordHeader, 0, len(d.record.Headers)+1)
	for _, h := range d.record.Headers {
		switch h.Key {
		case DLQHeaderError, DLQHeaderTopic, DLQHeaderPartition, DLQHeaderOffset, DLQHeaderGroup, DLQHeaderReplayedFrom:
			continue
		}
		headers = append(headers, h)
	}
	headers = append(headers, kgo.RecordHeader{Key: DLQHeaderReplayedFrom, Value: fmt.Appendf(nil, "%s/%d/%d", dlqTopic, d.Partition, d.Offset)})
	return &kgo.Record{Topic: d.OriginalTopic, Partition: d.OriginalPartition, Key: slices.Clone(d.Key), Value: slices.Clone(d.Value), Headers: headers}
}

// dlqRead is what readDLQ reads: from where, and how much at most.
type dlqRead struct {
	topic string
	// partition -1 means every partition.
	partition int32
	// from is the first offset per partition; -1 means the start.
	from int64
	// want, when set, is the exact positions to read (partition → offsets);
	// reading stops once all are found.
	want     map[int32][]int64
	limit    int
	maxBytes int64
}

// readDLQ reads records of a DLQ topic up to its end offsets at the time of
// the call, bounded by r.limit records and r.maxBytes of keys and values.
// truncated reports that a bound stopped it early.
func readDLQ(ctx context.Context, cl *kgo.Client, r dlqRead) (recs []*kgo.Record, truncated bool, err error) {
	adm := kadm.NewClient(cl)
	ends, err := adm.ListEndOffsets(ctx, r.topic)
	if err != nil {
		return nil, false, fmt.Errorf("end offsets of %s: %w", r.topic, err)
	}
	starts, err := adm.ListStartOffsets(ctx, r.topic)
	if err != nil {
		return nil, false, fmt.Errorf("start offsets of %s: %w", r.topic, err)
	}
	if len(ends[r.topic]) == 0 {
		return nil, false, fmt.Errorf("topic %s does not exist", r.topic)
	}
	// Per partition: where to start and the end to stop at.
	assign := map[int32]kgo.Offset{}
	stop := map[int32]int64{}
	for p, e := range ends[r.topic] {
		if e.Err != nil {
			return nil, false, fmt.Errorf("%s[%d]: %w", r.topic, p, e.Err)
		}
		if r.partition >= 0 && p != r.partition {
			continue
		}
		from := starts[r.topic][p].Offset
		if r.from > from {
			from = r.from
		}
		if r.want != nil {
			offs, ok := r.want[p]
			if !ok {
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
	if r.partition >= 0 && len(ends[r.topic]) <= int(r.partition) {
		return nil, false, fmt.Errorf("topic %s has no partition %d", r.topic, r.partition)
	}
	if len(assign) == 0 {
		return nil, false, nil
	}
	cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{r.topic: assign})
	defer cl.PurgeTopicsFromConsuming(r.topic)
	var bytes int64
	remaining := 0
	wanted := map[int32]map[int64]bool{}
	for p, offs := range r.want {
		wanted[p] = map[int64]bool{}
		for _, o := range offs {
			wanted[p][o] = true
			remaining++
		}
	}
	for len(stop) > 0 {
		// A partition whose last offsets are transaction markers never
		// returns a record at end-1: a poll that stays empty for
		// dlqIdle means everything up to the end was read.
		pctx, pcancel := context.WithTimeout(ctx, dlqIdle)
		fs := cl.PollFetches(pctx)
		idle := pctx.Err() != nil && ctx.Err() == nil
		pcancel()
		if err := ctx.Err(); err != nil {
			return recs, true, err
		}
		if idle && fs.NumRecords() == 0 {
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
			if done || !ok {
				return
			}
			if rec.Offset+1 >= end {
				delete(stop, rec.Partition)
			}
			if rec.Offset >= end {
				return
			}
			if r.want != nil {
				if !wanted[rec.Partition][rec.Offset] {
					return
				}
				delete(wanted[rec.Partition], rec.Offset)
				remaining--
				if remaining == 0 {
					stop = nil
				}
			}
			if (r.limit > 0 && len(recs) >= r.limit) || (r.maxBytes > 0 && bytes+int64(len(rec.Key)+len(rec.Value)) > r.maxBytes && len(recs) > 0) {
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

func newDLQShowCommand(env *Env, conn *kafkaConn) *cobra.Command {
	var (
		topic      string
		partition  int32
		offset     int64
		limit      int
		maxBytes   int64
		valueBytes int
		asJSON     bool
	)
	cmd := &cobra.Command{
		Use:   "show",
		Short: "Print the dead letters of a DLQ topic: origin, error, key and value",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if topic == "" {
				return errors.New("--topic is required")
			}
			if limit < 1 || limit > 10000 {
				return fmt.Errorf("--limit %d: want 1 to 10000", limit)
			}
			if maxBytes < 1 {
				return fmt.Errorf("--max-bytes %d: want at least 1", maxBytes)
			}
			cl, err := conn.client()
			if err != nil {
				return err
			}
			defer cl.Close()
			ctx, cancel := context.WithTimeout(cmd.Context(), 60*time.Second)
			defer cancel()
			recs, truncated, err := readDLQ(ctx, cl, dlqRead{topic: topic, partition: partition, from: offset, limit: limit, maxBytes: maxBytes})
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(env.Stdout)
				for _, r := range recs {
					d, _ := parseDeadLetter(r)
					if err := enc.Encode(d); err != nil {
						return err
					}
				}
			} else {
				for _, r := range recs {
					d, perr := parseDeadLetter(r)
					fmt.Fprintf(env.Stdout, "%s/%d/%d  %s\n", topic, d.Partition, d.Offset, d.Timestamp.UTC().Format(time.RFC3339Nano))
					if perr != nil {
						fmt.Fprintf(env.Stdout, "  (%v)\n", perr)
					} else {
						fmt.Fprintf(env.Stdout, "  from:     %s[%d]@%d\n", d.OriginalTopic, d.OriginalPartition, d.OriginalOffset)
					}
					if d.Group != "" {
						fmt.Fprintf(env.Stdout, "  group:    %s\n", d.Group)
					}
					fmt.Fprintf(env.Stdout, "  error:    %s\n", d.Error)
					if d.ReplayedFrom != "" {
						fmt.Fprintf(env.Stdout, "  replayed: from %s (it failed again)\n", d.ReplayedFrom)
					}
					fmt.Fprintf(env.Stdout, "  key:      %s\n", showBytes(d.Key, valueBytes))
					fmt.Fprintf(env.Stdout, "  value:    %s\n", showBytes(d.Value, valueBytes))
					keys := make([]string, 0, len(d.Headers))
					for k := range d.Headers {
						keys = append(keys, k)
					}
					slices.Sort(keys)
					for _, k := range keys {
						fmt.Fprintf(env.Stdout, "  header:   %s=%s\n", k, showBytes([]byte(d.Headers[k]), valueBytes))
					}
				}
				if len(recs) == 0 {
					fmt.Fprintf(env.Stdout, "no dead letters in %s\n", topic)
				}
			}
			if truncated {
				fmt.Fprintf(env.Stderr, "stopped after %d records (--limit %d, --max-bytes %d); continue with --offset\n", len(recs), limit, maxBytes)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&topic, "topic", "", "the DLQ topic, <group>-dlq (required)")
	f.Int32Var(&partition, "partition", -1, "read only this partition (default all)")
	f.Int64Var(&offset, "offset", -1, "first offset to read in each partition (default the start)")
	f.IntVar(&limit, "limit", 20, "print at most this many records (1 to 10000)")
	f.Int64Var(&maxBytes, "max-bytes", 4<<20, "stop after this many bytes of keys and values")
	f.IntVar(&valueBytes, "value-bytes", 512, "print at most this many bytes of each key, value and header")
	f.BoolVar(&asJSON, "json", false, "print one JSON object per record (key and value base64)")
	return cmd
}

// showBytes prints b as a quoted string when it is UTF-8 text and as hex
// otherwise, cut to limit bytes.
func showBytes(b []byte, limit int) string {
	if b == nil {
		return "null"
	}
	cut := ""
	if limit > 0 && len(b) > limit {
		b, cut = b[:limit], fmt.Sprintf("… (%d more bytes)", len(b)-limit)
	}
	printable := utf8.Valid(b)
	for _, c := range string(b) {
		if c < 0x20 && c != '\n' && c != '\t' {
			printable = false
			break
		}
	}
	if printable {
		return strconv.Quote(string(b)) + cut
	}
	return fmt.Sprintf("0x%x", b) + cut
}

// parseDLQOffsets reads --offsets: "O" (an offset of --partition) or "P/O".
func parseDLQOffsets(list []string, partition int32) (map[int32][]int64, error) {
	want := map[int32][]int64{}
	for _, s := range list {
		p, o := partition, strings.TrimSpace(s)
		if ps, off, ok := strings.Cut(o, "/"); ok {
			n, err := strconv.ParseInt(ps, 10, 32)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("--offsets %q: want OFFSET or PARTITION/OFFSET", s)
			}
			p, o = int32(n), off
		}
		n, err := strconv.ParseInt(o, 10, 64)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("--offsets %q: want OFFSET or PARTITION/OFFSET", s)
		}
		if !slices.Contains(want[p], n) {
			want[p] = append(want[p], n)
		}
	}
	return want, nil
}

func newDLQReplayCommand(env *Env, conn *kafkaConn, prompt *DLQPrompt) *cobra.Command {
	var (
		topic     string
		offsets   []string
		partition int32
		all, yes  bool
		maxCount  int
		maxBytes  int64
	)
	cmd := &cobra.Command{
		Use:   "replay",
		Short: "Send dead letters back to their original topic, once each",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if topic == "" {
				return errors.New("--topic is required")
			}
			if all == (len(offsets) > 0) {
				return errors.New("give either --offsets or --all")
			}
			read := dlqRead{topic: topic, partition: -1, from: -1, limit: maxCount + 1, maxBytes: maxBytes}
			if !all {
				want, err := parseDLQOffsets(offsets, partition)
				if err != nil {
					return err
				}
				read.want = want
			}
			cl, err := conn.client(kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.RequiredAcks(kgo.AllISRAcks()))
			if err != nil {
				return err
			}
			defer cl.Close()
			ctx, cancel := context.WithTimeout(cmd.Context(), 2*time.Minute)
			defer cancel()
			recs, truncated, err := readDLQ(ctx, cl, read)
			if err != nil {
				return err
			}
			if truncated || len(recs) > maxCount {
				return fmt.Errorf("more than --max %d records or --max-bytes %d selected: replay fewer with --offsets, or raise the bounds", maxCount, maxBytes)
			}
			if read.want != nil {
				var missing []string
				for p, offs := range read.want {
					for _, o := range offs {
						if !slices.ContainsFunc(recs, func(r *kgo.Record) bool { return r.Partition == p && r.Offset == o }) {
							missing = append(missing, fmt.Sprintf("%d/%d", p, o))
						}
					}
				}
				if len(missing) > 0 {
					slices.Sort(missing)
					return fmt.Errorf("no dead letter at %s in %s", strings.Join(missing, ", "), topic)
				}
			}
			if len(recs) == 0 {
				fmt.Fprintf(env.Stdout, "no dead letters in %s\n", topic)
				return nil
			}
			letters := make([]DeadLetter, 0, len(recs))
			targets := map[string]int{}
			for _, r := range recs {
				d, err := parseDeadLetter(r)
				if err != nil {
					return err
				}
				letters = append(letters, d)
				targets[d.OriginalTopic]++
			}
			var plan []string
			for t, n := range targets {
				plan = append(plan, fmt.Sprintf("%d to %s", n, t))
			}
			slices.Sort(plan)
			fmt.Fprintf(env.Stdout, "replay %d dead letter(s) from %s: %s\n", len(letters), topic, strings.Join(plan, ", "))
			if !yes {
				if !prompt.Terminal {
					return errors.New("not a terminal: pass --yes to replay")
				}
				fmt.Fprint(env.Stdout, "Replay them? [y/N] ")
				line, _ := bufio.NewReader(prompt.In).ReadString('\n')
				if a := strings.ToLower(strings.TrimSpace(line)); a != "y" && a != "yes" {
					return errors.New("not confirmed; nothing replayed")
				}
			}
			out := make([]*kgo.Record, len(letters))
			positions := make([]string, len(letters))
			for i, d := range letters {
				out[i] = d.replayRecord(topic)
				positions[i] = fmt.Sprintf("%d/%d", d.Partition, d.Offset)
			}
			res := cl.ProduceSync(ctx, out...)
			sent := 0
			var firstErr error
			for _, r := range res {
				if r.Err == nil {
					sent++
				} else if firstErr == nil {
					firstErr = fmt.Errorf("%s[%d] (from %s): %w", r.Record.Topic, r.Record.Partition, string(r.Record.Headers[len(r.Record.Headers)-1].Value), r.Err)
				}
			}
			audit := slog.New(slog.NewTextHandler(env.Stderr, nil))
			audit.Info("dlq replay", "operator", dlqOperator(), "dlq", topic, "records", len(letters), "sent", sent,
				"positions", strings.Join(positions, ","), "targets", strings.Join(plan, ", "), "error", firstErr)
			if firstErr != nil {
				return fmt.Errorf("replayed %d of %d: %w", sent, len(letters), firstErr)
			}
			fmt.Fprintf(env.Stdout, "replayed %d dead letter(s)\n", sent)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&topic, "topic", "", "the DLQ topic, <group>-dlq (required)")
	f.StringSliceVar(&offsets, "offsets", nil, "dead letters to replay: OFFSET (in --partition) or PARTITION/OFFSET, comma separated")
	f.Int32Var(&partition, "partition", 0, "the DLQ partition of plain --offsets")
	f.BoolVar(&all, "all", false, "replay every dead letter in the topic")
	f.BoolVar(&yes, "yes", false, "do not ask for confirmation")
	f.IntVar(&maxCount, "max", 10000, "refuse to replay more than this many records in one run")
	f.Int64Var(&maxBytes, "max-bytes", 64<<20, "refuse to replay more than this many bytes of keys and values in one run")
	return cmd
}

// dlqOperator names who ran the command, for the audit line.
func dlqOperator() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return "unknown"
}
