// Package watch is the live watch through a processor: it opens the
// WatchAPI Processor stream on every pod that runs the processor and merges
// what they send into one stream, a failing pod becoming an error event
// while the others go on.
package watch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	watchv1 "github.com/kafmesh/kafmesh/api/watch/v1"
	"github.com/kafmesh/kafmesh/internal/discovery/mesh"
)

// ErrUnknownProcessor is returned for an id that names no processor.
var ErrUnknownProcessor = errors.New("unknown processor")

// ErrNoPods is returned when no pod reports the processor.
var ErrNoPods = errors.New("no pod runs the processor")

// Event is one item of a merged watch: an operation a pod performed, or the
// failure of a pod's stream (then Err is set and that pod sends no more).
type Event struct {
	Pod       *mesh.Pod
	Operation *watchv1.Operation
	Err       error
}

// Watcher opens watches.
type Watcher struct {
	dialOpts []grpc.DialOption
	logger   *slog.Logger
	buffer   int
	snapshot func(context.Context) (*mesh.Graph, error)
	every    time.Duration
}

// Option configures New.
type Option func(*Watcher)

// WithDialOptions adds gRPC dial options (the default is plaintext).
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(w *Watcher) { w.dialOpts = append(w.dialOpts, opts...) }
}

// WithFollow makes a watch follow the processor's pods as they come and
// go: every interval it reads the mesh from snapshot and opens a stream on
// each pod that reports the processor, answered its last scrape, and has
// no stream open (a new pod, or one whose stream ended: restarted or
// replaced). The watch then ends only with its context.
func WithFollow(snapshot func(context.Context) (*mesh.Graph, error), interval time.Duration) Option {
	return func(w *Watcher) { w.snapshot, w.every = snapshot, interval }
}

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(w *Watcher) { w.logger = l } }

// New returns a Watcher.
func New(opts ...Option) *Watcher {
	w := &Watcher{logger: slog.New(slog.DiscardHandler), buffer: 64}
	for _, o := range opts {
		o(w)
	}
	return w
}

// Watch streams the operations of processor processorID for key from
// every pod of g that reports the processor. The channel closes when ctx
// ends or every pod's stream has ended. It fails at once, without opening
// anything, for an id that is not a processor of g, or a processor no pod
// reports.
func (w *Watcher) Watch(ctx context.Context, g *mesh.Graph, processorID, key string) (<-chan Event, error) {
	n := g.Node(processorID)
	if n == nil || n.Kind != mesh.KindProcessor {
		return nil, fmt.Errorf("%w %q", ErrUnknownProcessor, processorID)
	}
	comp := g.Parent(n.ID, mesh.RelHasPart)
	if comp == nil {
		return nil, fmt.Errorf("%w %q: it has no component", ErrUnknownProcessor, processorID)
	}
	pods := g.PodsOf(n.ID)
	if len(pods) == 0 {
		return nil, fmt.Errorf("%w %q", ErrNoPods, processorID)
	}
	req := &watchv1.ProcessorRequest{Component: comp.Name, Processor: n.Name, Key: key}
	out := make(chan Event, w.buffer)
	if w.snapshot != nil && w.every > 0 {
		go w.follow(ctx, pods, processorID, req, out)
		return out, nil
	}
	var wg sync.WaitGroup
	for _, p := range pods {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.watchPod(ctx, p, req, out)
		}()
	}
	go func() {
		wg.Wait()
		close(out)
	}()
	return out, nil
}

// follow keeps a stream open on every live pod of the processor until ctx
// ends, then closes out.
func (w *Watcher) follow(ctx context.Context, pods []*mesh.Pod, processorID string, req *watchv1.ProcessorRequest, out chan Event) {
	var wg sync.WaitGroup
	defer func() {
		wg.Wait()
		close(out)
	}()
	active := map[string]bool{}
	ended := make(chan string)
	start := func(p *mesh.Pod) {
		active[p.ID] = true
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.watchPod(ctx, p, req, out)
			select {
			case ended <- p.ID:
			case <-ctx.Done():
			}
		}()
	}
	for _, p := range pods {
		start(p)
	}
	tick := time.NewTicker(w.every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case id := <-ended:
			delete(active, id)
		case <-tick.C:
			g, err := w.snapshot(ctx)
			if err != nil {
				continue
			}
			for _, p := range g.PodsOf(processorID) {
				if !active[p.ID] && p.Healthy() {
					w.logger.Debug("watch follows a pod", "pod", p.ID, "processor", processorID)
					start(p)
				}
			}
		}
	}
}

func (w *Watcher) watchPod(ctx context.Context, p *mesh.Pod, req *watchv1.ProcessorRequest, out chan<- Event) {
	send := func(e Event) bool {
		select {
		case out <- e:
			return true
		case <-ctx.Done():
			return false
		}
	}
	fail := func(err error) {
		if ctx.Err() != nil {
			return // the watcher left; not the pod's failure
		}
		w.logger.Debug("watch stream failed", "pod", p.ID, "error", err)
		send(Event{Pod: p, Err: fmt.Errorf("pod %s (%s): %w", podName(p), p.Address, err)})
	}
	opts := append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, w.dialOpts...)
	conn, err := grpc.NewClient("passthrough:///"+p.Address, opts...)
	if err != nil {
		fail(err)
		return
	}
	defer conn.Close()
	stream, err := watchv1.NewWatchAPIClient(conn).Processor(ctx, req)
	if err != nil {
		fail(err)
		return
	}
	for {
		resp, err := stream.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return
			}
			if status.Code(err) == codes.Canceled && ctx.Err() != nil {
				return
			}
			fail(err)
			return
		}
		if !send(Event{Pod: p, Operation: resp.GetOperation()}) {
			return
		}
	}
}

func podName(p *mesh.Pod) string {
	if p.Namespace != "" {
		return p.Namespace + "/" + p.Name
	}
	return p.Name
}
