package query

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
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

// TestPollingCreatesNoConsumer checks that polling pages, for one org and
// for every org, read the journal with direct gets: no JetStream consumer
// is created (nor deleted) through the meta leader per request, and the
// pages still hold every event in journal order.
func TestPollingCreatesNoConsumer(t *testing.T) {
	h := newHarness(t, Config{})
	now := time.Now()
	var acme, all []string
	for c := range 4 {
		a := seqEvents(fmt.Sprintf("a%d", c), "acme", 150, func(int) time.Time { return now })
		o := seqEvents(fmt.Sprintf("o%d", c), "other", 60, func(int) time.Time { return now })
		h.append(a...)
		h.append(o...)
		for _, e := range a {
			acme = append(acme, e.uuid)
		}
		for _, e := range slices.Concat(a, o) {
			all = append(all, e.uuid)
		}
	}
	last, err := h.j.LastSeq(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if err := h.e.ix.waitFor(t.Context(), last); err != nil {
		t.Fatal(err)
	}
	// Consumer creation and deletion are JetStream API requests: a plain
	// subscriber sees them too.
	nc := h.j.Conn()
	sub, err := nc.SubscribeSync("$JS.API.CONSUMER.>")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}

	since := now.Add(-time.Hour).UTC().Format(time.RFC3339)
	for _, tc := range []struct {
		name, token string
		want        []string
	}{
		{"acme", h.acme, acme},
		{"all orgs", h.all, all},
	} {
		got, _ := h.follow(tc.token, params("since", since, "limit", "70"), 70)
		if !slices.Equal(got, tc.want) {
			t.Fatalf("polling %s: got %d events (first %v), want the %d events in journal order", tc.name, len(got), got[:min(3, len(got))], len(tc.want))
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	var reqs []string
	for {
		m, err := sub.NextMsg(0)
		if err != nil {
			break
		}
		if strings.Contains(m.Subject, ".CREATE.") || strings.Contains(m.Subject, ".DELETE.") {
			reqs = append(reqs, m.Subject)
		}
	}
	if len(reqs) != 0 {
		t.Fatalf("polling: got %d consumer API requests (first %s), want none", len(reqs), reqs[0])
	}
}

// TestPollingInterleavedFormats checks that polling pages hold an org's
// events in journal order when version 1 messages (one subject per event)
// and record batches (the org's subject) alternate: each subject is read
// with its own direct get, and the reads are merged only up to where both
// were read.
func TestPollingInterleavedFormats(t *testing.T) {
	h := newHarness(t, Config{})
	now := time.Now()
	var want []string
	for c := range 6 {
		v1 := seqEvents(fmt.Sprintf("v1-%d", c), "acme", 7, func(int) time.Time { return now })
		v2 := seqEvents(fmt.Sprintf("v2-%d", c), "acme", 130, func(int) time.Time { return now })
		h.appendV1(v1...)
		h.append(v2...)
		h.appendV1(seqEvents(fmt.Sprintf("o-%d", c), "other", 3, func(int) time.Time { return now })...)
		want = append(want, uuidsOf(v1)...)
		want = append(want, uuidsOf(v2)...)
	}
	since := now.Add(-time.Hour).UTC().Format(time.RFC3339)
	for _, limit := range []int{3, 40, 1000} {
		got, _ := h.follow(h.acme, params("since", since, "limit", strconv.Itoa(limit)), limit)
		if !slices.Equal(got, want) {
			i := firstDiff(got, want)
			t.Fatalf("limit %d: got %d events, want %d; first difference at %d: got %v, want %v", limit, len(got), len(want), i, at(got, i), at(want, i))
		}
	}
}
