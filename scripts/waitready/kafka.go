package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// runKafka waits until a Kafka broker serves metadata and its group and
// transaction coordinators.
func runKafka(args []string) error {
	fs := newFlags("kafka")
	brokers := fs.String("brokers", "127.0.0.1:19092", "comma-separated seed brokers")
	pid := fs.Int("pid", 0, "stop waiting when this process exits (0: do not watch a process)")
	timeout := fs.Duration("timeout", 90*time.Second, "how long to wait")
	_ = fs.Parse(args)
	seeds := strings.Split(*brokers, ",")
	return waitFor("kafka at "+*brokers, *pid, *timeout, func(ctx context.Context) error {
		return kafkaReady(ctx, seeds)
	})
}

// kafkaReady checks, in order, that the first seed accepts TCP connections,
// that a metadata request lists brokers, and that the coordinators for a
// consumer group and a transactional id are available.
func kafkaReady(ctx context.Context, seeds []string) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", seeds[0])
	if err != nil {
		return fmt.Errorf("port not answering: %w", err)
	}
	_ = conn.Close()

	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.DialTimeout(2*time.Second))
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)

	md, err := adm.BrokerMetadata(ctx)
	if err != nil {
		return fmt.Errorf("metadata request: %w", err)
	}
	if len(md.Brokers) == 0 {
		return errors.New("metadata lists no brokers yet")
	}
	if md.Controller < 0 {
		return errors.New("metadata names no active controller yet")
	}

	const key = "kafmesh-waitready"
	for kind, resps := range map[string]kadm.FindCoordinatorResponses{
		"group":       adm.FindGroupCoordinators(ctx, key),
		"transaction": adm.FindTxnCoordinators(ctx, key),
	} {
		r, ok := resps[key]
		if !ok {
			return fmt.Errorf("%s coordinator: no answer", kind)
		}
		if r.Err != nil {
			return fmt.Errorf("%s coordinator: %w", kind, r.Err)
		}
	}
	return nil
}
