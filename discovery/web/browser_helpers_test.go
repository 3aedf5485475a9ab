package web_test

import (
	"context"
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/kafmesh/kafmesh/discovery"
	"github.com/kafmesh/kafmesh/discovery/scrape"
	"github.com/kafmesh/kafmesh/discovery/server"
	"github.com/kafmesh/kafmesh/discovery/store/sqlite"
	"github.com/kafmesh/kafmesh/discovery/targets"
	"github.com/kafmesh/kafmesh/discovery/web"
)

// chromiumPath returns the browser the tests drive: KAFMESH_TEST_CHROMIUM,
// else a chromium on PATH. Without one the test is skipped, never a
// browser downloaded.
func chromiumPath(tb testing.TB) string {
	tb.Helper()
	if p := os.Getenv("KAFMESH_TEST_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	tb.Skip("no Chromium: set KAFMESH_TEST_CHROMIUM=/usr/bin/chromium or run scripts/chromium.sh install (browser tests run in scripts/test.sh and .ci/run)")
	return ""
}

// browser is a headless Chromium tab, with every error the page reported.
type browser struct {
	ctx context.Context

	mu     sync.Mutex
	errors []string
}

// newBrowser starts headless Chromium with the flags that work on this
// project's machines (as root, no network but loopback) and a fresh
// profile. extraFlags are added (e.g. ignore-certificate-errors).
func newBrowser(tb testing.TB, extraFlags ...chromedp.ExecAllocatorOption) *browser {
	tb.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath(tb)),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(tb.TempDir()),
		chromedp.WindowSize(1400, 900),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), append(opts, extraFlags...)...)
	b := &browser{}
	ctx, cancel := chromedp.NewContext(allocCtx, chromedp.WithListener(b.listen))
	b.ctx = ctx
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		cancelAlloc()
		tb.Fatalf("starting Chromium: %v", err)
	}
	tb.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	return b
}

// listen records exceptions and console errors of the page.
func (b *browser) listen(ev any) {
	switch ev := ev.(type) {
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		msg := d.Text
		if d.Exception != nil {
			msg += " " + d.Exception.Description
		}
		b.addError(fmt.Sprintf("exception at %s:%d:%d: %s", d.URL, d.LineNumber+1, d.ColumnNumber+1, msg))
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError {
			var parts []string
			for _, a := range ev.Args {
				parts = append(parts, string(a.Value)+a.Description)
			}
			b.addError("console.error: " + strings.Join(parts, " "))
		}
	}
}

func (b *browser) addError(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.errors = append(b.errors, s)
}

// pageErrors returns what the page reported as errors: exceptions,
// console.error, and errors the UI itself caught.
func (b *browser) pageErrors(tb testing.TB) []string {
	tb.Helper()
	caught, _ := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](`window.kafmeshUI ? window.kafmeshUI.errors : []`))
	b.mu.Lock()
	defer b.mu.Unlock()
	return append(append([]string(nil), b.errors...), caught...)
}

// noPageErrors fails the test if the page reported any error.
func (b *browser) noPageErrors(tb testing.TB) {
	tb.Helper()
	if errs := b.pageErrors(tb); len(errs) > 0 {
		tb.Errorf("the page reported errors:\n%s", strings.Join(errs, "\n"))
	}
}

// do runs actions with a deadline, failing the test with what.
func (b *browser) do(tb testing.TB, what string, actions ...chromedp.Action[chromedp.Void]) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tb.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](tb testing.TB, b *browser, expr string) T {
	tb.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		tb.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// open navigates to url and waits until the page says it is ready.
func (b *browser) open(tb testing.TB, url string) {
	tb.Helper()
	b.do(tb, "open "+url, chromedp.Navigate(url), waitReady())
}

// waitReady waits for the UI to finish drawing the current route.
func waitReady() chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](`window.kafmeshUI && window.kafmeshUI.ready`, chromedp.WithPollingInterval(20*time.Millisecond))
}

// waitFor waits until a JavaScript condition holds, failing after timeout.
func (b *browser) waitFor(tb testing.TB, what, cond string, timeout time.Duration) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout+5*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Poll[chromedp.Void](cond, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(timeout))); err != nil {
		tb.Fatalf("%s (waited %s for %s): %v", what, timeout, cond, err)
	}
}

