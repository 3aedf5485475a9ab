package cli

import (
	"testing"

	"github.com/kafmesh/kafmesh/runner"
)

// After the confirmation only the transactions listed again, the same
// producer, epoch and start offset on the same partition, are aborted: one
// that ended meanwhile, or an open one of a new epoch or start in its place,
// is left alone.
func TestStillHanging(t *testing.T) {
	h := runner.HangingTransaction{Topic: "t", Partition: 1, ProducerID: 7, ProducerEpoch: 2, StartOffset: 40}
	ended := runner.HangingTransaction{Topic: "t", Partition: 2, ProducerID: 8, ProducerEpoch: 0, StartOffset: 5}
	newEpoch, newStart, other := h, h, h
	newEpoch.ProducerEpoch = 3
	newStart.StartOffset = 41
	other.Topic = "u"
	before := []runner.HangingTransaction{h, ended, newEpoch, newStart, other}
	again := h
	again.CoordinatorState = "Empty" // other fields may change
	still, gone := stillHanging(before, []runner.HangingTransaction{again})
	if len(still) != 1 || still[0] != h {
		t.Errorf("still hanging %v, want only %v", still, h)
	}
	if len(gone) != 4 {
		t.Errorf("gone %v, want the other 4", gone)
	}
	if still, gone := stillHanging(before, nil); len(still) != 0 || len(gone) != len(before) {
		t.Errorf("nothing hanging any more: still %v, gone %d", still, len(gone))
	}
}
