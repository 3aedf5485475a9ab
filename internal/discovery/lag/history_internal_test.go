package lag

import (
	"testing"
	"time"
)

// The lag history keeps one point per minute (the latest of that minute)
// over the last hour, and forgets groups no longer measured.
func TestLagHistoryOnePointPerMinuteForAnHour(t *testing.T) {
	m := New(nil)
	start := time.Date(2026, 12, 6, 4, 0, 0, 0, time.UTC)
	for i := range 150 { // 75 minutes, every 30 s
		now := start.Add(time.Duration(i) * 30 * time.Second)
		m.groups = map[string]Group{"g": {Name: "g", Lag: int64(i)}}
		m.record(now)
	}
	g, _ := m.Group("g")
	h := g.History
	if len(h) != 61 && len(h) != 60 {
		t.Fatalf("%d points, want one per minute of the last hour", len(h))
	}
	last := h[len(h)-1]
	if last.Lag != 149 || !last.At.Equal(start.Add(149*30*time.Second)) {
		t.Errorf("last point %+v, want the latest measure", last)
	}
	if first := h[0]; last.At.Sub(first.At) > time.Hour {
		t.Errorf("history spans %s", last.At.Sub(first.At))
	}
	for i := 1; i < len(h); i++ {
		if h[i].At.Truncate(time.Minute).Equal(h[i-1].At.Truncate(time.Minute)) {
			t.Errorf("two points in minute %s", h[i].At)
		}
	}
	m.groups = map[string]Group{}
	m.record(start.Add(2 * time.Hour))
	if _, ok := m.history["g"]; ok {
		t.Error("a group no longer measured keeps its history")
	}
}
