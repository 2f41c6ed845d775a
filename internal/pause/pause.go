// Package pause waits for a time or for a context to end, whichever comes
// first: the pause between two polls, a retry's backoff, a Retry-After.
// Its timer runs on the clock of a testing/synctest bubble, so tests of
// the code that pauses take no real time.
package pause

import (
	"context"
	"time"
)

// For waits d, or until ctx ends, and returns ctx.Err(): nil when the
// whole pause passed with ctx still live. A d of zero or less does not
// wait.
func For(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return ctx.Err()
	case <-ctx.Done():
		return ctx.Err()
	}
}
