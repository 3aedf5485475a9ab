package runner

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

type wrappedKey struct{}

// TestCommitEpochWaitsForItsOwnRecords: an epoch is done once it is sealed
// and every record counted in it is released, in any order (also before
// its count was added), also when a
// hook replaced a record's Context with one derived from the epoch
// (kotel does); records of the next epoch do not hold it up.
func TestCommitEpochWaitsForItsOwnRecords(t *testing.T) {
	done := func(e *commitEpoch) bool {
		select {
		case <-e.done:
			return true
		default:
			return false
		}
	}
	e := newCommitEpoch()
	a, b := &kgo.Record{}, &kgo.Record{}
	e.track(a)
	e.track(b)
	// A hook wraps b's context, as kotel's OnProduceRecordBuffered does.
	b.Context = context.WithValue(b.Context, wrappedKey{}, "span")
	next := newCommitEpoch()
	c := &kgo.Record{}
	next.track(c)
	next.add(1)

	// b is acknowledged before its task added the poll's count: the
	// epoch must not end on it.
	releaseEpoch(b)
	if done(e) {
		t.Fatal("epoch done by an acknowledgement that came before its record was counted")
	}
	e.add(2)
	e.seal()
	if done(e) {
		t.Fatal("epoch done with a record not acknowledged")
	}
	releaseEpoch(a)
	if !done(e) {
		t.Fatal("epoch not done after every record was acknowledged and it was sealed")
	}
	if done(next) {
		t.Fatal("the next epoch is done before it was sealed")
	}
	next.seal()
	if done(next) {
		t.Fatal("the next epoch is done with its record not acknowledged")
	}
	releaseEpoch(c)
	if !done(next) {
		t.Fatal("the next epoch is not done")
	}
	// A record produced outside any epoch (exactly-once, memory) is
	// ignored.
	releaseEpoch(&kgo.Record{})
	releaseEpoch(&kgo.Record{Context: context.Background()})

	// An epoch with no records is done when sealed.
	empty := newCommitEpoch()
	empty.seal()
	if !done(empty) {
		t.Fatal("an empty sealed epoch is not done")
	}
}
