package meshtest

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/kafmesh/kafmesh/internal/testcert"
	"github.com/kafmesh/kafmesh/kafmeshtest"
	"github.com/kafmesh/kafmesh/runner"
)

// Secure is a real kafmesh service (the runtime, not a stand-in) whose
// gRPC server requires mutual TLS with a client certificate of its CA and
// a bearer token on every kafmesh API (runner.WithWatchToken and
// runner.WithAuthenticatedAPIs): service "vault", component "secrets",
// processor "echo" reading Input.
type Secure struct {
	// Addr is the gRPC server's host:port.
	Addr string
	// Service is the running (or, without brokers, only served) service.
	Service *runner.Service
	// Input is the topic the processor reads (google.protobuf.StringValue).
	Input string
	// CA, ClientCert and ClientKey are PEM files: the CA that signs the
	// server's certificate and the client certificate discover must use.
	CA, ClientCert, ClientKey string
	// Token is the bearer token the service accepts; TokenFile holds it.
	Token, TokenFile string
	// StrangerCert and StrangerKey are a client certificate of another CA.
	StrangerCert, StrangerKey string
}

// SecureProcessor is the id discover gives the processor of Secure.
const SecureProcessor = "Processor:vault/secrets/echo"

// ServeSecure starts Secure. With brokers it also runs the service against
// them (its input topic created), so watches see operations; without, the
// APIs answer but nothing is processed.
func ServeSecure(tb testing.TB, brokers []string) *Secure {
	tb.Helper()
	dir := tb.TempDir()
	id := kafmeshtest.Unique(tb, "vault")
	ca, other := testcert.NewCA(tb, "vault-ca"), testcert.NewCA(tb, "stranger-ca")
	serverCert, _, _ := ca.Server(tb)
	_, clientPEM, clientKey := ca.Client(tb, "kafmesh-discover")
	_, strangerPEM, strangerKey := other.Client(tb, "kafmesh-discover")
	s := &Secure{
		Token:        "token-" + id,
		CA:           testcert.WriteFile(tb, dir, "ca.pem", ca.PEM),
		ClientCert:   testcert.WriteFile(tb, dir, "client.pem", clientPEM),
		ClientKey:    testcert.WriteFile(tb, dir, "client-key.pem", clientKey),
		StrangerCert: testcert.WriteFile(tb, dir, "stranger.pem", strangerPEM),
		StrangerKey:  testcert.WriteFile(tb, dir, "stranger-key.pem", strangerKey),
	}
	s.TokenFile = testcert.WriteFile(tb, dir, "token", []byte(s.Token+"\n"))

	srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(&tls.Config{
		Certificates: []tls.Certificate{serverCert}, ClientCAs: ca.Pool(),
		ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12,
	})))
	seeds := brokers
	if len(seeds) == 0 {
		seeds = []string{"127.0.0.1:1"}
	}
	svc, err := runner.NewService(runner.Definition{Name: "vault", Components: []runner.ComponentInfo{{Name: "secrets"}}},
		runner.WithBrokers(seeds...), runner.WithStateDir(filepath.Join(dir, "state")), runner.WithGRPCServer(srv),
		runner.WithWatchToken(s.Token), runner.WithAuthenticatedAPIs(), runner.WithInstanceID(id),
		runner.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		tb.Fatal(err)
	}
	s.Service = svc
	s.Input = id + ".input"
	p := runner.NewProcessor(runner.ProcessorSpec{
		Component: "secrets", Name: "echo", Group: id + ".echo",
		Inputs: []runner.TopicRef{{Topic: s.Input, Message: "google.protobuf.StringValue", Type: runner.TopicProtobuf}},
	})
	runner.HandleInput(p, 0, runner.Proto[wrapperspb.StringValue](), func(*runner.ProcessorContext, *wrapperspb.StringValue) error { return nil })
	if err := svc.Register(p); err != nil {
		tb.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	s.Addr = lis.Addr().String()
	go func() { _ = srv.Serve(lis) }()
	tb.Cleanup(srv.Stop)
	if len(brokers) == 0 {
		tb.Cleanup(svc.Close)
		return s
	}
	kafmeshtest.CreateTopic(tb, brokers, s.Input, 1, false)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := svc.ConfigureTopics(ctx); err != nil {
		tb.Fatal(err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(runCtx) }()
	tb.Cleanup(func() {
		stop()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			tb.Error("the secure service did not stop within 30s")
		}
	})
	return s
}
