package pause

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

// TestFor waits the whole pause on the bubble's clock, returns at once
// for a pause of zero, and returns the context's error as soon as it ends.
func TestFor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		if err := For(t.Context(), time.Minute); err != nil {
			t.Fatalf("got %v, want nil", err)
		}
		if got := time.Since(start); got != time.Minute {
			t.Errorf("waited %v, want 1m0s", got)
		}
		if err := For(t.Context(), 0); err != nil {
			t.Errorf("zero: got %v, want nil", err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		start = time.Now()
		if err := For(ctx, time.Hour); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("got %v, want %v", err, context.DeadlineExceeded)
		}
		if got := time.Since(start); got != 10*time.Second {
			t.Errorf("cancelled after %v, want 10s", got)
		}
		if err := For(ctx, 0); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("zero after the end: got %v, want %v", err, context.DeadlineExceeded)
		}
	})
}
