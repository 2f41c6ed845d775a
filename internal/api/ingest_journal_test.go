package api

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/journal"
)

func TestAppendFailure(t *testing.T) {
	evs := make([]event.Record, 4)
	for i := range evs {
		evs[i].UUID = fmt.Sprintf("u%d", i)
	}
	tests := []struct {
		name       string
		err        error
		status     int
		retryAfter time.Duration
		causes     []string
	}{
		{"disk full, nothing stored", &journal.AppendError{Full: true, Err: errors.New("no space left on device")},
			http.StatusInsufficientStorage, retryFull, []string{"no event of this request was confirmed stored: resend them all"}},
		{"disk full after two events", &journal.AppendError{Full: true, Stored: []int{0, 2}, Err: errors.New("timeout")},
			http.StatusInsufficientStorage, retryFull, []string{"2 of 4 events were stored", "stored: event 0 uuid u0", "stored: event 2 uuid u2"}},
		{"unavailable", fmt.Errorf("%w: closed", journal.ErrUnavailable),
			http.StatusServiceUnavailable, retryUnavailable, []string{"no event of this request"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := appendFailure(tt.err, evs)
			if e.Status != tt.status || e.RetryAfter != tt.retryAfter {
				t.Fatalf("got %d retry %s, want %d retry %s", e.Status, e.RetryAfter, tt.status, tt.retryAfter)
			}
			if len(e.Causes) != len(tt.causes) {
				t.Fatalf("causes: got %q, want %d like %q", e.Causes, len(tt.causes), tt.causes)
			}
			for i, c := range tt.causes {
				if !strings.HasPrefix(e.Causes[i], c) {
					t.Errorf("cause %d: got %q, want it to start with %q", i, e.Causes[i], c)
				}
			}
		})
	}
}
