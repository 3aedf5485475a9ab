package runner

import (
	"fmt"
	"net"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// TestRetryListingAfterUnreachableBroker: a restore's offset listing is
// tried again when a partition's leader cannot be dialed (its broker was
// just killed and is still in the metadata) or Kafka says to retry, and
// stops at once on Kafka's non-retriable errors. The chaos suite's
// cluster-broker-sigkill saw an instance exit on the first kind.
func TestRetryListingAfterUnreachableBroker(t *testing.T) {
	dial := &kadm.ShardErrors{Name: "ListOffsets", Errs: []kadm.ShardError{{Err: fmt.Errorf("unable to dial: %w", &net.OpError{Op: "dial", Net: "tcp", Err: fmt.Errorf("connection refused")})}}}
	for _, c := range []struct {
		name string
		err  error
		want bool
	}{
		{"unreachable leader", dial, true},
		{"not leader", kerr.NotLeaderForPartition, true},
		{"wrapped retriable", fmt.Errorf("list: %w", kerr.LeaderNotAvailable), true},
		{"not authorized", kerr.TopicAuthorizationFailed, false},
		{"wrapped not authorized", &kadm.ShardErrors{Errs: []kadm.ShardError{{Err: kerr.TopicAuthorizationFailed}}}, false},
	} {
		if got := retryListing(c.err); got != c.want {
			t.Errorf("%s: retryListing(%v) = %v, want %v", c.name, c.err, got, c.want)
		}
	}
}
