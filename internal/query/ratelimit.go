package query

import (
	"math"
	"sync"
	"time"
)

// limiter is a token bucket per API token: PerMinute requests a minute on
// average, with bursts of up to PerMinute. The numbers are reported in
// Okta's X-Rate-Limit-* headers.
type limiter struct {
	perMinute int
	now       func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

// rateState is what one request learns about its bucket.
type rateState struct {
	ok        bool
	limit     int
	remaining int
	// reset is when the bucket is full again; when !ok, when the next
	// request will be accepted.
	reset time.Time
}

func newLimiter(perMinute int, now func() time.Time) *limiter {
	return &limiter{perMinute: perMinute, now: now, buckets: map[string]*bucket{}}
}

// take spends one token of key's bucket if it has one.
func (l *limiter) take(key string) rateState {
	now := l.now()
	limit := float64(l.perMinute)
	perSec := limit / 60
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		b = &bucket{tokens: limit, at: now}
		l.buckets[key] = b
	}
	b.tokens = math.Min(limit, b.tokens+now.Sub(b.at).Seconds()*perSec)
	b.at = now
	st := rateState{limit: l.perMinute}
	if b.tokens >= 1 {
		b.tokens--
		st.ok = true
		st.remaining = int(b.tokens)
		st.reset = now.Add(secondsCeil((limit - b.tokens) / perSec))
		return st
	}
	st.reset = now.Add(secondsCeil((1 - b.tokens) / perSec))
	return st
}

// secondsCeil turns seconds into a duration rounded up to a whole second,
// since the Reset header is in epoch seconds.
func secondsCeil(s float64) time.Duration {
	return time.Duration(math.Ceil(s)) * time.Second
}
