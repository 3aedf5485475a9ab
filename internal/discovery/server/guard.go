package server

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"path"
	"strings"
	"sync"
	"time"
)

// hostCheck refuses requests whose Host is not a name the server answers
// as (see WithAllowedHosts). This is what stops DNS rebinding: a page of
// evil.example whose name was rebound to this server's address sends
// Host: evil.example, which no check of Origin against Host can catch.
func (s *Server) hostCheck(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.hostAllowed(r.Host) {
			http.Error(w, fmt.Sprintf("host %q is not a name this server answers as (DNS rebinding protection); add it to --allowed-hosts", hostOnly(r.Host)), http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// hostOnly is host without its port, lower case, without a trailing dot.
func hostOnly(hostport string) string {
	h := hostport
	if host, _, err := net.SplitHostPort(hostport); err == nil {
		h = host
	}
	h = strings.TrimSuffix(strings.Trim(h, "[]"), ".")
	return strings.ToLower(h)
}

// hostAllowed: IP addresses (no DNS, nothing to rebind), loopback names,
// and the allowed hosts.
func (s *Server) hostAllowed(hostport string) bool {
	h := hostOnly(hostport)
	if h == "" {
		return false
	}
	if _, err := netip.ParseAddr(h); err == nil {
		return true
	}
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	for _, p := range s.allowedHosts {
		if ok, _ := path.Match(strings.ToLower(strings.TrimSuffix(p, ".")), h); ok {
			return true
		}
	}
	return false
}

// bodyLimit refuses request bodies over the limit: at once when the
// Content-Length says so, else when reading passes it.
func (s *Server) bodyLimit(next http.Handler) http.Handler {
	max := s.limits.MaxBodyBytes
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > max {
			w.Header().Set("Connection", "close")
			http.Error(w, fmt.Sprintf("request body of %d bytes is larger than the limit of %d bytes (--max-body-bytes)", r.ContentLength, max), http.StatusRequestEntityTooLarge)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, max)
		next.ServeHTTP(w, r)
	})
}

// clientCounter counts open websockets per client IP.
type clientCounter struct {
	mu   sync.Mutex
	open map[string]int
}

func (c *clientCounter) acquire(client string, max int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.open[client] >= max {
		return false
	}
	c.open[client]++
	return true
}

func (c *clientCounter) release(client string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.open[client]--; c.open[client] <= 0 {
		delete(c.open, client)
	}
}

// websockets caps the websockets per client IP, and lifts the server's
// read and write deadlines from a websocket (a stream lives longer than a
// request; the transport's keep-alive pings and the connection_init
// timeout bound it instead).
func (s *Server) websockets(next http.Handler) http.Handler {
	max := s.limits.MaxWebsocketsPerClient
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !isWebsocket(r) {
			next.ServeHTTP(w, r)
			return
		}
		client := r.RemoteAddr
		if host, _, err := net.SplitHostPort(client); err == nil {
			client = host
		}
		if !s.wsPerClient.acquire(client, max) {
			http.Error(w, fmt.Sprintf("too many websockets from %s: the limit is %d (--max-websockets-per-client)", client, max), http.StatusTooManyRequests)
			return
		}
		defer s.wsPerClient.release(client)
		rc := http.NewResponseController(w)
		_ = rc.SetReadDeadline(time.Time{})
		_ = rc.SetWriteDeadline(time.Time{})
		next.ServeHTTP(w, r)
	})
}
