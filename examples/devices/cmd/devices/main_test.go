package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// selfSigned returns a PEM certificate and key for localhost.
func selfSigned(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		NotBefore:    time.Now().Add(-time.Minute),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
}

func TestSecurityFlags(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	token := write("token", "  s3cret\n")
	empty := write("empty", "\n")

	certPEM, keyPEM := selfSigned(t)
	cert := write("cert.pem", string(certPEM))
	key := write("key.pem", string(keyPEM))
	sec, err := security(token, cert, key)
	if err != nil || len(sec.options) != 1 || len(sec.serverOptions) != 1 {
		t.Errorf("token and TLS: %d runner options, %d server options, err %v; want 1, 1, nil", len(sec.options), len(sec.serverOptions), err)
	}
	sec, err = security(token, "", "")
	if err != nil || len(sec.options) != 1 || len(sec.serverOptions) != 0 {
		t.Errorf("token only: %d runner options, %d server options, err %v; want 1, 0, nil", len(sec.options), len(sec.serverOptions), err)
	}
	for _, c := range []struct{ token, cert, key, want string }{
		{empty, "", "", "is empty"},
		{filepath.Join(dir, "missing"), "", "", "--watch-token-file"},
		{"", token, "", "go together"},
		{"", token, token, "--tls-cert/--tls-key"},
	} {
		if _, err := security(c.token, c.cert, c.key); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("security(%q, %q, %q) = %v; want an error with %q", c.token, c.cert, c.key, err, c.want)
		}
	}
}
