package web_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/kafmesh/kafmesh/internal/discovery/web"
)

func get(t *testing.T, h http.Handler, method, path string, header map[string]string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, r *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestEmbeddedAssetsAreTheBuiltApp(t *testing.T) {
	index, err := fs.ReadFile(web.Assets(), "index.html")
	if err != nil {
		t.Fatal(err)
	}
	// index.html names app.js and app.css by content hash; both exist.
	for _, name := range []string{"app.js", "app.css"} {
		if !regexp.MustCompile(regexp.QuoteMeta(name) + `\?v=[0-9a-f]{12}"`).Match(index) {
			t.Errorf("index.html does not load %s with a content hash:\n%s", name, index)
		}
		b, err := fs.ReadFile(web.Assets(), name)
		if err != nil || len(b) < 1000 {
			t.Errorf("%s: %d bytes, %v", name, len(b), err)
		}
	}
}

func TestHandlerServesTheSinglePageApp(t *testing.T) {
	h := web.Handler()
	for _, path := range []string{"/", "/index.html", "/service/deep/link"} {
		r := get(t, h, "GET", path, nil)
		if r.StatusCode != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") || !strings.Contains(body(t, r), `<main id="page"`) {
			t.Errorf("GET %s: %d %s", path, r.StatusCode, r.Header.Get("Content-Type"))
		}
	}
	r := get(t, h, "GET", "/app.js", nil)
	if r.StatusCode != 200 || !strings.Contains(r.Header.Get("Content-Type"), "javascript") {
		t.Errorf("app.js: %d %s", r.StatusCode, r.Header.Get("Content-Type"))
	}
	if csp := r.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "connect-src 'self'") {
		t.Errorf("CSP %q", csp)
	}
	if r := get(t, h, "GET", "/missing.js", nil); r.StatusCode != 404 {
		t.Errorf("missing asset: %d, want 404", r.StatusCode)
	}
	if r := get(t, h, "POST", "/", nil); r.StatusCode != 405 {
		t.Errorf("POST /: %d, want 405", r.StatusCode)
	}
}

func TestHandlerRevalidatesAndCompresses(t *testing.T) {
	h := web.Handler()
	plain := get(t, h, "GET", "/app.js", nil)
	js := body(t, plain)
	etag := plain.Header.Get("ETag")
	if etag == "" || plain.Header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("ETag %q, Cache-Control %q", etag, plain.Header.Get("Cache-Control"))
	}
	if r := get(t, h, "GET", "/app.js", map[string]string{"If-None-Match": etag}); r.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match: %d, want 304", r.StatusCode)
	}
	z := get(t, h, "GET", "/app.js", map[string]string{"Accept-Encoding": "br, gzip;q=0.8"})
	if z.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Encoding %q", z.Header.Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(bytes.NewReader([]byte(body(t, z))))
	if err != nil {
		t.Fatal(err)
	}
	unzipped, err := io.ReadAll(zr)
	if err != nil || string(unzipped) != js {
		t.Errorf("gzip body does not decode to app.js (%v)", err)
	}
	if head := get(t, h, "HEAD", "/app.js", nil); head.Header.Get("Content-Length") == "" || body(t, head) != "" {
		t.Errorf("HEAD: length %q", head.Header.Get("Content-Length"))
	}
}
