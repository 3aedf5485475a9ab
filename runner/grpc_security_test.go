package runner_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	rpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	discoveryv1 "github.com/kafmesh/kafmesh/api/discovery/v1"
	pingv1 "github.com/kafmesh/kafmesh/api/ping/v1"
	watchv1 "github.com/kafmesh/kafmesh/api/watch/v1"
	"github.com/kafmesh/kafmesh/internal/testcert"
	"github.com/kafmesh/kafmesh/kafmeshtest"
	"github.com/kafmesh/kafmesh/runner"
)

// logBuffer collects a service's log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// lines returns the log lines that contain every one of parts.
func (b *logBuffer) lines(parts ...string) []string {
	var out []string
	for _, l := range strings.Split(b.String(), "\n") {
		ok := l != ""
		for _, p := range parts {
			ok = ok && strings.Contains(l, p)
		}
		if ok {
			out = append(out, l)
		}
	}
	return out
}

// guardedService is a service with the counter processor whose APIs are
// served (without Run: the APIs answer without Kafka) on a loopback port
// by a server of the test's own, made with serverOpts.
func guardedService(t testing.TB, serverOpts []grpc.ServerOption, opts ...runner.Option) (addr string, logs *logBuffer) {
	t.Helper()
	return guardedServiceOn(t, "127.0.0.1:0", serverOpts, opts...)
}

