package query

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/journal"
)

// appendV1 writes events as releases before record batches did (journal
// format version 1, journal.LegacyMessage: one message per event with
// headers, as journaltest.AppendLegacy) and returns each event's message
// sequence.
func (h *harness) appendV1(evs ...ev) []uint64 {
	h.t.Helper()
	js := h.j.JetStream()
	seqs := make([]uint64, len(evs))
	for i, e := range evs {
		rec, err := event.Parse([]byte(e.json()), e.org, time.Now())
		if err != nil {
			h.t.Fatalf("parse %s: %v", e.json(), err)
		}
		ack, err := js.PublishMsg(h.t.Context(), journal.LegacyMessage(rec))
		if err != nil {
			h.t.Fatalf("publish a version 1 message: %v", err)
		}
		seqs[i] = ack.Sequence
	}
	return seqs
}

func uuidsOf(evs []ev) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.uuid
	}
	return out
}

// mixedEvents are n events of org with two types and seven actors,
// published one second apart from start.
func mixedEvents(prefix, org string, n int, start time.Time) []ev {
	evs := seqEvents(prefix, org, n, func(i int) time.Time { return start.Add(time.Duration(i) * time.Second) })
	for i := range evs {
		if i%3 == 0 {
			evs[i].typ = "user.session.end"
		}
	}
	return evs
}

// TestBothFormatsInOrder checks that events written by an earlier release
// (one message per event, headers) and events written by this one
// (journal.Append) are all found, in order, by polling and bounded
// queries, with and without filters on the index's attributes.
func TestBothFormatsInOrder(t *testing.T) {
	h := newHarness(t, Config{})
	now := time.Now().Add(-30 * time.Minute).Truncate(time.Second)
	old := mixedEvents("v1", "acme", 150, now)
	h.appendV1(old...)
	h.appendV1(mixedEvents("o1", "other", 20, now)...)
	cur := mixedEvents("v2", "acme", 250, now.Add(150*time.Second))
	h.append(cur...)
	h.append(mixedEvents("o2", "other", 20, now)...)
	all := append(slices.Clone(old), cur...)
	// The 170 version 1 messages, and journal.Append's record batches.
	if msgs, _, err := h.j.Info(t.Context()); err != nil || msgs <= 170 || msgs >= 170+270 {
		t.Fatalf("journal: got %d messages (%v), want 170 of version 1 and a few record batches for 270 events", msgs, err)
	}

	keep := func(f func(ev) bool) []string {
		var out []string
		for _, e := range all {
			if f == nil || f(e) {
				out = append(out, e.uuid)
			}
		}
		return out
	}
	isEnd := func(e ev) bool { return e.typ == "user.session.end" }
	isUser3 := func(e ev) bool { return e.actor == "user3@example.com" }
	since := now.Add(-time.Minute).UTC().Format(time.RFC3339)
	until := now.Add(time.Hour).UTC().Format(time.RFC3339)
	for _, tc := range []struct {
		name   string
		params url.Values
		limit  int
		want   []string
	}{
		{"polling", params("since", since, "limit", "7"), 7, keep(nil)},
		{"polling by type", params("since", since, "limit", "9", "filter", `eventType eq "user.session.end"`), 9, keep(isEnd)},
		{"polling not type", params("since", since, "limit", "50", "filter", `not (eventType eq "user.session.end")`), 50, keep(func(e ev) bool { return !isEnd(e) })},
		{"polling by actor", params("since", since, "limit", "5", "filter", `actor.alternateId eq "user3@example.com"`), 5, keep(isUser3)},
		{"bounded", params("since", since, "until", until, "limit", "11"), 11, keep(nil)},
		{"bounded by type", params("since", since, "until", until, "limit", "13", "filter", `eventType eq "user.session.end"`), 13, keep(isEnd)},
		{"bounded by actor", params("since", since, "until", until, "limit", "4", "filter", `actor.alternateId eq "user3@example.com"`), 4, keep(isUser3)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h.t = t
			got, _ := h.follow(h.acme, tc.params, tc.limit)
			if !slices.Equal(got, tc.want) {
				i := firstDiff(got, tc.want)
				t.Fatalf("got %d events, want %d; first difference at %d: got %v, want %v", len(got), len(tc.want), i, at(got, i), at(tc.want, i))
			}
		})
	}
	t.Run("bounded descending", func(t *testing.T) {
		h.t = t
		want := keep(nil)
		slices.Reverse(want)
		got, _ := h.follow(h.acme, params("since", since, "until", until, "limit", "17", "sortOrder", "DESCENDING"), 17)
		if !slices.Equal(got, want) {
			i := firstDiff(got, want)
			t.Fatalf("got %d events, want %d; first difference at %d: got %v, want %v", len(got), len(want), i, at(got, i), at(want, i))
		}
	})
	h.t = t
	if n := h.e.Index().Len(); n != len(all)+40 {
		t.Fatalf("index: got %d events, want %d", n, len(all)+40)
	}
}

