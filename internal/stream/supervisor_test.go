package stream_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/sink"
	"github.com/auditstream/auditstream/internal/stream"
	"github.com/auditstream/auditstream/internal/wait"
)

// startPausedOnFirstWrite starts a supervisor with the stream s1, whose
// destination answers its first write with a pause (410) and every later
// one with success, and 3 events of acme to deliver.
func startPausedOnFirstWrite(t *testing.T) (*env, *fakeSink, stream.Definition, *supervisor) {
	t.Helper()
	e := newEnv(t)
	f := newFakeSink(sink.Limits{}, func(ctx context.Context, n int, b sink.Batch) error {
		if n == 0 {
			return sink.Paused(errors.New("410 gone"))
		}
		return nil
	})
	e.setSink("s1", f)
	e.appendEvents("acme", "x", 0, 3)
	d := def("s1")
	e.put(d)
	return e, f, d, e.start(time.Second)
}

func TestPausedStreamWaitsForResume(t *testing.T) {
	t.Parallel()
	e, f, d, sup := startPausedOnFirstWrite(t)

	wait.Eventually(t, "state paused", func() bool { return sup.StatusOf("s1").Snapshot().State == stream.StatePaused }, wait.Seen(func() string {
		return fmt.Sprintf("status %+v, writes %v", sup.StatusOf("s1").Snapshot(), f.attemptIDs())
	}))
	if snap := sup.StatusOf("s1").Snapshot(); !strings.Contains(snap.LastError, "410 gone") {
		t.Errorf("got lastError %q, want the destination's answer", snap.LastError)
	}
	e.appendEvents("acme", "x", 3, 5)
	wait.Never(t, "a write while paused", 300*time.Millisecond, func() bool { return f.numCalls() > 1 })
	if dls := e.deadLetters("s1"); len(dls) != 0 {
		t.Errorf("got %d dead letters, want none: a pause keeps the events", len(dls))
	}

	d.Resume++
	e.put(d)
	// The events written after the pause flow again.
	wait.Eventually(t, "new events delivered after resume", func() bool {
		got := f.deliveredIDs()
		return len(got) >= 2 && equalIDs(got[len(got)-2:], ids(3, 5))
	})
	wait.Eventually(t, "state active", func() bool { return sup.StatusOf("s1").Snapshot().State == stream.StateActive })
}

