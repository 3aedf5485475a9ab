package runner

import (
	"context"
	"errors"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
)

var errStopScan = errors.New("stop scan")

type tableSet struct {
	svc *Service
}

func (ts *tableSet) get(ref TopicRef, memory bool) *table { return &table{} }
func (ts *tableSet) start(ctx context.Context, fail func(error), wg *sync.WaitGroup) error {
	return nil
}

type table struct{}

func (t *table) ready() bool                         { return false }
func (t *table) waitReady(ctx context.Context) error { return errors.New("not implemented") }
func (t *table) get(key string) ([]byte, bool, error) {
	return nil, false, errors.New("not implemented")
}
func (t *table) scan(fn func(key, value []byte) error) error { return errors.New("not implemented") }

type procTask struct {
	svc *Service
	p   *Processor
}

func (t *procTask) joinGet(i int, key []byte) ([]byte, bool, error)   { return nil, false, nil }
func (t *procTask) lookupGet(i int, key string) ([]byte, bool, error) { return nil, false, nil }
func (t *procTask) stateGet(key []byte) ([]byte, bool, error)         { return nil, false, nil }
func (t *procTask) newRecord(topic, key string, value []byte) *kgo.Record {
	return &kgo.Record{Topic: topic, Key: []byte(key), Value: value}
}

type trace struct{}

func (t *trace) input(ref TopicRef, v func() []byte)                          {}
func (t *trace) join(ref TopicRef, found bool, v func() []byte)               {}
func (t *trace) lookup(ref TopicRef, key string, found bool, v func() []byte) {}
func (t *trace) getState(ref TopicRef, found bool, v func() []byte)           {}
func (t *trace) setState(ref TopicRef, v func() []byte)                       {}
func (t *trace) output(ref TopicRef, key string, v func() []byte)             {}

type watchHub struct{}

func newWatchHub() *watchHub { return &watchHub{} }

type metrics struct {
	sourceRecords *prometheus.CounterVec
	sourceErrors  *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		sourceRecords: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kafmesh_source_records_total"}, []string{"topic"}),
		sourceErrors:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kafmesh_source_errors_total"}, []string{"topic"}),
	}
	reg.MustRegister(m.sourceRecords, m.sourceErrors)
	return m
}

func (s *Service) startServers(ctx context.Context, fail func(error)) (func(), error) {
	return func() {}, nil
}

type stubPart struct{}

func (stubPart) kind() partKind                { return kindSink }
func (stubPart) component() string             { return "" }
func (stubPart) name() string                  { return "" }
func (stubPart) uses() []topicUse              { return nil }
func (stubPart) run(ctx context.Context) error { return errors.New("not implemented") }

func newProcessorPart(s *Service, p *Processor) part { return stubPart{} }
func newSinkPart[M any](s *Service, spec SinkSpec, cfg partConfig, c Codec[M], h SinkHandler[M]) part {
	return stubPart{}
}
func newViewSourcePart[M any](s *Service, spec ViewSourceSpec, cfg partConfig, c Codec[M], h ViewSourceHandler[M]) part {
	return stubPart{}
}
func newViewSinkPart[M any](s *Service, spec ViewSinkSpec, cfg partConfig, c Codec[M], h ViewSinkHandler[M]) part {
	return stubPart{}
}
