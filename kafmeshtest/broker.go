package kafmeshtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// BrokersEnv names the environment variable that points tests at a real Kafka
// cluster: a comma-separated list of seed brokers, e.g. "127.0.0.1:19092".
// scripts/kafka.sh start prints it and scripts/test.sh sets it.
const BrokersEnv = "KAFMESH_TEST_BROKERS"

// kfakeBrokers is how many brokers the in-process cluster runs. More than one
// makes clients route partitions and coordinators to different brokers, as
// they must on a real cluster.
const kfakeBrokers = 3

// StartBroker returns the seed brokers an integration test talks to.
//
// When KAFMESH_TEST_BROKERS is set, it returns those brokers: a real Apache
// Kafka that CI (scripts/test.sh, .ci/run) starts, so the suite proves the
// code against the real thing. It fails the test if that cluster does not
// answer, rather than silently testing something else. The cluster is shared
// by every test and package of the run: name topics, groups and transactional
// ids with [Unique].
//
// Otherwise it starts an in-process kfake cluster (three brokers, with
// consumer groups, transactions and multi-partition topics) that belongs to
// this test alone and is shut down by t.Cleanup, so `go test ./...` passes on
// any machine with Go. kfake implements the Kafka protocol, not every broker
// behaviour; tests that depend on a detail only a real broker has should
// assert it only when [UsingRealBroker] reports true.
//
// Either way it logs which kind of broker the test uses. Like Kafka itself,
// neither kind creates topics on first use: call [CreateTopic].
func StartBroker(t testing.TB) []string {
	t.Helper()
	seeds, real, err := brokersFromEnv(os.Getenv(BrokersEnv))
	if err != nil {
		t.Fatalf("kafmeshtest: %v", err)
	}
	if real {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := ping(ctx, seeds); err != nil {
			t.Fatalf("kafmeshtest: %s=%s is set but that Kafka does not answer: %v "+
				"(start one with scripts/kafka.sh start, or unset %s to use an in-process kfake cluster)",
				BrokersEnv, strings.Join(seeds, ","), err, BrokersEnv)
		}
		t.Logf("kafmeshtest: using the real Kafka at %s (from %s)", strings.Join(seeds, ","), BrokersEnv)
		return seeds
	}
	cluster, err := kfake.NewCluster(kfake.NumBrokers(kfakeBrokers))
	if err != nil {
		t.Fatalf("kafmeshtest: starting in-process kfake cluster: %v", err)
	}
	t.Cleanup(cluster.Close)
	seeds = cluster.ListenAddrs()
	t.Logf("kafmeshtest: using an in-process kfake cluster at %s (%s is not set; scripts/test.sh runs against a real Kafka)",
		strings.Join(seeds, ","), BrokersEnv)
	return seeds
}

// UsingRealBroker reports whether [StartBroker] returns a real Kafka cluster
// (KAFMESH_TEST_BROKERS is set) rather than an in-process kfake cluster.
func UsingRealBroker() bool {
	_, real, err := brokersFromEnv(os.Getenv(BrokersEnv))
	return err == nil && real
}

// brokersFromEnv parses the value of KAFMESH_TEST_BROKERS. An empty or unset
// value means "no real broker"; a value with no broker in it is an error.
func brokersFromEnv(value string) (seeds []string, real bool, err error) {
	if strings.TrimSpace(value) == "" {
		return nil, false, nil
	}
	for _, s := range strings.Split(value, ",") {
		if s = strings.TrimSpace(s); s != "" {
			seeds = append(seeds, s)
		}
	}
	if len(seeds) == 0 {
		return nil, false, fmt.Errorf("%s=%q names no broker; want host:port[,host:port...]", BrokersEnv, value)
	}
	return seeds, true, nil
}

// ping checks that the cluster answers a metadata request with at least one broker.
func ping(ctx context.Context, seeds []string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		return err
	}
	defer cl.Close()
	md, err := kadm.NewClient(cl).BrokerMetadata(ctx)
	if err != nil {
		return err
	}
	if len(md.Brokers) == 0 {
		return fmt.Errorf("metadata lists no brokers")
	}
	return nil
}

// maxTopicName is Kafka's limit on topic name length.
const maxTopicName = 249

