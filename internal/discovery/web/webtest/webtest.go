// Package webtest drives the kafmesh web UI in a real headless Chromium
// for tests (chromedp): start a browser, open pages, read the graph the UI
// draws, click its nodes, collect the page's errors, save screenshots.
//
// Tests skip, saying how to install it, when there is no Chromium
// (KAFMESH_TEST_CHROMIUM, or chromium on PATH); a browser is never
// downloaded.
package webtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// ChromiumPath returns the browser the tests drive: KAFMESH_TEST_CHROMIUM,
// else a chromium on PATH. Without one the test is skipped, never a
// browser downloaded.
func ChromiumPath(tb testing.TB) string {
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

// Browser is a headless Chromium tab, with every error the page reported.
type Browser struct {
	ctx context.Context

	mu     sync.Mutex
	errors []string
}

// NewBrowser starts headless Chromium with the flags that work on this
// project's machines (as root, no network but loopback) and a fresh
// profile. extraFlags are added (e.g. ignore-certificate-errors).
func NewBrowser(tb testing.TB, extraFlags ...chromedp.ExecAllocatorOption) *Browser {
	tb.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(ChromiumPath(tb)),
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
	b := &Browser{}
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
func (b *Browser) listen(ev any) {
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

func (b *Browser) addError(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.errors = append(b.errors, s)
}

// PageErrors returns what the page reported as errors: exceptions,
// console.error, and errors the UI itself caught.
func (b *Browser) PageErrors(tb testing.TB) []string {
	tb.Helper()
	caught, _ := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](`window.kafmeshUI ? window.kafmeshUI.errors : []`))
	b.mu.Lock()
	defer b.mu.Unlock()
	return append(append([]string(nil), b.errors...), caught...)
}

// NoPageErrors fails the test if the page reported any error.
func (b *Browser) NoPageErrors(tb testing.TB) {
	tb.Helper()
	if errs := b.PageErrors(tb); len(errs) > 0 {
		tb.Errorf("the page reported errors:\n%s", strings.Join(errs, "\n"))
	}
}

// Do runs actions with a deadline, failing the test with what.
func (b *Browser) Do(tb testing.TB, what string, actions ...chromedp.Action[chromedp.Void]) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tb.Fatalf("%s: %v", what, err)
	}
}

// Eval evaluates a JavaScript expression in the page.
func Eval[T any](tb testing.TB, b *Browser, expr string) T {
	tb.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		tb.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// Open navigates to url (a new page, or only a new route of the same
// page) and waits until the UI has drawn it.
func (b *Browser) Open(tb testing.TB, url string) {
	tb.Helper()
	before := b.drawn(tb)
	b.Do(tb, "open "+url, chromedp.Navigate(url))
	b.WaitFor(tb, "the page at "+url, newRouteReady(before), 20*time.Second)
}

// drawn names the route the UI drew last: its page load and route count.
func (b *Browser) drawn(tb testing.TB) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	s, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`window.kafmeshUI ? window.kafmeshUI.load + "/" + window.kafmeshUI.renders : ""`))
	return s
}

// newRouteReady holds once the UI drew a route other than before.
func newRouteReady(before string) string {
	return fmt.Sprintf(`window.kafmeshUI && window.kafmeshUI.ready && (window.kafmeshUI.load + "/" + window.kafmeshUI.renders) !== %q`, before)
}

// WaitFor waits until a JavaScript condition holds, failing after
// timeout. It evaluates the condition every 20 ms, so it rides over page
// loads (an evaluation in a page that is going away just fails and is
// tried again).
func (b *Browser) WaitFor(tb testing.TB, what, cond string, timeout time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	var last error
	for {
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`!!(`+cond+`)`))
		cancel()
		if err == nil && ok {
			return
		}
		if err != nil {
			last = err
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s: %s did not hold within %s (last error: %v)", what, cond, timeout, last)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Graph is what window.kafmeshUI.graph() reports.
type Graph struct {
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

func (g Graph) Node(id string) (label string, classes []string, ok bool) {
	for _, n := range g.Nodes {
		if n.ID == id {
			return n.Label, n.Classes, true
		}
	}
	return "", nil, false
}

func (g Graph) NodeIDs() []string {
	var ids []string
	for _, n := range g.Nodes {
		ids = append(ids, n.ID)
	}
	return ids
}

func (g Graph) HasEdge(source, target, kind string) bool {
	for _, e := range g.Edges {
		if e.Source == source && e.Target == target && e.Kind == kind {
			return true
		}
	}
	return false
}

func (b *Browser) Graph(tb testing.TB) Graph {
	tb.Helper()
	return Eval[Graph](tb, b, `window.kafmeshUI.graph() || {nodes: [], edges: []}`)
}

// ClickNode clicks a graph node where it is drawn on the canvas, as a user
// would, and waits for the page it leads to.
func (b *Browser) ClickNode(tb testing.TB, id string) {
	tb.Helper()
	p := Eval[*struct{ X, Y float64 }](tb, b, fmt.Sprintf(`window.kafmeshUI.nodePoint(%q)`, id))
	if p == nil {
		tb.Fatalf("node %s is not on the page", id)
	}
	before := b.drawn(tb)
	b.Do(tb, "click node "+id, chromedp.MouseClickXY(p.X, p.Y))
	b.WaitFor(tb, "the page after clicking "+id, newRouteReady(before), 10*time.Second)
}

// Text returns the text of the first element matching a CSS selector.
func (b *Browser) Text(tb testing.TB, sel string) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS(sel)))
	if err != nil {
		tb.Fatalf("read %s: %v", sel, err)
	}
	return s
}

// Screenshot saves the whole page to <ArtifactDir>/<name>.png and logs
// the path.
func (b *Browser) Screenshot(tb testing.TB, name string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		tb.Fatalf("screenshot %s: %v", name, err)
	}
	dir, err := ArtifactDir()
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

// ArtifactDir is where screenshots go: $KAFMESH_ARTIFACTS/ui when that is
// set, else artifacts/ui at the root of the repository (the folder of the
// kafmesh go.mod above the working directory; git ignores /artifacts/).
func ArtifactDir() (string, error) {
	if d := os.Getenv("KAFMESH_ARTIFACTS"); d != "" {
		return filepath.Join(d, "ui"), nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.HasPrefix(string(b), "module github.com/kafmesh/kafmesh\n") {
			return filepath.Join(dir, "artifacts", "ui"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no kafmesh go.mod above the working directory; set KAFMESH_ARTIFACTS")
		}
		dir = parent
	}
}
