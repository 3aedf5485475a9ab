package hostile_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	coderws "github.com/coder/websocket"

	"google.golang.org/protobuf/types/known/timestamppb"

	discoveryv1 "github.com/kafmesh/kafmesh/api/discovery/v1"
	watchv1 "github.com/kafmesh/kafmesh/api/watch/v1"

	"github.com/kafmesh/kafmesh/internal/discovery"
	"github.com/kafmesh/kafmesh/internal/discovery/internal/meshtest"
	"github.com/kafmesh/kafmesh/internal/discovery/scrape"
	"github.com/kafmesh/kafmesh/internal/discovery/server"
	"github.com/kafmesh/kafmesh/internal/discovery/store/sqlite"
	"github.com/kafmesh/kafmesh/internal/discovery/targets"
	"github.com/kafmesh/kafmesh/internal/discovery/web"
)

// Limits the suite runs discover with: the defaults, except shorter
// timeouts so the slow attacks end in seconds.
var testLimits = server.Limits{ReadTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second, InitTimeout: time.Second}

// The bound on discover's peak memory through the whole suite (the issue's
// target), and on the growth one attack may cause (generous: tests assert
// the order of magnitude; the benchmarks measure).
const (
	peakBound   = 300 << 20
	growthBound = 64 << 20
)

// target is a discover running in-process on loopback with the example
// mesh (two devices pods and an alerts pod) scraped into SQLite.
type target struct {
	addr    string // host:port
	url     string // http://127.0.0.1:port
	devices []*meshtest.Target
}

func start(tb testing.TB) *target {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	devA, devB := meshtest.Serve(tb, meshtest.Devices()), meshtest.Serve(tb, meshtest.Devices())
	alerts := meshtest.Serve(tb, meshtest.Alerts())
	// A service of three pods with six sources: on it,
	// pods → sources → pods → … fans out 18-fold every two levels.
	wide := []*meshtest.Target{meshtest.Serve(tb, wideService()), meshtest.Serve(tb, wideService()), meshtest.Serve(tb, wideService())}
	st, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "discover.db"))
	if err != nil {
		tb.Fatal(err)
	}
	src, err := targets.NewStatic([]string{devA.Addr, devB.Addr, alerts.Addr, wide[0].Addr, wide[1].Addr, wide[2].Addr}, "")
	if err != nil {
		tb.Fatal(err)
	}
	svc := discovery.New(st,
		discovery.WithSources(src),
		discovery.WithScrapeOptions(scrape.WithInterval(time.Second)),
		discovery.WithServerOptions(append(web.ServerOptions(), server.WithHTTPLimits(testLimits))...),
	)
	addrc := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx, "127.0.0.1:0", func(a net.Addr) { addrc <- a }) }()
	var addr net.Addr
	select {
	case addr = <-addrc:
	case err := <-done:
		tb.Fatalf("discover stopped: %v", err)
	}
	tb.Cleanup(func() {
		cancel()
		<-done
		st.Close()
	})
	select {
	case <-svc.FirstRound():
	case <-time.After(20 * time.Second):
		tb.Fatal("no scrape round in 20 s")
	}
	return &target{addr: addr.String(), url: "http://" + addr.String(), devices: []*meshtest.Target{devA, devB}}
}

// peak samples the heap and stacks in use every 10 ms while running.
type peak struct {
	stop chan struct{}
	done chan struct{}
	max  atomic.Uint64
}

func inUse() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse + m.StackInuse
}

func watchPeak() *peak {
	p := &peak{stop: make(chan struct{}), done: make(chan struct{})}
	p.max.Store(inUse())
	go func() {
		defer close(p.done)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				if v := inUse(); v > p.max.Load() {
					p.max.Store(v)
				}
			}
		}
	}()
	return p
}

func (p *peak) end() uint64 {
	close(p.stop)
	<-p.done
	return p.max.Load()
}

// suitePeak is the largest in-use memory any attack reached.
var suitePeak atomic.Uint64

// bounded runs attack and fails the test when it takes longer than
// maxTime or makes memory in use grow by more than growthBound. It
// returns the time and the growth.
func bounded(t testing.TB, maxTime time.Duration, attack func()) (time.Duration, uint64) {
	t.Helper()
	runtime.GC()
	base := inUse()
	p := watchPeak()
	start := time.Now()
	attack()
	elapsed := time.Since(start)
	top := p.end()
	if top > suitePeak.Load() {
		suitePeak.Store(top)
	}
	growth := uint64(0)
	if top > base {
		growth = top - base
	}
	if elapsed > maxTime {
		t.Errorf("took %s, want at most %s", elapsed.Round(time.Millisecond), maxTime)
	}
	if growth > growthBound {
		t.Errorf("memory in use grew by %d MiB, want at most %d MiB", growth>>20, growthBound>>20)
	}
	t.Logf("time %s, memory growth %.1f MiB (peak %.1f MiB)", elapsed.Round(time.Millisecond), float64(growth)/(1<<20), float64(top)/(1<<20))
	return elapsed, growth
}

