package runner

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	watchv1 "github.com/kafmesh/kafmesh/api/watch/v1"
)

// The security of the kafmesh gRPC APIs (Ping, Discovery, Watch, server
// reflection; health is always open, for probes).
//
// Watch streams decoded records, including joined and looked-up values, so
// it is the one API that is guarded by default: without any credential
// configured it answers only callers on a loopback address (kafmesh dev,
// kubectl port-forward, tests) and refuses every other caller with
// PermissionDenied. WithWatchToken, WithWatchClientCerts and WithWatchAuth
// open it to authenticated callers; WithWatchOpen to anyone who can reach
// the port (the behaviour of the 2021 kafmesh). Ping and Discovery answer
// anyone, so that discover can scrape, unless WithAuthenticatedAPIs asks
// for the same credentials there too.
//
// The checks run in an interceptor that the runtime wraps around the
// handlers of its own services when it registers them, so they hold on a
// server of the caller's own (WithGRPCServer) as on the one WithGRPCAddr
// starts, without any server option.

// grpcSecurity is what the options below configure.
type grpcSecurity struct {
	tls          *tls.Config
	tokens       [][sha256.Size]byte // sums of the accepted bearer tokens
	certAuth     bool                // WithWatchClientCerts given
	certNames    []string            // names a client certificate must carry; empty: any verified one
	authFuncs    []AuthFunc
	open         bool // WithWatchOpen
	noWatch      bool // WithoutWatch
	authAll      bool // WithAuthenticatedAPIs
	noReflection bool // WithoutReflection
	limits       WatchLimits
}

// AuthFunc authenticates the caller of a gRPC call from its context (see
// [metadata.FromIncomingContext] for headers, [peer.FromContext] for the
// address and TLS state). It returns a name for the caller, used in logs
// and as the key of the per-caller limits; an error refuses the call (a
// gRPC status error is returned as it is, any other error as
// Unauthenticated with its message).
type AuthFunc func(ctx context.Context) (caller string, err error)

// WithGRPCTLS makes the gRPC server that Run starts (WithGRPCAddr) serve
// TLS only; a plaintext client fails its handshake. When cfg.ClientCAs is
// set and cfg.ClientAuth is left at its zero value, clients must present a
// certificate signed by one of those CAs (mutual TLS); a client without
// one, or with another, is refused during the handshake. cfg is cloned;
// its MinVersion is raised to TLS 1.2. NewService fails when cfg has no
// certificate, or when it is combined with WithGRPCServer (give that
// server grpc.Creds instead).
func WithGRPCTLS(cfg *tls.Config) Option { return func(c *serviceConfig) { c.security.tls = cfg } }

// WithWatchToken makes Watch accept callers that send the header
// "authorization: Bearer <token>". Give it several times to accept several
// tokens (a rotation). Logs name the caller by "token:" and the first 8 hex
// digits of the token's SHA-256, never the token. Tokens are compared in
// constant time. Send them over TLS only: anyone on the path can read a
// token sent in plaintext.
func WithWatchToken(token string) Option {
	return func(c *serviceConfig) {
		if token == "" {
			c.security.tokens = append(c.security.tokens, [sha256.Size]byte{}) // refused by check
			return
		}
		c.security.tokens = append(c.security.tokens, sha256.Sum256([]byte(token)))
	}
}

// WithWatchClientCerts makes Watch accept callers whose TLS client
// certificate the server verified (WithGRPCTLS with ClientCAs, or
// grpc.Creds on a server of your own that verifies client certificates).
// With names, the certificate's subject common name or one of its DNS,
// URI or e-mail subject alternative names must be among them. The caller
// is logged as "cert:" and the common name (or the first such name).
func WithWatchClientCerts(names ...string) Option {
	return func(c *serviceConfig) {
		c.security.certAuth = true
		c.security.certNames = append(c.security.certNames, names...)
	}
}

