package harness

import (
	"errors"
	"testing"
	"time"
)

func TestMedianTakesTheMiddleRunAndTheRange(t *testing.T) {
	run := func(wall time.Duration) Result { return Result{Items: 1000, Wall: wall} }
	m := median([]Result{run(4 * time.Second), run(1 * time.Second), run(2 * time.Second)})
	if m.Wall != 2*time.Second || m.Runs != 3 {
		t.Fatalf("median of 250/s, 1000/s, 500/s is the %s run of %d", m.Wall, m.Runs)
	}
	if m.RateMin != 250 || m.RateMax != 1000 {
		t.Fatalf("range %v–%v, want 250–1000", m.RateMin, m.RateMax)
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
