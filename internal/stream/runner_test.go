package stream_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/sink"
	"github.com/auditstream/auditstream/internal/stream"
	"github.com/auditstream/auditstream/internal/wait"
)

func TestDeliversInJournalOrderWithIDs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	f := newFakeSink(sink.Limits{}, nil)
	e.setSink("s1", f)
	before := e.appendEvents("acme", "user.session.start", 0, 10)
	e.put(def("s1"))
	sup := e.start(time.Second)
	f.waitDelivered(t, 10)
	// Events appended while the stream runs are delivered too.
	after := e.appendEvents("other", "app.thing", 10, 25)
	got := f.waitDelivered(t, 25)

	if want := ids(0, 25); !equalIDs(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	evs := append(before, after...)
	pos := e.positions()
	var last uint64
	for i, r := range f.deliveredRecords() {
		ev := evs[i]
		if want := pos[ev.UUID]; r.Seq != want || r.Seq <= last || r.Org != ev.Org || r.EventType != ev.EventType ||
			!r.Published.Equal(ev.Published) || string(r.Data) != string(ev.Data) {
			t.Errorf("record %d: got %+v, want seq %d (after %d) org %s type %s published %v data %s",
				i, r, want, last, ev.Org, ev.EventType, ev.Published, ev.Data)
		}
		last = r.Seq
	}
	e.wantDeliveredMetric(t, "s1", 25)
	wait.Eventually(t, "lag to reach 0", func() bool {
		snap := sup.Snapshot(t.Context(), def("s1"))
		return snap.LagEvents == 0
	})
	snap := sup.Snapshot(t.Context(), def("s1"))
	if snap.ID != "s1" || snap.State != stream.StateActive || snap.Delivered != 25 || snap.Failed != 0 ||
		snap.LastSuccessAt.IsZero() || snap.LastError != "" {
		t.Errorf("got status %+v, want active, 25 delivered, no failures", snap)
	}
}