// WithWatchAuth makes Watch accept callers that fn accepts (see
// [AuthFunc]). Several credentials may be configured together; a caller
// that satisfies any of them is accepted.
func WithWatchAuth(fn AuthFunc) Option {
	return func(c *serviceConfig) { c.security.authFuncs = append(c.security.authFuncs, fn) }
}

// WithWatchOpen lets anyone who can reach the gRPC port watch, without a
// credential, as the 2021 kafmesh did. Only for networks where the port is
// reachable by trusted callers alone (a NetworkPolicy admitting only
// discover; see docs/security.md). It cannot be combined with a credential.
func WithWatchOpen() Option { return func(c *serviceConfig) { c.security.open = true } }

// WithoutWatch turns the Watch API off: every call answers Unimplemented,
// saying so. The other APIs are unaffected, and [Service.Watch] still
// works in-process.
func WithoutWatch() Option { return func(c *serviceConfig) { c.security.noWatch = true } }

// WithAuthenticatedAPIs asks for Watch's credentials on Ping, Discovery
// and server reflection too (health stays open for probes). discover then
// needs the credential for scraping as well (--target-token, or
// --target-cert and --target-key). NewService fails when no credential is
// configured.
func WithAuthenticatedAPIs() Option { return func(c *serviceConfig) { c.security.authAll = true } }

// WithoutReflection does not register gRPC server reflection. Reflection
// is on by default, so grpcurl works without .proto files; it serves the
// schema of the APIs and messages (no records, no state). With
// WithAuthenticatedAPIs it needs the credential too.
func WithoutReflection() Option { return func(c *serviceConfig) { c.security.noReflection = true } }

// WatchLimits bound the Watch streams of a service. A zero field takes its
// default; a negative one means no limit.
type WatchLimits struct {
	// PerCaller is how many streams one caller may have open at once
	// (default 16). A caller is its authenticated name, or its IP address
	// when it is admitted without a credential.
	PerCaller int
	// Total is how many streams may be open at once in all (default 256).
	Total int
	// StartsPerSecond and Burst limit how fast one caller may open
	// streams: a burst of Burst at once (default 16), then StartsPerSecond
	// a second (default 2).
	StartsPerSecond float64
	Burst           int
}

// Defaults of WatchLimits.
const (
	DefaultWatchStreamsPerCaller = 16
	DefaultWatchStreamsTotal     = 256
	DefaultWatchStartsPerSecond  = 2
	DefaultWatchStartBurst       = 16
)

// WithWatchLimits sets the limits of Watch streams. A stream over a limit
// is refused with ResourceExhausted, naming the limit and its value.
func WithWatchLimits(l WatchLimits) Option { return func(c *serviceConfig) { c.security.limits = l } }

func (l WatchLimits) withDefaults() WatchLimits {
	if l.PerCaller == 0 {
		l.PerCaller = DefaultWatchStreamsPerCaller
	}
	if l.Total == 0 {
		l.Total = DefaultWatchStreamsTotal
	}
	if l.StartsPerSecond == 0 {
		l.StartsPerSecond = DefaultWatchStartsPerSecond
	}
	if l.Burst == 0 {
		l.Burst = DefaultWatchStartBurst
	}
	return l
}

// credentialed reports whether any credential is configured.
func (c *grpcSecurity) credentialed() bool {
	return len(c.tokens) > 0 || c.certAuth || len(c.authFuncs) > 0
}

