package runner_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/kafmesh/kafmesh/internal/testcert"
	"github.com/kafmesh/kafmesh/runner"
)

// A service reaches brokers that require TLS and SASL with WithTLS and
// WithSASL: its source's records arrive; with a wrong password it fails
// with an error instead of hanging.
func TestServiceOverTLSWithSASL(t *testing.T) {
	cert, certPEM := testcert.SelfSigned(t)
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(), kfake.Superuser("PLAIN", "kafmesh", "s3cret"),
		kfake.TLS(&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	brokers := cluster.ListenAddrs()
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(certPEM)
	clientTLS := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	auth := plain.Auth{User: "kafmesh", Pass: "s3cret"}.AsMechanism()

	admin := client(t, brokers, kgo.DialTLSConfig(clientTLS), kgo.SASL(auth))
	const topic = "secure.orders"
	if _, err := kadm.NewClient(admin).CreateTopic(context.Background(), 3, 1, nil, topic); err != nil {
		t.Fatal(err)
	}

	svc := newService(t, brokers, "secure", t.TempDir(), runner.WithTLS(clientTLS), runner.WithSASL(auth))
	src, err := runner.NewSource(svc, runner.SourceSpec{Component: "orders",
		TopicRef: runner.TopicRef{Topic: topic, Message: "google.protobuf.StringValue", Type: runner.TopicProtobuf}}, stringCodec)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := svc.ConfigureTopics(ctx); err != nil {
		t.Fatal(err)
	}
	running(t, svc)
	if err := src.Emit(ctx, "order-1", wrapperspb.String("paid")); err != nil {
		t.Fatal(err)
	}
	reader := client(t, brokers, kgo.DialTLSConfig(clientTLS), kgo.SASL(auth), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	fetches := reader.PollFetches(ctx)
	if err := fetches.Err0(); err != nil {
		t.Fatal(err)
	}
	recs := fetches.Records()
	if len(recs) != 1 || string(recs[0].Key) != "order-1" {
		t.Fatalf("read %d records: %v", len(recs), recs)
	}
	if m, err := stringCodec.Decode(recs[0].Value); err != nil || m.GetValue() != "paid" {
		t.Fatalf("value %v, %v", m, err)
	}

	wrong := newService(t, brokers, "intruder", t.TempDir(), runner.WithTLS(clientTLS),
		runner.WithSASL(plain.Auth{User: "kafmesh", Pass: "guess"}.AsMechanism()))
	if _, err := runner.NewSource(wrong, runner.SourceSpec{Component: "orders",
		TopicRef: runner.TopicRef{Topic: topic, Message: "google.protobuf.StringValue", Type: runner.TopicProtobuf}}, stringCodec); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := wrong.ConfigureTopics(ctx); err == nil {
		t.Fatal("a wrong password configured the topics")
	} else if ctx.Err() != nil {
		t.Fatalf("a wrong password hung until the deadline: %v", err)
	} else {
		t.Logf("wrong password refused after %s: %v", time.Since(start).Round(time.Millisecond), err)
	}
}
