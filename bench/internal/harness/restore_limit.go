package harness

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafmesh/kafmesh/bench/internal/workload"
)

// restoreLimit is W2's yardstick: the time a bare franz-go client takes to
// read a changelog of Spec.Records keys (kafmesh's format, loaded like the
// contenders' W2 changelogs) from the start to its end offsets and write
// every record into a fresh Pebble store with the runtime's settings (no
// WAL, 32 MiB memtable, one unsynced batch per poll). It has no group to
// join and no probes to process, so no contender can restore faster.
func (r *runner) restoreLimit(ctx context.Context) (time.Duration, error) {
	spec := r.cfg.Spec
	topic := r.prefix + "-w2-limit-table"
	if err := r.k.createTopics(ctx, spec.Partitions, true, topic); err != nil {
		return 0, err
	}
	if err := r.ld.load(ctx, topic, spec.Records, func(i int) (string, []byte) {
		return workload.RestoreKey(i), workload.Int64Value(workload.RestoredCount(i))
	}); err != nil {
		return 0, err
	}
	ends, err := r.k.endOffsets(ctx, topic)
	if err != nil {
		return 0, err
	}
	dir, err := os.MkdirTemp(r.cfg.WorkDir, "w2-limit-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)

	start := time.Now()
	db, err := pebble.Open(dir, &pebble.Options{DisableWAL: true, MemTableSize: 32 << 20})
	if err != nil {
		return 0, err
	}
	defer db.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(r.cfg.Brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	remaining := map[int32]int64{}
	for p, end := range ends {
		if end > 0 {
			remaining[p] = end
		}
	}
	read := 0
	for len(remaining) > 0 {
		fs := cl.PollRecords(ctx, 10000)
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		if err := fetchErr(fs); err != nil {
			return 0, err
		}
		b := db.NewBatch()
		fs.EachRecord(func(rec *kgo.Record) {
			read++
			_ = b.Set(rec.Key, rec.Value, nil)
			if rec.Offset+1 >= remaining[rec.Partition] {
				delete(remaining, rec.Partition)
			}
		})
		if err := b.Commit(pebble.NoSync); err != nil {
			return 0, err
		}
	}
	took := time.Since(start)
	r.cfg.logf("w2: the limit, a franz-go read of %d keys into Pebble: %s (%d records read)", spec.Records, took.Round(time.Millisecond), read)
	return took, nil
}

// restoreLimitNote is the W2 table's line on the limit.
func (rep *Report) restoreLimitNote() string {
	if rep.RestoreLimit <= 0 {
		return ""
	}
	n := rep.Config.Spec.Records
	return fmt.Sprintf("The limit, a bare franz-go read of the same changelog (%s keys) into Pebble with the runtime's settings, took %.2f s (%s keys/s); "+
		"the \"× limit\" column is that time over each contender's restore time (which also holds its process start, group join and probes).\n\n",
		thousands(n), rep.RestoreLimit.Seconds(), thousands(int(float64(n)/rep.RestoreLimit.Seconds())))
}