// check validates the options; ownServer is whether the caller gave a
// server of its own.
func (c *grpcSecurity) check(ownServer bool) error {
	for _, t := range c.tokens {
		if t == ([sha256.Size]byte{}) {
			return errors.New("runner: WithWatchToken with an empty token")
		}
	}
	if slices.ContainsFunc(c.authFuncs, func(f AuthFunc) bool { return f == nil }) {
		return errors.New("runner: WithWatchAuth with a nil function")
	}
	if c.open && c.credentialed() {
		return errors.New("runner: WithWatchOpen cannot be combined with WithWatchToken, WithWatchClientCerts or WithWatchAuth")
	}
	if c.authAll && !c.credentialed() {
		return errors.New("runner: WithAuthenticatedAPIs needs a credential: WithWatchToken, WithWatchClientCerts or WithWatchAuth")
	}
	if c.tls != nil {
		if ownServer {
			return errors.New("runner: WithGRPCTLS applies to the server WithGRPCAddr starts; give the server of WithGRPCServer grpc.Creds instead")
		}
		if len(c.tls.Certificates) == 0 && c.tls.GetCertificate == nil && c.tls.GetConfigForClient == nil {
			return errors.New("runner: WithGRPCTLS: the TLS configuration has no certificate")
		}
	}
	return nil
}

// describeWatch says who may watch, for the start-up log.
func (c *grpcSecurity) describeWatch() string {
	switch {
	case c.noWatch:
		return "off"
	case c.open:
		return "open to anyone who reaches the port"
	case !c.credentialed():
		return "loopback callers only"
	}
	var by []string
	if len(c.tokens) > 0 {
		by = append(by, "bearer token")
	}
	if c.certAuth {
		by = append(by, "client certificate")
	}
	if len(c.authFuncs) > 0 {
		by = append(by, "auth function")
	}
	return "authenticated by " + strings.Join(by, " or ")
}

