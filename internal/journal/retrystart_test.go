package journal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestRetryStart: Open retries a step while NATS does not answer (a node
// started during a NATS fault waits for the cluster), and gives up at once
// on an answer that refuses.
func TestRetryStart(t *testing.T) {
	tests := []struct {
		name      string
		errs      []error // the step's results, in turn
		wantCalls int
		wantErr   bool
	}{
		{"no responders, then done", []error{fmt.Errorf("create stream: %w", nats.ErrNoResponders), nil}, 2, false},
		{"timeout, then done", []error{fmt.Errorf("create stream: %w", context.DeadlineExceeded), nil}, 2, false},
		{"no response from the stream, then done", []error{fmt.Errorf("store token: %w", jetstream.ErrNoStreamResponse), nil}, 2, false},
		{"refused at once", []error{&jetstream.APIError{ErrorCode: 10005, Description: "insufficient storage"}}, 1, true},
		{"other error at once", []error{errors.New("bad config")}, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := &Journal{log: slog.New(slog.DiscardHandler)}
			calls := 0
			err := j.retryStart(t.Context(), func(context.Context) error {
				calls++
				return tt.errs[min(calls, len(tt.errs))-1]
			})
			if calls != tt.wantCalls || (err != nil) != tt.wantErr {
				t.Errorf("got %d calls, err %v; want %d calls, error %v", calls, err, tt.wantCalls, tt.wantErr)
			}
		})
	}
}
