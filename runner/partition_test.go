package runner

import (
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Values from the Java client's Utils.murmur2, as its own tests assert.
func TestMurmur2MatchesJava(t *testing.T) {
	for key, want := range map[string]int32{
		"21":                         -973932308,
		"foobar":                     -790332482,
		"a-little-bit-long-string":   -985981536,
		"a-little-bit-longer-string": -1486304829,
		"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
		"abc": 479470107,
	} {
		if got := int32(Murmur2([]byte(key))); got != want {
			t.Errorf("murmur2(%q) = %d, want %d", key, got, want)
		}
	}
}

// franz-go's StickyKeyPartitioner is documented to partition exactly as
// Kafka does; ours must agree with it on every key.
func TestKeyPartitionMatchesKafkaPartitioner(t *testing.T) {
	tp := kgo.StickyKeyPartitioner(nil).ForTopic("t")
	for i := range 20000 {
		key := fmt.Appendf(nil, "device-%d", i)
		for _, n := range []int{1, 3, 8, 10, 64} {
			want := tp.Partition(&kgo.Record{Key: key}, n)
			if got := int(KeyPartition(key, n)); got != want {
				t.Fatalf("key %s over %d partitions: got %d, franz-go %d", key, n, got, want)
			}
		}
	}
}
