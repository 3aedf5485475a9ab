package cli

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/kafmesh/kafmesh/runner"
)

func newOffsetsHangingCommand(env *Env, prompt *OffsetsPrompt, conn *offsetsConn) *cobra.Command {
	var topics []string
	var minAge time.Duration
	var abort, yes bool
	cmd := &cobra.Command{
		Use:   "hanging",
		Short: "List (and with --abort end) hanging transactions that hold the group up",
		Long: `Hanging looks for transactions left open on a partition although no
transaction coordinator tracks them any more (the brokers never wrote their
commit or abort marker there: Kafka skips a partition without a leader when
it writes markers, e.g. while a single broker restarts). Such a transaction
stops every read_committed reader of the partition at its first record and,
on the group's __consumer_offsets partition, keeps the group's members from
starting (UNSTABLE_OFFSET_COMMIT). A processor logs one when it finds it.

It looks on every partition of the topics the group has committed offsets
on, of the --topic topics (e.g. the processor's changelog <group>-table and
its outputs), and on the group's __consumer_offsets partition, and lists
the transactions open for longer than --min-age that their coordinator no
longer tracks, with the coordinator's state for their transactional id.

--abort writes an abort marker for each (what kafka-transactions.sh abort
does; it needs the ClusterAction permission), after a confirmation (--yes
skips it), and prints an audit line. Aborting discards the transaction's
records on those partitions: if its coordinator state says it committed,
its other partitions kept their records, so read the list first (see the
runbook in docs/runtime.md).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if minAge < 0 {
				return fmt.Errorf("--min-age %s: must be 0 or more", minAge)
			}
			adm, closeAdm, err := conn.admin()
			if err != nil {
				return err
			}
			defer closeAdm()
			ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
			hanging, err := findGroupHanging(ctx, adm, conn.group, topics, minAge)
			cancel()
			if err != nil {
				return err
			}
			if len(hanging) == 0 {
				fmt.Fprintf(env.Stdout, "no hanging transaction on the partitions of group %s\n", conn.group)
				return nil
			}
			for _, h := range hanging {
				fmt.Fprintln(env.Stdout, h)
			}
			if !abort {
				return nil
			}
			if !yes {
				if err := confirm(env, prompt, fmt.Sprintf("Type yes to abort these %d transactions: ", len(hanging))); err != nil {
					return err
				}
			}
			ctx, cancel = context.WithTimeout(cmd.Context(), 30*time.Second)
			defer cancel()
			if !yes {
				// Look again right before aborting: the question may have
				// waited long, and a transaction may have ended meanwhile
				// (its marker written), or another open one taken its
				// place; only the same ones still hanging are aborted.
				now, err := findGroupHanging(ctx, adm, conn.group, topics, minAge)
				if err != nil {
					return err
				}
				var gone []runner.HangingTransaction
				hanging, gone = stillHanging(hanging, now)
				for _, h := range gone {
					fmt.Fprintf(env.Stdout, "no longer hanging, left alone: %s\n", h)
				}
				if len(hanging) == 0 {
					fmt.Fprintln(env.Stdout, "nothing to abort")
					return nil
				}
			}
			if err := runner.AbortHangingTransactions(ctx, adm, hanging); err != nil {
				return err
			}
			who, when := operator(), time.Now().UTC()
			log := slog.New(slog.NewTextHandler(env.Stderr, nil))
			for _, h := range hanging {
				fmt.Fprintf(env.Stdout, "audit: %s %s aborted the hanging transaction of producer %d epoch %d on %s[%d] (open since offset %d) for group %s\n",
					when.Format(time.RFC3339), who, h.ProducerID, h.ProducerEpoch, h.Topic, h.Partition, h.StartOffset, conn.group)
				log.Warn("hanging transaction aborted", "audit", true, "operator", who, "at", when, "group", conn.group,
					"topic", h.Topic, "partition", h.Partition, "producer_id", h.ProducerID, "producer_epoch", h.ProducerEpoch,
					"start_offset", h.StartOffset, "coordinator_state", h.CoordinatorState)
			}
			return nil
		},
	}
	cmd.Flags().StringSliceVar(&topics, "topic", nil, "more topics to look at, all partitions (repeatable): the changelog, outputs")
	cmd.Flags().DurationVar(&minAge, "min-age", time.Minute, "only transactions last written longer ago than this (the transaction timeout keeps live ones out)")
	cmd.Flags().BoolVar(&abort, "abort", false, "write an abort marker for each hanging transaction")
	cmd.Flags().BoolVar(&yes, "yes", false, "do not ask for confirmation")
	return cmd
}

// findGroupHanging looks on the group's topics, the extra topics and the
// group's __consumer_offsets partition.
func findGroupHanging(ctx context.Context, adm *kadm.Client, group string, extra []string, minAge time.Duration) ([]runner.HangingTransaction, error) {
	committed, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		return nil, fmt.Errorf("offsets of group %s: %w", group, err)
	}
	topics := slices.Clone(extra)
	committed.Each(func(o kadm.OffsetResponse) {
		if !slices.Contains(topics, o.Topic) {
			topics = append(topics, o.Topic)
		}
	})
	return runner.FindGroupHangingTransactions(ctx, adm, group, topics, minAge)
}

// stillHanging splits the transactions listed before a confirmation into
// those listed again after it (the same topic, partition, producer id,
// epoch and start offset) and those gone since.
func stillHanging(before, now []runner.HangingTransaction) (still, gone []runner.HangingTransaction) {
	type key struct {
		topic     string
		partition int32
		producer  int64
		epoch     int16
		start     int64
	}
	current := make(map[key]bool, len(now))
	for _, h := range now {
		current[key{h.Topic, h.Partition, h.ProducerID, h.ProducerEpoch, h.StartOffset}] = true
	}
	for _, h := range before {
		if current[key{h.Topic, h.Partition, h.ProducerID, h.ProducerEpoch, h.StartOffset}] {
			still = append(still, h)
		} else {
			gone = append(gone, h)
		}
	}
	return still, gone
}
