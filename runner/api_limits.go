package runner

import (
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// watchLimiter bounds Watch streams: open streams per caller and in all,
// and how fast one caller may start them (a token bucket per caller).
type watchLimiter struct {
	limits WatchLimits
	now    func() time.Time

	mu      sync.Mutex
	total   int
	callers map[string]*callerLimit
}

type callerLimit struct {
	open   int
	tokens float64   // start tokens left, up to Burst
	at     time.Time // when tokens was last brought up to date
}

// forgetAfter is how many callers the limiter keeps before it forgets the
// idle ones whose buckets are full again.
const forgetAfter = 1024

func newWatchLimiter(l WatchLimits) *watchLimiter {
	return &watchLimiter{limits: l, now: time.Now, callers: map[string]*callerLimit{}}
}

// admit counts a new stream of caller id, or refuses it with
// ResourceExhausted naming the limit. release must be called once when
// the stream ends.
func (l *watchLimiter) admit(id string) (release func(), err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	lim := l.limits
	if len(l.callers) >= forgetAfter {
		l.forget(now)
	}
	c := l.callers[id]
	if c == nil {
		c = &callerLimit{tokens: float64(lim.Burst), at: now}
		l.callers[id] = c
	}
	if lim.StartsPerSecond > 0 && lim.Burst > 0 {
		c.tokens = min(float64(lim.Burst), c.tokens+now.Sub(c.at).Seconds()*lim.StartsPerSecond)
		c.at = now
	}
	switch {
	case lim.PerCaller > 0 && c.open >= lim.PerCaller:
		return nil, status.Errorf(codes.ResourceExhausted,
			"caller %s already has %d Watch streams open, the limit per caller (runner.WithWatchLimits PerCaller); end one first", id, c.open)
	case lim.Total > 0 && l.total >= lim.Total:
		return nil, status.Errorf(codes.ResourceExhausted,
			"%d Watch streams are open, the limit of this service (runner.WithWatchLimits Total); try again later", l.total)
	case lim.StartsPerSecond > 0 && lim.Burst > 0 && c.tokens < 1:
		return nil, status.Errorf(codes.ResourceExhausted,
			"caller %s starts Watch streams faster than the limit of %g a second after a burst of %d (runner.WithWatchLimits StartsPerSecond, Burst); try again in %s",
			id, lim.StartsPerSecond, lim.Burst, time.Duration((1-c.tokens)/lim.StartsPerSecond*float64(time.Second)).Round(time.Millisecond))
	}
	if lim.StartsPerSecond > 0 && lim.Burst > 0 {
		c.tokens--
	}
	c.open++
	l.total++
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			c.open--
			l.total--
		})
	}, nil
}

// forget drops idle callers whose bucket has filled up again: they are
// indistinguishable from callers never seen.
func (l *watchLimiter) forget(now time.Time) {
	for id, c := range l.callers {
		if c.open > 0 {
			continue
		}
		full := l.limits.StartsPerSecond <= 0 || l.limits.Burst <= 0 ||
			c.tokens+now.Sub(c.at).Seconds()*l.limits.StartsPerSecond >= float64(l.limits.Burst)
		if full {
			delete(l.callers, id)
		}
	}
}
