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
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// OffsetsPrompt is how `offsets skip` asks for confirmation: stdin, and
// whether it is an interactive terminal. Tests replace it.
type OffsetsPrompt struct {
	In       io.Reader
	Terminal bool
}

// stdinPrompt is the process's standard input, interactive when it is a
// character device (a terminal).
func stdinPrompt() OffsetsPrompt {
	fi, err := os.Stdin.Stat()
	return OffsetsPrompt{In: os.Stdin, Terminal: err == nil && fi.Mode()&os.ModeCharDevice != 0}
}

// confirm asks question on prompt (the process's stdin when nil) and
// fails unless the answer is "yes"; it fails at once when the input is not
// a terminal (--yes skips the question).
func confirm(env *Env, prompt *OffsetsPrompt, question string) error {
	p := stdinPrompt()
	if prompt != nil {
		p = *prompt
	}
	if !p.Terminal {
		return errors.New("not confirmed: standard input is not a terminal; pass --yes to skip the confirmation")
	}
	fmt.Fprint(env.Stdout, question)
	line, _ := bufio.NewReader(p.In).ReadString('\n')
	if strings.TrimSpace(line) != "yes" {
		return errors.New("not confirmed; nothing changed")
	}
	return nil
}

// NewOffsetsCommand returns `offsets show` and `offsets skip`, the
// operator's escape hatch when a record stops a processor (see the runbook
// in docs/runtime.md). prompt nil means the process's stdin.
func NewOffsetsCommand(env *Env, prompt *OffsetsPrompt) *cobra.Command {
	conn := &offsetsConn{}
	cmd := &cobra.Command{
		Use:   "offsets",
		Short: "Show a consumer group's committed offsets and lag, or move a stopped group past a record",
		Long: `Offsets works on the committed offsets of one consumer group (a kafmesh
processor's or sink's group, "<service>.<component>.<name>" unless the
definition overrides it):

  kafmesh offsets show --brokers B --group G [--json]
  kafmesh offsets skip --brokers B --group G --topic T --partition P --offset O [--yes]
  kafmesh offsets hanging --brokers B --group G [--topic T]... [--abort [--yes]]

show prints, per topic and partition the group has committed, the committed
offset (the next record the group will read), the end offset and the lag
between them. On topics written with transactions the end offset counts the
transaction markers, so a caught-up group can show a lag of 1.

skip moves a STOPPED group past the record at offset O: the group's
committed offset on T[P] becomes O+1, so the next start of the service
begins after that record. See the runbook in docs/runtime.md.

hanging lists transactions the brokers left open on the group's partitions
(a commit or abort marker never written) and, with --abort, ends them.

--tls (or --tls-ca) connects over TLS; --sasl-mechanism and --sasl-user
authenticate, with the password in $KAFMESH_SASL_PASSWORD.`,
	}
	f := cmd.PersistentFlags()
	conn.addFlags(f)
	f.StringVar(&conn.group, "group", "", "consumer group (required)")
	cmd.AddCommand(newOffsetsShowCommand(env, conn), newOffsetsSkipCommand(env, prompt, conn), newOffsetsHangingCommand(env, prompt, conn))
	return cmd
}

// offsetsConn is how the offsets commands reach the cluster and which
// group they work on.
type offsetsConn struct {
	kafkaConn
	group string
}

func (c *offsetsConn) admin() (*kadm.Client, func(), error) {
	if c.group == "" {
		return nil, nil, errors.New("--group is required")
	}
	cl, err := c.client()
	if err != nil {
		return nil, nil, err
	}
	return kadm.NewClient(cl), cl.Close, nil
}

// PartitionOffsets is one row of `offsets show`.
type PartitionOffsets struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	// Committed is the group's committed offset, -1 when it has none.
	Committed int64 `json:"committed"`
	End       int64 `json:"end"`
	Lag       int64 `json:"lag"`
}

// GroupOffsets is what `offsets show` reports.
type GroupOffsets struct {
	Group      string             `json:"group"`
	State      string             `json:"state"`
	Members    int                `json:"members"`
	Partitions []PartitionOffsets `json:"partitions"`
	TotalLag   int64              `json:"totalLag"`
}

// describeGroup returns the group's state ("Empty", "Stable", "Dead", …)
// and its member count.
func describeGroup(ctx context.Context, adm *kadm.Client, group string) (string, int, error) {
	dg, err := adm.DescribeGroups(ctx, group)
	if err != nil {
		return "", 0, fmt.Errorf("describe group %s: %w", group, err)
	}
	d, ok := dg[group]
	if !ok {
		return "", 0, fmt.Errorf("describe group %s: no answer for it", group)
	}
	if errors.Is(d.Err, kerr.GroupIDNotFound) {
		return "", 0, fmt.Errorf("group %s does not exist: no member has joined it and it has no committed offsets (check --group; a processor's group is <service>.<component>.<processor> unless groupName overrides it)", group)
	}
	if d.Err != nil {
		return "", 0, fmt.Errorf("describe group %s: %w", group, d.Err)
	}
	return d.State, len(d.Members), nil
}

