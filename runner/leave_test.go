package runner_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/kafmesh/kafmesh/kafmeshtest"
	"github.com/kafmesh/kafmesh/runner"
)

// TestLeaveGroupsOnStop: two static members share a processor's group; one
// stops. With WithLeaveGroupsOnStop it leaves at once and the other takes
// every partition; without it, it stays a member until its session times
// out (45 s), which is what keeps a restart free of rebalances.
func TestLeaveGroupsOnStop(t *testing.T) {
	if testing.Short() {
		t.Skip("two services on a broker")
	}
	for _, leave := range []bool{true, false} {
		name := "stays"
		if leave {
			name = "leaves"
		}
		t.Run(name, func(t *testing.T) {
			brokers := kafmeshtest.StartBroker(t)
			c := newCounter(t)
			kafmeshtest.CreateTopic(t, brokers, c.in, 4, false)
			a := newService(t, brokers, "leaving", t.TempDir(), runner.WithInstanceID("a"))
			c.register(t, a)
			if err := a.ConfigureTopics(t.Context()); err != nil {
				t.Fatal(err)
			}
			bOpts := []runner.Option{runner.WithInstanceID("b")}
			if leave {
				bOpts = append(bOpts, runner.WithLeaveGroupsOnStop())
			}
			b := newService(t, brokers, "leaving", t.TempDir(), bOpts...)
			c.register(t, b)
			stopA := running(t, a)
			defer func() { _ = stopA() }()
			stopB := running(t, b)
			adm := kadm.NewClient(client(t, brokers))
			members := func() []string {
				ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
				defer cancel()
				groups, err := adm.DescribeGroups(ctx, c.group)
				if err != nil {
					return []string{"error: " + err.Error()}
				}
				var ids []string
				for _, m := range groups[c.group].Members {
					if m.InstanceID != nil {
						ids = append(ids, *m.InstanceID)
					}
				}
				slices.Sort(ids)
				return ids
			}
			waitUntil(t, 60*time.Second, func() string {
				if got := members(); !slices.Equal(got, []string{"a", "b"}) {
					return "members " + strings.Join(got, ", ")
				}
				return ""
			})
			if err := stopB(); err != nil {
				t.Fatal(err)
			}
			if !leave {
				time.Sleep(3 * time.Second)
				if got := members(); !slices.Equal(got, []string{"a", "b"}) {
					t.Fatalf("members 3s after b stopped without the option: %s, want a and b (a static member stays until its session times out)", strings.Join(got, ", "))
				}
				return
			}
			waitUntil(t, 10*time.Second, func() string {
				if got := members(); !slices.Equal(got, []string{"a"}) {
					return "members after b stopped: " + strings.Join(got, ", ")
				}
				return ""
			})
			// a now owns every partition: the records of all of them
			// are counted.
			const total, keys = 400, 40
			produce(t, client(t, brokers), inputRecords(c.in, 0, total, keys)...)
			waitGroupCommitted(t, brokers, c.group, c.in, 20*time.Second)
		})
	}
}
