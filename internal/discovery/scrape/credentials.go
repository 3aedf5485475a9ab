package scrape

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// Credentials say how discover authenticates to its targets, for scrapes
// and the live watch alike (kafmesh discover --target-* flags). The zero
// value is plaintext without a credential.
type Credentials struct {
	// TLS calls targets over TLS, verified against the system's roots or
	// CAFile. CAFile, CertFile and SkipVerify imply it.
	TLS bool
	// CAFile is a PEM file of the CAs that sign the targets' certificates.
	CAFile string
	// CertFile and KeyFile are discover's client certificate and key (PEM),
	// for targets that require mutual TLS (runner.WithGRPCTLS with
	// ClientCAs) or admit Watch by certificate (runner.WithWatchClientCerts).
	// Both or neither; they are read again when they change on disk, so a
	// renewed certificate is used without a restart.
	CertFile, KeyFile string
	// SkipVerify accepts any target certificate (testing only).
	SkipVerify bool
	// Token is sent as "authorization: Bearer <token>" on every call
	// (runner.WithWatchToken). TokenFile holds it instead, read again when
	// it changes (a rotated Kubernetes Secret); surrounding white space is
	// dropped. A token needs TLS: sent in plaintext, anyone on the path
	// could read it.
	Token, TokenFile string
}

// usesTLS reports whether the credentials call targets over TLS.
func (c Credentials) usesTLS() bool {
	return c.TLS || c.CAFile != "" || c.CertFile != "" || c.SkipVerify
}

// DialOptions are the gRPC dial options of c, or a clear error naming the
// flag for a file that cannot be read or holds no certificate, a
// certificate without its key, or a token without TLS.
func (c Credentials) DialOptions() ([]grpc.DialOption, error) {
	if (c.CertFile == "") != (c.KeyFile == "") {
		return nil, errors.New("--target-cert and --target-key go together: give both or neither")
	}
	if c.Token != "" && c.TokenFile != "" {
		return nil, errors.New("--target-token and --target-token-file: give one")
	}
	var opts []grpc.DialOption
	if c.usesTLS() {
		cfg, err := c.tlsConfig()
		if err != nil {
			return nil, err
		}
		opts = append(opts, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
	}
	if c.Token != "" || c.TokenFile != "" {
		if !c.usesTLS() {
			return nil, errors.New("--target-token needs --target-tls (or --target-ca): a bearer token sent in plaintext can be read by anyone on the path")
		}
		tok := &bearerToken{token: c.Token, file: c.TokenFile}
		if _, err := tok.current(); err != nil {
			return nil, err
		}
		opts = append(opts, grpc.WithPerRPCCredentials(tok))
	}
	return opts, nil
}

func (c Credentials) tlsConfig() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: c.SkipVerify} //nolint:gosec // only when asked for
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("--target-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--target-ca %s: no PEM certificate in the file (expected -----BEGIN CERTIFICATE----- blocks)", c.CAFile)
		}
		cfg.RootCAs = pool
	}
	if c.CertFile != "" {
		kp := &keyPair{certFile: c.CertFile, keyFile: c.KeyFile}
		if _, err := kp.load(); err != nil {
			return nil, err
		}
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return kp.load() }
	}
	return cfg, nil
}

// keyPair is a client certificate read from files, again when they
// change.
type keyPair struct {
	certFile, keyFile string

	mu    sync.Mutex
	stamp string
	cert  *tls.Certificate
}

// fileStamp identifies a version of files by size and modification time.
func fileStamp(files ...string) (string, error) {
	var b strings.Builder
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "%d/%d;", st.Size(), st.ModTime().UnixNano())
	}
	return b.String(), nil
}

func (k *keyPair) load() (*tls.Certificate, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	stamp, err := fileStamp(k.certFile, k.keyFile)
	if err == nil && stamp == k.stamp && k.cert != nil {
		return k.cert, nil
	}
	cert, lerr := tls.LoadX509KeyPair(k.certFile, k.keyFile)
	if lerr != nil {
		if k.cert != nil {
			return k.cert, nil // keep the last good one while files are being replaced
		}
		return nil, fmt.Errorf("--target-cert %s / --target-key %s: %w", k.certFile, k.keyFile, lerr)
	}
	k.stamp, k.cert = stamp, &cert
	return k.cert, nil
}

// bearerToken sends "authorization: Bearer <token>" on every call.
type bearerToken struct {
	token string
	file  string

	mu    sync.Mutex
	stamp string
	read  string
}

func (b *bearerToken) current() (string, error) {
	if b.file == "" {
		return b.token, nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	stamp, err := fileStamp(b.file)
	if err == nil && stamp == b.stamp && b.read != "" {
		return b.read, nil
	}
	data, rerr := os.ReadFile(b.file)
	tok := string(bytes.TrimSpace(data))
	if rerr == nil && tok == "" {
		rerr = errors.New("the file is empty")
	}
	if rerr != nil {
		if b.read != "" {
			return b.read, nil // keep the last good one while the file is being replaced
		}
		return "", fmt.Errorf("--target-token-file %s: %w", b.file, rerr)
	}
	b.stamp, b.read = stamp, tok
	return tok, nil
}

// GetRequestMetadata implements credentials.PerRPCCredentials.
func (b *bearerToken) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	tok, err := b.current()
	if err != nil {
		return nil, err
	}
	return map[string]string{"authorization": "Bearer " + tok}, nil
}

// RequireTransportSecurity implements credentials.PerRPCCredentials: the
// token is never sent in plaintext.
func (b *bearerToken) RequireTransportSecurity() bool { return true }
