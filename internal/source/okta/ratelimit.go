package okta

import (
	"context"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/auditstream/auditstream/internal/source"
)

// reservePart is the share of the bucket the poller leaves to the org's
// other integrations when its own share is below 1 (OKTA.md §1.4).
const reservePart = 0.2

// limiter keeps one source's calls within its share of the org's rate
// limit. It lets one call through at a time (a poller and a backfill of
// the same source take turns), and counts the calls of each rate-limit
// window by the X-Rate-Limit-Reset the org reports for it.
type limiter struct {
	share  float64
	margin time.Duration
	now    func() time.Time
	sem    chan struct{}

	// Guarded by sem.
	window    time.Time // reset of the window the last counted call fell in
	used      int       // our calls counted in window
	limit     int
	remaining int
	skew      time.Duration // org clock minus ours, when it matters
}

func newLimiter(share float64, margin time.Duration, now func() time.Time) *limiter {
	return &limiter{share: share, margin: margin, now: now, sem: make(chan struct{}, 1)}
}

// budget is how many calls a window allows us.
func (l *limiter) budget() int {
	return max(1, int(math.Floor(l.share*float64(l.limit))))
}

// acquire blocks until a call may be made, calling wait before each pause.
// The caller must call release after the call.
func (l *limiter) acquire(ctx context.Context, wait func(source.RateLimit, time.Duration)) error {
	select {
	case l.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	for {
		d := l.delay()
		if d <= 0 {
			return nil
		}
		if wait != nil {
			wait(source.RateLimit{Limit: l.limit, Remaining: l.remaining, Reset: l.window}, d)
		}
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			<-l.sem
			return ctx.Err()
		}
	}
}

// delay is how long to wait before the next call.
func (l *limiter) delay() time.Duration {
	if l.window.IsZero() || l.limit <= 0 {
		return 0
	}
	now := l.now().Add(l.skew)
	if !now.Before(l.window) {
		return 0 // a new window
	}
	full := l.used >= l.budget()
	if l.share < 1 && l.remaining < int(math.Ceil(reservePart*float64(l.limit))) {
		full = true
	}
	if !full {
		return 0
	}
	return l.window.Sub(now) + l.margin
}

// release records the response's rate-limit headers (h may be nil when the
// call failed before an answer) and lets the next call through.
func (l *limiter) release(h http.Header, status int) source.RateLimit {
	defer func() { <-l.sem }()
	limit, okL := headerInt(h, "X-Rate-Limit-Limit")
	remaining, okR := headerInt(h, "X-Rate-Limit-Remaining")
	reset, okReset := headerInt(h, "X-Rate-Limit-Reset")
	if h != nil {
		if date, err := http.ParseTime(h.Get("Date")); err == nil {
			// The Date header has whole seconds: only a real skew counts.
			if sk := date.Sub(l.now()); sk > 2*time.Second || sk < -2*time.Second {
				l.skew = sk
			} else {
				l.skew = 0
			}
		}
	}
	if okReset && okL && limit > 0 {
		rt := time.Unix(int64(reset), 0)
		switch {
		case rt.Equal(l.window):
			l.used++
		case rt.After(l.window):
			l.window, l.used = rt, 1
		}
		l.limit = limit
		if okR {
			l.remaining = remaining
		}
		if status == http.StatusTooManyRequests {
			l.used = max(l.used, l.budget())
		}
	} else if h != nil && !l.window.IsZero() && l.now().Add(l.skew).Before(l.window) {
		l.used++
	}
	return source.RateLimit{Limit: l.limit, Remaining: l.remaining, Reset: l.window}
}

func headerInt(h http.Header, name string) (int, bool) {
	if h == nil {
		return 0, false
	}
	v := h.Get(name)
	if v == "" {
		return 0, false
	}
	n, err := strconv.Atoi(v)
	return n, err == nil
}

// retryAfter429 is how long to wait after a 429: until the window resets
// by the org's clock plus a second (the Okta SDK's formula), at most
// maxWait. ok is false when the headers do not say (a concurrency limit
// reports Limit 0), and the caller backs off instead.
func retryAfter429(h http.Header, maxWait time.Duration, now time.Time) (time.Duration, bool) {
	limit, _ := headerInt(h, "X-Rate-Limit-Limit")
	reset, ok := headerInt(h, "X-Rate-Limit-Reset")
	if !ok || limit == 0 {
		return 0, false
	}
	date, err := http.ParseTime(h.Get("Date"))
	if err != nil {
		date = now
	}
	d := time.Unix(int64(reset), 0).Sub(date) + time.Second
	return min(max(d, time.Second), maxWait), true
}