// uiGraph is what window.kafmeshUI.graph() reports.
type uiGraph struct {
	Nodes []struct {
		ID      string   `json:"id"`
		Label   string   `json:"label"`
		Classes []string `json:"classes"`
	} `json:"nodes"`
	Edges []struct {
		Source string `json:"source"`
		Target string `json:"target"`
		Kind   string `json:"kind"`
	} `json:"edges"`
}

func (g uiGraph) node(id string) (label string, classes []string, ok bool) {
	for _, n := range g.Nodes {
		if n.ID == id {
			return n.Label, n.Classes, true
		}
	}
	return "", nil, false
}

func (g uiGraph) nodeIDs() []string {
	var ids []string
	for _, n := range g.Nodes {
		ids = append(ids, n.ID)
	}
	return ids
}

func (g uiGraph) hasEdge(source, target, kind string) bool {
	for _, e := range g.Edges {
		if e.Source == source && e.Target == target && e.Kind == kind {
			return true
		}
	}
	return false
}

func (b *browser) graph(tb testing.TB) uiGraph {
	tb.Helper()
	return eval[uiGraph](tb, b, `window.kafmeshUI.graph() || {nodes: [], edges: []}`)
}

// clickNode clicks a graph node where it is drawn on the canvas, as a user
// would, and waits for the page it leads to.
func (b *browser) clickNode(tb testing.TB, id string) {
	tb.Helper()
	p := eval[*struct{ X, Y float64 }](tb, b, fmt.Sprintf(`window.kafmeshUI.nodePoint(%q)`, id))
	if p == nil {
		tb.Fatalf("node %s is not on the page", id)
	}
	b.do(tb, "click node "+id, chromedp.MouseClickXY(p.X, p.Y))
	b.waitFor(tb, "the page after clicking "+id, `window.kafmeshUI.ready && window.kafmeshUI.page !== "map"`, 10*time.Second)
}

// text returns the text of the first element matching a CSS selector.
func (b *browser) text(tb testing.TB, sel string) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS(sel)))
	if err != nil {
		tb.Fatalf("read %s: %v", sel, err)
	}
	return s
}

// screenshot saves the whole page to artifacts/ui/<name>.png at the
// repository root and logs the path.
func (b *browser) screenshot(tb testing.TB, name string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		tb.Fatalf("screenshot %s: %v", name, err)
	}
	dir, err := filepath.Abs(filepath.Join("..", "..", "artifacts", "ui"))
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		tb.Fatal(err)
	}
	tb.Logf("screenshot: %s", path)
}

// startDiscovery runs discovery (SQLite store, static targets, scraping
// every 200 ms) with the UI mounted, and returns its base URL once the
// first scrape round is done.
func startDiscovery(tb testing.TB, addrs ...string) string {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	st, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "discover.db"))
	if err != nil {
		tb.Fatal(err)
	}
	static, err := targets.NewStatic(addrs, "")
	if err != nil {
		tb.Fatal(err)
	}
	svc := discovery.New(st,
		discovery.WithSources(static),
		discovery.WithScrapeOptions(scrape.WithInterval(200*time.Millisecond), scrape.WithTimeout(2*time.Second)),
		discovery.WithSnapshotMaxAge(200*time.Millisecond),
		discovery.WithServerOptions(web.ServerOptions()...),
	)
	bound := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx, "127.0.0.1:0", func(a net.Addr) { bound <- a }) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("discovery: %v", err)
		}
		_ = st.Close()
	})
	var addr net.Addr
	select {
	case addr = <-bound:
	case err := <-done:
		tb.Fatalf("discovery did not start: %v", err)
	}
	select {
	case <-svc.FirstRound():
	case <-time.After(10 * time.Second):
		tb.Fatal("no scrape round within 10 s")
	}
	return "http://" + addr.String()
}

// startTLSServer serves discovery's handler over https (a self-signed
// certificate), for the wss: path of the live watch.
func startTLSServer(tb testing.TB, srv *server.Server) string {
	tb.Helper()
	ts := httptest.NewUnstartedServer(srv.Handler())
	ts.StartTLS()
	tb.Cleanup(ts.Close)
	return ts.URL
}
