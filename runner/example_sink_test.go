package runner_test

import (
	"context"
	"fmt"
	"log"
	"sync"
	"time"

	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/kafmesh/kafmesh/runner"
)

// priceStore stands for an outside key-value store (a database table with
// the key as primary key).
type priceStore struct {
	mu   sync.Mutex
	rows map[string]string
}

// upsert writes a batch in one transaction: set or delete by key.
func (s *priceStore) upsert(batch map[string]*string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range batch {
		if v == nil {
			delete(s.rows, k)
		} else {
			s.rows[k] = *v
		}
	}
	return nil
}

// priceSink is an idempotent sink: it keeps the latest value per key and
// flushes with upserts keyed by the record key, so writing a record again
// (at-least-once redelivery after a crash or a failed Flush) leaves the
// store as it was. An insert per record would duplicate rows instead.
type priceSink struct {
	store *priceStore
	batch map[string]*string // key -> latest value; nil: deleted
}

func (s *priceSink) Collect(_ runner.SinkContext, key string, m *wrapperspb.StringValue) error {
	if m == nil { // a tombstone: the key was deleted
		s.batch[key] = nil
		return nil
	}
	v := m.GetValue()
	s.batch[key] = &v
	return nil
}

func (s *priceSink) Flush(ctx context.Context) error {
	if err := s.store.upsert(s.batch); err != nil {
		return err // keep the batch: Flush may be called again with it
	}
	clear(s.batch)
	return nil
}

func ExampleNewSink() {
	svc, err := runner.NewService(runner.Definition{Name: "shop"}, runner.WithBrokers("localhost:9092"))
	if err != nil {
		log.Fatal(err)
	}
	store := &priceStore{rows: map[string]string{}}
	err = runner.NewSink(svc, runner.SinkSpec{
		Component: "pricing", Name: "warehouse", Group: "shop.pricing.warehouse",
		TopicRef: runner.TopicRef{Topic: "shop.pricing.prices", Message: "google.protobuf.StringValue", Type: runner.TopicProtobuf},
	}, runner.Proto[wrapperspb.StringValue](), &priceSink{store: store, batch: map[string]*string{}},
		runner.BatchSize(500), runner.Interval(2*time.Second),
		// A failing Collect is retried, then dead-lettered; a Flush that
		// still fails after the retries stops the service.
		runner.OnError(runner.RetryOnError(3, time.Second, runner.DeadLetterOnError())))
	if err != nil {
		log.Fatal(err)
	}
	// svc.Run(ctx) consumes the topic, flushes every 500 records or 2s,
	// before rebalances and at shutdown, and commits what was flushed.

	// Flushing the same records twice leaves the store unchanged:
	sink := &priceSink{store: store, batch: map[string]*string{}}
	for range 2 {
		_ = sink.Collect(nil, "apple", wrapperspb.String("1.20"))
		_ = sink.Collect(nil, "pear", nil)
		_ = sink.Flush(context.Background())
	}
	fmt.Println(store.rows)
	// Output: map[apple:1.20]
}