func groupOffsets(ctx context.Context, adm *kadm.Client, group string) (*GroupOffsets, error) {
	state, members, err := describeGroup(ctx, adm, group)
	if err != nil {
		return nil, err
	}
	offs, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		return nil, fmt.Errorf("fetch the offsets of group %s: %w", group, err)
	}
	if err := offs.Error(); err != nil {
		return nil, fmt.Errorf("fetch the offsets of group %s: %w", group, err)
	}
	g := &GroupOffsets{Group: group, State: state, Members: members, Partitions: []PartitionOffsets{}}
	var topics []string
	for t := range offs {
		topics = append(topics, t)
	}
	if len(topics) == 0 {
		return g, nil
	}
	ends, err := adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("list end offsets: %w", err)
	}
	offs.Each(func(o kadm.OffsetResponse) {
		p := PartitionOffsets{Topic: o.Topic, Partition: o.Partition, Committed: o.At, End: -1}
		if e, ok := ends.Lookup(o.Topic, o.Partition); ok && e.Err == nil {
			p.End = e.Offset
			if p.Committed >= 0 {
				p.Lag = max(0, p.End-p.Committed)
			}
		}
		g.TotalLag += p.Lag
		g.Partitions = append(g.Partitions, p)
	})
	slices.SortFunc(g.Partitions, func(a, b PartitionOffsets) int {
		if c := strings.Compare(a.Topic, b.Topic); c != 0 {
			return c
		}
		return int(a.Partition - b.Partition)
	})
	return g, nil
}

func newOffsetsShowCommand(env *Env, conn *offsetsConn) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show",
		Short: "Print a group's committed offset, end offset and lag per topic and partition",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			adm, closeAdm, err := conn.admin()
			if err != nil {
				return err
			}
			defer closeAdm()
			ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
			defer cancel()
			g, err := groupOffsets(ctx, adm, conn.group)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(env.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(g)
			}
			fmt.Fprintf(env.Stdout, "group %s: %s, %d members, total lag %d\n", g.Group, g.State, g.Members, g.TotalLag)
			if len(g.Partitions) == 0 {
				fmt.Fprintln(env.Stdout, "no committed offsets")
				return nil
			}
			w := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "TOPIC\tPARTITION\tCOMMITTED\tEND\tLAG")
			for _, p := range g.Partitions {
				committed := fmt.Sprint(p.Committed)
				if p.Committed < 0 {
					committed = "-"
				}
				end := fmt.Sprint(p.End)
				if p.End < 0 {
					end = "?"
				}
				fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%d\n", p.Topic, p.Partition, committed, end, p.Lag)
			}
			return w.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	return cmd
}

// skipPlan is what `offsets skip` is about to do.
type skipPlan struct {
	group, topic string
	partition    int32
	record       int64 // the record to skip
	old          int64 // committed before; -1 none
	from         int64 // first record skipped (old, or the start offset)
}

func (p skipPlan) String() string {
	old := fmt.Sprint(p.old)
	if p.old < 0 {
		old = "none"
	}
	s := fmt.Sprintf("group %s, %s[%d]: committed offset %s -> %d (skips the record at offset %d", p.group, p.topic, p.partition, old, p.record+1, p.record)
	if n := p.record - p.from; n > 0 {
		s += fmt.Sprintf(" and the %d records before it, offsets %d to %d, which the group has not committed", n, p.from, p.record-1)
	}
	return s + ")"
}

