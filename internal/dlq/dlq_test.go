package dlq

import (
	"strconv"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Parse reads the runtime's headers; ReplayRecord goes back to the original
// topic and partition with the key, value and the record's own headers,
// without the dead-letter headers, marked kafmesh-replayed-from.
func TestParseAndReplayRecord(t *testing.T) {
	r := &kgo.Record{Topic: "g-dlq", Partition: 1, Offset: 7, Key: []byte("k"), Value: []byte("v"), Headers: []kgo.RecordHeader{
		{Key: HeaderError, Value: []byte("boom")}, {Key: HeaderTopic, Value: []byte("in")}, {Key: HeaderPartition, Value: []byte("3")},
		{Key: HeaderOffset, Value: []byte("42")}, {Key: HeaderGroup, Value: []byte("g")}, {Key: HeaderReplayedFrom, Value: []byte("g-dlq/0/1")},
		{Key: "traceparent", Value: []byte("00-x")},
	}}
	d, err := Parse(r)
	if err != nil {
		t.Fatal(err)
	}
	if d.Error != "boom" || d.OriginalTopic != "in" || d.OriginalPartition != 3 || d.OriginalOffset != 42 || d.Group != "g" ||
		d.ReplayedFrom != "g-dlq/0/1" || d.Headers["traceparent"] != "00-x" || len(d.Headers) != 1 {
		t.Fatalf("parsed %+v", d)
	}
	out := d.ReplayRecord("g-dlq")
	if out.Topic != "in" || out.Partition != 3 || string(out.Key) != "k" || string(out.Value) != "v" || len(out.Headers) != 2 ||
		out.Headers[0].Key != "traceparent" || out.Headers[1].Key != HeaderReplayedFrom || string(out.Headers[1].Value) != "g-dlq/1/7" {
		t.Fatalf("replay record %+v", out)
	}
	if _, err := Parse(&kgo.Record{Topic: "g-dlq"}); err == nil || !strings.Contains(err.Error(), "not a kafmesh dead letter") {
		t.Errorf("a record without headers: %v", err)
	}
	if got := Plan([]DeadLetter{d, d, {OriginalTopic: "other"}}); strings.Join(got, ";") != "1 to other;2 to in" {
		t.Errorf("plan %v", got)
	}
}

func TestParsePositions(t *testing.T) {
	want, err := ParsePositions([]string{"1/5", "7", " 1/5", "2/0"}, 0, 4)
	if err != nil {
		t.Fatal(err)
	}
	if len(want[1]) != 1 || want[1][0] != 5 || len(want[0]) != 1 || want[0][0] != 7 || want[2][0] != 0 {
		t.Errorf("positions %v", want)
	}
	for _, bad := range []string{"a/b", "-1/2", "1/-2", "x"} {
		if _, err := ParsePositions([]string{bad}, 0, 10); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// A hostile list of positions is refused by its length before it is read;
// up to the bound, many positions (most of them repeated) parse in linear
// time, each once.
func TestParsePositionsBound(t *testing.T) {
	const limit = 10000
	list := make([]string, limit+1)
	for i := range list {
		list[i] = "0/" + strconv.Itoa(i%7)
	}
	if _, err := ParsePositions(list, 0, limit); err == nil || !strings.Contains(err.Error(), "10001 positions: at most 10000") {
		t.Fatalf("%d positions: %v", len(list), err)
	}
	want, err := ParsePositions(list[:limit], 0, limit)
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != 1 || len(want[0]) != 7 {
		t.Errorf("positions %v, want the 7 distinct offsets of partition 0", want)
	}
}
