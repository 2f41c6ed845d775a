package sinktest

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/sink"
)

// Prompt is how soon Write must return after its ctx is cancelled.
const Prompt = 2 * time.Second

// Run runs every scenario of the battery as a subtest of t, each against a
// fresh sink and fake from h.New. Scenarios listed in h.Unsupported are
// skipped with their reason.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.New == nil {
		t.Fatal("sinktest: Harness.New is required")
	}
	scenarios := map[Scenario]func(*testing.T, Harness){
		ScenarioDeliver:           testDeliver,
		ScenarioLimits:            testLimits,
		ScenarioRetryable:         classTest(Answer{Behaviour: FailRetryable}, sink.ClassRetryable, 0, 0),
		ScenarioPermanent:         classTest(Answer{Behaviour: FailPermanent}, sink.ClassPermanent, 0, 0),
		ScenarioThrottleSeconds:   classTest(Answer{Behaviour: Throttle, RetryAfter: 2 * time.Second}, sink.ClassThrottled, 2*time.Second, 2*time.Second),
		ScenarioThrottleDate:      classTest(Answer{Behaviour: Throttle, RetryAfter: 3 * time.Second, HTTPDate: true}, sink.ClassThrottled, time.Second, 4*time.Second),
		ScenarioPaused:            classTest(Answer{Behaviour: Pause}, sink.ClassPaused, 0, 0),
		ScenarioDrain:             testDrain,
		ScenarioCancelHang:        testCancelHang,
		ScenarioCancelled:         testCancelled,
		ScenarioVerify:            testVerify,
		ScenarioVerifyUnreachable: testVerifyUnreachable,
		ScenarioClose:             testClose,
	}
	for _, sc := range Scenarios {
		t.Run(string(sc), func(t *testing.T) {
			if why, ok := h.Unsupported[sc]; ok {
				t.Skip(why)
			}
			scenarios[sc](t, h)
		})
	}
}

// start builds a sink and fake and closes both when the test ends.
func start(t *testing.T, h Harness) (sink.Sink, Fake) {
	t.Helper()
	s, f := h.New(t)
	t.Cleanup(func() {
		// A fresh ctx: t.Context is already cancelled in cleanups.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Close(ctx)
		f.Close()
	})
	return s, f
}

// accepted returns the records of every accepted request, in order.
func accepted(f Fake) []Received { return acceptedOf(f.Requests()) }

func acceptedOf(reqs []Request) []Received {
	var out []Received
	for _, r := range reqs {
		if r.Accepted {
			out = append(out, r.Records...)
		}
	}
	return out
}

// checkDelivered compares what the fake accepted in reqs with want.
func checkDelivered(t *testing.T, h Harness, reqs []Request, want []event.Record) {
	t.Helper()
	got := acceptedOf(reqs)
	gotIDs := make([]string, len(got))
	for i, r := range got {
		gotIDs[i] = r.ID
	}
	wantIDs := make([]string, len(want))
	for i, r := range want {
		wantIDs[i] = r.UUID
	}
	if !slices.Equal(gotIDs, wantIDs) {
		t.Fatalf("delivered ids: got %d %v, want %d %v", len(gotIDs), gotIDs, len(wantIDs), wantIDs)
	}
	equal := h.DataEqual
	if equal == nil {
		equal = bytes.Equal
	}
	for i := range want {
		if !equal(want[i].Data, got[i].Data) {
			t.Errorf("record %d data: got %s, want %s", i, got[i].Data, want[i].Data)
		}
	}
}

func testDeliver(t *testing.T, h Harness) {
	s, f := start(t, h)
	f.Answer(Answer{Behaviour: Accept})
	recs := Records(8, 20, 600)
	if err := s.Write(t.Context(), sink.Batch{}); err != nil {
		t.Fatalf("write empty batch: got %v, want nil", err)
	}
	if got := len(accepted(f)); got != 0 {
		t.Fatalf("records after an empty batch: got %d, want 0", got)
	}
	for _, b := range []sink.Batch{{Records: recs[:5]}, {Records: recs[5:]}} {
		if err := s.Write(t.Context(), b); err != nil {
			t.Fatalf("write: got %v, want nil", err)
		}
	}
	checkDelivered(t, h, f.Requests(), recs)
}

