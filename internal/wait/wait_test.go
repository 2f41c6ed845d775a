package wait_test

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/auditstream/auditstream/internal/wait"
)

// recorder is a testing.TB whose Fatalf records the message and ends the
// goroutine, as the real one does.
type recorder struct {
	testing.TB
	mu     sync.Mutex
	failed string
}

func (r *recorder) Helper() {}

func (r *recorder) Fatalf(format string, args ...any) {
	r.mu.Lock()
	r.failed = fmt.Sprintf(format, args...)
	r.mu.Unlock()
	runtime.Goexit()
}

// run calls f with a recorder on its own goroutine and returns the
// failure message ("" when f returned).
func run(t *testing.T, f func(testing.TB)) string {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
	return r.failed
}

func TestEventually(t *testing.T) {
	tests := []struct {
		name    string
		trueAt  time.Duration // the condition holds from then on; <0 never
		opts    []wait.Option
		wantErr string // "" when it must pass
		took    time.Duration
	}{
		{name: "at once", trueAt: 0, took: 0},
		{name: "later", trueAt: 3 * time.Second, took: 3 * time.Second},
		{name: "never", trueAt: -1, wantErr: "timed out after 10s waiting for the thing", took: wait.DefaultTimeout + wait.DefaultInterval},
		{name: "too late for within", trueAt: 3 * time.Second, opts: []wait.Option{wait.Within(time.Second)},
			wantErr: "timed out after 1s waiting for the thing", took: time.Second + wait.DefaultInterval},
		{name: "seen", trueAt: -1, opts: []wait.Option{wait.Within(time.Second), wait.Seen(func() string { return "3 of 4" })},
			wantErr: "timed out after 1s waiting for the thing; got 3 of 4"},
		{name: "every", trueAt: 150 * time.Millisecond, opts: []wait.Option{wait.Every(time.Second)}, took: time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				start := time.Now()
				failed := run(t, func(tb testing.TB) {
					wait.Eventually(tb, "the thing", func() bool {
						return tt.trueAt >= 0 && time.Since(start) >= tt.trueAt
					}, tt.opts...)
				})
				if failed != tt.wantErr {
					t.Errorf("got failure %q, want %q", failed, tt.wantErr)
				}
				if took := time.Since(start); tt.took != 0 && took != tt.took {
					t.Errorf("got %v on the clock, want %v", took, tt.took)
				}
			})
		})
	}
}

func TestNever(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		if failed := run(t, func(tb testing.TB) {
			wait.Never(tb, "a retry", time.Second, func() bool { return false })
		}); failed != "" {
			t.Errorf("got failure %q for a condition that never held, want none", failed)
		}
		if took := time.Since(start); took < time.Second {
			t.Errorf("got %v on the clock, want the whole second", took)
		}
		start = time.Now()
		failed := run(t, func(tb testing.TB) {
			wait.Never(tb, "a retry", time.Minute, func() bool { return time.Since(start) >= 2*time.Second })
		})
		if !strings.Contains(failed, "got a retry, want it not to happen") {
			t.Errorf("got failure %q, want the retry named", failed)
		}
		if took := time.Since(start); took != 2*time.Second {
			t.Errorf("got %v on the clock, want a failure as soon as it held (2s)", took)
		}
	})
}
