package cli

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kafmesh/kafmesh/internal/discovery/internal/meshtest"
)

// kafmesh discover scrapes a real service that requires mutual TLS and a
// bearer token when given --target-ca, --target-cert, --target-key and
// --target-token-file (the variables work alike); without the token the
// pod shows as failing, saying why.
func TestDiscoverTargetsWithClientCertAndToken(t *testing.T) {
	sec := meshtest.ServeSecure(t, nil)
	dir := t.TempDir()
	args := func(store string, extra ...string) []string {
		return append([]string{"--listen", "127.0.0.1:0", "--store", filepath.Join(dir, store), "--scrape-interval", "200ms",
			"--timeout", "2s", "--target", sec.Addr, "--target-ca", sec.CA, "--target-cert", sec.ClientCert, "--target-key", sec.ClientKey}, extra...)
	}
	url, _ := discover(t, args("ok.db", "--target-token-file", sec.TokenFile)...)
	if m := waitMesh(t, url, 1); m.Services[0].Name != "vault" || len(m.Pods) != 1 || !m.Pods[0].Healthy {
		t.Fatalf("with every credential: %+v", m)
	}

	url, _ = discover(t, args("no-token.db")...)
	deadline := time.Now().Add(20 * time.Second)
	for {
		var m meshView
		gql(t, url, meshQuery, &m)
		if len(m.Pods) == 1 && m.Pods[0].LastError != nil {
			if m.Pods[0].Healthy || len(m.Services) != 0 || !strings.Contains(*m.Pods[0].LastError, "Unauthenticated") {
				t.Fatalf("without the token: %+v (error %q)", m, *m.Pods[0].LastError)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("without the token no failing pod recorded: %+v", m)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