func newOffsetsSkipCommand(env *Env, prompt *OffsetsPrompt, conn *offsetsConn) *cobra.Command {
	var topic string
	var partition int32
	var offset int64
	var yes, allowGap bool
	cmd := &cobra.Command{
		Use:   "skip",
		Short: "Move a stopped group past the record at --offset of --topic/--partition",
		Long: `Skip sets the group's committed offset on --topic/--partition to --offset + 1,
so the next start of the service begins after the record at --offset (a
record that stops the processor under the fail error policy).

It refuses when the group has members: stop every instance of the service
first (a running member would commit over the change). It refuses when the
group is already past --offset, and, unless --allow-gap, when the group's
committed offset is before --offset: the records in between would be skipped
too. It shows the change and asks for confirmation on a terminal (--yes
skips the question; without a terminal --yes is required), then prints an
audit line (who, when, group, partition, old and new offset) on stdout and
logs it on stderr.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if topic == "" {
				return errors.New("--topic is required")
			}
			if partition < 0 {
				return fmt.Errorf("--partition %d: must be 0 or more", partition)
			}
			if offset < 0 {
				return fmt.Errorf("--offset %d: must be 0 or more (the offset of the record to skip)", offset)
			}
			adm, closeAdm, err := conn.admin()
			if err != nil {
				return err
			}
			defer closeAdm()
			ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
			group := &conn.group
			plan, err := planSkip(ctx, adm, *group, topic, partition, offset, allowGap)
			cancel()
			if err != nil {
				return err
			}
			fmt.Fprintln(env.Stdout, plan)
			if !yes {
				if err := confirm(env, prompt, "Type yes to commit this: "); err != nil {
					return err
				}
			}
			// Check again right before the commit: an instance may have
			// started meanwhile. (The broker also refuses an admin commit
			// to a group with members.) A fresh timeout: the question may
			// have waited long.
			ctx, cancel = context.WithTimeout(cmd.Context(), 30*time.Second)
			defer cancel()
			if err := requireStopped(ctx, adm, *group); err != nil {
				return err
			}
			resp, err := adm.CommitOffsets(ctx, *group, kadm.Offsets{topic: {partition: {Topic: topic, Partition: partition, At: offset + 1, LeaderEpoch: -1}}})
			if err == nil {
				err = resp.Error()
			}
			if err != nil {
				return fmt.Errorf("commit offset %d for group %s on %s[%d]: %w", offset+1, *group, topic, partition, err)
			}
			who := operator()
			when := time.Now().UTC()
			fmt.Fprintf(env.Stdout, "audit: %s %s moved group %s %s[%d] from %s to %d, skipping offsets %d to %d\n",
				when.Format(time.RFC3339), who, *group, topic, partition, offsetText(plan.old), offset+1, plan.from, offset)
			slog.New(slog.NewTextHandler(env.Stderr, nil)).Warn("consumer group offset moved past a record",
				"audit", true, "operator", who, "at", when, "group", *group, "topic", topic, "partition", partition,
				"old_offset", plan.old, "new_offset", offset+1, "skipped_from", plan.from, "skipped_to", offset)
			return nil
		},
	}
	cmd.Flags().StringVar(&topic, "topic", "", "topic of the record to skip (required)")
	cmd.Flags().Int32Var(&partition, "partition", -1, "partition of the record to skip (required)")
	cmd.Flags().Int64Var(&offset, "offset", -1, "offset of the record to skip (required); the group resumes at offset+1")
	cmd.Flags().BoolVar(&yes, "yes", false, "do not ask for confirmation")
	cmd.Flags().BoolVar(&allowGap, "allow-gap", false, "also skip the records between the committed offset and --offset")
	return cmd
}

func offsetText(o int64) string {
	if o < 0 {
		return "none"
	}
	return fmt.Sprint(o)
}

// requireStopped fails unless the group has no members.
func requireStopped(ctx context.Context, adm *kadm.Client, group string) error {
	state, members, err := describeGroup(ctx, adm, group)
	if err != nil {
		return err
	}
	if members > 0 || (state != "Empty" && state != "Dead") {
		return fmt.Errorf("group %s has %d members (state %s): stop every instance of the service first, then skip; a running member would commit over the change", group, members, state)
	}
	return nil
}

func planSkip(ctx context.Context, adm *kadm.Client, group, topic string, partition int32, offset int64, allowGap bool) (skipPlan, error) {
	plan := skipPlan{group: group, topic: topic, partition: partition, record: offset}
	if err := requireStopped(ctx, adm, group); err != nil {
		return plan, err
	}
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return plan, fmt.Errorf("list start offsets of %s: %w", topic, err)
	}
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return plan, fmt.Errorf("list end offsets of %s: %w", topic, err)
	}
	start, ok1 := starts.Lookup(topic, partition)
	end, ok2 := ends.Lookup(topic, partition)
	if !ok1 || !ok2 || start.Err != nil || end.Err != nil {
		return plan, fmt.Errorf("%s[%d]: no such topic or partition", topic, partition)
	}
	if offset < start.Offset || offset >= end.Offset {
		return plan, fmt.Errorf("%s[%d] holds offsets %d to %d; there is no record at offset %d", topic, partition, start.Offset, end.Offset-1, offset)
	}
	offs, err := adm.FetchOffsets(ctx, group)
	if err == nil {
		err = offs.Error()
	}
	if err != nil {
		return plan, fmt.Errorf("fetch the offsets of group %s: %w", group, err)
	}
	plan.old = -1
	if o, ok := offs.Lookup(topic, partition); ok {
		plan.old = o.At
	}
	plan.from = plan.old
	if plan.old < 0 {
		plan.from = start.Offset
	}
	switch {
	case plan.old > offset:
		return plan, fmt.Errorf("group %s is already past offset %d on %s[%d] (committed %d): nothing to skip", group, offset, topic, partition, plan.old)
	case plan.from < offset && !allowGap:
		return plan, fmt.Errorf("group %s has committed %s[%d] up to offset %s, before %d: skipping would also skip the %d records from %d to %d, which it has not committed. "+
			"Check the offset in the processor's error; pass --allow-gap if those records must be skipped too",
			group, topic, partition, offsetText(plan.old), offset, offset-plan.from, plan.from, offset-1)
	}
	return plan, nil
}

// operator names who runs the command, for the audit line: user@host.
func operator() string {
	name := "unknown"
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		name += "@" + h
	}
	return name
}
