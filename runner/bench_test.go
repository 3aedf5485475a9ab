package runner_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/kafmesh/kafmesh/kafmeshtest"
	"github.com/kafmesh/kafmesh/runner"
)

// Processor benchmarks: a stateful count-by-key over small records in 8
// partitions, the workload of docs/benchmarks.md. Run against the real
// broker:
//
//	KAFMESH_TEST_BROKERS=127.0.0.1:19092 go test ./runner -run '^$' -bench Processor -benchtime 1x
//
// KAFMESH_BENCH_RECORDS sets the record count (default 1,000,000).

func benchRecords() int {
	if n, err := strconv.Atoi(os.Getenv("KAFMESH_BENCH_RECORDS")); err == nil && n > 0 {
		return n
	}
	return 1_000_000
}

const (
	benchKeys       = 10_000
	benchPartitions = 8
)

var loadOnce sync.Map // brokers+topic -> loaded

// loadTopic fills topic with n records made by record, once per broker: a
// topic that already holds exactly n records is kept, so a second run of
// a benchmark does not load again. The topic has benchPartitions partitions
// and configs; keys are partitioned like the Java client does.
func loadTopic(b *testing.B, brokers []string, topic string, n int, configs map[string]*string, record func(i int) (key, value []byte)) {
	b.Helper()
	key := strings.Join(brokers, ",") + "/" + topic
	if _, ok := loadOnce.Load(key); ok {
		return
	}
	adm := kadm.NewClient(client(b, brokers))
	ends, err := adm.ListEndOffsets(context.Background(), topic)
	if err == nil && ends.Error() == nil {
		var total int64
		ends.Each(func(o kadm.ListedOffset) { total += o.Offset })
		if total == int64(n) {
			loadOnce.Store(key, true)
			return
		}
		adm.DeleteTopics(context.Background(), topic)
		time.Sleep(time.Second)
	}
	// Not kafmeshtest.CreateTopic: that deletes the topic when the first
	// sub-benchmark ends, and the input is shared by all of them.
	if _, err := adm.CreateTopic(context.Background(), benchPartitions, -1, configs, topic); err != nil {
		b.Fatal(err)
	}
	cl := client(b, brokers, kgo.ProducerLinger(5*time.Millisecond), kgo.MaxBufferedRecords(200_000),
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)))
	var wg sync.WaitGroup
	var failed atomic.Int64
	for i := range n {
		k, v := record(i)
		wg.Add(1)
		cl.Produce(context.Background(), &kgo.Record{Topic: topic, Key: k, Value: v}, func(_ *kgo.Record, err error) {
			if err != nil {
				failed.Add(1)
			}
			wg.Done()
		})
	}
	wg.Wait()
	if failed.Load() > 0 {
		b.Fatalf("%d records of %s failed", failed.Load(), topic)
	}
	loadOnce.Store(key, true)
}

// loadInput fills a topic with n records of ~100 bytes over benchKeys keys.
func loadInput(b *testing.B, brokers []string, n int) string {
	topic := fmt.Sprintf("bench-count-in-%d", n)
	payload := strings.Repeat("x", 90)
	loadTopic(b, brokers, topic, n, nil, func(i int) ([]byte, []byte) {
		v, _ := proto.Marshal(wrapperspb.String(payload + strconv.Itoa(i%100000)))
		return fmt.Appendf(nil, "key-%05d", i%benchKeys), v
	})
	return topic
}

// waitCommitted waits until the group committed every input offset.
func waitCommitted(b *testing.B, adm *kadm.Client, group, topic string, n int) {
	b.Helper()
	for {
		offs, err := adm.FetchOffsets(context.Background(), group)
		if err == nil {
			var total int64
			offs.Each(func(o kadm.OffsetResponse) {
				if o.Topic == topic {
					total += o.At
				}
			})
			if total >= int64(n) {
				return
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func BenchmarkProcessorCountByKey(b *testing.B) {
	for _, mode := range []struct {
		name string
		opts []runner.PartOption
	}{{"at-least-once", nil}, {"at-least-once-100ms", []runner.PartOption{runner.CommitInterval(100 * time.Millisecond)}}, {"exactly-once", []runner.PartOption{runner.ExactlyOnce()}}} {
		b.Run(mode.name, func(b *testing.B) {
			brokers := kafmeshtest.StartBroker(b)
			n := benchRecords()
			in := loadInput(b, brokers, n)
			adm := kadm.NewClient(client(b, brokers))
			for b.Loop() {
				var first atomic.Int64
				c := counter{in: in, out: kafmeshtest.Unique(b, "bench-out"), group: kafmeshtest.Unique(b, "bench-count"), opts: mode.opts, firstRead: &first}
				s := newService(b, brokers, "bench", b.TempDir())
				c.register(b, s)
				if err := s.ConfigureTopics(context.Background()); err != nil {
					b.Fatal(err)
				}
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				stop := running(b, s)
				waitCommitted(b, adm, c.group, in, n)
				// From the first record read to the last offset committed
				// (which comes after its outputs were acknowledged).
				elapsed := time.Since(time.Unix(0, first.Load()))
				runtime.ReadMemStats(&after)
				if err := stop(); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(n)/elapsed.Seconds(), "records/s")
				b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(n), "allocs/record")
				adm.DeleteTopics(context.Background(), c.out, c.group+"-table")
			}
		})
	}
}

// loadChangelog fills a compacted changelog topic with n keys whose values
// are counts.
func loadChangelog(b *testing.B, brokers []string, n int) string {
	topic := fmt.Sprintf("bench-restore-%d-table", n)
	loadTopic(b, brokers, topic, n, map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}, func(i int) ([]byte, []byte) {
		v, _ := proto.Marshal(wrapperspb.Int64(int64(i%1000 + 1)))
		return fmt.Appendf(nil, "key-%07d", i), v
	})
	return topic
}

// restoredPartitions counts partitions whose restore finished, from the
// service's own metrics.
func restoredPartitions(b *testing.B, s *runner.Service) int {
	mfs, err := s.Gatherer().Gather()
	if err != nil {
		b.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "kafmesh_processor_restore_seconds" {
			return len(mf.GetMetric())
		}
	}
	return 0
}

// BenchmarkProcessorRestore measures how fast a processor with an empty
// local store restores a changelog of KAFMESH_BENCH_RECORDS keys (default
// 1,000,000): from Run until every partition may process.
func BenchmarkProcessorRestore(b *testing.B) {
	brokers := kafmeshtest.StartBroker(b)
	n := benchRecords()
	changelog := loadChangelog(b, brokers, n)
	group := strings.TrimSuffix(changelog, "-table")
	in := kafmeshtest.Unique(b, "restore-in")
	kafmeshtest.CreateTopic(b, brokers, in, benchPartitions, false)
	for b.Loop() {
		c := counter{in: in, out: kafmeshtest.Unique(b, "restore-out"), group: group}
		s := newService(b, brokers, "bench", b.TempDir())
		c.register(b, s)
		start := time.Now()
		stop := running(b, s)
		for restoredPartitions(b, s) < benchPartitions {
			time.Sleep(2 * time.Millisecond)
		}
		elapsed := time.Since(start)
		if err := stop(); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(n)/elapsed.Seconds(), "keys/s")
		b.ReportMetric(elapsed.Seconds(), "restore-s")
	}
}
