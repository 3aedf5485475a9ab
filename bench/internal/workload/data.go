// Package workload defines the benchmark data every contender reads (keys,
// values, tables, the restore changelog) and what correct output is, so
// that the loader, the contenders and the checker agree on one definition.
package workload

import (
	"fmt"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// Spec sizes one benchmark run.
type Spec struct {
	// Records is the number of input records of W1 and W3, and the number
	// of keys in W2's restored state.
	Records int
	// Keys is the number of distinct input keys (W1, W3) and rows of the
	// co-partitioned join table (W3).
	Keys int
	// Customers is the number of rows of W3's lookup table.
	Customers int
	// Partitions is the partition count of every topic.
	Partitions int32
	// ValueBytes is the encoded size of an input value.
	ValueBytes int
	// Probes is the number of fresh input records W2 sends to restored keys.
	Probes int
}

// Default is the size the issue asks for.
func Default() Spec {
	return Spec{Records: 1_000_000, Keys: 10_000, Customers: 10_000, Partitions: 8, ValueBytes: 100, Probes: 1000}
}

// Validate reports a spec that cannot run.
func (s Spec) Validate() error {
	switch {
	case s.Records < 1:
		return fmt.Errorf("records must be at least 1, not %d", s.Records)
	case s.Keys < 1 || s.Customers < 1:
		return fmt.Errorf("keys (%d) and customers (%d) must be at least 1", s.Keys, s.Customers)
	case s.Partitions < 1:
		return fmt.Errorf("partitions must be at least 1, not %d", s.Partitions)
	case s.ValueBytes < 16:
		return fmt.Errorf("value bytes must be at least 16, not %d", s.ValueBytes)
	case s.Probes < 1 || s.Probes > s.Records:
		return fmt.Errorf("probes must be between 1 and records (%d), not %d", s.Records, s.Probes)
	}
	return nil
}

// Key is the key of input record i (W1, W3).
func (s Spec) Key(i int) string { return fmt.Sprintf("key-%d", i%s.Keys) }

// InputValue is the value of input record i: a google.protobuf.StringValue
// of exactly s.ValueBytes encoded bytes.
func (s Spec) InputValue(i int) []byte {
	text := fmt.Sprintf("event-%d-", i)
	// Tag and one-byte length take 2 bytes while the text is under 128.
	pad := s.ValueBytes - 2 - len(text)
	if s.ValueBytes-2 >= 128 {
		pad-- // two-byte length
	}
	if pad > 0 {
		text += strings.Repeat("x", pad)
	}
	return mustMarshal(wrapperspb.String(text))
}

// ExpectedCount is the final count of key index k after all inputs.
func (s Spec) ExpectedCount(k int) int64 {
	n := int64(s.Records / s.Keys)
	if k < s.Records%s.Keys {
		n++
	}
	return n
}

// Customer is the join table's value for key index k: a customer id. The
// mapping spreads keys over customers so lookups hit the whole table.
func (s Spec) Customer(k int) string { return fmt.Sprintf("cust-%d", (k*7919+13)%s.Customers) }

// CustomerName is the lookup table's value for customer c.
func CustomerName(customer string) string { return "name of " + customer }

// Enriched is the W3 output text for key index k.
func (s Spec) Enriched(k int) string {
	c := s.Customer(k)
	return c + "|" + CustomerName(c)
}

// RestoreKey is key i of W2's restored state.
func RestoreKey(i int) string { return fmt.Sprintf("rkey-%d", i) }

// RestoredCount is the count W2's changelog holds for restore key i.
func RestoredCount(i int) int64 { return int64(i%1000) + 1 }

// Probe is restore-key index of W2's probe p: probes are spread over the
// whole key space, and distinct.
func (s Spec) Probe(p int) int { return int(int64(p) * int64(s.Records) / int64(s.Probes)) }

// Int64Value encodes n as a google.protobuf.Int64Value.
func Int64Value(n int64) []byte { return mustMarshal(wrapperspb.Int64(n)) }

// StringValue encodes s as a google.protobuf.StringValue.
func StringValue(s string) []byte { return mustMarshal(wrapperspb.String(s)) }

// Int64BigEndian encodes n as Kafka's LongSerializer does (Kafka Streams'
// count store and changelog).
func Int64BigEndian(n int64) []byte {
	b := make([]byte, 8)
	for i := range 8 {
		b[i] = byte(n >> (56 - 8*i))
	}
	return b
}

func mustMarshal(m proto.Message) []byte {
	b, err := proto.Marshal(m)
	if err != nil {
		panic(err) // wrappers always marshal
	}
	return b
}
