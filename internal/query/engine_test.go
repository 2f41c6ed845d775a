package query

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestEngineIndexesOnlyWhileRunning checks that New starts nothing, that
// Run builds the index, and that Run returns once its context ends while
// the journal stays open (the lifecycle app.Run relies on).
func TestEngineIndexesOnlyWhileRunning(t *testing.T) {
	h := newHarness(t, Config{})
	h.append(seqEvents("a", "acme", 20, func(i int) time.Time { return t0.Add(time.Duration(i) * time.Second) })...)

	e, err := New(t.Context(), h.j, Config{}, discard)
	if err != nil {
		t.Fatal(err)
	}
	// Give a goroutine started by New ample time to index the 20 events.
	time.Sleep(300 * time.Millisecond)
	if got := e.Index().HighWater(); got != 0 {
		t.Fatalf("index before Run: got high water %d, want 0 (New must start nothing)", got)
	}

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	wctx, wcancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer wcancel()
	last, err := h.j.LastSeq(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if err := e.ix.waitFor(wctx, last); err != nil {
		t.Fatalf("index while running: got %v, want all 20 events indexed", err)
	}
	if n := e.Index().Len(); n != 20 {
		t.Fatalf("index while running: got %d events, want 20", n)
	}
	if err := e.Run(t.Context()); !errors.Is(err, ErrRunning) {
		t.Fatalf("second Run: got %v, want ErrRunning", err)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run after its context ended: got %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run: still running 10s after its context ended (journal open), want it returned")
	}
	// Stopped: new events are no longer indexed.
	h.append(seqEvents("b", "acme", 5, func(i int) time.Time { return t0.Add(time.Hour) })...)
	time.Sleep(300 * time.Millisecond)
	if got := e.Index().HighWater(); got != last {
		t.Fatalf("index after Run returned: got high water %d, want %d", got, last)
	}
	if n := e.Index().Len(); n != 20 {
		t.Fatalf("index after Run returned: got %d events, want 20", n)
	}
}

// TestBoundedOnEmptiedJournal checks that a bounded query answers at once
// from an engine started on a journal whose every event aged out (its last
// sequence stays, but no message is left for the index to reach it).
func TestBoundedOnEmptiedJournal(t *testing.T) {
	h := newHarness(t, Config{})
	h.append(seqEvents("a", "acme", 20, func(i int) time.Time { return t0.Add(time.Duration(i) * time.Second) })...)
	st, err := h.j.JetStream().Stream(t.Context(), h.j.StreamName())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Purge(t.Context()); err != nil {
		t.Fatal(err)
	}
	e, err := New(t.Context(), h.j, Config{Timeout: 5 * time.Second}, discard)
	if err != nil {
		t.Fatal(err)
	}
	defer runEngine(t, e)()
	r := &request{org: "acme", filter: &Filter{}, limit: 10, lo: t0.Add(-time.Hour).UnixNano(), hi: t0.Add(time.Hour).UnixNano()}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	start := time.Now()
	p, err := e.bounded(ctx, r)
	if err != nil || len(p.items) != 0 {
		t.Fatalf("bounded: got %d events, %v, want none and no error", len(p.items), err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("bounded: answered after %s, want at once", d)
	}
}
