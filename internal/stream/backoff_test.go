package stream

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/sink"
)

// scriptedSink fails its first writes with the errors of script, then
// accepts, and notes when each write came (on the bubble's clock).
type scriptedSink struct {
	mu     sync.Mutex
	script []error
	times  []time.Time
}

func (s *scriptedSink) Limits() sink.Limits            { return sink.Limits{MaxEvents: 10} }
func (s *scriptedSink) EncodedSize(r event.Record) int { return len(r.Data) + 1 }
func (s *scriptedSink) Verify(context.Context) error   { return nil }
func (s *scriptedSink) Close(context.Context) error    { return nil }
func (s *scriptedSink) Write(context.Context, sink.Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.times = append(s.times, time.Now())
	if n := len(s.times) - 1; n < len(s.script) {
		return s.script[n]
	}
	return nil
}

// gaps are the waits between the writes.
func (s *scriptedSink) gaps() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []time.Duration
	for i := 1; i < len(s.times); i++ {
		out = append(out, s.times[i].Sub(s.times[i-1]))
	}
	return out
}

// TestDeliverWaitsOnTheClock runs the runner's retry loop in a
// testing/synctest bubble (no journal: deliver alone, with a scripted
// sink), so each wait between two writes is measured exactly: the
// backoff doubles from BaseDelay (full jitter above half) up to MaxDelay;
// a throttling destination is waited for as asked, without growing the
// backoff; Retry-After longer than the backoff is honoured; config errors
// wait ConfigDelay.
func TestDeliverWaitsOnTheClock(t *testing.T) {
	boom := errors.New("boom")
	type span struct{ min, max time.Duration }
	for _, tc := range []struct {
		name   string
		script []error
		want   []span
	}{
		{"backoff doubles to the cap", []error{boom, boom, boom, boom, boom},
			[]span{{500 * time.Millisecond, time.Second}, {time.Second, 2 * time.Second}, {2 * time.Second, 4 * time.Second},
				{2 * time.Second, 4 * time.Second}, {2 * time.Second, 4 * time.Second}}},
		{"throttling does not grow the backoff", []error{boom, sink.Throttled(boom, 3*time.Second), sink.Throttled(boom, 0), boom},
			[]span{{500 * time.Millisecond, time.Second}, {3 * time.Second, 3 * time.Second}, {4 * time.Second, 4 * time.Second},
				{time.Second, 2 * time.Second}}},
		{"retry-after longer than the backoff", []error{sink.RetryAfter(boom, 7*time.Second)},
			[]span{{7 * time.Second, 7 * time.Second}}},
		{"config errors wait long", []error{sink.Misconfigured(boom)},
			[]span{{time.Minute, time.Minute}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := &scriptedSink{script: tc.script}
				r := NewRunner(RunnerConfig{Def: Definition{}, Sink: s, Log: slog.New(slog.DiscardHandler),
					Metrics: NewMetrics(prometheus.NewRegistry()), Status: &Status{},
					BaseDelay: time.Second, MaxDelay: 4 * time.Second, ConfigDelay: time.Minute})
				r.feed = &memIter{wake: make(chan struct{}, 1)} // an empty journal feed
				if err := r.deliver(t.Context(), []event.Record{{Data: []byte(`{}`)}}, 0); err != nil {
					t.Fatal(err)
				}
				gaps := s.gaps()
				if len(gaps) != len(tc.want) {
					t.Fatalf("got %d retries %v, want %d", len(gaps), gaps, len(tc.want))
				}
				for i, g := range gaps {
					if g < tc.want[i].min || g > tc.want[i].max {
						t.Errorf("wait %d: got %v, want %v to %v", i+1, g, tc.want[i].min, tc.want[i].max)
					}
				}
			})
		})
	}
}