// TestPausedBatchIsDeliveredOnResume checks that the batch the destination
// paused on is delivered as soon as the stream is resumed.
func TestPausedBatchIsDeliveredOnResume(t *testing.T) {
	t.Parallel()
	e, f, d, sup := startPausedOnFirstWrite(t)
	wait.Eventually(t, "state paused", func() bool { return sup.StatusOf("s1").Snapshot().State == stream.StatePaused })
	d.Resume++
	e.put(d)
	got := f.waitDelivered(t, 3)
	if want := ids(0, 3); !equalIDs(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestMisconfiguredIsHeldInErrorAndRetried(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	f := newFakeSink(sink.Limits{}, func(ctx context.Context, n int, b sink.Batch) error {
		if n < 2 {
			return sink.Misconfigured(errors.New("401 unauthorized"))
		}
		return nil
	})
	e.setSink("s1", f)
	e.appendEvents("acme", "x", 0, 4)
	e.put(def("s1"))
	sup := e.start(time.Second)

	wait.Eventually(t, "state error", func() bool { return sup.StatusOf("s1").Snapshot().State == stream.StateError })
	if snap := sup.StatusOf("s1").Snapshot(); !strings.Contains(snap.LastError, "401 unauthorized") {
		t.Errorf("got lastError %q, want the destination's answer", snap.LastError)
	}
	got := f.waitDelivered(t, 4)
	if want := ids(0, 4); !equalIDs(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	times := f.attemptTimes()
	for i := 1; i < 3; i++ {
		if gap := times[i].Sub(times[i-1]); gap < fast.ConfigDelay {
			t.Errorf("retry %d after %v, want at least ConfigDelay %v", i, gap, fast.ConfigDelay)
		}
	}
	if dls := e.deadLetters("s1"); len(dls) != 0 {
		t.Errorf("got %d dead letters, want none: the events are fine", len(dls))
	}
	wait.Eventually(t, "state active", func() bool { return sup.StatusOf("s1").Snapshot().State == stream.StateActive })
}

func TestInactiveStreamIsNotDelivered(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	f := newFakeSink(sink.Limits{}, nil)
	e.setSink("s1", f)
	d := def("s1")
	d.Status = stream.StatusInactive
	e.put(d)
	sup := e.start(time.Second)
	e.appendEvents("acme", "x", 0, 2)
	wait.Never(t, "a write to an inactive stream", 300*time.Millisecond, func() bool { return f.numCalls() > 0 })
	if got := sup.Snapshot(t.Context(), d).State; got != stream.StateInactive {
		t.Errorf("got state %q, want inactive", got)
	}

	d.Status = stream.StatusActive
	e.put(d)
	f.waitDelivered(t, 2)

	// Deactivating stops the runner and closes its sink.
	d.Status = stream.StatusInactive
	e.put(d)
	wait.Eventually(t, "the sink closed", func() bool { return f.numClosed() > 0 })
	e.appendEvents("acme", "x", 2, 3)
	wait.Never(t, "a write after deactivation", 300*time.Millisecond, func() bool { return len(f.deliveredIDs()) > 2 })
	if got := sup.StatusOf("s1").Snapshot().State; got != stream.StateInactive {
		t.Errorf("got state %q, want inactive", got)
	}
}

func TestBuildErrorShowsInStatus(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	d := def("s1")
	e.put(d) // no sink yet: Build fails
	sup := e.start(time.Second)
	wait.Eventually(t, "state error", func() bool { return sup.StatusOf("s1").Snapshot().State == stream.StateError })
	if got := sup.StatusOf("s1").Snapshot().LastError; !strings.Contains(got, "no sink for stream s1") {
		t.Errorf("got lastError %q, want the build error", got)
	}
	// A changed definition is built again.
	f := newFakeSink(sink.Limits{}, nil)
	e.setSink("s1", f)
	d.Settings = []byte(`{"fixed":true}`)
	e.put(d)
	e.appendEvents("acme", "x", 0, 1)
	f.waitDelivered(t, 1)
}

func TestRedrive(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	f := newFakeSink(sink.Limits{MaxEvents: 1}, func(ctx context.Context, n int, b sink.Batch) error {
		if id := b.Records[0].UUID; id == idOf(1) || id == idOf(3) {
			return sink.Permanent(errors.New("refused " + id))
		}
		return nil
	})
	e.setSink("s1", f)
	evs := e.appendEvents("acme", "x", 0, 5)
	e.put(def("s1"))
	sup := e.start(time.Second)
	f.waitDelivered(t, 3)
	wait.Eventually(t, "two dead letters", func() bool { return len(e.deadLetters("s1")) == 2 })
	st := sup.StatusOf("s1")
	ctx := t.Context()

	// A destination still down: nothing is removed.
	down := newFakeSink(sink.Limits{}, func(context.Context, int, sink.Batch) error { return errors.New("503") })
	n, err := stream.Redrive(ctx, e.j, "s1", down, st)
	if err == nil || n != 0 {
		t.Errorf("redrive to a failing sink: got %d, %v, want 0 and an error", n, err)
	}
	if dls := e.deadLetters("s1"); len(dls) != 2 {
		t.Errorf("got %d dead letters, want 2 kept", len(dls))
	}

	// A partial answer removes only the accepted ones.
	partial := newFakeSink(sink.Limits{}, func(context.Context, int, sink.Batch) error {
		return &sink.PartialError{Failed: map[int]error{0: sink.Permanent(errors.New("still refused"))}}
	})
	n, err = stream.Redrive(ctx, e.j, "s1", partial, st)
	if err != nil || n != 1 {
		t.Errorf("partial redrive: got %d, %v, want 1, nil", n, err)
	}
	dls := e.deadLetters("s1")
	if len(dls) != 1 || dls[0].UUID != idOf(1) {
		t.Fatalf("got dead letters %+v, want only e-001 left", dls)
	}
	if got := st.Snapshot().DeadLettered; got != 1 {
		t.Errorf("status deadLettered: got %d, want 1", got)
	}

	// Redrive writes within the sink's limits and removes what it wrote.
	ok := newFakeSink(sink.Limits{MaxEvents: 1}, nil)
	e.appendEvents("acme", "x", 5, 6) // not a dead letter: must not be redriven
	n, err = stream.Redrive(ctx, e.j, "s1", ok, st)
	if err != nil || n != 1 {
		t.Errorf("redrive: got %d, %v, want 1, nil", n, err)
	}
	recs := ok.deliveredRecords()
	if len(recs) != 1 || recs[0].UUID != idOf(1) || recs[0].Seq != e.positions()[idOf(1)] || recs[0].Org != "acme" ||
		recs[0].EventType != "x" || !recs[0].Published.Equal(evs[1].Published) || string(recs[0].Data) != string(evs[1].Data) {
		t.Errorf("redriven records: got %+v, want e-001 as it was stored", recs)
	}
	if dls := e.deadLetters("s1"); len(dls) != 0 {
		t.Errorf("got %d dead letters after redrive, want 0", len(dls))
	}
	if got := st.Snapshot().DeadLettered; got != 0 {
		t.Errorf("status deadLettered: got %d, want 0", got)
	}
	n, err = stream.Redrive(ctx, e.j, "s1", ok, st)
	if err != nil || n != 0 {
		t.Errorf("redrive with nothing to do: got %d, %v, want 0, nil", n, err)
	}
}

func TestListDeadLettersLimitAndIsolation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	refuse := func(ctx context.Context, n int, b sink.Batch) error { return sink.Permanent(errors.New("no")) }
	f1 := newFakeSink(sink.Limits{MaxEvents: 1}, refuse)
	f2 := newFakeSink(sink.Limits{MaxEvents: 1}, nil)
	e.setSink("s1", f1)
	e.setSink("s2", f2)
	e.appendEvents("acme", "x", 0, 5)
	e.put(def("s1"))
	e.put(def("s2"))
	e.start(time.Second)
	f2.waitDelivered(t, 5)
	wait.Eventually(t, "five dead letters", func() bool { return len(e.deadLetters("s1")) == 5 })
	dls, err := stream.ListDeadLetters(t.Context(), e.j, "s1", 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(dls) != 2 || dls[0].UUID != idOf(0) || dls[1].UUID != idOf(1) {
		t.Errorf("limit 2: got %+v, want the two oldest", dls)
	}
	if dls := e.deadLetters("s2"); len(dls) != 0 {
		t.Errorf("other stream: got %d dead letters, want 0", len(dls))
	}
}

func TestDeleteRemovesConsumerAndDeadLetters(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	f := newFakeSink(sink.Limits{MaxEvents: 1}, func(ctx context.Context, n int, b sink.Batch) error {
		if b.Records[0].UUID == idOf(1) {
			return sink.Permanent(errors.New("refused"))
		}
		return nil
	})
	e.setSink("s1", f)
	e.appendEvents("acme", "x", 0, 3)
	d := def("s1")
	e.put(d)
	sup := e.start(time.Second)
	f.waitDelivered(t, 2)
	wait.Eventually(t, "a dead letter", func() bool { return len(e.deadLetters("s1")) == 1 })
	js, name := e.j.JetStream(), e.j.StreamName()
	if _, err := js.Consumer(t.Context(), name, d.ConsumerName()); err != nil {
		t.Fatalf("consumer before delete: %v", err)
	}

	if err := e.store.Delete(t.Context(), "s1"); err != nil {
		t.Fatal(err)
	}
	wait.Eventually(t, "the consumer removed", func() bool {
		_, err := js.Consumer(t.Context(), name, d.ConsumerName())
		return errors.Is(err, jetstream.ErrConsumerNotFound)
	})
	wait.Eventually(t, "dead letters purged", func() bool { return len(e.deadLetters("s1")) == 0 })
	wait.Eventually(t, "the sink closed", func() bool { return f.numClosed() > 0 })
	calls := f.numCalls()
	e.appendEvents("acme", "x", 3, 4)
	wait.Never(t, "a write after delete", 300*time.Millisecond, func() bool { return f.numCalls() > calls })
	if snap := sup.StatusOf("s1").Snapshot(); snap.Delivered != 0 {
		t.Errorf("got status %+v for a deleted stream, want a fresh one", snap)
	}
}

func TestReplayRedeliversAndRetiresOldConsumer(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	f := newFakeSink(sink.Limits{}, nil)
	e.setSink("s1", f)
	start := time.Now().Add(-time.Second)
	e.appendEvents("acme", "x", 0, 4)
	d := def("s1")
	e.put(d)
	e.start(time.Second)
	f.waitDelivered(t, 4)

	old := d.ConsumerName()
	d.Epoch++
	d.StartTime = start
	e.put(d)
	got := f.waitDelivered(t, 8)
	if want := append(ids(0, 4), ids(0, 4)...); !equalIDs(got, want) {
		t.Errorf("got %v, want the events twice", got)
	}
	wait.Eventually(t, "the old consumer removed", func() bool {
		_, err := e.j.JetStream().Consumer(t.Context(), e.j.StreamName(), old)
		return errors.Is(err, jetstream.ErrConsumerNotFound)
	})
}

func TestGracefulStopFinishesBatchInFlight(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	inFlight, release := make(chan struct{}), make(chan struct{})
	var ctxErr atomic.Value
	f := newFakeSink(sink.Limits{}, func(ctx context.Context, n int, b sink.Batch) error {
		if n == 0 {
			close(inFlight)
			<-release
			if err := ctx.Err(); err != nil {
				ctxErr.Store(err)
				return err
			}
		}
		return nil
	})
	e.setSink("s1", f)
	e.appendEvents("acme", "x", 0, 5)
	e.put(def("s1"))
	sup := e.start(5 * time.Second)

	<-inFlight
	sup.cancel()
	select {
	case <-sup.done:
		t.Fatal("got the supervisor stopped with a write in flight, want it to wait")
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	select {
	case <-sup.done:
	case <-time.After(5 * time.Second):
		t.Fatal("supervisor did not stop after the write returned")
	}
	if err := ctxErr.Load(); err != nil {
		t.Errorf("got the in-flight write's ctx cancelled (%v), want it to finish", err)
	}
	if got, want := f.deliveredIDs(), ids(0, 5); !equalIDs(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if f.numClosed() == 0 {
		t.Error("got the sink left open, want it closed after the last write")
	}

	// The batch was acknowledged: a new supervisor starts after it.
	f2 := newFakeSink(sink.Limits{}, nil)
	e.setSink("s1", f2)
	e.start(time.Second)
	e.appendEvents("acme", "x", 5, 6)
	f2.waitDelivered(t, 1)
	wait.Never(t, "a re-delivery", 200*time.Millisecond, func() bool { return len(f2.deliveredIDs()) > 1 })
	if got := f2.deliveredIDs(); !equalIDs(got, ids(5, 6)) {
		t.Errorf("after restart: got %v, want only the new event", got)
	}
}

func TestRestartResumesWithoutLoss(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	e := newEnvAt(t, dir)
	f := newFakeSink(sink.Limits{MaxEvents: 4}, nil)
	e.setSink("s1", f)
	e.put(def("s1"))
	sup := e.start(time.Second)
	e.appendEvents("acme", "x", 0, 10)
	f.waitDelivered(t, 10)
	sup.stop()
	e.store.Close()
	e.j.Close()

	// The whole service restarts on the same data directory.
	e2 := newEnvAt(t, dir)
	f2 := newFakeSink(sink.Limits{MaxEvents: 4}, nil)
	e2.setSink("s1", f2)
	e2.appendEvents("acme", "x", 10, 20)
	e2.start(time.Second)
	got := f2.waitDelivered(t, 10)
	wait.Never(t, "a re-delivery", 200*time.Millisecond, func() bool { return len(f2.deliveredIDs()) > 10 })
	if want := ids(10, 20); !equalIDs(got, want) {
		t.Errorf("after restart: got %v, want %v", got, want)
	}
}

// hardStop runs a stream whose destination never answers, stops it once
// StopTimeout has run out, and returns what the next runner delivers.
func hardStop(t *testing.T) []string {
	t.Helper()
	e := newEnv(t)
	f := newFakeSink(sink.Limits{}, func(ctx context.Context, n int, b sink.Batch) error {
		<-ctx.Done() // a destination that never answers
		return ctx.Err()
	})
	e.setSink("s1", f)
	e.appendEvents("acme", "x", 0, 3)
	e.put(def("s1"))
	sup := e.start(100 * time.Millisecond)
	wait.Eventually(t, "a write in flight", func() bool { return f.numCalls() > 0 })
	sup.stop()
	if len(f.deliveredIDs()) != 0 {
		t.Fatal("got records delivered, want none")
	}
	f2 := newFakeSink(sink.Limits{}, nil)
	e.setSink("s1", f2)
	e.start(time.Second)
	f2.waitDelivered(t, 3)
	wait.Never(t, "more deliveries", 100*time.Millisecond, func() bool { return len(f2.deliveredIDs()) > 3 })
	return f2.deliveredIDs()
}

// TestHardStopRedeliversPromptly checks "may duplicate, never drop": a batch
// abandoned when StopTimeout ran out is delivered by the next runner at
// once, not after the consumer's AckWait.
func TestHardStopRedeliversPromptly(t *testing.T) {
	t.Parallel()
	got := slices.Sorted(slices.Values(hardStop(t)))
	if want := ids(0, 3); !equalIDs(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// TestHardStopRedeliversInJournalOrder checks the sink.Batch contract
// ("in journal order") for events handed back at a hard stop.
func TestHardStopRedeliversInJournalOrder(t *testing.T) {
	t.Parallel()
	if got, want := hardStop(t), ids(0, 3); !equalIDs(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// TestListDeadLettersIsQuick checks that listing a few dead letters does not
// wait for a full page that cannot come: the API's GET deadLetters uses it.
func TestListDeadLettersIsQuick(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	f := newFakeSink(sink.Limits{}, func(context.Context, int, sink.Batch) error { return sink.Permanent(errors.New("no")) })
	e.setSink("s1", f)
	e.appendEvents("acme", "x", 0, 1)
	e.put(def("s1"))
	e.start(time.Second)
	wait.Eventually(t, "a dead letter", func() bool { return len(e.deadLetters("s1")) == 1 })
	start := time.Now()
	e.deadLetters("s1")
	if took := time.Since(start); took > 300*time.Millisecond {
		t.Errorf("got ListDeadLetters of 1 letter taking %v, want well under a second", took)
	}
}

// TestWatchedCopyDoesNotRestartRunner checks that the KV watch delivering
// the definition the store just put does not restart its runner, even when
// settings or filter hold characters json.Marshal escapes (&, <, >).
func TestWatchedCopyDoesNotRestartRunner(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name             string
		settings, filter string
	}{
		{"plain", `{"url":"http://x/hook"}`, `{"detail":{"eventType":["x"]}}`},
		{"query string", `{"url":"http://x/hook?a=1&b=2"}`, ``},
		{"numeric filter", `{}`, `{"detail":{"n":[{"numeric":[">",5]}]}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.setSink("s1", newFakeSink(sink.Limits{}, nil))
			e.start(time.Second)
			d := def("s1")
			d.Settings = []byte(tt.settings)
			if tt.filter != "" {
				d.Filter = []byte(tt.filter)
			}
			e.put(d)
			wait.Eventually(t, "the stream built", func() bool { return e.buildCount("s1") == 1 })
			wait.Never(t, "a second build", 500*time.Millisecond, func() bool { return e.buildCount("s1") > 1 })
		})
	}
}

// TestStopSavesStatus: the statuses of the streams a node stops are saved
// on the way down, not only every tick, so the counters a restart (or
// another node) reads include the last batches.
func TestStopSavesStatus(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	e := newEnvAt(t, dir)
	statusKV, err := e.j.KV(t.Context(), journal.BucketStatus)
	if err != nil {
		t.Fatalf("status bucket: %v", err)
	}
	f := newFakeSink(sink.Limits{MaxEvents: 4}, nil)
	e.setSink("s1", f)
	e.put(def("s1"))
	sup := stream.NewSupervisor(stream.SupervisorConfig{Store: e.store, Journal: e.j, Build: e.build, Log: discard,
		Metrics: e.metrics, StopTimeout: time.Second, StatusKV: statusKV, Runner: fast})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		sup.Run(ctx)
	}()
	e.appendEvents("acme", "x", 0, 10)
	f.waitDelivered(t, 10)
	cancel() // well before the first tick (2 s) saves anything
	<-done

	entry, err := statusKV.Get(t.Context(), "s1")
	if err != nil {
		t.Fatalf("saved status of s1: %v, want one saved on stop", err)
	}
	var saved stream.Snapshot
	if err := json.Unmarshal(entry.Value(), &saved); err != nil {
		t.Fatal(err)
	}
	if saved.ID != "s1" || saved.Delivered != 10 {
		t.Errorf("saved status: got id %q delivered %d, want s1 and 10", saved.ID, saved.Delivered)
	}
	// A new supervisor (a restart) starts from the saved counters.
	again := stream.NewSupervisor(stream.SupervisorConfig{Store: e.store, Journal: e.j, Build: e.build, Log: discard,
		Metrics: e.metrics, StatusKV: statusKV, Runner: fast})
	if got := again.StatusOf("s1").Snapshot().Delivered; got != 10 {
		t.Errorf("restored delivered: got %d, want 10", got)
	}
}
