package harness

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// loader produces benchmark data with the matched producer settings and
// Java's murmur2 key partitioning, so every contender reads the same bytes
// in the same partitions.
type loader struct {
	cl *kgo.Client

	mu  sync.Mutex
	err error
}

func newLoader(brokers []string) (*loader, error) {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(5*time.Millisecond),
		kgo.ProducerBatchMaxBytes(1<<20),
		kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)),
		kgo.MaxBufferedRecords(200_000),
		// Each load goes to a topic created just before; do not wait the
		// default 5s between metadata refreshes to learn its partitions.
		kgo.MetadataMinAge(100*time.Millisecond),
	)
	if err != nil {
		return nil, err
	}
	return &loader{cl: cl}, nil
}

func (l *loader) close() { l.cl.Close() }

// load produces n records of topic; rec(i) gives the key and value of record i.
func (l *loader) load(ctx context.Context, topic string, n int, rec func(i int) (key string, value []byte)) error {
	for i := range n {
		k, v := rec(i)
		l.cl.Produce(ctx, &kgo.Record{Topic: topic, Key: []byte(k), Value: v}, l.ack)
	}
	if err := l.cl.Flush(ctx); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err != nil {
		return fmt.Errorf("load %s: %w", topic, l.err)
	}
	return nil
}

func (l *loader) ack(_ *kgo.Record, err error) {
	if err == nil {
		return
	}
	l.mu.Lock()
	if l.err == nil {
		l.err = err
	}
	l.mu.Unlock()
}
