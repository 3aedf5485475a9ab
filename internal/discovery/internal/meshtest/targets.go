package meshtest

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	discoverv1 "github.com/kafmesh/kafmesh/api/discover/v1"
	discoveryv1 "github.com/kafmesh/kafmesh/api/discovery/v1"
	pingv1 "github.com/kafmesh/kafmesh/api/ping/v1"
	watchv1 "github.com/kafmesh/kafmesh/api/watch/v1"
)

// Target is a well-behaved kafmesh gRPC server on loopback: Ping,
// GetServiceInfo (under both WIRE.md names unless told otherwise) and Watch.
type Target struct {
	// Addr is the server's host:port.
	Addr string

	srv   *grpc.Server
	mu    sync.Mutex
	svc   *discoveryv1.Service
	calls atomic.Int64
	hub   hub
	block chan struct{} // when set, GetServiceInfo waits on it
	onGet func()
}

// Option changes how Serve's target behaves.
type Option func(*targetConfig)

type targetConfig struct {
	oldNameOnly bool
	noPing      bool
	cert        *tls.Certificate
}

// OnlyDiscoverName serves GetServiceInfo only as
// kafmesh.discover.v1.Discover, so a scraper must fall back to that name.
func OnlyDiscoverName() Option { return func(c *targetConfig) { c.oldNameOnly = true } }

// WithoutPing leaves Ping unimplemented.
func WithoutPing() Option { return func(c *targetConfig) { c.noPing = true } }

// WithTLS serves over TLS with cert (see SelfSigned).
func WithTLS(cert tls.Certificate) Option { return func(c *targetConfig) { c.cert = &cert } }

// Serve starts a target answering svc; it stops when the test ends.
func Serve(tb testing.TB, svc *discoveryv1.Service, opts ...Option) *Target {
	tb.Helper()
	var cfg targetConfig
	for _, o := range opts {
		o(&cfg)
	}
	lis := listen(tb)
	var serverOpts []grpc.ServerOption
	if cfg.cert != nil {
		serverOpts = append(serverOpts, grpc.Creds(credentials.NewServerTLSFromCert(cfg.cert)))
	}
	t := &Target{Addr: lis.Addr().String(), srv: grpc.NewServer(serverOpts...), svc: svc}
	t.hub.subs = map[*sub]struct{}{}
	if !cfg.noPing {
		pingv1.RegisterPingAPIServer(t.srv, pingServer{})
	}
	if !cfg.oldNameOnly {
		discoveryv1.RegisterDiscoveryAPIServer(t.srv, discoveryServer{t: t})
	}
	discoverv1.RegisterDiscoverServer(t.srv, discoverServer{t: t})
	watchv1.RegisterWatchAPIServer(t.srv, watchServer{t: t})
	go func() { _ = t.srv.Serve(lis) }()
	tb.Cleanup(t.Stop)
	return t
}

// SetService changes the definition the target answers with, as a
// re-deployed pod would.
func (t *Target) SetService(svc *discoveryv1.Service) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.svc = svc
}

// Calls returns how many GetServiceInfo calls the target answered.
func (t *Target) Calls() int64 { return t.calls.Load() }

// Stop stops the server at once, breaking open streams.
func (t *Target) Stop() { t.srv.Stop() }

// Hang makes GetServiceInfo wait until the caller gives up (or release is
// closed), as a pod stuck in a long GC pause or deadlock would.
func (t *Target) Hang(release chan struct{}) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.block = release
}

// OnGetServiceInfo runs f inside every GetServiceInfo call, before it
// answers.
func (t *Target) OnGetServiceInfo(f func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.onGet = f
}

func (t *Target) info(ctx context.Context) (*discoveryv1.GetServiceInfoResponse, error) {
	t.mu.Lock()
	svc, block, onGet := t.svc, t.block, t.onGet
	t.mu.Unlock()
	if onGet != nil {
		onGet()
	}
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	t.calls.Add(1)
	return &discoveryv1.GetServiceInfoResponse{Service: svc}, nil
}

type pingServer struct {
	pingv1.UnimplementedPingAPIServer
}

func (pingServer) Ping(context.Context, *pingv1.PingRequest) (*pingv1.PingResponse, error) {
	return &pingv1.PingResponse{}, nil
}

