package web_test

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/kafmesh/kafmesh/internal/discovery/web"
)

// The embedded UI carries the licence notices of the npm packages bundled
// into app.js (build.mjs writes them; build.sh --check keeps them current),
// and serves them beside the app.
func TestThirdPartyNotices(t *testing.T) {
	b, err := fs.ReadFile(web.Assets(), "THIRD_PARTY_NOTICES.txt")
	if err != nil {
		t.Fatalf("dist has no THIRD_PARTY_NOTICES.txt: %v", err)
	}
	notices := string(b)
	for _, pkg := range []string{"cytoscape ", "@dagrejs/dagre ", "@dagrejs/graphlib "} {
		if !strings.Contains(notices, "\n"+pkg) {
			t.Errorf("no notice for %s", pkg)
		}
	}
	if n := strings.Count(notices, "Permission is hereby granted"); n < 3 {
		t.Errorf("%d MIT licence texts, want one per package", n)
	}
	rec := httptest.NewRecorder()
	web.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/THIRD_PARTY_NOTICES.txt", nil))
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain") || rec.Body.String() != notices {
		t.Errorf("GET /THIRD_PARTY_NOTICES.txt: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
}