// serverTLS is the configuration the gRPC server serves with.
func (c *grpcSecurity) serverTLS() *tls.Config {
	cfg := c.tls.Clone()
	if cfg.MinVersion < tls.VersionTLS12 {
		cfg.MinVersion = tls.VersionTLS12
	}
	if cfg.ClientCAs != nil && cfg.ClientAuth == tls.NoClientCert {
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg
}

// caller is who made a call, as the guard admitted it.
type caller struct {
	id     string // the name logs use and limits count by
	method string // token, client-cert, auth-func, loopback, open
	peer   string // remote address
	cert   string // the verified client certificate's name, if any
}

type callerKey struct{}

func callerFrom(ctx context.Context) caller {
	c, _ := ctx.Value(callerKey{}).(caller)
	return c
}

// guard authenticates and limits calls to the kafmesh APIs.
type guard struct {
	a       *apiState
	cfg     *grpcSecurity
	limiter *watchLimiter

	logMu         sync.Mutex
	logWindow     time.Time // start of the second whose refusals are counted
	logCount      int       // refusals logged in it
	logSuppressed int       // refusals not logged in it
}

func newGuard(a *apiState, cfg *grpcSecurity) *guard {
	return &guard{a: a, cfg: cfg, limiter: newWatchLimiter(cfg.limits.withDefaults())}
}

// authenticate names the caller of ctx, or refuses it: Unauthenticated
// when a credential is configured and the caller has none that fits,
// PermissionDenied when none is configured and the caller is not local.
func (g *guard) authenticate(ctx context.Context) (caller, error) {
	c := caller{}
	p, _ := peer.FromContext(ctx)
	var leafNames []string
	if p != nil && p.Addr != nil {
		c.peer = p.Addr.String()
		if ti, ok := p.AuthInfo.(credentials.TLSInfo); ok && len(ti.State.VerifiedChains) > 0 && len(ti.State.VerifiedChains[0]) > 0 {
			leafNames = certNames(ti.State.VerifiedChains[0][0])
			if len(leafNames) > 0 {
				c.cert = leafNames[0]
			}
		}
	}
	cfg := g.cfg
	if !cfg.credentialed() {
		if cfg.open || (p != nil && isLocal(p.Addr)) {
			c.method = "loopback"
			if cfg.open {
				c.method = "open"
			}
			c.id = "addr:" + peerHost(p)
			return c, nil
		}
		return c, status.Errorf(codes.PermissionDenied,
			"service %s answers Watch only to callers on a loopback address unless it configures a credential "+
				"(runner.WithWatchToken, WithWatchClientCerts or WithWatchAuth; or WithWatchOpen for anyone who can reach the port); caller %s is not local",
			g.a.svc.def.Name, c.peer)
	}

	var reasons []string
	if cfg.certAuth {
		switch {
		case len(leafNames) == 0:
			reasons = append(reasons, "no verified client certificate")
		case len(cfg.certNames) == 0 || slices.ContainsFunc(leafNames, func(n string) bool { return slices.Contains(cfg.certNames, n) }):
			c.id, c.method = "cert:"+c.cert, "client-cert"
			return c, nil
		default:
			reasons = append(reasons, fmt.Sprintf("client certificate %q is not among the allowed names", c.cert))
		}
	}
	if len(cfg.tokens) > 0 {
		tok, present := bearer(ctx)
		if !present {
			reasons = append(reasons, "no bearer token (header authorization: Bearer <token>)")
		} else {
			sum := sha256.Sum256([]byte(tok))
			ok := 0
			for _, t := range cfg.tokens {
				ok |= subtle.ConstantTimeCompare(sum[:], t[:])
			}
			if ok == 1 {
				c.id, c.method = "token:"+hex.EncodeToString(sum[:4]), "token"
				return c, nil
			}
			reasons = append(reasons, "the bearer token is not accepted")
		}
	}
	for _, fn := range cfg.authFuncs {
		id, err := fn(ctx)
		if err == nil && id != "" {
			c.id, c.method = id, "auth-func"
			return c, nil
		}
		if _, ok := status.FromError(err); ok && err != nil {
			return c, err
		}
		if err == nil {
			err = errors.New("the authentication function named no caller")
		}
		reasons = append(reasons, err.Error())
	}
	return c, status.Errorf(codes.Unauthenticated, "service %s: unauthenticated: %s", g.a.svc.def.Name, strings.Join(reasons, "; "))
}

// refusalLogsPerSecond bounds how many refused calls are logged one by
// one in a second; a flood of refusals must not flood the log. The rest
// are counted and their number logged when the next second begins.
const refusalLogsPerSecond = 10

// refused logs a refused call (see refusalLogsPerSecond) and returns err.
func (g *guard) refused(ctx context.Context, method string, err error) error {
	addr := ""
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		addr = p.Addr.String()
	}
	log, suppressed := g.logQuota(time.Now())
	if suppressed > 0 {
		g.a.svc.log.Warn("gRPC calls refused and not logged one by one", "count", suppressed)
	}
	if log {
		g.a.svc.log.Warn("gRPC call refused", "method", method, "peer", addr, "code", status.Code(err).String(), "reason", status.Convert(err).Message())
	}
	return err
}

// logQuota says whether a refusal at now may be logged, and how many were
// suppressed in the second that ended (reported once).
func (g *guard) logQuota(now time.Time) (log bool, suppressed int) {
	g.logMu.Lock()
	defer g.logMu.Unlock()
	if now.Sub(g.logWindow) >= time.Second {
		suppressed, g.logSuppressed = g.logSuppressed, 0
		g.logWindow, g.logCount = now, 0
	}
	if g.logCount < refusalLogsPerSecond {
		g.logCount++
		return true, suppressed
	}
	g.logSuppressed++
	return false, suppressed
}

// unary is the interceptor of the unary kafmesh APIs (Ping, Discovery).
func (g *guard) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if g.cfg.authAll {
		c, err := g.authenticate(ctx)
		if err != nil {
			return nil, g.refused(ctx, info.FullMethod, err)
		}
		ctx = context.WithValue(ctx, callerKey{}, c)
	}
	return handler(ctx, req)
}

