package sink

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Class says what the runner should do about a failed write.
type Class int

const (
	// ClassRetryable errors are retried with capped exponential backoff
	// (or after the delay they carry, when longer). It is the class of any
	// error not marked otherwise.
	ClassRetryable Class = iota
	// ClassPermanent errors are not retried: the records go to dead
	// letters with the error as the reason, and the stream moves on.
	ClassPermanent
	// ClassThrottled errors say the destination is busy, not failing: the
	// runner waits the delay it asked for (the longest backoff when it
	// gave none), without growing its backoff or counting a failure, and
	// shows the stream as throttled.
	ClassThrottled
	// ClassPaused errors stop the stream until an operator reactivates it
	// (for example a webhook answering 410 Gone).
	ClassPaused
	// ClassConfig errors say the destination refuses us, not the events
	// (bad credentials, missing bucket or endpoint): the events are fine,
	// so they are not dead-lettered; the runner holds the stream in an
	// error state and retries slowly until the configuration is fixed.
	ClassConfig
)

func (c Class) String() string {
	switch c {
	case ClassPermanent:
		return "permanent"
	case ClassThrottled:
		return "throttled"
	case ClassPaused:
		return "paused"
	case ClassConfig:
		return "config"
	default:
		return "retryable"
	}
}

type classified struct {
	err   error
	class Class
	delay time.Duration
}

func (e *classified) Error() string { return e.err.Error() }
func (e *classified) Unwrap() error { return e.err }

// Mark marks err with class and the delay the destination asked for
// (zero when it did not say); nil stays nil.
func Mark(err error, class Class, delay time.Duration) error {
	if err == nil {
		return nil
	}
	return &classified{err: err, class: class, delay: delay}
}

// Permanent marks err as not worth retrying.
func Permanent(err error) error { return Mark(err, ClassPermanent, 0) }

// Throttled marks err as a throttling answer; delay is how long the
// destination asked to wait (zero when it did not say).
func Throttled(err error, delay time.Duration) error { return Mark(err, ClassThrottled, delay) }

// RetryAfter marks err as retryable after at least delay (for example a 503
// with Retry-After).
func RetryAfter(err error, delay time.Duration) error { return Mark(err, ClassRetryable, delay) }

// Paused marks err as one that stops the stream until an operator acts.
func Paused(err error) error { return Mark(err, ClassPaused, 0) }

// Misconfigured marks err as a configuration problem on the destination's
// side (401, 403, a missing bucket): retried slowly, never dead-lettered.
func Misconfigured(err error) error { return Mark(err, ClassConfig, 0) }

// ClassOf reports the class of err and the delay it carries, if any.
// Unmarked errors are ClassRetryable with no delay.
func ClassOf(err error) (Class, time.Duration) {
	var c *classified
	if errors.As(err, &c) {
		return c.class, c.delay
	}
	return ClassRetryable, 0
}

// PartialError reports a write in which some records were delivered and
// others failed. Records not listed in Failed were delivered.
type PartialError struct {
	// Failed maps an index into Batch.Records to that record's error,
	// classified like a whole-batch error.
	Failed map[int]error
}

// Error names the failure of the first failed record, so the same
// outcome always reads the same (status.lastError).
func (e *PartialError) Error() string {
	first := -1
	for i := range e.Failed {
		if first < 0 || i < first {
			first = i
		}
	}
	return fmt.Sprintf("%d records failed, e.g. %v", len(e.Failed), e.Failed[first])
}

// ParseRetryAfter reads an HTTP Retry-After value in either of its forms,
// delta-seconds or an HTTP date, relative to now. It returns zero for a
// missing or unreadable value and never a negative duration.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0
		}
		if secs > int64(24*time.Hour/time.Second) {
			secs = int64(24 * time.Hour / time.Second)
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}
