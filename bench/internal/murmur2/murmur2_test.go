package murmur2

import (
	"fmt"
	"testing"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Keys must land where the Java client (franz-go's StickyKeyPartitioner with
// the default hasher is byte-for-byte that partitioner) puts them, also
// through sarama's hash partitioner, which goka uses.
func TestPartitionMatchesJavaClientAndSarama(t *testing.T) {
	const partitions = 8
	franz := kgo.StickyKeyPartitioner(nil).ForTopic("t")
	sp := sarama.NewCustomHashPartitioner(New32)("t")
	for i := range 5000 {
		key := fmt.Appendf(nil, "key-%d", i)
		if i%7 == 0 {
			key = key[:1+i%len(key)] // every tail length
		}
		want := int32(franz.Partition(&kgo.Record{Key: key}, partitions))
		if got := Partition(key, partitions); got != want {
			t.Fatalf("Partition(%q) = %d, franz-go says %d", key, got, want)
		}
		got, err := sp.Partition(&sarama.ProducerMessage{Key: sarama.ByteEncoder(key)}, partitions)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("sarama with New32 puts %q in %d, franz-go in %d", key, got, want)
		}
	}
}
