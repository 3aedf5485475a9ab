package dev

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// startBroker returns the brokers to use: an embedded kfake cluster when
// seeds is empty, else seeds once they answer (a clear error if they do
// not, rather than a service retrying forever). stop closes what it
// started.
func startBroker(ctx context.Context, seeds []string) (brokers []string, stop func(), err error) {
	if len(seeds) == 0 {
		cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
		if err != nil {
			return nil, nil, fmt.Errorf("embedded broker: %w", err)
		}
		return cluster.ListenAddrs(), cluster.Close, nil
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		return nil, nil, fmt.Errorf("--brokers %s: %w", strings.Join(seeds, ","), err)
	}
	defer cl.Close()
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if _, err := kadm.NewClient(cl).BrokerMetadata(pctx); err != nil {
		return nil, nil, fmt.Errorf("--brokers %s does not answer: %w", strings.Join(seeds, ","), err)
	}
	return seeds, func() {}, nil
}
