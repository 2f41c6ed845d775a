package okta

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"testing/synctest"
	"time"
)

func headers(limit, remaining int, reset time.Time) http.Header {
	h := http.Header{}
	h.Set("X-Rate-Limit-Limit", strconv.Itoa(limit))
	h.Set("X-Rate-Limit-Remaining", strconv.Itoa(remaining))
	h.Set("X-Rate-Limit-Reset", strconv.FormatInt(reset.Unix(), 10))
	h.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	return h
}

// TestLimiterShare makes calls against a 60 s window of 10: with a share
// of 0.5 the sixth call waits for the reset; with 1 the reserve of 20% is
// not kept.
func TestLimiterShare(t *testing.T) {
	tests := []struct {
		name     string
		share    float64
		otherUse int // calls other clients made in the window first
		wantFree int // calls before a wait
	}{
		{"half", 0.5, 0, 5},
		{"quarter", 0.25, 0, 2},
		{"half with a busy bucket", 0.5, 6, 3}, // remaining below 2 (20%) after 3 of ours
		{"all", 1, 0, 10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l := newLimiter(tc.share, time.Second, time.Now)
				reset := time.Now().Truncate(time.Second).Add(60 * time.Second)
				used := tc.otherUse
				free := 0
				for free < 20 {
					start := time.Now()
					if err := l.acquire(context.Background(), nil); err != nil {
						t.Fatal(err)
					}
					if waited := time.Since(start); waited > 0 {
						if want := reset.Sub(start) + time.Second; waited != want {
							t.Fatalf("wait: got %v, want %v (until the reset plus the margin)", waited, want)
						}
						l.release(nil, 0)
						break
					}
					used++
					free++
					l.release(headers(10, 10-used, reset), 200)
				}
				if free != tc.wantFree {
					t.Fatalf("calls before a wait: got %d, want %d", free, tc.wantFree)
				}
			})
		})
	}
}

func TestRetryAfter429(t *testing.T) {
	date := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		limit  string
		reset  time.Time
		want   time.Duration
		wantOK bool
	}{
		{"reset in 10s", "50", date.Add(10 * time.Second), 11 * time.Second, true},
		{"capped", "50", date.Add(10 * time.Minute), time.Minute, true},
		{"concurrency limit", "0", date.Add(10 * time.Second), 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			h.Set("X-Rate-Limit-Limit", tc.limit)
			h.Set("X-Rate-Limit-Reset", strconv.FormatInt(tc.reset.Unix(), 10))
			h.Set("Date", date.Format(http.TimeFormat))
			got, ok := retryAfter429(h, time.Minute, time.Now())
			if got != tc.want || ok != tc.wantOK {
				t.Fatalf("got %v %v, want %v %v", got, ok, tc.want, tc.wantOK)
			}
		})
	}
}
