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

	"github.com/kafmesh/kafmesh/internal/dlq"
	"github.com/twmb/franz-go/pkg/kadm"
)

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
			topics, err := dlq.ListTopics(ctx, kadm.NewClient(cl))
			if err != nil {
				return err
			}
			if asJSON {
				if topics == nil {
					topics = []dlq.Topic{}
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
			cl, err := conn.client(dlq.ReadOptions()...)
			if err != nil {
				return err
			}
			defer cl.Close()
			ctx, cancel := context.WithTimeout(cmd.Context(), 60*time.Second)
			defer cancel()
			recs, truncated, err := dlq.ReadRecords(ctx, cl, dlq.Read{Topic: topic, Partition: partition, From: offset, Limit: limit, MaxBytes: maxBytes})
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(env.Stdout)
				for _, r := range recs {
					d, _ := dlq.Parse(r)
					if err := enc.Encode(d); err != nil {
						return err
					}
				}
			} else {
				for _, r := range recs {
					d, perr := dlq.Parse(r)
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
			sel := dlq.Select{Topic: topic, MaxRecords: maxCount, MaxBytes: maxBytes}
			if !all {
				want, err := dlq.ParsePositions(offsets, partition, maxCount)
				if err != nil {
					return fmt.Errorf("--offsets %w", err)
				}
				sel.Want = want
			}
			cl, err := conn.client(dlq.ClientOptions()...)
			if err != nil {
				return err
			}
			defer cl.Close()
			ctx, cancel := context.WithTimeout(cmd.Context(), 2*time.Minute)
			defer cancel()
			letters, err := dlq.Choose(ctx, cl, sel)
			if err != nil {
				if errors.Is(err, dlq.ErrTooMany) {
					return fmt.Errorf("more than --max %d records or --max-bytes %d selected: replay fewer with --offsets, or raise the bounds", maxCount, maxBytes)
				}
				return err
			}
			if len(letters) == 0 {
				fmt.Fprintf(env.Stdout, "no dead letters in %s\n", topic)
				return nil
			}
			plan := dlq.Plan(letters)
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
			positions := make([]string, len(letters))
			for i, d := range letters {
				positions[i] = fmt.Sprintf("%d/%d", d.Partition, d.Offset)
			}
			sent, _, firstErr := dlq.Send(ctx, cl, topic, letters)
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
