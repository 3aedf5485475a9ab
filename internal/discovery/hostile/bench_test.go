package hostile_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	coderws "github.com/coder/websocket"
)

// BenchmarkHostile measures each attack against a real discover: the time
// until discover refused it (ns/op) and the largest growth of discover's
// memory in use (heap and stacks) while it ran (peak-MiB). The figures go
// in docs/benchmarks.md.
func BenchmarkHostile(b *testing.B) {
	d := start(b)
	var aliases strings.Builder
	aliases.WriteString("{")
	for i := range 10_000 {
		fmt.Fprintf(&aliases, " a%d: services { name }", i)
	}
	aliases.WriteString(" }")
	deep := "{ services { " + strings.Repeat("components { service { ", 150) + "id" + strings.Repeat(" } }", 150) + " } }"
	attacks := []struct {
		name string
		run  func(b *testing.B)
	}{
		{"ListMultiplication14Levels", func(b *testing.B) { postQuery(b, d.url, nested(14), nil).refusedWith(b, "--max-query-complexity") }},
		{"TenThousandAliases", func(b *testing.B) { postQuery(b, d.url, aliases.String(), nil).refusedWith(b, "token limit") }},
		{"Nesting300Levels", func(b *testing.B) { postQuery(b, d.url, deep, nil).refusedWith(b, "limit of 15") }},
		{"FiftyMegabyteBody", func(b *testing.B) {
			req, _ := http.NewRequest(http.MethodPost, d.url+"/query", io.LimitReader(zeros{}, 50<<20))
			req.ContentLength = 50 << 20
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
		}},
		{"EightFiftyMegabyteBodiesAtOnce", func(b *testing.B) {
			done := make(chan struct{}, 8)
			for range 8 {
				go func() {
					defer func() { done <- struct{}{} }()
					req, _ := http.NewRequest(http.MethodPost, d.url+"/query", io.LimitReader(zeros{}, 50<<20))
					req.ContentLength = -1 // chunked: cut while reading
					if resp, err := http.DefaultClient.Do(req); err == nil {
						resp.Body.Close()
					}
				}()
			}
			for range 8 {
				<-done
			}
		}},
		{"SlowBody", func(b *testing.B) {
			c, err := net.Dial("tcp", d.addr)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			fmt.Fprintf(c, "POST /query HTTP/1.1\r\nHost: %s\r\nContent-Length: 100000\r\n\r\n{", d.addr)
			_, _ = io.ReadAll(c)
		}},
		{"WebsocketWithoutInit", func(b *testing.B) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			conn, _, err := coderws.Dial(ctx, "ws://"+d.addr+"/query", &coderws.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
			if err != nil {
				b.Fatal(err)
			}
			defer conn.CloseNow()
			_, _, _ = conn.Read(ctx)
		}},
		{"ThousandSubscriptionsOneClient", func(b *testing.B) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			conn := dialInit(b, ctx, d.addr)
			defer conn.CloseNow()
			for i := range 1000 {
				msg := fmt.Sprintf(`{"id":"%d","type":"subscribe","payload":{"query":"subscription { watchProcessor(options: {processorId: \"Processor:devices/heartbeats/enricher\", key: \"k\"}) { startTime } }"}}`, i)
				if err := conn.Write(ctx, coderws.MessageText, []byte(msg)); err != nil {
					b.Fatal(err)
				}
			}
			for refused := 0; refused < 1000-graphDefaultPerConn; {
				_, m, err := conn.Read(ctx)
				if err != nil {
					b.Fatal(err)
				}
				if strings.Contains(string(m), "too many subscriptions") {
					refused++
				}
			}
		}},
		{"RebindingHost", func(b *testing.B) {
			a := postQuery(b, d.url, `{ services { name } }`, map[string]string{"Host": "evil.example", "Origin": "http://evil.example"})
			if a.status != http.StatusForbidden {
				b.Fatalf("status %d", a.status)
			}
		}},
	}
	for _, at := range attacks {
		b.Run(at.name, func(b *testing.B) {
			runtime.GC()
			base := inUse()
			p := watchPeak()
			b.ResetTimer()
			for range b.N {
				at.run(b)
			}
			b.StopTimer()
			top := p.end()
			growth := 0.0
			if top > base {
				growth = float64(top-base) / (1 << 20)
			}
			b.ReportMetric(growth, "peak-MiB")
		})
	}
	if hwm := peakRSS(); hwm > 0 {
		b.Logf("peak RSS of the benchmark process: %d MiB", hwm>>20)
	}
}