func testLimits(t *testing.T, h Harness) {
	s, f := start(t, h)
	f.Answer(Answer{Behaviour: Accept})
	lim := s.Limits()
	if lim.MaxEvents <= 0 && lim.MaxBytes <= 0 {
		t.Fatalf("limits: got %+v, want a MaxEvents or MaxBytes bound", lim)
	}
	if lim.MaxEvents < 0 || lim.MaxBytes < 0 || lim.MaxEventBytes < 0 {
		t.Fatalf("limits: got %+v, want no negative bound", lim)
	}
	// Enough records to fill three batches by count, with sizes that
	// fill three batches by bytes as well where the bound is small.
	n := 300
	if lim.MaxEvents > 0 && 3*lim.MaxEvents+1 < n {
		n = 3*lim.MaxEvents + 1
	}
	maxPad := 4 << 10
	if lim.MaxBytes > 0 {
		maxPad = min(maxPad, lim.MaxBytes/2-400)
	}
	if lim.MaxEventBytes > 0 {
		maxPad = min(maxPad, lim.MaxEventBytes-400)
	}
	maxPad = max(maxPad, 21)
	recs := Records(n, 20, maxPad)
	batches, err := Batches(s, recs)
	if err != nil {
		t.Fatal(err)
	}
	for i, b := range batches {
		if err := s.Write(t.Context(), b); err != nil {
			t.Fatalf("write batch %d of %d: got %v, want nil", i, len(batches), err)
		}
	}
	// Randomly sized batches rarely fill MaxBytes to the byte, where an
	// encoding's off-by-one shows: build one that does.
	if lim.MaxBytes > 0 && lim.MaxEvents != 1 {
		if exact, ok := exactBatch(s, lim, len(recs)+1); ok {
			if err := s.Write(t.Context(), exact); err != nil {
				t.Fatalf("write a batch of exactly MaxBytes: got %v, want nil", err)
			}
			recs = append(recs, exact.Records...)
		} else {
			t.Log("cannot build a batch of exactly MaxBytes; skipped that check")
		}
	}
	reqs := f.Requests()
	for i, r := range reqs {
		if h.MaxRequestEvents > 0 && len(r.Records) > h.MaxRequestEvents {
			t.Errorf("request %d events: got %d, want at most %d", i, len(r.Records), h.MaxRequestEvents)
		}
		if h.MaxRequestBytes > 0 && r.Bytes > h.MaxRequestBytes {
			t.Errorf("request %d bytes: got %d, want at most %d", i, r.Bytes, h.MaxRequestBytes)
		}
	}
	checkDelivered(t, h, reqs, recs)
}

// exactBatch builds two records (or one when MaxEvents says so) whose
// encoded sizes add up to lim.MaxBytes, numbered from seq.
func exactBatch(s sink.Sink, lim sink.Limits, seq int) (sink.Batch, bool) {
	first := Record(seq, 0)
	rest := lim.MaxBytes - s.EncodedSize(first)
	if lim.MaxEventBytes > 0 && rest > lim.MaxEventBytes {
		return sink.Batch{}, false
	}
	second, ok := RecordOfSize(s, seq+1, rest)
	if !ok {
		return sink.Batch{}, false
	}
	return sink.Batch{Records: []event.Record{first, second}}, true
}

// outcomes returns the class and delay of err for each of n records: one
// per record for a *sink.PartialError, else err's for all.
func outcomes(t *testing.T, err error, n int) ([]sink.Class, []time.Duration) {
	t.Helper()
	classes := make([]sink.Class, n)
	delays := make([]time.Duration, n)
	var pe *sink.PartialError
	if !errors.As(err, &pe) {
		c, d := sink.ClassOf(err)
		for i := range n {
			classes[i], delays[i] = c, d
		}
		return classes, delays
	}
	for i := range n {
		e, ok := pe.Failed[i]
		if !ok {
			t.Fatalf("partial error: record %d got delivered, want failed (%v)", i, err)
		}
		classes[i], delays[i] = sink.ClassOf(e)
	}
	return classes, delays
}

