package harness

import (
	"errors"
	"slices"
	"testing"
	"time"
)

func TestMedianTakesTheMiddleRunAndTheRange(t *testing.T) {
	run := func(wall time.Duration) Result { return Result{Items: 1000, Wall: wall} }
	m := median([]Result{run(4 * time.Second), run(1 * time.Second), run(2 * time.Second)})
	if m.Wall != 2*time.Second || len(m.RoundRates) != 3 {
		t.Fatalf("median of 250/s, 1000/s, 500/s is the %s run of %d", m.Wall, len(m.RoundRates))
	}
	if lo, hi := m.RateRange(); lo != 250 || hi != 1000 {
		t.Fatalf("range %v–%v, want 250–1000", lo, hi)
	}
	if !slices.Equal(m.RoundRates, []float64{250, 1000, 500}) {
		t.Fatalf("round rates %v, want them in round order", m.RoundRates)
	}
	even := median([]Result{run(time.Second), run(2 * time.Second)})
	if even.Wall != 2*time.Second {
		t.Fatalf("of two runs the slower counts, got the %s run", even.Wall)
	}
	failed := median([]Result{run(time.Second), {Err: errors.New("wrong count")}})
	if failed.Err == nil {
		t.Fatal("a failed run was hidden by a good one")
	}
}
