package workload

import (
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

func TestInputValuesHaveTheConfiguredSize(t *testing.T) {
	for _, size := range []int{16, 100, 129, 131, 300} {
		s := Default()
		s.ValueBytes = size
		for _, i := range []int{0, 9, 10, 99_999, 1_000_000} {
			v := s.InputValue(i)
			if len(v) != size {
				t.Errorf("size %d: value %d is %d bytes", size, i, len(v))
			}
			var m wrapperspb.StringValue
			if err := proto.Unmarshal(v, &m); err != nil {
				t.Fatalf("value %d: %v", i, err)
			}
		}
	}
}

func TestExpectedCountsAddUpToRecords(t *testing.T) {
	s := Default()
	s.Records, s.Keys = 1003, 10
	var total int64
	for k := range s.Keys {
		total += s.ExpectedCount(k)
	}
	if total != int64(s.Records) {
		t.Fatalf("counts add up to %d, want %d", total, s.Records)
	}
	if s.ExpectedCount(2) != 101 || s.ExpectedCount(3) != 100 {
		t.Fatalf("key 2 has %d, key 3 has %d; want 101 and 100", s.ExpectedCount(2), s.ExpectedCount(3))
	}
}

func TestProbesAreDistinctAndInRange(t *testing.T) {
	s := Default()
	s.Records, s.Probes = 5000, 1000
	seen := map[int]bool{}
	for p := range s.Probes {
		i := s.Probe(p)
		if i < 0 || i >= s.Records || seen[i] {
			t.Fatalf("probe %d is restore key %d (duplicate or out of range)", p, i)
		}
		seen[i] = true
	}
}

func TestInt64BigEndianIsJavasLongSerializer(t *testing.T) {
	got := Int64BigEndian(0x0102030405060708)
	want := []byte{1, 2, 3, 4, 5, 6, 7, 8}
	if string(got) != string(want) {
		t.Fatalf("got % x, want % x", got, want)
	}
}
