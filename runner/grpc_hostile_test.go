package runner_test

import (
	"context"
	"fmt"
	"regexp"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/kafmesh/kafmesh/runner"
)

// Hostile Watch calls against a service that requires a token: 2,000
// calls without a token or with a wrong one, from 20 connections at once,
// are all refused with Unauthenticated, fast, and the log does not grow
// with them (a few lines a second, the rest counted); 300 streams held
// open by one authenticated caller get its allowance and the rest
// ResourceExhausted. Goroutines and heap come back to where they were.
// The bounds are generous (a shared 2-core machine); the figures are
// logged.
func TestHostileWatchCalls(t *testing.T) {
	const token = "hostile-test-token"
	addr, logs := guardedService(t, nil, runner.WithWatchToken(token))
	conns := make([]*grpc.ClientConn, 20)
	for i := range conns {
		conns[i] = dial(t, addr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// Warm the connections, then measure.
	for _, c := range conns {
		if err := ping(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	goroutines, heap := settle()

	const calls = 2000
	start := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	codesSeen := map[codes.Code]int{}
	for w, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < calls; i += len(conns) {
				cctx := ctx
				if i%2 == 1 {
					cctx = withToken(ctx, fmt.Sprintf("guess-%d", i))
				}
				err := startWatch(cctx, c, "k")
				mu.Lock()
				codesSeen[status.Code(err)]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)
	if codesSeen[codes.Unauthenticated] != calls {
		t.Fatalf("unauthenticated calls answered %v, want %d Unauthenticated", codesSeen, calls)
	}
	// One more refusal in a later second reports the count of the last.
	time.Sleep(1100 * time.Millisecond)
	_ = startWatch(ctx, conns[0], "k")
	logged := len(logs.lines(`msg="gRPC call refused"`))
	counted := 0
	for _, m := range regexp.MustCompile(`not logged one by one" service=guarded count=(\d+)`).FindAllStringSubmatch(logs.String(), -1) {
		n, _ := strconv.Atoi(m[1])
		counted += n
	}
	if logged+counted != calls+1 {
		t.Errorf("%d refusals logged and %d counted, want %d in all", logged, counted, calls+1)
	}
	if limit := 10 * (int(took/time.Second) + 3); logged > limit {
		t.Errorf("%d refusals logged one by one in %s, want at most %d", logged, took, limit)
	}
	if took > time.Minute {
		t.Errorf("%d refused calls took %s", calls, took)
	}

	// One authenticated caller opens 300 streams and holds them.
	const held = 300
	hold, release := context.WithCancel(withToken(ctx, token))
	admitted, exhausted := 0, 0
	for i := range held {
		err := startWatch(hold, conns[i%len(conns)], fmt.Sprintf("k%d", i))
		switch status.Code(err) {
		case codes.OK:
			admitted++
		case codes.ResourceExhausted:
			exhausted++
		default:
			t.Fatalf("stream %d: %v", i, err)
		}
	}
	if admitted != runner.DefaultWatchStreamsPerCaller || exhausted != held-admitted {
		t.Errorf("%d streams admitted and %d refused, want %d admitted (the allowance per caller)", admitted, exhausted, runner.DefaultWatchStreamsPerCaller)
	}
	release()

	g2, heap2 := settle()
	t.Logf("%d refused Watch calls in %s (%.0f/s); %d logged one by one, %d counted; goroutines %d -> %d, heap %.1f -> %.1f MB",
		calls, took.Round(time.Millisecond), float64(calls)/took.Seconds(), logged, counted, goroutines, g2, float64(heap)/(1<<20), float64(heap2)/(1<<20))
	if g2 > goroutines+20 {
		t.Errorf("goroutines %d after the flood, %d before", g2, goroutines)
	}
	if heap2 > heap+64<<20 {
		t.Errorf("heap %.1f MB after the flood, %.1f MB before", float64(heap2)/(1<<20), float64(heap)/(1<<20))
	}
}

// settle waits until the goroutine count stops falling, collects garbage
// and returns the goroutine count and the heap in use.
func settle() (goroutines int, heap uint64) {
	prev := -1
	for i := 0; i < 50; i++ {
		n := runtime.NumGoroutine()
		if n == prev {
			break
		}
		prev = n
		time.Sleep(100 * time.Millisecond)
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return runtime.NumGoroutine(), ms.HeapAlloc
}