// stream is the interceptor of the streaming kafmesh APIs (Watch,
// reflection): Watch is always authenticated and limited, reflection
// with WithAuthenticatedAPIs.
func (g *guard) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	watch := strings.HasPrefix(info.FullMethod, "/"+watchv1.WatchAPI_ServiceDesc.ServiceName+"/")
	if watch && g.cfg.noWatch {
		return handler(srv, ss) // the handler says Watch is off
	}
	if !watch && !g.cfg.authAll {
		return handler(srv, ss)
	}
	ctx := ss.Context()
	c, err := g.authenticate(ctx)
	if err != nil {
		return g.refused(ctx, info.FullMethod, err)
	}
	if watch {
		release, err := g.limiter.admit(c.id)
		if err != nil {
			return g.refused(ctx, info.FullMethod, err)
		}
		defer release()
	}
	return handler(srv, &callerStream{ServerStream: ss, ctx: context.WithValue(ctx, callerKey{}, c)})
}

type callerStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *callerStream) Context() context.Context { return s.ctx }

// guardedRegistrar registers services with their handlers wrapped in the
// guard's interceptors, whatever server options the server has.
type guardedRegistrar struct {
	srv *grpc.Server
	g   *guard
}

func (r guardedRegistrar) GetServiceInfo() map[string]grpc.ServiceInfo { return r.srv.GetServiceInfo() }

func (r guardedRegistrar) RegisterService(desc *grpc.ServiceDesc, impl any) {
	d := *desc
	d.Methods = slices.Clone(desc.Methods)
	for i := range d.Methods {
		h := d.Methods[i].Handler
		d.Methods[i].Handler = func(srv any, ctx context.Context, dec func(any) error, ic grpc.UnaryServerInterceptor) (any, error) {
			if ic == nil {
				return h(srv, ctx, dec, r.g.unary)
			}
			// The server's own interceptors see the call first, then the guard.
			return h(srv, ctx, dec, func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
				return ic(ctx, req, info, func(ctx context.Context, req any) (any, error) {
					return r.g.unary(ctx, req, info, handler)
				})
			})
		}
	}
	d.Streams = slices.Clone(desc.Streams)
	for i := range d.Streams {
		sd := d.Streams[i]
		info := &grpc.StreamServerInfo{
			FullMethod:     "/" + desc.ServiceName + "/" + sd.StreamName,
			IsClientStream: sd.ClientStreams, IsServerStream: sd.ServerStreams,
		}
		d.Streams[i].Handler = func(srv any, ss grpc.ServerStream) error {
			return r.g.stream(srv, ss, info, sd.Handler)
		}
	}
	r.srv.RegisterService(&d, impl)
}

// bearer returns the token of an "authorization: Bearer <token>" header.
func bearer(ctx context.Context) (string, bool) {
	md, _ := metadata.FromIncomingContext(ctx)
	for _, v := range md.Get("authorization") {
		if scheme, tok, ok := strings.Cut(v, " "); ok && strings.EqualFold(scheme, "bearer") {
			return strings.TrimSpace(tok), true
		}
	}
	return "", false
}

// isLocal reports whether a peer is on this host: a loopback IP address
// or a Unix socket.
func isLocal(a net.Addr) bool {
	switch a := a.(type) {
	case *net.TCPAddr:
		return a.IP.IsLoopback()
	case *net.UnixAddr:
		return true
	case nil:
		return false
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		host = a.String()
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func peerHost(p *peer.Peer) string {
	if p == nil || p.Addr == nil {
		return "unknown"
	}
	if a, ok := p.Addr.(*net.TCPAddr); ok {
		return a.IP.String()
	}
	if host, _, err := net.SplitHostPort(p.Addr.String()); err == nil {
		return host
	}
	return p.Addr.String()
}

// certNames are the names a certificate carries: its subject common name,
// then its DNS, URI and e-mail subject alternative names.
func certNames(cert *x509.Certificate) []string {
	var names []string
	if cert.Subject.CommonName != "" {
		names = append(names, cert.Subject.CommonName)
	}
	names = append(names, cert.DNSNames...)
	for _, u := range cert.URIs {
		names = append(names, u.String())
	}
	return append(names, cert.EmailAddresses...)
}
