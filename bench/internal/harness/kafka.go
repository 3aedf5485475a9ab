package harness

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// kafka is the harness's own client of the broker: topic setup, loading and
// watching from the outside.
type kafka struct {
	brokers []string
	cl      *kgo.Client
	adm     *kadm.Client
}

func dialKafka(brokers []string) (*kafka, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return nil, err
	}
	return &kafka{brokers: brokers, cl: cl, adm: kadm.NewClient(cl)}, nil
}

func (k *kafka) close() { k.cl.Close() }

// createTopics creates fresh topics with partitions partitions each
// (compacted when compact is set) and fails if any already exists.
func (k *kafka) createTopics(ctx context.Context, partitions int32, compact bool, topics ...string) error {
	var cfg map[string]*string
	if compact {
		policy := "compact"
		cfg = map[string]*string{"cleanup.policy": &policy}
	}
	resp, err := k.adm.CreateTopics(ctx, partitions, 1, cfg, topics...)
	if err != nil {
		return fmt.Errorf("create topics %v: %w", topics, err)
	}
	if err := resp.Error(); err != nil {
		return fmt.Errorf("create topics %v: %w", topics, err)
	}
	return k.waitTopics(ctx, partitions, topics...)
}

// waitTopics waits until the broker's metadata shows every topic with all
// its partitions led, so that a contender started next finds them.
func (k *kafka) waitTopics(ctx context.Context, partitions int32, topics ...string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		md, err := k.adm.Metadata(ctx, topics...)
		ready := err == nil
		for _, t := range topics {
			td, ok := md.Topics[t]
			if !ready || !ok || td.Err != nil || int32(len(td.Partitions)) != partitions {
				ready = false
				break
			}
			for _, p := range td.Partitions {
				if p.Err != nil || p.Leader < 0 {
					ready = false
				}
			}
		}
		if ready {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("topics %v not ready: %w", topics, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// endOffsets returns the high watermark of every partition of topic.
func (k *kafka) endOffsets(ctx context.Context, topic string) (map[int32]int64, error) {
	ls, err := k.adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, err
	}
	out := map[int32]int64{}
	var perr error
	ls.Each(func(o kadm.ListedOffset) {
		if o.Err != nil && perr == nil {
			perr = fmt.Errorf("end offset of %s[%d]: %w", o.Topic, o.Partition, o.Err)
		}
		out[o.Partition] = o.Offset
	})
	return out, perr
}

// caughtUp reports whether group has committed offsets at ends on every
// partition of topic.
func (k *kafka) caughtUp(ctx context.Context, group, topic string, ends map[int32]int64) (bool, error) {
	os, err := k.adm.FetchOffsets(ctx, group)
	if err != nil {
		return false, err
	}
	for p, end := range ends {
		o, ok := os.Lookup(topic, p)
		if end == 0 {
			continue
		}
		if !ok || o.Err != nil || o.At < end {
			return false, nil
		}
	}
	return true, nil
}

// sumEnds is the sum of the high watermarks of topic.
func (k *kafka) sumEnds(ctx context.Context, topic string) (int64, error) {
	ends, err := k.endOffsets(ctx, topic)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, e := range ends {
		n += e
	}
	return n, nil
}

// deletePrefix deletes every topic whose name starts with prefix.
func (k *kafka) deletePrefix(ctx context.Context, prefix string) error {
	ts, err := k.adm.ListTopics(ctx)
	if err != nil {
		return err
	}
	var del []string
	for _, t := range ts.Names() {
		if strings.HasPrefix(t, prefix) {
			del = append(del, t)
		}
	}
	if len(del) == 0 {
		return nil
	}
	_, err = k.adm.DeleteTopics(ctx, del...)
	return err
}
