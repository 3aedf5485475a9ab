package harness

import (
	"os"
	"testing"
	"time"
)

func TestCPUAndPeakRSSOfThisProcess(t *testing.T) {
	before, err := cpuSeconds(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// Burn at least 0.1s of CPU and touch 64 MiB.
	buf := make([]byte, 64<<20)
	for i := range buf {
		buf[i] = byte(i)
	}
	x := 0
	for start := time.Now(); time.Since(start) < 300*time.Millisecond; {
		x++
	}
	after, err := cpuSeconds(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if after-before < 0.1 {
		t.Errorf("CPU went from %.2fs to %.2fs after a busy loop", before, after)
	}
	rss, err := peakRSS(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if rss < 64<<20 {
		t.Errorf("peak RSS %d bytes after touching 64 MiB", rss)
	}
	_ = buf[x%len(buf)]
}

func TestCPUAt(t *testing.T) {
	t0 := time.Unix(100, 0)
	s := []cpuSample{{t0, 1}, {t0.Add(time.Second), 2}, {t0.Add(2 * time.Second), 5}}
	for _, c := range []struct {
		at   time.Time
		want float64
	}{{t0.Add(-time.Second), 1}, {t0, 1}, {t0.Add(1500 * time.Millisecond), 2}, {t0.Add(time.Hour), 5}} {
		if got := cpuAt(s, c.at); got != c.want {
			t.Errorf("cpuAt(%v) = %v, want %v", c.at.Sub(t0), got, c.want)
		}
	}
}