type discoveryServer struct {
	discoveryv1.UnimplementedDiscoveryAPIServer
	t *Target
}

func (s discoveryServer) GetServiceInfo(ctx context.Context, _ *discoveryv1.GetServiceInfoRequest) (*discoveryv1.GetServiceInfoResponse, error) {
	return s.t.info(ctx)
}

type discoverServer struct {
	discoverv1.UnimplementedDiscoverServer
	t *Target
}

func (s discoverServer) GetServiceInfo(ctx context.Context, _ *discoveryv1.GetServiceInfoRequest) (*discoveryv1.GetServiceInfoResponse, error) {
	return s.t.info(ctx)
}

// Watch side: Emit delivers an operation to every open Processor stream
// for the same component, processor and key.

type sub struct {
	req *watchv1.ProcessorRequest
	ch  chan *watchv1.Operation
}

type hub struct {
	mu   sync.Mutex
	subs map[*sub]struct{}
	fail error
}

type watchServer struct {
	watchv1.UnimplementedWatchAPIServer
	t *Target
}

func (w watchServer) Processor(req *watchv1.ProcessorRequest, stream grpc.ServerStreamingServer[watchv1.ProcessorResponse]) error {
	h := &w.t.hub
	h.mu.Lock()
	if h.fail != nil {
		err := h.fail
		h.mu.Unlock()
		return err
	}
	s := &sub{req: req, ch: make(chan *watchv1.Operation, 16)}
	h.subs[s] = struct{}{}
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		delete(h.subs, s)
		h.mu.Unlock()
	}()
	for {
		select {
		case op := <-s.ch:
			if err := stream.Send(&watchv1.ProcessorResponse{Operation: op}); err != nil {
				return err
			}
		case <-stream.Context().Done():
			return nil
		}
	}
}

// FailWatches makes every new Processor stream fail at once with a gRPC
// Unavailable error carrying msg.
func (t *Target) FailWatches(msg string) {
	t.hub.mu.Lock()
	defer t.hub.mu.Unlock()
	t.hub.fail = status.Error(codes.Unavailable, msg)
}

// Emit sends op to every open watch of component/processor/key and returns
// how many streams got it.
func (t *Target) Emit(component, processor, key string, op *watchv1.Operation) int {
	t.hub.mu.Lock()
	defer t.hub.mu.Unlock()
	n := 0
	for s := range t.hub.subs {
		if s.req.GetComponent() == component && s.req.GetProcessor() == processor && s.req.GetKey() == key {
			s.ch <- op
			n++
		}
	}
	return n
}

// Watchers returns how many Processor streams are open.
func (t *Target) Watchers() int {
	t.hub.mu.Lock()
	defer t.hub.mu.Unlock()
	return len(t.hub.subs)
}

// WaitWatchers waits until n Processor streams are open, failing the test
// after 10 s.
func (t *Target) WaitWatchers(tb testing.TB, n int) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for t.Watchers() < n {
		if time.Now().After(deadline) {
			tb.Fatalf("%s: %d watch streams open, want %d", t.Addr, t.Watchers(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Bad targets.

func listen(tb testing.TB) net.Listener {
	tb.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	return lis
}

// Refusing returns an address where nothing listens: connections are
// refused.
func Refusing(tb testing.TB) string {
	tb.Helper()
	lis := listen(tb)
	addr := lis.Addr().String()
	_ = lis.Close()
	return addr
}

// Hung returns an address that accepts TCP connections and then never
// says anything (not even the HTTP/2 preface), as a frozen process would.
func Hung(tb testing.TB) string {
	tb.Helper()
	return rawServer(tb, func(c net.Conn) {
		_, _ = io.Copy(io.Discard, c)
	})
}

// Garbage returns an address that answers every connection with bytes
// that are not HTTP/2, then closes it.
func Garbage(tb testing.TB) string {
	tb.Helper()
	return rawServer(tb, func(c net.Conn) {
		_, _ = c.Write([]byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 7\r\n\r\ngarbage\x00\xff\xfe"))
	})
}

func rawServer(tb testing.TB, handle func(net.Conn)) string {
	lis := listen(tb)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				handle(c)
				_ = c.Close()
			}()
		}
	}()
	tb.Cleanup(func() {
		_ = lis.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return lis.Addr().String()
}
