package runner

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// watchHub fans the operations of watched keys out to watchers (the Watch
// gRPC API). Processing never waits for a watcher: each has a bounded
// buffer, and a watcher whose buffer is full is dropped.
type watchHub struct {
	mu    sync.Mutex
	procs map[[2]string]*processorWatch

	dropped func() // counts dropped watchers
}

func newWatchHub() *watchHub {
	return &watchHub{procs: map[[2]string]*processorWatch{}, dropped: func() {}}
}

// processorWatch holds the watchers of one processor.
type processorWatch struct {
	hub   *watchHub
	count atomic.Int32 // watchers of any key: the fast "nobody watches" check

	mu    sync.RWMutex
	byKey map[string][]*Watcher
}

// processor returns (creating) the watch point of a processor.
func (h *watchHub) processor(component, name string) *processorWatch {
	h.mu.Lock()
	defer h.mu.Unlock()
	k := [2]string{component, name}
	w := h.procs[k]
	if w == nil {
		w = &processorWatch{hub: h, byKey: map[string][]*Watcher{}}
		h.procs[k] = w
	}
	return w
}

// ErrUnknownProcessor is returned when watching a processor that is not
// registered in this service.
var ErrUnknownProcessor = errors.New("no such processor in this service")

// Watcher receives the operations of one key of one processor.
type Watcher struct {
	pw   *processorWatch
	key  string
	ch   chan *Operation
	once sync.Once
	drop atomic.Bool
}

// Operations delivers each operation in order. It is closed when the
// watcher stops or is dropped for falling behind.
func (w *Watcher) Operations() <-chan *Operation { return w.ch }

// Dropped reports whether the watcher was dropped for falling behind.
func (w *Watcher) Dropped() bool { return w.drop.Load() }

// Stop ends the watch.
func (w *Watcher) Stop() { w.pw.remove(w) }

// Watch starts watching key in a processor (names as in the definition).
// buffer bounds how many operations may wait for the caller; when it is
// full the watcher is dropped.
func (s *Service) Watch(component, processor, key string, buffer int) (*Watcher, error) {
	s.watch.mu.Lock()
	pw := s.watch.procs[[2]string{component, processor}]
	s.watch.mu.Unlock()
	if pw == nil {
		return nil, ErrUnknownProcessor
	}
	if buffer < 1 {
		buffer = 1
	}
	w := &Watcher{pw: pw, key: key, ch: make(chan *Operation, buffer)}
	pw.mu.Lock()
	pw.byKey[key] = append(pw.byKey[key], w)
	pw.mu.Unlock()
	pw.count.Add(1)
	return w, nil
}

func (pw *processorWatch) remove(w *Watcher) {
	w.once.Do(func() {
		pw.mu.Lock()
		ws := pw.byKey[w.key]
		for i, x := range ws {
			if x == w {
				ws = append(ws[:i], ws[i+1:]...)
				break
			}
		}
		if len(ws) == 0 {
			delete(pw.byKey, w.key)
		} else {
			pw.byKey[w.key] = ws
		}
		pw.mu.Unlock()
		pw.count.Add(-1)
		close(w.ch)
	})
}

func (pw *processorWatch) active() bool { return pw.count.Load() > 0 }

func (pw *processorWatch) watching(key []byte) bool {
	pw.mu.RLock()
	_, ok := pw.byKey[string(key)]
	pw.mu.RUnlock()
	return ok
}

// publish delivers op to every watcher of key without blocking.
func (pw *processorWatch) publish(key []byte, op *Operation) {
	var slow []*Watcher
	pw.mu.RLock()
	for _, w := range pw.byKey[string(key)] {
		select {
		case w.ch <- op:
		default:
			slow = append(slow, w)
		}
	}
	pw.mu.RUnlock()
	for _, w := range slow {
		w.drop.Store(true)
		pw.hub.dropped()
		pw.remove(w)
	}
}

// Operation is everything one input record caused in a processor.
type Operation struct {
	Start, End time.Time
	Input      Action
	Actions    []Action
	// Where the input record was read from, its Kafka timestamp and its
	// headers (shared with the record: do not modify).
	Partition int32
	Offset    int64
	Timestamp time.Time
	Headers   []kgo.RecordHeader
}

// ActionKind says what an Action was.
type ActionKind uint8

const (
	ActionInput ActionKind = iota
	ActionJoin
	ActionLookup
	ActionGetState
	ActionSetState
	ActionOutput
)

// Action is one step of an Operation. Value is the message as JSON
// ("null" when absent or deleted).
type Action struct {
	Kind    ActionKind
	Topic   string
	Message string
	Key     string // lookups and outputs
	Value   string
}

// trace collects the actions of one watched record.
type trace struct {
	op Operation
}

// newTrace starts the trace of watched record r, keeping where it was read
// from, its timestamp and headers.
func newTrace(r *kgo.Record) *trace {
	return &trace{op: Operation{Partition: r.Partition, Offset: r.Offset, Timestamp: r.Timestamp, Headers: r.Headers}}
}

func valueOrNull(found bool, v func() []byte) string {
	if !found {
		return "null"
	}
	return string(v())
}

func (t *trace) input(ref TopicRef, v func() []byte) {
	t.op.Input = Action{Kind: ActionInput, Topic: ref.Topic, Message: ref.Message, Value: string(v())}
}

func (t *trace) join(ref TopicRef, found bool, v func() []byte) {
	t.op.Actions = append(t.op.Actions, Action{Kind: ActionJoin, Topic: ref.Topic, Message: ref.Message, Value: valueOrNull(found, v)})
}

func (t *trace) lookup(ref TopicRef, key string, found bool, v func() []byte) {
	t.op.Actions = append(t.op.Actions, Action{Kind: ActionLookup, Topic: ref.Topic, Message: ref.Message, Key: key, Value: valueOrNull(found, v)})
}

func (t *trace) getState(ref TopicRef, found bool, v func() []byte) {
	t.op.Actions = append(t.op.Actions, Action{Kind: ActionGetState, Topic: ref.Topic, Message: ref.Message, Value: valueOrNull(found, v)})
}

func (t *trace) setState(ref TopicRef, v func() []byte) {
	t.op.Actions = append(t.op.Actions, Action{Kind: ActionSetState, Topic: ref.Topic, Message: ref.Message, Value: string(v())})
}

func (t *trace) output(ref TopicRef, key string, v func() []byte) {
	t.op.Actions = append(t.op.Actions, Action{Kind: ActionOutput, Topic: ref.Topic, Message: ref.Message, Key: key, Value: string(v())})
}

func (t *trace) finish(start time.Time) *Operation {
	t.op.Start, t.op.End = start, time.Now()
	return &t.op
}
