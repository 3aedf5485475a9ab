package runner

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// serverStopTimeout bounds a graceful stop of the runtime's own gRPC and
// HTTP servers; after it, remaining connections are closed.
const serverStopTimeout = 5 * time.Second

// startServers marks the service running for health checks and starts the
// servers asked for with WithGRPCAddr and WithHTTPAddr. A server that
// fails after it started calls fail. The returned stop ends watch streams,
// marks the service not serving, and stops the servers gracefully within
// serverStopTimeout.
func (s *Service) startServers(ctx context.Context, fail func(error)) (stop func(), err error) {
	a := s.api
	a.begin(ctx)
	var stops []func()
	stopAll := func() {
		a.end()
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
	stop = stopAll
	defer func() {
		if err != nil {
			stopAll() // not stop: an error return has set it to nil
		}
	}()

	if s.cfg.grpcAddr != "" {
		lis, err := net.Listen("tcp", s.cfg.grpcAddr)
		if err != nil {
			return nil, fmt.Errorf("runner: gRPC listener: %w", err)
		}
		var sopts []grpc.ServerOption
		if s.cfg.security.tls != nil {
			sopts = append(sopts, grpc.Creds(credentials.NewTLS(s.cfg.security.serverTLS())))
		}
		sopts = append(sopts, s.grpcTracing()...)
		srv := grpc.NewServer(sopts...)
		a.register(srv)
		done := make(chan struct{})
		go func() {
			defer close(done)
			if err := srv.Serve(lis); err != nil {
				fail(fmt.Errorf("gRPC server on %s: %w", lis.Addr(), err))
			}
		}()
		a.mu.Lock()
		a.grpcAddr = lis.Addr().String()
		a.mu.Unlock()
		s.log.Info("serving gRPC", "addr", lis.Addr().String(), "tls", s.cfg.security.tls != nil,
			"mutual_tls", s.cfg.security.tls != nil && s.cfg.security.serverTLS().ClientAuth == tls.RequireAndVerifyClientCert,
			"watch", s.cfg.security.describeWatch(), "authenticated_apis", s.cfg.security.authAll, "reflection", !s.cfg.security.noReflection)
		stops = append(stops, func() {
			stopped := make(chan struct{})
			go func() {
				srv.GracefulStop()
				close(stopped)
			}()
			select {
			case <-stopped:
			case <-time.After(serverStopTimeout):
				srv.Stop()
			}
			<-done
		})
	}

	if addr, explicit := s.httpListenAddr(); addr != "" {
		lis, err := net.Listen("tcp", addr)
		switch {
		case err != nil && explicit:
			return nil, fmt.Errorf("runner: HTTP listener: %w", err)
		case err != nil:
			// The default address is taken (another service in this
			// process or on this host): run without the HTTP server
			// rather than fail; an address given explicitly must work.
			s.log.Warn("default HTTP address unavailable; serving no /metrics, /healthz, /readyz (set runner.WithHTTPAddr)",
				"addr", addr, "error", err)
			return stop, nil
		}
		srv := &http.Server{Handler: s.HTTPHandler(), ReadHeaderTimeout: 10 * time.Second}
		done := make(chan struct{})
		go func() {
			defer close(done)
			if err := srv.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
				fail(fmt.Errorf("HTTP server on %s: %w", lis.Addr(), err))
			}
		}()
		a.mu.Lock()
		a.httpAddr = lis.Addr().String()
		a.mu.Unlock()
		s.log.Info("serving HTTP", "addr", lis.Addr().String(), "paths", "/metrics /healthz /readyz")
		stops = append(stops, func() {
			ctx, cancel := context.WithTimeout(context.Background(), serverStopTimeout)
			defer cancel()
			if err := srv.Shutdown(ctx); err != nil {
				_ = srv.Close()
			}
			<-done
		})
	}
	return stop, nil
}

// GRPCAddr is the address the gRPC server started by Run (see
// [WithGRPCAddr]) listens on, e.g. "[::]:8443"; "" until Run bound it or
// when Run starts no gRPC server.
func (s *Service) GRPCAddr() string {
	s.api.mu.Lock()
	defer s.api.mu.Unlock()
	return s.api.grpcAddr
}

// HTTPAddr is the address the HTTP server started by Run (see
// [WithHTTPAddr]) listens on; "" until Run bound it or when Run starts no
// HTTP server.
func (s *Service) HTTPAddr() string {
	s.api.mu.Lock()
	defer s.api.mu.Unlock()
	return s.api.httpAddr
}
