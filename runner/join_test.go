package runner_test

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/kafmesh/kafmesh/kafmeshtest"
	"github.com/kafmesh/kafmesh/runner"
)

// enricher joins events with the device's customer (co-partitioned) and
// looks the customer's name up (whole table).
type enricher struct {
	events, assignments, customers, out, group string
}

func (e enricher) register(t *testing.T, s *runner.Service, handled *atomic.Int64) {
	t.Helper()
	p := runner.NewProcessor(runner.ProcessorSpec{
		Component: "enrich", Name: "enricher", Group: e.group,
		Inputs:  []runner.TopicRef{{Topic: e.events, Type: runner.TopicProtobuf}},
		Joins:   []runner.TopicRef{{Topic: e.assignments, Type: runner.TopicProtobuf}},
		Lookups: []runner.TopicRef{{Topic: e.customers, Type: runner.TopicProtobuf}},
		Outputs: []runner.OutputRef{{TopicRef: runner.TopicRef{Topic: e.out, Type: runner.TopicProtobuf}}},
	})
	runner.HandleInput(p, 0, stringCodec, func(ctx *runner.ProcessorContext, m *wrapperspb.StringValue) error {
		handled.Add(1)
		cust := runner.Join(ctx, 0, stringCodec)
		name := runner.Lookup(ctx, 0, stringCodec, cust.GetValue())
		runner.Output(ctx, 0, stringCodec, ctx.Key(), wrapperspb.String(m.GetValue()+"|"+cust.GetValue()+"|"+name.GetValue()))
		return nil
	})
	if err := s.Register(p); err != nil {
		t.Fatal(err)
	}
}

func (e enricher) eventRecords(batch string, devices int) []*kgo.Record {
	var rs []*kgo.Record
	for i := range devices {
		rs = append(rs, stringRecord(e.events, fmt.Sprintf("device-%d", i), ptr(fmt.Sprintf("%s-%d", batch, i))))
	}
	return rs
}

// checkEnriched asserts every output of batch carries the expected
// customer and name; it returns how many outputs of batch it saw.
func checkEnriched(t *testing.T, outs []*kgo.Record, batch string, want func(device int) (cust, name string)) int {
	t.Helper()
	n := 0
	for _, v := range values(t, outs) {
		parts := strings.Split(v, "|")
		if len(parts) != 3 || !strings.HasPrefix(parts[0], batch+"-") {
			continue
		}
		var device int
		fmt.Sscanf(strings.TrimPrefix(parts[0], batch+"-"), "%d", &device)
		c, nm := want(device)
		if parts[1] != c || parts[2] != nm {
			t.Errorf("%s: got customer %q name %q, want %q %q", parts[0], parts[1], parts[2], c, nm)
		}
		n++
	}
	return n
}

func groupMembers(t *testing.T, brokers []string, group string) int {
	adm := kadm.NewClient(client(t, brokers))
	gs, err := adm.DescribeGroups(t.Context(), group)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range gs[group].Members {
		if a, ok := m.Assigned.AsConsumer(); ok && len(a.Topics) > 0 {
			n++
		}
	}
	return n
}

func TestJoinAndLookupAcrossRebalances(t *testing.T) {
	brokers := kafmeshtest.StartBroker(t)
	e := enricher{
		events: kafmeshtest.Unique(t, "events"), assignments: kafmeshtest.Unique(t, "assignments"),
		customers: kafmeshtest.Unique(t, "customers"), out: kafmeshtest.Unique(t, "enriched"), group: kafmeshtest.Unique(t, "enricher"),
	}
	kafmeshtest.CreateTopic(t, brokers, e.events, 4, false)
	kafmeshtest.CreateTopic(t, brokers, e.assignments, 4, true)
	kafmeshtest.CreateTopic(t, brokers, e.customers, 2, true)
	const devices = 40
	cl := client(t, brokers, kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)))
	var tables []*kgo.Record
	for i := range devices {
		tables = append(tables, stringRecord(e.assignments, fmt.Sprintf("device-%d", i), ptr(fmt.Sprintf("cust-%d", i%5))))
	}
	for j := range 5 {
		tables = append(tables, stringRecord(e.customers, fmt.Sprintf("cust-%d", j), ptr(fmt.Sprintf("Name %d", j))))
	}
	produce(t, cl, tables...)
	original := func(d int) (string, string) { return fmt.Sprintf("cust-%d", d%5), fmt.Sprintf("Name %d", d%5) }

	var handledA, handledB atomic.Int64
	a := newService(t, brokers, "enrich", t.TempDir())
	e.register(t, a, &handledA)
	if err := a.ConfigureTopics(t.Context()); err != nil {
		t.Fatal(err)
	}
	stopA := running(t, a)
	produce(t, cl, e.eventRecords("b1", devices)...)
	if n := checkEnriched(t, consumeN(t, brokers, e.out, devices, 30*time.Second), "b1", original); n != devices {
		t.Fatalf("batch 1: %d outputs", n)
	}

	// A second instance joins: partitions move, joins restore on it.
	b := newService(t, brokers, "enrich", t.TempDir())
	e.register(t, b, &handledB)
	running(t, b)
	eventually(t, 30*time.Second, func() string {
		if n := groupMembers(t, brokers, e.group); n != 2 {
			return fmt.Sprintf("%d members own partitions, want 2", n)
		}
		return ""
	})
	produce(t, cl, e.eventRecords("b2", devices)...)
	if n := checkEnriched(t, consumeN(t, brokers, e.out, 2*devices, 30*time.Second), "b2", original); n != devices {
		t.Fatalf("batch 2: %d outputs", n)
	}
	if handledB.Load() == 0 {
		t.Fatal("the second instance handled nothing after the rebalance")
	}

	// Table updates reach both the join and the lookup.
	produce(t, cl, stringRecord(e.assignments, "device-0", ptr("cust-4")), stringRecord(e.customers, "cust-4", ptr("Renamed")))
	eventually(t, 30*time.Second, func() string {
		produce(t, cl, stringRecord(e.events, "device-0", ptr("probe-0")))
		for _, v := range values(t, consumeQuiet(t, brokers, e.out, 200*time.Millisecond)) {
			if v == "probe-0|cust-4|Renamed" {
				return ""
			}
		}
		return "join and lookup never showed the updated tables"
	})

	// The first instance stops; the second takes over everything.
	if err := stopA(); err != nil {
		t.Fatal(err)
	}
	before := handledB.Load()
	produce(t, cl, e.eventRecords("b3", devices)...)
	updated := func(d int) (string, string) {
		if d == 0 {
			return "cust-4", "Renamed"
		}
		c, n := original(d)
		if c == "cust-4" {
			n = "Renamed"
		}
		return c, n
	}
	eventually(t, 30*time.Second, func() string {
		if n := checkEnriched(t, consumeQuiet(t, brokers, e.out, 200*time.Millisecond), "b3", updated); n < devices {
			return fmt.Sprintf("batch 3: %d of %d outputs", n, devices)
		}
		return ""
	})
	if got := handledB.Load() - before; got < devices {
		t.Fatalf("after takeover the second instance handled %d of %d batch-3 events", got, devices)
	}
}