func guardedServiceOn(t testing.TB, listenAddr string, serverOpts []grpc.ServerOption, opts ...runner.Option) (addr string, logs *logBuffer) {
	t.Helper()
	logs = &logBuffer{}
	srv := grpc.NewServer(serverOpts...)
	s, err := runner.NewService(runner.Definition{Name: "guarded"}, append([]runner.Option{runner.WithBrokers("127.0.0.1:1"),
		runner.WithStateDir(t.TempDir()), runner.WithLogger(slog.New(slog.NewTextHandler(logs, nil))), runner.WithGRPCServer(srv)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	newCounter(t).register(t, s)
	lis, err := net.Listen("tcp", listenAddr)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(func() {
		srv.Stop()
		s.Close()
	})
	return lis.Addr().String(), logs
}

// startWatch opens a Watch stream of counting/counter for key and waits
// for its headers: nil means the service is watching for the caller.
func startWatch(ctx context.Context, conn *grpc.ClientConn, key string) error {
	stream, err := watchv1.NewWatchAPIClient(conn).Processor(ctx, &watchv1.ProcessorRequest{Component: "counting", Processor: "counter", Key: key})
	if err != nil {
		return err
	}
	md, err := stream.Header()
	if err != nil {
		return err
	}
	if len(md.Get("kafmesh-watch")) == 0 {
		// No headers: the stream ended at once; Recv says why.
		_, err := stream.Recv()
		return err
	}
	return nil
}

func withToken(ctx context.Context, token string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
}

func wantCode(t testing.TB, what string, err error, code codes.Code, text string) {
	t.Helper()
	if status.Code(err) != code || !strings.Contains(status.Convert(err).Message(), text) {
		t.Errorf("%s: %v, want %v saying %q", what, err, code, text)
	}
}

func ping(ctx context.Context, conn *grpc.ClientConn) error {
	_, err := pingv1.NewPingAPIClient(conn).Ping(ctx, &pingv1.PingRequest{})
	return err
}

func getInfo(ctx context.Context, conn *grpc.ClientConn) error {
	_, err := discoveryv1.NewDiscoveryAPIClient(conn).GetServiceInfo(ctx, &discoveryv1.GetServiceInfoRequest{})
	return err
}

func reflect(ctx context.Context, conn *grpc.ClientConn) error {
	stream, err := rpb.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if err != nil {
		return err
	}
	// A server without the service may end the stream before the send:
	// Send then says io.EOF and Recv has the status.
	if err := stream.Send(&rpb.ServerReflectionRequest{MessageRequest: &rpb.ServerReflectionRequest_ListServices{}}); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	_, err = stream.Recv()
	return err
}

// With a bearer token configured, a Watch without a token or with a wrong
// one is Unauthenticated, while Ping and Discovery still answer without
// one; the right token watches, and the start is logged with the token's
// id (never the token), the processor and the key. With
// WithAuthenticatedAPIs, Ping, Discovery and reflection need it too;
// health never does.
func TestWatchToken(t *testing.T) {
	const token = "s3cret-watch-token"
	addr, logs := guardedService(t, nil, runner.WithWatchToken("old-token"), runner.WithWatchToken(token))
	conn := dial(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	wantCode(t, "watch without a token", startWatch(ctx, conn, "k"), codes.Unauthenticated, "no bearer token")
	wantCode(t, "watch with a wrong token", startWatch(withToken(ctx, "guess"), conn, "k"), codes.Unauthenticated, "not accepted")
	if err := ping(ctx, conn); err != nil {
		t.Errorf("ping without a token: %v", err)
	}
	if err := getInfo(ctx, conn); err != nil {
		t.Errorf("GetServiceInfo without a token: %v", err)
	}
	if err := reflect(ctx, conn); err != nil {
		t.Errorf("reflection without a token: %v", err)
	}
	if err := startWatch(withToken(ctx, token), conn, "key-7"); err != nil {
		t.Fatalf("watch with the token: %v", err)
	}
	if err := startWatch(withToken(ctx, "old-token"), conn, "key-8"); err != nil {
		t.Fatalf("watch with the second accepted token: %v", err)
	}
	started := logs.lines(`msg="watch started"`, "caller=token:", "auth=token", "peer=127.0.0.1:", "component=counting", "processor=counter", "key=key-7")
	if len(started) != 1 {
		t.Errorf("want one log line of the watch start with caller, processor and key; log:\n%s", logs)
	}
	if strings.Contains(logs.String(), token) {
		t.Errorf("the log holds the token:\n%s", logs)
	}
	if refused := logs.lines(`msg="gRPC call refused"`, "method=/kafmesh.watch.v1.WatchAPI/Processor", "code=Unauthenticated"); len(refused) != 2 {
		t.Errorf("want the two refusals logged; log:\n%s", logs)
	}

	all, _ := guardedService(t, nil, runner.WithWatchToken(token), runner.WithAuthenticatedAPIs())
	conn = dial(t, all)
	wantCode(t, "ping without a token", ping(ctx, conn), codes.Unauthenticated, "no bearer token")
	wantCode(t, "GetServiceInfo without a token", getInfo(ctx, conn), codes.Unauthenticated, "no bearer token")
	wantCode(t, "reflection without a token", reflect(ctx, conn), codes.Unauthenticated, "no bearer token")
	for name, call := range map[string]func(context.Context, *grpc.ClientConn) error{"ping": ping, "GetServiceInfo": getInfo, "reflection": reflect} {
		if err := call(withToken(ctx, token), conn); err != nil {
			t.Errorf("%s with the token: %v", name, err)
		}
	}
	if _, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Errorf("health without a token: %v", err)
	}

	// Options that make no sense are refused at once.
	for name, opts := range map[string][]runner.Option{
		"empty token":                             {runner.WithWatchToken("")},
		"open and a credential":                   {runner.WithWatchOpen(), runner.WithWatchToken("x")},
		"authenticated APIs without a credential": {runner.WithAuthenticatedAPIs()},
		"TLS on the caller's server":              {runner.WithGRPCTLS(&tls.Config{}), runner.WithGRPCServer(grpc.NewServer())},
		"TLS without a certificate":               {runner.WithGRPCTLS(&tls.Config{})},
	} {
		if _, err := runner.NewService(runner.Definition{Name: "x"}, append(opts, runner.WithBrokers("127.0.0.1:1"), runner.WithStateDir(t.TempDir()))...); err == nil {
			t.Errorf("%s: NewService accepted it", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
}

// nonLoopbackIP is an address of this host that is not loopback, or "".
func nonLoopbackIP() string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return ""
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil && !n.IP.IsLinkLocalUnicast() {
			return n.IP.String()
		}
	}
	return ""
}

// Without a credential, Watch answers loopback callers only: a caller on
// another address is refused with PermissionDenied saying how to open
// it, while Ping and Discovery answer it. WithWatchOpen admits it.
func TestWatchDefaultsToLoopbackCallers(t *testing.T) {
	ip := nonLoopbackIP()
	if ip == "" {
		t.Skip("this host has no non-loopback IPv4 address to call from")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	addr, logs := guardedServiceOn(t, net.JoinHostPort(ip, "0"), nil)
	conn := dial(t, addr)
	wantCode(t, "watch from "+ip, startWatch(ctx, conn, "k"), codes.PermissionDenied, "only to callers on a loopback address")
	if err := ping(ctx, conn); err != nil {
		t.Errorf("ping from %s: %v", ip, err)
	}
	if err := getInfo(ctx, conn); err != nil {
		t.Errorf("GetServiceInfo from %s: %v", ip, err)
	}
	if len(logs.lines(`msg="gRPC call refused"`, "code=PermissionDenied", "peer="+ip)) != 1 {
		t.Errorf("the refusal is not logged:\n%s", logs)
	}

	local, logs := guardedService(t, nil)
	if err := startWatch(ctx, dial(t, local), "k"); err != nil {
		t.Errorf("watch from loopback: %v", err)
	}
	if len(logs.lines(`msg="watch started"`, "caller=addr:127.0.0.1", "auth=loopback")) != 1 {
		t.Errorf("the loopback watch is not logged:\n%s", logs)
	}

	open, _ := guardedServiceOn(t, net.JoinHostPort(ip, "0"), nil, runner.WithWatchOpen())
	if err := startWatch(ctx, dial(t, open), "k"); err != nil {
		t.Errorf("watch from %s with WithWatchOpen: %v", ip, err)
	}
}

// WithoutWatch turns Watch off with a clear Unimplemented, even for a
// caller that would be admitted; Ping still answers.
func TestWithoutWatch(t *testing.T) {
	addr, _ := guardedService(t, nil, runner.WithoutWatch())
	conn := dial(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	wantCode(t, "watch", startWatch(ctx, conn, "k"), codes.Unimplemented, "Watch is turned off in service guarded")
	if err := ping(ctx, conn); err != nil {
		t.Errorf("ping: %v", err)
	}
	noRefl, _ := guardedService(t, nil, runner.WithoutReflection())
	wantCode(t, "reflection with WithoutReflection", reflect(ctx, dial(t, noRefl)), codes.Unimplemented, "")
}

// Watch streams are limited per caller: open streams (the next one is
// refused until one ends) and start rate (a burst, then a trickle); every
// refusal is ResourceExhausted naming the limit. Another caller (another
// token) has its own allowance; the total bounds them all.
func TestWatchLimits(t *testing.T) {
	addr, _ := guardedService(t, nil, runner.WithWatchToken("a"), runner.WithWatchToken("b"), runner.WithWatchToken("c"),
		runner.WithWatchLimits(runner.WatchLimits{PerCaller: 2, Total: 3, Burst: 3, StartsPerSecond: 0.01}))
	conn := dial(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	first, stopFirst := context.WithCancel(withToken(ctx, "a"))
	defer stopFirst()
	if err := startWatch(first, conn, "k1"); err != nil {
		t.Fatal(err)
	}
	if err := startWatch(withToken(ctx, "a"), conn, "k2"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "a third stream of one caller", startWatch(withToken(ctx, "a"), conn, "k3"), codes.ResourceExhausted, "already has 2 Watch streams open, the limit per caller")
	if err := startWatch(withToken(ctx, "b"), conn, "k1"); err != nil {
		t.Errorf("another caller: %v", err)
	}
	wantCode(t, "a stream over the total", startWatch(withToken(ctx, "c"), conn, "k1"), codes.ResourceExhausted, "3 Watch streams are open, the limit of this service")

	// The first ends: caller a may open one more (its third start, the
	// end of its burst). When that one ends too, a has room for a stream
	// but no start left: refused for its rate.
	stopFirst()
	fourth, stopFourth := context.WithCancel(withToken(ctx, "a"))
	defer stopFourth()
	if err := retryWhile(func() error { return startWatch(fourth, conn, "k4") }, "limit per caller"); err != nil {
		t.Fatalf("after the first stream ended: %v", err)
	}
	stopFourth()
	err := retryWhile(func() error { return startWatch(withToken(ctx, "a"), conn, "k5") }, "limit per caller")
	wantCode(t, "caller a over its start rate", err, codes.ResourceExhausted, "starts Watch streams faster than the limit of 0.01 a second after a burst of 3")
}

// retryWhile calls f until it returns nil or an error without text (the
// end of a stream is counted a moment after the client cancels it).
func retryWhile(f func() error, text string) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := f()
		if err == nil || !strings.Contains(err.Error(), text) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// WithGRPCTLS: the server Run starts refuses plaintext; with ClientCAs it
// requires a client certificate of those CAs (none, or one of another CA,
// is refused during the handshake); WithWatchClientCerts admits to Watch
// only the named certificate, and its watch sees the records the
// processor handles, end to end over Kafka.
func TestGRPCMutualTLS(t *testing.T) {
	ca, other := testcert.NewCA(t, "mesh-ca"), testcert.NewCA(t, "other-ca")
	serverCert, _, _ := ca.Server(t)
	brokers := kafmeshtest.StartBroker(t)
	c := newCounter(t)
	kafmeshtest.CreateTopic(t, brokers, c.in, 1, false)
	logs := &logBuffer{}
	s := newService(t, brokers, "counting", t.TempDir(), runner.WithGRPCAddr("127.0.0.1:0"),
		runner.WithLogger(slog.New(slog.NewTextHandler(logs, nil))),
		runner.WithGRPCTLS(&tls.Config{Certificates: []tls.Certificate{serverCert}, ClientCAs: ca.Pool()}),
		runner.WithWatchClientCerts("kafmesh-discover"))
	c.register(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.ConfigureTopics(ctx); err != nil {
		t.Fatal(err)
	}
	running(t, s)
	waitUntil(t, 30*time.Second, func() string {
		if s.GRPCAddr() == "" {
			return "no gRPC address yet"
		}
		return ""
	})
	addr := s.GRPCAddr()

	tlsConn := func(certs ...tls.Certificate) *grpc.ClientConn {
		return dial(t, addr, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: ca.Pool(), Certificates: certs, MinVersion: tls.VersionTLS12})))
	}
	short := func() (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, 3*time.Second) }

	pctx, pcancel := short()
	if err := ping(pctx, dial(t, addr)); err == nil {
		t.Error("a plaintext ping was answered")
	}
	pcancel()
	pctx, pcancel = short()
	if err := ping(pctx, tlsConn()); err == nil {
		t.Error("a ping without a client certificate was answered")
	} else {
		t.Logf("without a client certificate: %v", err)
	}
	pcancel()
	strangerCert, _, _ := other.Client(t, "kafmesh-discover")
	pctx, pcancel = short()
	if err := ping(pctx, tlsConn(strangerCert)); err == nil {
		t.Error("a ping with a certificate of another CA was answered")
	}
	pcancel()

	intruderCert, _, _ := ca.Client(t, "intruder")
	intruder := tlsConn(intruderCert)
	if err := ping(ctx, intruder); err != nil {
		t.Errorf("ping with a valid certificate: %v", err)
	}
	wantCode(t, "watch with a certificate not allowed to", startWatch(ctx, intruder, "key-0"), codes.Unauthenticated, `client certificate "intruder" is not among the allowed names`)

	discoverCert, _, _ := ca.Client(t, "kafmesh-discover")
	conn := tlsConn(discoverCert)
	r := watchStream(t, conn, "key-0")
	waitUntil(t, 10*time.Second, func() string {
		if len(logs.lines(`msg="watch started"`, "caller=cert:kafmesh-discover", "client_cert=kafmesh-discover", "key=key-0")) == 0 {
			return "the watch start is not logged"
		}
		return ""
	})
	produce(t, client(t, brokers), inputRecords(c.in, 0, 4, 2)...)
	waitUntil(t, 30*time.Second, func() string {
		if n := r.count(); n != 2 {
			return fmt.Sprintf("%d operations watched, want 2", n)
		}
		return ""
	})
	if op := r.operations()[1]; !strings.Contains(op.GetInput().GetValue(), "event-2") {
		t.Errorf("second operation %v, want event-2", op)
	}
}

// On a server of the caller's own with interceptors of its own, the guard
// runs inside them: they see every call, refused ones included, and the
// refusal is the guard's.
func TestGuardRunsInsideServerInterceptors(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{}
	count := func(method string) {
		mu.Lock()
		defer mu.Unlock()
		seen[method]++
	}
	addr, _ := guardedService(t, []grpc.ServerOption{
		grpc.UnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			count(info.FullMethod)
			return h(ctx, req)
		}),
		grpc.StreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			count(info.FullMethod)
			return h(srv, ss)
		}),
	}, runner.WithWatchToken("t"), runner.WithAuthenticatedAPIs())
	conn := dial(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	wantCode(t, "ping without a token", ping(ctx, conn), codes.Unauthenticated, "no bearer token")
	wantCode(t, "watch without a token", startWatch(ctx, conn, "k"), codes.Unauthenticated, "no bearer token")
	if err := ping(withToken(ctx, "t"), conn); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if seen["/kafmesh.ping.v1.PingAPI/Ping"] != 2 || seen["/kafmesh.watch.v1.WatchAPI/Processor"] != 1 {
		t.Errorf("the server's interceptors saw %v", seen)
	}
}

// WithWatchAuth: the function names the caller from the call's metadata
// (logged as such); its plain error is Unauthenticated with its message,
// and a gRPC status it returns is passed on as it is.
func TestWatchAuthFunc(t *testing.T) {
	auth := func(ctx context.Context) (string, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		switch u := md.Get("x-user"); {
		case len(u) == 0:
			return "", errors.New("no x-user header")
		case u[0] == "mallory":
			return "", status.Error(codes.PermissionDenied, "mallory may not watch")
		default:
			return "user:" + u[0], nil
		}
	}
	addr, logs := guardedService(t, nil, runner.WithWatchAuth(auth))
	conn := dial(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	wantCode(t, "watch without x-user", startWatch(ctx, conn, "k"), codes.Unauthenticated, "no x-user header")
	wantCode(t, "watch as mallory", startWatch(metadata.AppendToOutgoingContext(ctx, "x-user", "mallory"), conn, "k"), codes.PermissionDenied, "mallory may not watch")
	if err := startWatch(metadata.AppendToOutgoingContext(ctx, "x-user", "alice"), conn, "k"); err != nil {
		t.Fatalf("watch as alice: %v", err)
	}
	if len(logs.lines(`msg="watch started"`, "caller=user:alice", "auth=auth-func")) != 1 {
		t.Errorf("alice's watch is not logged:\n%s", logs)
	}
}
