package runner

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// hangingCheckEvery is how often a processor that made no progress looks
// for hanging transactions.
const hangingCheckEvery = 15 * time.Second

// watchHanging looks for hanging transactions (see [HangingTransaction])
// that hold this processor up: on its inputs and joins (read
// read_committed), its changelog (restores) and the __consumer_offsets
// partition of its group (whose offset fetches a hanging transaction
// blocks). It looks only when the processor has committed nothing for
// longer than the transaction timeout while its group has lag, and then
// logs each one with the way out and sets
// kafmesh_processor_hanging_transactions. It changes nothing itself:
// aborting a transaction the coordinator committed would lose or repeat
// records (see [AbortHangingTransactions]). Its admin client is made on
// the first look (most processors never stall that long) and closed when
// ctx ends; if making it fails, the look is skipped with a (rate-limited)
// warning and tried again at the next tick.
func (pp *processorPart) watchHanging(ctx context.Context) {
	var adm *kadm.Client
	defer func() {
		if adm != nil {
			adm.Close()
		}
	}()
	gauge := pp.svc.metrics.processorHanging.WithLabelValues(pp.p.spec.Component, pp.p.spec.Name)
	minAge := pp.svc.transactionTimeout()
	reported := map[string]bool{}
	tick := time.NewTicker(hangingCheckEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if time.Since(time.Unix(0, pp.progress.Load())) < minAge {
			gauge.Set(0)
			continue
		}
		if adm == nil {
			cl, err := kgo.NewClient(pp.svc.clientOpts()...)
			if err != nil {
				if pp.errLog.allow() {
					pp.log.Warn("looking for hanging transactions: cannot make an admin client", "error", err)
				}
				continue
			}
			adm = kadm.NewClient(cl)
		}
		hanging, err := pp.findHanging(ctx, adm, minAge)
		if err != nil {
			if ctx.Err() == nil && pp.errLog.allow() {
				pp.log.Warn("looking for hanging transactions failed", "error", err)
			}
			continue
		}
		gauge.Set(float64(len(hanging)))
		for _, h := range hanging {
			key := fmt.Sprintf("%s/%d/%d/%d", h.Topic, h.Partition, h.ProducerID, h.ProducerEpoch)
			if reported[key] {
				continue
			}
			reported[key] = true
			pp.log.Error("a hanging transaction holds this processor up: the brokers never wrote its commit or abort marker on this partition (Kafka skips a partition without a leader when it writes markers, e.g. during a broker restart); nothing is lost, the processor waits. Check the transaction and end it with `"+hangingAbortHint(pp.p.spec.Group, h)+"` or kafka-transactions.sh abort",
				"hanging", h.String())
		}
	}
}

// findHanging returns the hanging transactions on the partitions this
// processor reads, if its group has lag.
func (pp *processorPart) findHanging(ctx context.Context, adm *kadm.Client, minAge time.Duration) ([]HangingTransaction, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	spec := pp.p.spec
	var topics []string
	for _, in := range spec.Inputs {
		topics = append(topics, in.Topic)
	}
	lag, err := adm.Lag(ctx, spec.Group)
	if err != nil {
		return nil, err
	}
	behind := false
	lag.Each(func(l kadm.DescribedGroupLag) {
		for _, t := range topics {
			for _, p := range l.Lag[t] {
				if p.Lag > 0 || p.Commit.At < 0 && p.End.Offset > 0 {
					behind = true
				}
			}
		}
	})
	if !behind {
		return nil, nil
	}
	for _, j := range spec.Joins {
		topics = append(topics, j.Topic)
	}
	if pp.stateTopic != "" {
		topics = append(topics, pp.stateTopic)
	}
	return FindGroupHangingTransactions(ctx, adm, spec.Group, topics, minAge)
}

// hangingAbortHint is the kafmesh command that finds and ends h. That
// command looks only on __consumer_offsets and the topics group committed
// offsets on, so a transaction on any other topic (the changelog, a join
// topic) needs its --topic.
func hangingAbortHint(group string, h HangingTransaction) string {
	cmd := "kafmesh offsets hanging --group " + group
	if h.Topic != "__consumer_offsets" {
		cmd += " --topic " + h.Topic
	}
	return cmd + " --abort"
}
