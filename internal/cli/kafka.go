package cli

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/pflag"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// saslPasswordEnv holds the SASL password, so it is not on the command
// line (where ps and shell history show it).
const saslPasswordEnv = "KAFMESH_SASL_PASSWORD"

// kafkaConn is how the commands that talk to Kafka directly (offsets, dlq)
// reach the cluster: seed brokers, TLS and SASL, from the same flags.
type kafkaConn struct {
	brokers                 []string
	tls                     bool
	tlsCA                   string
	saslMechanism, saslUser string
}

// addFlags adds --brokers, --tls, --tls-ca, --sasl-mechanism and
// --sasl-user to f.
func (c *kafkaConn) addFlags(f *pflag.FlagSet) {
	f.StringSliceVar(&c.brokers, "brokers", nil, "seed brokers, host:port, comma separated (required)")
	f.BoolVar(&c.tls, "tls", false, "connect to the brokers over TLS, verifying them against the system's roots (or --tls-ca)")
	f.StringVar(&c.tlsCA, "tls-ca", "", "PEM file of the CA(s) that sign the brokers' certificates; implies --tls")
	f.StringVar(&c.saslMechanism, "sasl-mechanism", "", "authenticate with SASL: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (the password is read from $"+saslPasswordEnv+")")
	f.StringVar(&c.saslUser, "sasl-user", "", "SASL user name")
}

// client returns a client of the cluster with extra options after the
// connection's; a flag that is missing or wrong is an error naming it.
func (c *kafkaConn) client(extra ...kgo.Opt) (*kgo.Client, error) {
	if len(c.brokers) == 0 {
		return nil, errors.New("--brokers is required")
	}
	opts := []kgo.Opt{kgo.SeedBrokers(c.brokers...), kgo.RequestRetries(3)}
	if c.tls || c.tlsCA != "" {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if c.tlsCA != "" {
			pem, err := os.ReadFile(c.tlsCA)
			if err != nil {
				return nil, fmt.Errorf("--tls-ca: %w", err)
			}
			cfg.RootCAs = x509.NewCertPool()
			if !cfg.RootCAs.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("--tls-ca %s: no PEM certificate in it", c.tlsCA)
			}
		}
		opts = append(opts, kgo.DialTLSConfig(cfg))
	}
	switch mech := strings.ToUpper(c.saslMechanism); {
	case mech == "" && c.saslUser != "":
		return nil, errors.New("--sasl-user needs --sasl-mechanism")
	case mech == "":
	case mech != "PLAIN" && mech != "SCRAM-SHA-256" && mech != "SCRAM-SHA-512":
		return nil, fmt.Errorf("--sasl-mechanism %q: want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", c.saslMechanism)
	default:
		pass := os.Getenv(saslPasswordEnv)
		if c.saslUser == "" || pass == "" {
			return nil, fmt.Errorf("--sasl-mechanism needs --sasl-user and the password in $%s", saslPasswordEnv)
		}
		var m sasl.Mechanism
		switch mech {
		case "PLAIN":
			m = plain.Auth{User: c.saslUser, Pass: pass}.AsMechanism()
		case "SCRAM-SHA-256":
			m = scram.Auth{User: c.saslUser, Pass: pass}.AsSha256Mechanism()
		default:
			m = scram.Auth{User: c.saslUser, Pass: pass}.AsSha512Mechanism()
		}
		opts = append(opts, kgo.SASL(m))
	}
	cl, err := kgo.NewClient(append(opts, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	return cl, nil
}
