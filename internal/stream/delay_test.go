package stream

import (
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/sink"
)

// TestRetryDelay: the runner alone caps what a destination asks for
// (sinks pass Retry-After as it came); throttled waits do not grow with
// the attempt.
func TestRetryDelay(t *testing.T) {
	r := &Runner{cfg: RunnerConfig{BaseDelay: 10 * time.Millisecond, MaxDelay: 40 * time.Millisecond, ConfigDelay: time.Minute}}
	for _, tc := range []struct {
		name    string
		class   sink.Class
		delay   time.Duration
		attempt int
		min     time.Duration
		max     time.Duration
	}{
		{"throttled, a day", sink.ClassThrottled, 24 * time.Hour, 0, maxThrottle, maxThrottle},
		{"retryable, a day", sink.ClassRetryable, 24 * time.Hour, 3, maxThrottle, maxThrottle},
		{"throttled as asked", sink.ClassThrottled, 2 * time.Second, 0, 2 * time.Second, 2 * time.Second},
		{"throttled without delay, first", sink.ClassThrottled, 0, 0, 40 * time.Millisecond, 40 * time.Millisecond},
		{"throttled without delay, later", sink.ClassThrottled, 0, 9, 40 * time.Millisecond, 40 * time.Millisecond},
		{"retryable backoff", sink.ClassRetryable, 0, 0, 5 * time.Millisecond, 10 * time.Millisecond},
		{"retryable asked longer", sink.ClassRetryable, time.Second, 0, time.Second, time.Second},
		{"config", sink.ClassConfig, 0, 0, time.Minute, time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := r.retryDelay(tc.class, tc.delay, tc.attempt); got < tc.min || got > tc.max {
				t.Fatalf("got %v, want %v to %v", got, tc.min, tc.max)
			}
		})
	}
}
