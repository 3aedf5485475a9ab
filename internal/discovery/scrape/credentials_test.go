package scrape_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/kafmesh/kafmesh/internal/discovery/internal/meshtest"
	"github.com/kafmesh/kafmesh/internal/discovery/scrape"
	"github.com/kafmesh/kafmesh/internal/discovery/targets"
)

// A real kafmesh service that requires mutual TLS and a bearer token on
// every API is scraped with discover's client certificate and token (the
// token read from a file); each missing or wrong credential leaves the
// target failing with the reason, and nothing of it in the store.
func TestScrapeTargetRequiringMutualTLSAndToken(t *testing.T) {
	sec := meshtest.ServeSecure(t, nil)
	wrongToken := filepath.Join(t.TempDir(), "wrong")
	if err := os.WriteFile(wrongToken, []byte("guess"), 0o600); err != nil {
		t.Fatal(err)
	}
	full := scrape.Credentials{CAFile: sec.CA, CertFile: sec.ClientCert, KeyFile: sec.ClientKey, TokenFile: sec.TokenFile}
	for name, c := range map[string]struct {
		creds scrape.Credentials
		code  codes.Code
		text  string
	}{
		"plaintext":          {scrape.Credentials{}, codes.Unavailable, ""},
		"no client cert":     {scrape.Credentials{CAFile: sec.CA, Token: sec.Token}, codes.Unavailable, ""}, // "certificate required" or a broken pipe, by timing
		"a stranger's cert":  {scrape.Credentials{CAFile: sec.CA, CertFile: sec.StrangerCert, KeyFile: sec.StrangerKey, Token: sec.Token}, codes.Unavailable, ""},
		"no token":           {scrape.Credentials{CAFile: sec.CA, CertFile: sec.ClientCert, KeyFile: sec.ClientKey}, codes.Unauthenticated, "no bearer token"},
		"a wrong token":      {scrape.Credentials{CAFile: sec.CA, CertFile: sec.ClientCert, KeyFile: sec.ClientKey, TokenFile: wrongToken}, codes.Unauthenticated, "not accepted"},
		"every credential":   {full, codes.OK, ""},
		"the token verbatim": {scrape.Credentials{CAFile: sec.CA, CertFile: sec.ClientCert, KeyFile: sec.ClientKey, Token: sec.Token}, codes.OK, ""},
	} {
		t.Run(strings.ReplaceAll(name, " ", "_"), func(t *testing.T) {
			opts, err := c.creds.DialOptions()
			if err != nil {
				t.Fatal(err)
			}
			st := openStore(t)
			src := &listSource{}
			src.set(nil, sec.Addr)
			r := scrape.New(st, []targets.Source{src}, scrape.WithTimeout(3*time.Second), scrape.WithDialOptions(opts...)).Round(context.Background())
			res := result(t, r, sec.Addr)
			if status.Code(res.Err) != c.code || (c.text != "" && !strings.Contains(res.Err.Error(), c.text)) {
				t.Fatalf("scrape: %v (stage %s), want %v saying %q", res.Err, res.Stage, c.code, c.text)
			}
			g, err := st.Graph(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if got := g.Node("Service:vault") != nil; got != (c.code == codes.OK) {
				t.Errorf("service stored: %v", got)
			}
			if c.code == codes.OK && g.Node(meshtest.SecureProcessor) == nil {
				t.Errorf("the processor %s is not in the store", meshtest.SecureProcessor)
			}
		})
	}
}

// Credentials that cannot work are refused before any call, naming the
// flag: a certificate without its key, a token without TLS, a token file
// that is missing or empty, a CA file without a certificate.
func TestCredentialsRefusedAtStart(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		creds scrape.Credentials
		text  string
	}{
		"cert without key":   {scrape.Credentials{CertFile: empty}, "--target-cert and --target-key go together"},
		"token in plaintext": {scrape.Credentials{Token: "t"}, "--target-token needs --target-tls"},
		"two tokens":         {scrape.Credentials{TLS: true, Token: "t", TokenFile: empty}, "give one"},
		"missing token file": {scrape.Credentials{TLS: true, TokenFile: filepath.Join(dir, "nope")}, "--target-token-file " + filepath.Join(dir, "nope")},
		"empty token file":   {scrape.Credentials{TLS: true, TokenFile: empty}, "the file is empty"},
		"not a key pair":     {scrape.Credentials{CertFile: empty, KeyFile: empty}, "--target-cert " + empty},
		"not a CA":           {scrape.Credentials{CAFile: empty}, "no PEM certificate"},
	} {
		if _, err := c.creds.DialOptions(); err == nil || !strings.Contains(err.Error(), c.text) {
			t.Errorf("%s: %v, want an error saying %q", name, err, c.text)
		}
	}
}

// A token file is read again when it changes: a Secret rotated to the
// service's token is used from the next call on, without new credentials.
func TestTokenFileRotation(t *testing.T) {
	sec := meshtest.ServeSecure(t, nil)
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte("stale"), 0o600); err != nil {
		t.Fatal(err)
	}
	opts, err := scrape.Credentials{CAFile: sec.CA, CertFile: sec.ClientCert, KeyFile: sec.ClientKey, TokenFile: file}.DialOptions()
	if err != nil {
		t.Fatal(err)
	}
	src := &listSource{}
	src.set(nil, sec.Addr)
	s := scrape.New(openStore(t), []targets.Source{src}, scrape.WithTimeout(3*time.Second), scrape.WithDialOptions(opts...))
	if res := result(t, s.Round(context.Background()), sec.Addr); status.Code(res.Err) != codes.Unauthenticated {
		t.Fatalf("with the stale token: %v", res.Err)
	}
	if err := os.WriteFile(file, []byte(sec.Token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if res := result(t, s.Round(context.Background()), sec.Addr); res.Err != nil {
		t.Fatalf("after the rotation: %v", res.Err)
	}
}