func TestOrgStreamSeesOnlyItsOrg(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	f := newFakeSink(sink.Limits{}, nil)
	e.setSink("s1", f)
	d := def("s1")
	d.Org = "acme"
	e.put(d)
	e.start(time.Second)
	e.appendEvents("other", "x", 0, 3)
	e.appendEvents("acme", "x", 3, 6)
	e.appendEvents("acme-2", "x", 6, 8) // not a prefix match of the subject token
	got := f.waitDelivered(t, 3)
	wait.Never(t, "events of another org", 300*time.Millisecond, func() bool { return len(f.deliveredIDs()) > 3 })
	if want := ids(3, 6); !equalIDs(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestBatchesStayWithinLimits(t *testing.T) {
	t.Parallel()
	// Every event below is 95 to 395 encoded bytes.
	sizes := []int{10, 300, 50, 200, 10, 10, 250, 100, 0, 300, 20, 20, 20, 150, 60, 5, 290, 80, 40, 10}
	tests := []struct {
		name   string
		limits sink.Limits
	}{
		{"max events", sink.Limits{MaxEvents: 3}},
		{"max bytes", sink.Limits{MaxBytes: 600}},
		{"both", sink.Limits{MaxEvents: 4, MaxBytes: 500}},
		{"one per batch", sink.Limits{MaxEvents: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			f := newFakeSink(tt.limits, nil)
			e.setSink("s1", f)
			var evs []eventT
			for i, pad := range sizes {
				evs = append(evs, mkEvent(t, "acme", "x", idOf(i), pad))
			}
			e.appendAll(evs)
			e.put(def("s1"))
			e.start(time.Second)
			got := f.waitDelivered(t, len(sizes))
			if want := ids(0, len(sizes)); !equalIDs(got, want) {
				t.Fatalf("got %v, want %v", got, want)
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			for i, b := range f.attempts {
				size := 0
				for _, r := range b {
					size += f.EncodedSize(r)
				}
				if tt.limits.MaxEvents > 0 && len(b) > tt.limits.MaxEvents {
					t.Errorf("batch %d: got %d records, want at most %d", i, len(b), tt.limits.MaxEvents)
				}
				if tt.limits.MaxBytes > 0 && size > tt.limits.MaxBytes {
					t.Errorf("batch %d: got %d bytes, want at most %d", i, size, tt.limits.MaxBytes)
				}
			}
			if len(f.attempts) < 2 {
				t.Errorf("got %d batches, want the limits to split the events", len(f.attempts))
			}
		})
	}
}

func TestRetryableErrorIsRetriedThenDelivered(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	fail := make(chan struct{})
	f := newFakeSink(sink.Limits{}, func(ctx context.Context, n int, b sink.Batch) error {
		select {
		case <-fail:
			return nil
		default:
			return fmt.Errorf("connection reset (attempt %d)", n)
		}
	})
	e.setSink("s1", f)
	e.appendEvents("acme", "x", 0, 5)
	e.put(def("s1"))
	sup := e.start(time.Second)

	wait.Eventually(t, "state retrying after a few attempts", func() bool {
		return f.numCalls() >= 3 && sup.StatusOf("s1").Snapshot().State == stream.StateRetrying
	})
	snap := sup.StatusOf("s1").Snapshot()
	if !strings.Contains(snap.LastError, "connection reset") || snap.Retried == 0 || snap.Failed == 0 || snap.LastErrorAt.IsZero() {
		t.Errorf("while failing: got %+v, want lastError, retried and failed set", snap)
	}
	close(fail)
	got := f.waitDelivered(t, 5)
	if want := ids(0, 5); !equalIDs(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for i, a := range f.attemptIDs() {
		if !equalIDs(a, ids(0, 5)) {
			t.Errorf("attempt %d: got %v, want the same batch retried", i, a)
		}
	}
	wait.Eventually(t, "state active again", func() bool { return sup.StatusOf("s1").Snapshot().State == stream.StateActive })
	if dls := e.deadLetters("s1"); len(dls) != 0 {
		t.Errorf("got %d dead letters, want none for a retryable error", len(dls))
	}
	// Backoff grows from BaseDelay: attempts are spaced, not a busy loop.
	times := f.attemptTimes()
	if gap := times[1].Sub(times[0]); gap < fast.BaseDelay/2 {
		t.Errorf("first retry after %v, want at least %v", gap, fast.BaseDelay/2)
	}
}

func TestDelayedErrorsWait(t *testing.T) {
	t.Parallel()
	const delay = 300 * time.Millisecond
	tests := []struct {
		name string
		err  error
	}{
		{"throttled", sink.Throttled(errors.New("429 slow down"), delay)},
		{"retry after", sink.RetryAfter(errors.New("503 busy"), delay)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			f := newFakeSink(sink.Limits{}, func(ctx context.Context, n int, b sink.Batch) error {
				if n == 0 {
					return tt.err
				}
				return nil
			})
			e.setSink("s1", f)
			e.appendEvents("acme", "x", 0, 3)
			e.put(def("s1"))
			e.start(time.Second)
			f.waitDelivered(t, 3)
			times := f.attemptTimes()
			if len(times) != 2 {
				t.Fatalf("got %d writes, want 2", len(times))
			}
			if gap := times[1].Sub(times[0]); gap < delay {
				t.Errorf("got a retry after %v, want at least %v", gap, delay)
			}
		})
	}
}

func TestThrottledWithoutDelayUsesBackoff(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	f := newFakeSink(sink.Limits{}, func(ctx context.Context, n int, b sink.Batch) error {
		if n < 2 {
			return sink.Throttled(errors.New("429"), 0)
		}
		return nil
	})
	e.setSink("s1", f)
	e.appendEvents("acme", "x", 0, 2)
	e.put(def("s1"))
	e.start(time.Second)
	f.waitDelivered(t, 2)
	times := f.attemptTimes()
	for i := 1; i < len(times); i++ {
		if gap := times[i].Sub(times[i-1]); gap < fast.BaseDelay/2 {
			t.Errorf("retry %d after %v, want at least half the base delay %v", i, gap, fast.BaseDelay)
		}
	}
}

func TestPermanentErrorSplitsTheBatch(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	f := newFakeSink(sink.Limits{MaxEvents: 8}, func(ctx context.Context, n int, b sink.Batch) error {
		for _, r := range b.Records {
			if r.UUID == idOf(5) {
				return sink.Permanent(errors.New("400 bad event " + r.UUID))
			}
		}
		return nil
	})
	e.setSink("s1", f)
	evs := e.appendEvents("acme", "x", 0, 8)
	e.put(def("s1"))
	sup := e.start(time.Second)

	got := f.waitDelivered(t, 7)
	want := append(ids(0, 5), ids(6, 8)...)
	if !equalIDs(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	wait.Eventually(t, "a dead letter", func() bool { return len(e.deadLetters("s1")) == 1 })
	dl := e.deadLetters("s1")[0]
	if want := journal.MsgSeqOf(e.positions()[idOf(5)]); dl.UUID != idOf(5) || want == 0 || dl.JournalSeq != want || !strings.Contains(dl.Reason, "400 bad event e-005") ||
		string(dl.Event) != string(evs[5].Data) || dl.At.IsZero() || dl.Seq == 0 {
		t.Errorf("got dead letter %+v, want e-005 (its journal message's seq) with the sink's reason and the event", dl)
	}
	snap := sup.StatusOf("s1").Snapshot()
	if snap.DeadLettered != 1 || snap.Delivered != 7 || snap.State != stream.StateActive {
		t.Errorf("got status %+v, want 7 delivered, 1 dead-lettered, active", snap)
	}
	if n := counterValue(e.metrics.DeadLettered.WithLabelValues("s1")); n != 1 {
		t.Errorf("dead-lettered metric: got %v, want 1", n)
	}
	// Nothing is written twice once delivered: the split halves that hold
	// e-005 are retried, the others are not.
	for _, a := range f.attemptIDs()[1:] {
		if len(a) > 4 {
			t.Errorf("got a retry of %d records %v, want halves", len(a), a)
		}
	}
}

func TestPartialErrorRetriesOnlyFailedRecords(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	f := newFakeSink(sink.Limits{MaxEvents: 6}, func(ctx context.Context, n int, b sink.Batch) error {
		if n == 0 {
			return &sink.PartialError{Failed: map[int]error{
				1: errors.New("shard busy"),
				3: sink.Permanent(errors.New("record rejected")),
				4: sink.Throttled(errors.New("slow down"), 0),
			}}
		}
		return nil
	})
	e.setSink("s1", f)
	e.appendEvents("acme", "x", 0, 6)
	e.put(def("s1"))
	sup := e.start(time.Second)

	got := f.waitDelivered(t, 5)
	attempts := f.attemptIDs()
	if len(attempts) != 2 {
		t.Fatalf("got attempts %v, want 2", attempts)
	}
	if want := []string{idOf(1), idOf(4)}; !equalIDs(attempts[1], want) {
		t.Errorf("retry: got %v, want only the retryable failures %v", attempts[1], want)
	}
	if want := []string{idOf(0), idOf(2), idOf(5), idOf(1), idOf(4)}; !equalIDs(got, want) {
		t.Errorf("delivered: got %v, want %v", got, want)
	}
	wait.Eventually(t, "a dead letter", func() bool { return len(e.deadLetters("s1")) == 1 })
	if dl := e.deadLetters("s1")[0]; dl.UUID != idOf(3) || dl.Reason != "record rejected" {
		t.Errorf("got dead letter %s %q, want e-003 \"record rejected\"", dl.UUID, dl.Reason)
	}
	wait.Eventually(t, "status counts", func() bool {
		s := sup.StatusOf("s1").Snapshot()
		return s.Delivered == 5 && s.DeadLettered == 1
	})
}

func TestOversizedEventIsDeadLetteredWithoutWrite(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	f := newFakeSink(sink.Limits{MaxEventBytes: 300}, nil)
	e.setSink("s1", f)
	e.appendAll([]eventT{
		mkEvent(t, "acme", "x", idOf(0), 10),
		mkEvent(t, "acme", "x", idOf(1), 1000),
		mkEvent(t, "acme", "x", idOf(2), 10),
	})
	e.put(def("s1"))
	e.start(time.Second)
	got := f.waitDelivered(t, 2)
	if want := []string{idOf(0), idOf(2)}; !equalIDs(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for _, a := range f.attemptIDs() {
		for _, id := range a {
			if id == idOf(1) {
				t.Errorf("got a write with the oversized event, want none")
			}
		}
	}
	wait.Eventually(t, "a dead letter", func() bool { return len(e.deadLetters("s1")) == 1 })
	dl := e.deadLetters("s1")[0]
	if dl.UUID != idOf(1) || !strings.Contains(dl.Reason, "larger than the destination's limit of 300") {
		t.Errorf("got dead letter %s %q, want e-001 with the size reason", dl.UUID, dl.Reason)
	}
}

func TestFilterSelectsEvents(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	f := newFakeSink(sink.Limits{}, nil)
	e.setSink("s1", f)
	var sources []string
	e.setFilter("s1", func(r *event.Record) bool {
		sources = append(sources, r.Source) // only the runner goroutine calls it
		return r.EventType == "keep"
	})
	e.appendEvents("acme", "drop", 0, 3)
	e.appendEvents("acme", "keep", 3, 5)
	e.appendEvents("acme", "drop", 5, 8)
	e.appendEvents("acme", "keep", 8, 9)
	e.appendEvents("acme", "drop", 9, 12) // filtered events at the end are acked too
	d := def("s1")
	e.put(d)
	sup := e.start(time.Second)
	got := f.waitDelivered(t, 3)
	if want := []string{idOf(3), idOf(4), idOf(8)}; !equalIDs(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for _, src := range sources {
		if src != "" {
			t.Errorf("got source %q, want empty for events ingested without one", src)
		}
	}
	wait.Eventually(t, "filtered events counted", func() bool {
		return counterValue(e.metrics.Filtered.WithLabelValues("s1")) == 9
	})
	wait.Eventually(t, "lag 0 once filtered events are acknowledged", func() bool {
		return sup.Snapshot(t.Context(), d).LagEvents == 0
	})
}

// TestPartialBatchHeldAtMostMaxAge checks the Limits.MaxAge contract: an
// event arriving at an idle stream is written within MaxAge (plus slack),
// not when the runner's one-second fetch happens to end.
func TestPartialBatchHeldAtMostMaxAge(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	f := newFakeSink(sink.Limits{}, nil)
	e.setSink("s1", f)
	e.put(def("s1"))
	e.start(time.Second)
	time.Sleep(100 * time.Millisecond) // the runner is idle in a fetch
	for i := range 5 {
		start := time.Now()
		e.appendEvents("acme", "x", i, i+1)
		f.waitDelivered(t, i+1)
		if took, limit := time.Since(start), fast.MaxAge+250*time.Millisecond; took > limit {
			t.Errorf("event %d: delivered after %v, want within MaxAge %v (+250ms slack)", i, took, fast.MaxAge)
		}
		time.Sleep(time.Duration(i) * 130 * time.Millisecond)
	}
}

// TestBatchHeldLongerThanAckWait holds a batch open (and a write blocked)
// for longer than the consumer's AckWait: the runner keeps its messages in
// progress, so nothing is redelivered into the batch and every event is
// delivered exactly once. The runner marks them every AckWait/3: an
// AckWait of 2 s leaves a late mark 1.3 s of slack on a loaded machine
// (with 1 s the test failed now and then under load).
func TestBatchHeldLongerThanAckWait(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var writes atomic.Int32
	f := newFakeSink(sink.Limits{MaxEvents: 1000}, func(ctx context.Context, n int, b sink.Batch) error {
		if writes.Add(1) == 1 {
			time.Sleep(5 * time.Second) // a slow destination
		}
		return nil
	})
	e.setSink("s1", f)
	cfg := fast
	cfg.AckWait = 2 * time.Second
	cfg.MaxAge = 5 * time.Second
	sup := stream.NewSupervisor(stream.SupervisorConfig{Store: e.store, Journal: e.j, Build: e.build, Log: discard,
		Metrics: e.metrics, StopTimeout: time.Second, Runner: cfg})
	ctx, cancel := context.WithCancel(context.WithoutCancel(t.Context()))
	done := make(chan struct{})
	go func() { defer close(done); sup.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	e.put(def("s1"))
	e.appendEvents("acme", "user.session.start", 0, 5)
	// MaxAge, then the slow write: about 10 s.
	wait.Eventually(t, "5 records delivered", func() bool { return len(f.deliveredIDs()) >= 5 }, wait.Within(30*time.Second))
	time.Sleep(5 * time.Second) // room for redeliveries to show up
	got := f.deliveredIDs()
	seen := map[string]int{}
	for _, id := range got {
		seen[id]++
	}
	if len(got) != 5 || len(seen) != 5 {
		t.Fatalf("got %d deliveries of %d events (%v), want each of 5 once", len(got), len(seen), got)
	}
}

// TestThrottlingIsNotAFailure: a destination that asks us to slow down
// puts the stream in the throttled state, counts retries but no failure,
// and its waits do not grow: each is the longest backoff (it gave no
// Retry-After), not a doubling series.
func TestThrottlingIsNotAFailure(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	release := make(chan struct{})
	f := newFakeSink(sink.Limits{}, func(ctx context.Context, n int, b sink.Batch) error {
		select {
		case <-release:
			return nil
		default:
			return sink.Throttled(errors.New("429 slow down"), 0)
		}
	})
	e.setSink("s1", f)
	e.appendEvents("acme", "x", 0, 3)
	e.put(def("s1"))
	sup := e.start(time.Second)

	wait.Eventually(t, "state throttled after a few attempts", func() bool {
		return f.numCalls() >= 4 && sup.StatusOf("s1").Snapshot().State == stream.StateThrottled
	})
	snap := sup.StatusOf("s1").Snapshot()
	if snap.Failed != 0 || snap.Retried == 0 || !strings.Contains(snap.LastError, "429 slow down") {
		t.Errorf("while throttled: got %+v, want no failure, retries and the answer as lastError", snap)
	}
	if n := counterValue(e.metrics.Failed.WithLabelValues("s1")); n != 0 {
		t.Errorf("failed metric: got %v, want 0", n)
	}
	close(release)
	f.waitDelivered(t, 3)
	times := f.attemptTimes()
	for i := 1; i < len(times)-1; i++ {
		if gap := times[i].Sub(times[i-1]); gap < fast.MaxDelay || gap > 4*fast.MaxDelay {
			t.Errorf("wait %d: got %v, want the longest backoff %v every time, not a growing one", i, gap, fast.MaxDelay)
		}
	}
	wait.Eventually(t, "state active again", func() bool { return sup.StatusOf("s1").Snapshot().State == stream.StateActive })
}
