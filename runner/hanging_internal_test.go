package runner

import "testing"

// TestOffsetsPartitionIsKafkasPlacement: the group's __consumer_offsets
// partition is Kafka's Utils.abs(groupId.hashCode()) % partitions,
// checked against Java String.hashCode values.
func TestOffsetsPartitionIsKafkasPlacement(t *testing.T) {
	for _, c := range []struct {
		group string
		n     int
		want  int32
	}{
		{"hello", 50, 99162322 % 50},                // "hello".hashCode() = 99162322
		{"polygenelubricants", 50, 0},               // hashCode() = Integer.MIN_VALUE; Kafka's abs makes it 0
		{"", 8, 0},                                  // hashCode() = 0
		{"Aa", 7, 2112 % 7},                         // "Aa".hashCode() = 2112 (= "BB")
		{"é", 50, 233 % 50},                         // one UTF-16 unit, 0xE9
		{"\U0001F600", 50, (55357*31 + 56832) % 50}, // a surrogate pair: 0xD83D, 0xDE00
		// Negative hash codes: Kafka negates them (h & 0x7fffffff would
		// give 17, 3 and 30 here).
		{"devices-enrich", 50, 31},          // hashCode() = -1834552331; 1834552331 % 50 = 31
		{"kafmesh-group", 50, 45},           // hashCode() = -355347345; 355347345 % 50 = 45
		{"\U0001F600\U0001F600abc", 50, 18}, // hashCode() = -53402468 (two surrogate pairs); 53402468 % 50 = 18
	} {
		if got := offsetsPartition(c.group, c.n); got != c.want {
			t.Errorf("offsetsPartition(%q, %d) = %d, want %d", c.group, c.n, got, c.want)
		}
	}
}

// TestHangingAbortHintNamesTheTopic: the command a processor logs for a
// hanging transaction finds it, so it names the transaction's topic unless
// that is __consumer_offsets, which the command always searches.
func TestHangingAbortHintNamesTheTopic(t *testing.T) {
	for _, c := range []struct {
		topic, want string
	}{
		{"g-table", "kafmesh offsets hanging --group g --topic g-table --abort"},
		{"joined", "kafmesh offsets hanging --group g --topic joined --abort"},
		{"__consumer_offsets", "kafmesh offsets hanging --group g --abort"},
	} {
		if got := hangingAbortHint("g", HangingTransaction{Topic: c.topic, Partition: 3}); got != c.want {
			t.Errorf("hangingAbortHint(g, %s) = %q, want %q", c.topic, got, c.want)
		}
	}
}