type gqlAnswer struct {
	status int
	Data   json.RawMessage `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
	raw string
}

func postQuery(t testing.TB, url, query string, headers map[string]string) gqlAnswer {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query})
	req, _ := http.NewRequest(http.MethodPost, url+"/query", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := gqlAnswer{status: resp.StatusCode, raw: string(b)}
	_ = json.Unmarshal(b, &a)
	return a
}

func (a gqlAnswer) refusedWith(t testing.TB, want string) {
	t.Helper()
	if len(a.Errors) == 0 || !strings.Contains(a.Errors[0].Message, want) {
		t.Fatalf("answer %d %.300s, want an error containing %q", a.status, a.raw, want)
	}
	if len(a.raw) > 4096 {
		t.Fatalf("refusal is %d bytes long", len(a.raw))
	}
}

// nested is `{ pods { sources { pods { sources … { id } } } } }`, levels
// fields deep: the list-multiplication query of the issue.
func nested(levels int) string {
	var b strings.Builder
	b.WriteString("{ ")
	for i := range levels - 1 {
		if i%2 == 0 {
			b.WriteString("pods { ")
		} else {
			b.WriteString("sources { ")
		}
	}
	b.WriteString("id")
	for range levels - 1 {
		b.WriteString(" }")
	}
	b.WriteString(" }")
	return b.String()
}

func TestHostileInput(t *testing.T) {
	d := start(t)

	t.Run("UIQueriesStillAnswer", func(t *testing.T) {
		a := postQuery(t, d.url, `{ services { id name dependsOn { id } pods { id name namespace healthy } components { id processors { id } } } pods { id healthy lastError } meshStatus { stale since error } }`, nil)
		if a.status != 200 || len(a.Errors) > 0 || !strings.Contains(string(a.Data), `"stale":false`) {
			t.Fatalf("map query: %d %s", a.status, a.raw)
		}
		a = postQuery(t, d.url, `{ pods(first: 1) { id } services(first: 5) { id } topics { id } }`, nil)
		if len(a.Errors) > 0 || strings.Count(string(a.Data), `"id"`) < 4 {
			t.Fatalf("paged query: %s", a.raw)
		}
	})

	t.Run("ListMultiplication", func(t *testing.T) {
		bounded(t, 5*time.Second, func() {
			postQuery(t, d.url, nested(14), nil).refusedWith(t, "more than the limit of 200000 (--max-query-complexity)")
		})
		// The same shape, shallow, answers.
		if a := postQuery(t, d.url, nested(4), nil); a.status != 200 || len(a.Errors) > 0 || !strings.Contains(string(a.Data), "Pod:") {
			t.Fatalf("shallow query: %s", a.raw)
		}
	})

	t.Run("TenThousandAliases", func(t *testing.T) {
		var b strings.Builder
		b.WriteString("{")
		for i := range 10_000 {
			fmt.Fprintf(&b, " a%d: services { name }", i)
		}
		b.WriteString(" }")
		bounded(t, 5*time.Second, func() {
			postQuery(t, d.url, b.String(), nil).refusedWith(t, "token limit")
		})
	})

	t.Run("DeepNesting", func(t *testing.T) {
		q := "{ services { " + strings.Repeat("components { service { ", 150) + "id" + strings.Repeat(" } }", 150) + " } }"
		bounded(t, 5*time.Second, func() {
			postQuery(t, d.url, q, nil).refusedWith(t, "more than the limit of 15")
		})
	})

	t.Run("FiftyMegabyteBody", func(t *testing.T) {
		bounded(t, 10*time.Second, func() {
			// With a Content-Length: refused before any of it is read.
			req, _ := http.NewRequest(http.MethodPost, d.url+"/query", io.LimitReader(zeros{}, 50<<20))
			req.ContentLength = 50 << 20
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(b), "limit of 1048576 bytes") {
					t.Errorf("50 MB body: %d %s", resp.StatusCode, b)
				}
			} // else: the server closed the connection while the client still wrote: refused too
			// Chunked, without a length: cut at the limit while reading.
			req, _ = http.NewRequest(http.MethodPost, d.url+"/query", io.MultiReader(strings.NewReader(`{"query":"`), io.LimitReader(spaces{}, 50<<20)))
			req.ContentLength = -1
			req.Header.Set("Content-Type", "application/json")
			resp, err = http.DefaultClient.Do(req)
			if err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode < 400 || len(b) > 4096 {
					t.Errorf("chunked 50 MB body: %d %.200s", resp.StatusCode, b)
				}
			}
		})
	})

	t.Run("SlowBody", func(t *testing.T) {
		bounded(t, testLimits.ReadTimeout+4*time.Second, func() {
			c, err := net.Dial("tcp", d.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			fmt.Fprintf(c, "POST /query HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{", d.addr)
			_ = c.SetReadDeadline(time.Now().Add(testLimits.ReadTimeout + 3*time.Second))
			_, err = io.ReadAll(c) // the server answers or closes once its read timeout passes
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Errorf("connection still open %s after the read timeout", 3*time.Second)
			}
		})
	})

	t.Run("WebsocketWithoutInit", func(t *testing.T) {
		bounded(t, testLimits.InitTimeout+3*time.Second, func() {
			ctx, cancel := context.WithTimeout(context.Background(), testLimits.InitTimeout+3*time.Second)
			defer cancel()
			conn, _, err := coderws.Dial(ctx, "ws://"+d.addr+"/query", &coderws.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
			if err != nil {
				t.Fatal(err)
			}
			defer conn.CloseNow()
			_, _, err = conn.Read(ctx)
			if coderws.CloseStatus(err) != coderws.StatusProtocolError || !strings.Contains(err.Error(), "initialisation timeout") {
				t.Errorf("websocket without connection_init: %v, want closed with an initialisation timeout", err)
			}
		})
	})

	t.Run("ThousandSubscriptionsFromOneClient", func(t *testing.T) {
		before := d.devices[0].Watchers() + d.devices[1].Watchers()
		bounded(t, 20*time.Second, func() {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			conn := dialInit(t, ctx, d.addr)
			defer conn.CloseNow()
			for i := range 1000 {
				msg := fmt.Sprintf(`{"id":"%d","type":"subscribe","payload":{"query":"subscription { watchProcessor(options: {processorId: \"Processor:devices/heartbeats/enricher\", key: \"k\"}) { startTime } }"}}`, i)
				if err := conn.Write(ctx, coderws.MessageText, []byte(msg)); err != nil {
					t.Fatal(err)
				}
			}
			refused := 0
			for refused < 1000-graphDefaultPerConn {
				_, b, err := conn.Read(ctx)
				if err != nil {
					t.Fatalf("after %d refusals: %v", refused, err)
				}
				if strings.Contains(string(b), "too many subscriptions on this connection: the limit is 20") {
					refused++
				}
			}
			// The accepted ones reached the services: at most 20 watch
			// streams per pod, not 1,000.
			time.Sleep(200 * time.Millisecond)
			for _, dev := range d.devices {
				if n := dev.Watchers(); n > graphDefaultPerConn+before {
					t.Errorf("%s has %d watch streams open", dev.Addr, n)
				}
			}
		})
	})

	t.Run("WebsocketOutlivesTheReadAndWriteTimeouts", func(t *testing.T) {
		// The server's read timeout must not cut a live watch: websockets
		// are exempt.
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		conn := dialInit(t, ctx, d.addr)
		defer conn.CloseNow()
		msg := `{"id":"live","type":"subscribe","payload":{"query":"subscription { watchProcessor(options: {processorId: \"Processor:devices/heartbeats/enricher\", key: \"late\"}) { input { value } } }"}}`
		if err := conn.Write(ctx, coderws.MessageText, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		for _, dev := range d.devices {
			dev.WaitWatchers(t, 1)
		}
		time.Sleep(testLimits.ReadTimeout + time.Second)
		d.devices[0].Emit("heartbeats", "enricher", "late", &watchv1.Operation{
			StartTime: timestamppb.Now(), EndTime: timestamppb.Now(),
			Input: &watchv1.Input{Topic: "t", Message: "m", Value: `{"late":true}`},
		})
		for {
			_, b, err := conn.Read(ctx)
			if err != nil {
				t.Fatalf("websocket after %s: %v", testLimits.ReadTimeout+time.Second, err)
			}
			if strings.Contains(string(b), `late`) {
				return
			}
		}
	})

	t.Run("WebsocketsPerClient", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		bounded(t, 10*time.Second, func() {
			var conns []*coderws.Conn
			defer func() {
				for _, c := range conns {
					c.CloseNow()
				}
			}()
			for range server.DefaultMaxWebsocketsPerClient {
				conns = append(conns, dialInit(t, ctx, d.addr))
			}
			_, resp, err := coderws.Dial(ctx, "ws://"+d.addr+"/query", &coderws.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
			if err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests {
				t.Fatalf("websocket past the per-client cap: %v %v", err, resp)
			}
		})
	})

	t.Run("HostAndOriginRebinding", func(t *testing.T) {
		_, port, _ := net.SplitHostPort(d.addr)
		evil := "evil.example:" + port
		bounded(t, 5*time.Second, func() {
			a := postQuery(t, d.url, `{ services { name } }`, map[string]string{"Host": evil, "Origin": "http://" + evil})
			if a.status != http.StatusForbidden || !strings.Contains(a.raw, "DNS rebinding") || strings.Contains(a.raw, "devices") {
				t.Errorf("rebound POST: %d %s", a.status, a.raw)
			}
			for _, path := range []string{"/", "/metrics"} {
				req, _ := http.NewRequest(http.MethodGet, d.url+path, nil)
				req.Host = evil
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusForbidden {
					t.Errorf("rebound GET %s: %d", path, resp.StatusCode)
				}
			}
			// The websocket upgrade with the rebound Host is refused
			// before any upgrade (no 101).
			c, err := net.Dial("tcp", d.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			fmt.Fprintf(c, "GET /query HTTP/1.1\r\nHost: %s\r\nOrigin: http://%s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n", evil, evil)
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("rebound websocket upgrade: %d", resp.StatusCode)
			}
			// A cross-site page on the right host: Go's cross-origin
			// protection refuses the POST.
			a = postQuery(t, d.url, `{ services { name } }`, map[string]string{"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"})
			if a.status != http.StatusForbidden {
				t.Errorf("cross-site POST: %d %s", a.status, a.raw)
			}
			// The documented addresses keep working.
			for _, host := range []string{"127.0.0.1:" + port, "localhost:" + port, "[::1]:" + port} {
				a := postQuery(t, d.url, `{ services { name } }`, map[string]string{"Host": host, "Origin": "http://" + host, "Sec-Fetch-Site": "same-origin"})
				if a.status != 200 || len(a.Errors) > 0 {
					t.Errorf("Host %s: %d %s", host, a.status, a.raw)
				}
			}
		})
	})

	t.Run("PeakMemory", func(t *testing.T) {
		if p := suitePeak.Load(); p > peakBound {
			t.Errorf("peak memory in use %d MiB, want under %d MiB", p>>20, peakBound>>20)
		}
		if hwm := peakRSS(); hwm > 0 {
			t.Logf("peak RSS of the test process (discover, its targets and the attackers): %d MiB", hwm>>20)
			if hwm > peakBound {
				t.Errorf("peak RSS %d MiB, want under %d MiB", hwm>>20, peakBound>>20)
			}
		}
	})
}

const graphDefaultPerConn = 20

// dialInit opens a graphql-transport-ws websocket and completes its
// connection_init.
func dialInit(t testing.TB, ctx context.Context, addr string) *coderws.Conn {
	t.Helper()
	conn, _, err := coderws.Dial(ctx, "ws://"+addr+"/query", &coderws.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		t.Fatal(err)
	}
	conn.SetReadLimit(1 << 20)
	if err := conn.Write(ctx, coderws.MessageText, []byte(`{"type":"connection_init","payload":{}}`)); err != nil {
		t.Fatal(err)
	}
	_, b, err := conn.Read(ctx)
	if err != nil || !strings.Contains(string(b), "connection_ack") {
		t.Fatalf("connection_init: %s %v", b, err)
	}
	return conn
}

// peakRSS is the process's peak resident set (VmHWM), 0 where unknown.
func peakRSS() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseUint(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// wideService has six sources, each writing its own topic.
func wideService() *discoveryv1.Service {
	var sources []*discoveryv1.Source
	for i := range 6 {
		sources = append(sources, &discoveryv1.Source{Topic: &discoveryv1.TopicDefinition{
			Topic: fmt.Sprintf("wide.t%d", i), Message: fmt.Sprintf("wide.M%d", i), Type: discoveryv1.TopicType_TOPIC_TYPE_PROTOBUF}})
	}
	return &discoveryv1.Service{Name: "wide", Components: []*discoveryv1.Component{{Name: "c", Sources: sources}}}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

type spaces struct{}

func (spaces) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	return len(p), nil
}