// classTest checks that a write the fake answers with a is refused with
// class want and a delay within [minDelay, maxDelay].
func classTest(a Answer, want sink.Class, minDelay, maxDelay time.Duration) func(*testing.T, Harness) {
	return func(t *testing.T, h Harness) {
		s, f := start(t, h)
		f.Answer(a)
		recs := Records(3, 20, 200)
		err := s.Write(t.Context(), sink.Batch{Records: recs})
		if err == nil {
			t.Fatalf("write answered %v: got nil, want an error", a.Behaviour)
		}
		classes, delays := outcomes(t, err, len(recs))
		for i := range recs {
			if classes[i] != want {
				t.Errorf("record %d class: got %v, want %v (%v)", i, classes[i], want, err)
			}
			if delays[i] < minDelay || delays[i] > maxDelay {
				t.Errorf("record %d delay: got %v, want between %v and %v", i, delays[i], minDelay, maxDelay)
			}
		}
		if got := accepted(f); len(got) != 0 {
			t.Errorf("accepted records: got %d, want 0", len(got))
		}
	}
}

func testDrain(t *testing.T, h Harness) {
	s, f := start(t, h)
	if f.Connections() < 0 {
		t.Skip("the fake does not count connections")
	}
	answers := []Answer{
		{Behaviour: Accept},
		{Behaviour: FailPermanent},
		{Behaviour: FailRetryable},
		{Behaviour: Throttle, RetryAfter: time.Second},
		{Behaviour: Pause},
		{Behaviour: Accept},
	}
	recs := Records(len(answers), 20, 200)
	for i, a := range answers {
		f.Answer(a)
		err := s.Write(t.Context(), sink.Batch{Records: recs[i : i+1]})
		if (err == nil) != (a.Behaviour == Accept) {
			t.Fatalf("write answered %v: got %v", a.Behaviour, err)
		}
	}
	if got := f.Connections(); got != 1 {
		t.Errorf("connections after %d sequential writes: got %d, want 1 (are response bodies drained and closed?)", len(answers), got)
	}
}

func testCancelHang(t *testing.T, h Harness) {
	s, f := start(t, h)
	f.Answer(Answer{Behaviour: Hang})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	timer := time.AfterFunc(100*time.Millisecond, cancel)
	defer timer.Stop()
	began := time.Now()
	err := s.Write(ctx, sink.Batch{Records: Records(2, 20, 200)})
	if took := time.Since(began); took > Prompt {
		t.Errorf("write returned %v after cancel, want within %v", took-100*time.Millisecond, Prompt)
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("write error: got %v, want context.Canceled", err)
	}
}

func testCancelled(t *testing.T, h Harness) {
	s, f := start(t, h)
	f.Answer(Answer{Behaviour: Accept})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	began := time.Now()
	err := s.Write(ctx, sink.Batch{Records: Records(2, 20, 200)})
	if took := time.Since(began); took > Prompt {
		t.Errorf("write with a cancelled ctx took %v, want within %v", took, Prompt)
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("write error: got %v, want context.Canceled", err)
	}
}

func testVerify(t *testing.T, h Harness) {
	s, f := start(t, h)
	f.Answer(Answer{Behaviour: Accept})
	if err := s.Verify(t.Context()); err != nil {
		t.Fatalf("verify: got %v, want nil", err)
	}
	if got := accepted(f); len(got) != 0 {
		t.Errorf("records delivered by verify: got %d, want 0", len(got))
	}
}

func testVerifyUnreachable(t *testing.T, h Harness) {
	s, f := start(t, h)
	f.Answer(Answer{Behaviour: Unreachable})
	if err := s.Verify(t.Context()); err == nil {
		t.Fatal("verify of an unreachable destination: got nil, want an error")
	}
}

func testClose(t *testing.T, h Harness) {
	before := goleak.IgnoreCurrent()
	s, f := h.New(t)
	f.Answer(Answer{Behaviour: Accept})
	if err := s.Write(t.Context(), sink.Batch{Records: Records(3, 20, 200)}); err != nil {
		t.Fatalf("write: got %v, want nil", err)
	}
	if err := s.Close(t.Context()); err != nil {
		t.Errorf("close: got %v, want nil", err)
	}
	if err := s.Close(t.Context()); err != nil {
		t.Errorf("second close: got %v, want nil", err)
	}
	f.Close()
	if err := goleak.Find(before); err != nil {
		t.Errorf("goroutines left after close: %v", err)
	}
}
