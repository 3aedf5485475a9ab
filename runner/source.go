package runner

import (
	"context"
	"fmt"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Source is a typed producer into a topic the service owns.
type Source[M any] struct {
	svc   *Service
	spec  SourceSpec
	codec Codec[M]
}

// Keyed is one record for [Source.EmitBulk].
type Keyed[M any] struct {
	Key   string
	Value M
}

// NewSource registers a source and returns it. It may be used before Run
// starts and until Run returns.
func NewSource[M any](svc *Service, spec SourceSpec, codec Codec[M]) (*Source[M], error) {
	s := &Source[M]{svc: svc, spec: spec, codec: codec}
	if err := svc.add(sourcePart[M]{s}); err != nil {
		return nil, err
	}
	return s, nil
}

// Topic is the topic the source writes.
func (s *Source[M]) Topic() string { return s.spec.Topic }

// Emit writes one record and waits until the brokers acknowledged it.
func (s *Source[M]) Emit(ctx context.Context, key string, m M) error {
	value, err := encodeValue(s.svc, s.spec.Topic, s.codec, m)
	if err != nil {
		s.svc.metrics.sourceErrors.WithLabelValues(s.spec.Component, s.spec.Topic).Inc()
		return fmt.Errorf("emit to %s: %w", s.spec.Topic, err)
	}
	return s.produce(ctx, &kgo.Record{Topic: s.spec.Topic, Key: []byte(key), Value: value})
}

// Delete writes a tombstone for key and waits for the acknowledgement.
func (s *Source[M]) Delete(ctx context.Context, key string) error {
	return s.produce(ctx, &kgo.Record{Topic: s.spec.Topic, Key: []byte(key)})
}

func (s *Source[M]) produce(ctx context.Context, r *kgo.Record) error {
	cl, err := s.svc.sharedProducer()
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	span := s.svc.traceSourceRecord(ctx, s.spec.Component, r)
	cl.Produce(ctx, r, func(_ *kgo.Record, err error) { done <- err })
	err = <-done
	if span != nil {
		endSpan(span, err)
	}
	if err != nil {
		s.svc.metrics.sourceErrors.WithLabelValues(s.spec.Component, s.spec.Topic).Inc()
		return fmt.Errorf("emit to %s: %w", s.spec.Topic, err)
	}
	s.svc.metrics.sourceRecords.WithLabelValues(s.spec.Component, s.spec.Topic).Inc()
	return nil
}

// BulkError reports which records of an EmitBulk failed.
type BulkError struct {
	Topic string
	// Failed maps the index of each failed record to its error.
	Failed map[int]error
	Total  int
}

func (e *BulkError) Error() string {
	first := -1
	for i := range e.Failed {
		if first < 0 || i < first {
			first = i
		}
	}
	return fmt.Sprintf("emit to %s: %d of %d records failed (first: record %d: %v)", e.Topic, len(e.Failed), e.Total, first, e.Failed[first])
}

// Unwrap returns every record error.
func (e *BulkError) Unwrap() []error {
	errs := make([]error, 0, len(e.Failed))
	for _, err := range e.Failed {
		errs = append(errs, err)
	}
	return errs
}

// EmitBulk writes all records and waits for every acknowledgement. It
// returns nil only if every record was written, else a *BulkError naming
// each failed record. It returns when ctx is done at the latest.
func (s *Source[M]) EmitBulk(ctx context.Context, records []Keyed[M]) error {
	cl, err := s.svc.sharedProducer()
	if err != nil {
		return err
	}
	var (
		mu     sync.Mutex
		failed = map[int]error{}
		wg     sync.WaitGroup
	)
	for i, r := range records {
		value, err := encodeValue(s.svc, s.spec.Topic, s.codec, r.Value)
		if err != nil {
			failed[i] = err
			continue
		}
		wg.Add(1)
		rec := &kgo.Record{Topic: s.spec.Topic, Key: []byte(r.Key), Value: value}
		span := s.svc.traceSourceRecord(ctx, s.spec.Component, rec)
		cl.Produce(ctx, rec, func(_ *kgo.Record, err error) {
			defer wg.Done()
			if span != nil {
				endSpan(span, err)
			}
			if err != nil {
				mu.Lock()
				failed[i] = err
				mu.Unlock()
			}
		})
	}
	// Produce fails every record with ctx's error once ctx is done, so
	// this wait is bounded by ctx.
	wg.Wait()
	ok := len(records) - len(failed)
	s.svc.metrics.sourceRecords.WithLabelValues(s.spec.Component, s.spec.Topic).Add(float64(ok))
	if len(failed) > 0 {
		s.svc.metrics.sourceErrors.WithLabelValues(s.spec.Component, s.spec.Topic).Add(float64(len(failed)))
		return &BulkError{Topic: s.spec.Topic, Failed: failed, Total: len(records)}
	}
	return nil
}

type sourcePart[M any] struct{ s *Source[M] }

func (p sourcePart[M]) kind() partKind    { return kindSource }
func (p sourcePart[M]) component() string { return p.s.spec.Component }
func (p sourcePart[M]) name() string      { return p.s.spec.Topic }
func (p sourcePart[M]) describe() any     { return p.s.spec }
func (p sourcePart[M]) uses() []topicUse {
	return []topicUse{{ref: p.s.spec.TopicRef, role: roleSource, owned: true}}
}
func (p sourcePart[M]) run(ctx context.Context) error { return nil }
