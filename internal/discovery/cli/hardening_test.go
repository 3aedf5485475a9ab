package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kafmesh/kafmesh/internal/discovery/internal/meshtest"
	"github.com/kafmesh/kafmesh/internal/testcert"
)

// discover over HTTPS with --tls-cert/--tls-key, answering only the hosts
// it is reachable as: IP addresses, localhost and --allowed-hosts.
func TestDiscoverServesHTTPSAndChecksTheHost(t *testing.T) {
	cert, certPEM := testcert.SelfSigned(t)
	keyDER, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	devices := meshtest.Serve(t, meshtest.Devices())
	url, _ := discover(t, "--listen", "127.0.0.1:0", "--store", filepath.Join(dir, "m.db"), "--target", devices.Addr,
		"--tls-cert", certFile, "--tls-key", keyFile, "--allowed-hosts", "discover.corp.example,*.mesh.example")
	url = "https://" + strings.TrimPrefix(url, "http://")
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(certPEM)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "localhost"}}}
	status := func(host string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, url+"/query", strings.NewReader(`{"query":"{ services { name } }"}`))
		req.Header.Set("Content-Type", "application/json")
		if host != "" {
			req.Host = host
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for host, want := range map[string]int{
		"": 200, "localhost": 200, "discover.corp.example": 200, "ui.mesh.example:443": 200,
		"evil.example": 403, "discover.corp.example.evil.example": 403, "mesh.example": 403,
	} {
		if code, body := status(host); code != want {
			t.Errorf("Host %q: %d %s, want %d", host, code, body, want)
		}
	}
}

func TestTLSFlagsGoTogether(t *testing.T) {
	cmd := NewCommand(io.Discard)
	cmd.SetArgs([]string{"--target", "a:1", "--store", filepath.Join(t.TempDir(), "m.db"), "--tls-cert", "x.pem"})
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	if err := cmd.ExecuteContext(context.Background()); err == nil || !strings.Contains(err.Error(), "--tls-cert and --tls-key go together") {
		t.Fatalf("err %v", err)
	}
}

func TestKubernetesServiceNames(t *testing.T) {
	got := serviceHosts("kafmesh-discover", "kafmesh")
	want := []string{"kafmesh-discover", "kafmesh-discover.kafmesh", "kafmesh-discover.kafmesh.svc", "kafmesh-discover.kafmesh.svc.cluster.local"}
	if !slices.Equal(got, want) {
		t.Fatalf("service hosts %v", got)
	}
	if got := serviceHosts("d", ""); !slices.Equal(got, []string{"d"}) {
		t.Fatalf("without a namespace: %v", got)
	}
}