func at(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return "(none)"
}

// cursorOf decodes the payload of the after parameter of a next link.
func cursorOf(t *testing.T, next string) cursor {
	t.Helper()
	u, err := url.Parse(next)
	if err != nil {
		t.Fatal(err)
	}
	p, _, _ := strings.Cut(u.Query().Get("after"), ".")
	b, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil {
		t.Fatal(err)
	}
	var c cursor
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// withAfter returns link with its after parameter replaced.
func withAfter(t *testing.T, link, after string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("after", after)
	u.RawQuery = q.Encode()
	return u.String()
}

// TestCursorFromPreviousRelease checks that a cursor issued by a release
// before record batches (no version, a message sequence) continues after
// the upgrade exactly where it left off: no event skipped, none repeated,
// also when what follows was written in the new format.
func TestCursorFromPreviousRelease(t *testing.T) {
	h := newHarness(t, Config{})
	now := time.Now().Add(-30 * time.Minute).Truncate(time.Second)
	old := seqEvents("v1", "acme", 60, func(i int) time.Time { return now.Add(time.Duration(i/3) * time.Second) })
	seqs := h.appendV1(old...)
	cur := seqEvents("v2", "acme", 60, func(i int) time.Time { return now.Add(time.Duration(20+i/3) * time.Second) })
	h.append(cur...)
	all := uuidsOf(append(slices.Clone(old), cur...))

	// oldCursor seals a cursor as the previous release wrote it.
	oldCursor := func(payload string) string { return sealPayload(h.e.key, []byte(payload)) }
	// rest follows next links from link to the end.
	rest := func(t *testing.T, link string, limit int) []string {
		t.Helper()
		h.t = t
		var out []string
		for i := 0; link != ""; i++ {
			r := h.get(h.acme, link)
			if r.status != 200 {
				t.Fatalf("page %d: got %d (%s), want 200", i, r.status, r.err.ErrorSummary)
			}
			out = append(out, r.uuids()...)
			link = r.links()["next"]
			if len(r.events) < limit || i > 1000 {
				break
			}
		}
		return out
	}

	since := now.Add(-time.Minute).UTC().Format(time.RFC3339)
	until := now.Add(time.Hour).UTC().Format(time.RFC3339)
	for _, k := range []int{9, 30, 59} { // within, mid-way and at the end of the old events
		t.Run(fmt.Sprintf("polling after event %d", k), func(t *testing.T) {
			h.t = t
			first := h.logs(h.acme, params("since", since, "limit", "10"))
			next := first.links()["next"]
			c := cursorOf(t, next)
			if c.V != cursorVersion {
				t.Fatalf("new cursor: got version %d, want %d", c.V, cursorVersion)
			}
			link := withAfter(t, next, oldCursor(fmt.Sprintf(`{"m":"p","s":%d,"f":%d}`, seqs[k], c.FP)))
			if got, want := rest(t, link, 10), all[k+1:]; !slices.Equal(got, want) {
				t.Fatalf("got %d events from %v, want %d from %v", len(got), at(got, 0), len(want), at(want, 0))
			}
		})
		t.Run(fmt.Sprintf("bounded after event %d", k), func(t *testing.T) {
			h.t = t
			first := h.logs(h.acme, params("since", since, "until", until, "limit", "10"))
			next := first.links()["next"]
			c := cursorOf(t, next)
			e := old[k]
			link := withAfter(t, next, oldCursor(fmt.Sprintf(`{"m":"b","s":%d,"p":%d,"u":%q,"lo":%d,"hi":%d,"f":%d}`,
				seqs[k], e.pub.UnixNano(), e.uuid, c.Lo, c.Hi, c.FP)))
			if got, want := rest(t, link, 10), all[k+1:]; !slices.Equal(got, want) {
				t.Fatalf("got %d events from %v, want %d from %v", len(got), at(got, 0), len(want), at(want, 0))
			}
		})
	}
	t.Run("polling from an empty journal", func(t *testing.T) {
		h.t = t
		// The previous release's cursor when the journal was empty: no
		// sequence (0).
		first := h.logs(h.acme, params("since", since, "limit", "10"))
		next := first.links()["next"]
		c := cursorOf(t, next)
		link := withAfter(t, next, oldCursor(fmt.Sprintf(`{"m":"p","f":%d}`, c.FP)))
		if got := rest(t, link, 10); !slices.Equal(got, all) {
			t.Fatalf("got %d events from %v, want %d from %v", len(got), at(got, 0), len(all), at(all, 0))
		}
	})
	t.Run("unknown version", func(t *testing.T) {
		h.t = t
		first := h.logs(h.acme, params("since", since, "limit", "10"))
		next := first.links()["next"]
		c := cursorOf(t, next)
		link := withAfter(t, next, oldCursor(fmt.Sprintf(`{"v":3,"m":"p","s":%d,"f":%d}`, c.Seq, c.FP)))
		if r := h.get(h.acme, link); r.status != 400 || r.err.ErrorCode != "E0000001" {
			t.Fatalf("got %d %s, want 400 E0000001", r.status, r.err.ErrorCode)
		}
	})
}

// TestBoundedReadsEachMessageOnce checks that paging through a bounded
// query reads each journal message once, however many of its events the
// pages take (a record batch holds many).
func TestBoundedReadsEachMessageOnce(t *testing.T) {
	h := newHarness(t, Config{})
	var fetches atomic.Int64
	fetch := h.e.fetchMsg
	h.e.msgs = newMsgCache(func(ctx context.Context, seq uint64) ([]event.Record, int, error) {
		fetches.Add(1)
		return fetch(ctx, seq)
	}, cacheMessages, cacheBytes)
	now := time.Now().Add(-30 * time.Minute).Truncate(time.Second)
	evs := seqEvents("e", "acme", 300, func(i int) time.Time { return now.Add(time.Duration(i) * time.Second) })
	h.append(evs...)
	msgs, _, err := h.j.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	got, _ := h.follow(h.acme, params("since", now.Add(-time.Minute).UTC().Format(time.RFC3339),
		"until", now.Add(time.Hour).UTC().Format(time.RFC3339), "limit", "10"), 10)
	if want := uuidsOf(evs); !slices.Equal(got, want) {
		t.Fatalf("got %d events, want %d", len(got), len(want))
	}
	if n := fetches.Load(); n != int64(msgs) {
		t.Fatalf("messages fetched: got %d, want %d (each of the journal's messages once)", n, msgs)
	}
}

// TestMsgCache checks the cache of decoded messages: one fetch per
// message for concurrent and repeated reads, its bounds, and that errors
// are not kept.
func TestMsgCache(t *testing.T) {
	var mu sync.Mutex
	calls := map[uint64]int{}
	fail := map[uint64]error{}
	release := make(chan struct{})
	fetch := func(ctx context.Context, seq uint64) ([]event.Record, int, error) {
		mu.Lock()
		calls[seq]++
		err := fail[seq]
		mu.Unlock()
		if seq == 1 {
			<-release // hold the first fetch so concurrent gets wait for it
		}
		if err != nil {
			return nil, 0, err
		}
		return []event.Record{{Seq: seq << 8}}, int(seq) * 100, nil
	}
	count := func(seq uint64) int {
		mu.Lock()
		defer mu.Unlock()
		return calls[seq]
	}
	c := newMsgCache(fetch, 3, 1000)
	ctx := t.Context()

	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() {
			recs, err := c.get(ctx, 1)
			if err != nil || len(recs) != 1 || recs[0].Seq != 1<<8 {
				t.Errorf("concurrent get: got %v, %v, want message 1's record", recs, err)
			}
		})
	}
	time.Sleep(50 * time.Millisecond)
	close(release)
	wg.Wait()
	if n := count(1); n != 1 {
		t.Fatalf("five concurrent gets: got %d fetches, want 1", n)
	}

	// Bound by count: 1, 2, 3 fit; 4 evicts the least recently used.
	for _, s := range []uint64{2, 3, 1, 4} { // 1 is used again before 4 comes
		if _, err := c.get(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.get(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if n := count(1); n != 1 {
		t.Fatalf("message 1 (recently used): got %d fetches, want 1", n)
	}
	if _, err := c.get(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if n := count(2); n != 2 {
		t.Fatalf("message 2 (least recently used, evicted): got %d fetches, want 2", n)
	}
	if len(c.msgs) > 3 || len(c.order) != len(c.msgs) {
		t.Fatalf("cache: got %d messages (%d in order), want at most 3", len(c.msgs), len(c.order))
	}

	// Bound by bytes: message 9 (900 bytes) leaves room for nothing else.
	if _, err := c.get(ctx, 9); err != nil {
		t.Fatal(err)
	}
	if len(c.msgs) != 1 || c.bytes != 900 {
		t.Fatalf("after a 900-byte message: got %d messages of %d bytes, want 1 of 900", len(c.msgs), c.bytes)
	}

	// Errors are returned, not kept.
	boom := errors.New("boom")
	mu.Lock()
	fail[5] = boom
	mu.Unlock()
	if _, err := c.get(ctx, 5); !errors.Is(err, boom) {
		t.Fatalf("failing fetch: got %v, want boom", err)
	}
	mu.Lock()
	delete(fail, 5)
	mu.Unlock()
	if recs, err := c.get(ctx, 5); err != nil || len(recs) != 1 {
		t.Fatalf("after a failed fetch: got %v, %v, want the message fetched again", recs, err)
	}
	if n := count(5); n != 2 {
		t.Fatalf("message 5: got %d fetches, want 2", n)
	}
}

// TestMsgCacheFetcherGivesUp checks that a read waiting for another
// request's fetch of the same message fetches it again when that request
// gives up (its context ends), rather than failing with its error.
func TestMsgCacheFetcherGivesUp(t *testing.T) {
	var calls atomic.Int64
	started := make(chan struct{}, 2)
	c := newMsgCache(func(ctx context.Context, seq uint64) ([]event.Record, int, error) {
		n := calls.Add(1)
		started <- struct{}{}
		if n == 1 {
			<-ctx.Done()
			return nil, 0, ctx.Err()
		}
		return []event.Record{{Seq: seq << 8}}, 1, nil
	}, 4, 1000)
	first, cancel := context.WithCancel(t.Context())
	firstErr := make(chan error, 1)
	go func() {
		_, err := c.get(first, 7)
		firstErr <- err
	}()
	<-started
	type result struct {
		recs []event.Record
		err  error
	}
	second := make(chan result, 1)
	go func() {
		recs, err := c.get(t.Context(), 7)
		second <- result{recs, err}
	}()
	time.Sleep(50 * time.Millisecond) // the second read waits for the first fetch
	cancel()
	if err := <-firstErr; !errors.Is(err, context.Canceled) {
		t.Fatalf("the request that gave up: got %v, want context.Canceled", err)
	}
	r := <-second
	if r.err != nil || len(r.recs) != 1 || r.recs[0].Seq != 7<<8 {
		t.Fatalf("the waiting read: got %v, %v, want message 7's record", r.recs, r.err)
	}
	if n := calls.Load(); n != 2 {
		t.Fatalf("fetches: got %d, want 2", n)
	}
}