// Unique returns a name for a topic, consumer group or transactional id that
// no other test of this run uses: name, the test's name and a random suffix,
// e.g. "orders-TestSink-flushes-9f3c2a1b7d4e". Characters Kafka does not allow
// in topic names (anything but ASCII letters, digits, '.', '_' and '-') become
// '-', and the result is at most 249 characters (the random suffix is never
// cut). Use it for everything a test creates on the broker: with a real Kafka,
// every test and package of the run shares one cluster.
func Unique(t testing.TB, name string) string {
	t.Helper()
	var suffix [6]byte
	if _, err := rand.Read(suffix[:]); err != nil {
		t.Fatalf("kafmeshtest: random name suffix: %v", err)
	}
	return uniqueName(name, t.Name(), hex.EncodeToString(suffix[:]))
}

func uniqueName(name, testName, suffix string) string {
	prefix := testName
	if name != "" {
		prefix = name + "-" + testName
	}
	prefix = legalTopicChars(prefix)
	if limit := maxTopicName - len(suffix) - 1; len(prefix) > limit {
		prefix = prefix[:limit]
	}
	return prefix + "-" + suffix
}

// legalTopicChars replaces every character Kafka rejects in a topic name with '-'.
func legalTopicChars(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			return r
		default:
			return '-'
		}
	}, s)
}

// CreateTopic creates topic name with the given number of partitions (one
// replica each) on brokers, compacted when compact is true, and waits until
// every partition has a leader, so the test can produce at once. The topic is
// deleted when the test ends; a failed delete is only logged. It fails the
// test if the topic exists already or the broker refuses it, with the
// broker's reason.
func CreateTopic(t testing.TB, brokers []string, name string, partitions int32, compact bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	adm, closeAdm, err := newAdmin(brokers)
	if err != nil {
		t.Fatalf("kafmeshtest: create topic %q: %v", name, err)
	}
	defer closeAdm()
	if err := createTopic(ctx, adm, name, partitions, compact); err != nil {
		t.Fatalf("kafmeshtest: %v", err)
	}
	t.Cleanup(func() { deleteTopic(t, brokers, name) })
}

func newAdmin(brokers []string) (*kadm.Client, func(), error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return nil, nil, err
	}
	return kadm.NewClient(cl), cl.Close, nil
}

// createTopic creates the topic and polls metadata until all its partitions
// have leaders; on a real broker the metadata lags the create response.
func createTopic(ctx context.Context, adm *kadm.Client, name string, partitions int32, compact bool) error {
	if partitions < 1 {
		return fmt.Errorf("create topic %q: %d partitions; want at least 1", name, partitions)
	}
	var configs map[string]*string
	if compact {
		configs = map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}
	}
	resp, err := adm.CreateTopic(ctx, partitions, 1, configs, name)
	if err != nil {
		if resp.ErrMessage != "" {
			return fmt.Errorf("create topic %q: %w (%s)", name, err, resp.ErrMessage)
		}
		return fmt.Errorf("create topic %q: %w", name, err)
	}
	for {
		ready, why := topicReady(ctx, adm, name, partitions)
		if ready {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("create topic %q: created, but %s: %w", name, why, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// topicReady reports whether metadata shows the topic with all partitions
// led, and otherwise what is missing.
func topicReady(ctx context.Context, adm *kadm.Client, name string, partitions int32) (bool, string) {
	md, err := adm.Metadata(ctx, name)
	if err != nil {
		return false, fmt.Sprintf("metadata request failed: %v", err)
	}
	td, ok := md.Topics[name]
	if !ok || td.Err != nil {
		return false, "metadata does not list it yet"
	}
	if int32(len(td.Partitions)) != partitions {
		return false, fmt.Sprintf("metadata lists %d of %d partitions", len(td.Partitions), partitions)
	}
	for p, pd := range td.Partitions {
		if pd.Err != nil || pd.Leader < 0 {
			return false, fmt.Sprintf("partition %d has no leader yet", p)
		}
	}
	return true, ""
}

// deleteTopic removes a topic a test created; it only logs failures, since
// the test's result does not depend on it.
func deleteTopic(t testing.TB, brokers []string, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	adm, closeAdm, err := newAdmin(brokers)
	if err != nil {
		t.Logf("kafmeshtest: delete topic %q: %v", name, err)
		return
	}
	defer closeAdm()
	if _, err := adm.DeleteTopic(ctx, name); err != nil {
		t.Logf("kafmeshtest: delete topic %q: %v", name, err)
	}
}
