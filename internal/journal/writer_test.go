package journal_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/journal/journaltest"
	"github.com/auditstream/auditstream/internal/wait"
)

func parse(t testing.TB, org, uuid, typ string, pad int) event.Record {
	t.Helper()
	ev, err := event.Parse(fmt.Appendf(nil, `{"uuid":%q,"eventType":%q,"published":"2026-12-04T10:00:00.123Z","pad":%q}`,
		uuid, typ, strings.Repeat("x", pad)), org, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func events(t testing.TB, org, prefix string, n, pad int) []event.Record {
	out := make([]event.Record, n)
	for i := range out {
		out[i] = parse(t, org, fmt.Sprintf("%s-%d", prefix, i), "user.session.start", pad)
	}
	return out
}

func uuids(recs []event.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.Org + "/" + r.UUID
	}
	return out
}

// Events of several orgs in one append become record batches per org of
// at most MaxBatchEvents, in order within each org, with positions that
// increase in journal order.
func TestAppendWritesRecordBatchesPerOrg(t *testing.T) {
	j := journaltest.Open(t)
	var evs []event.Record
	for i := range 250 {
		org := []string{"acme", "globex"}[i%2]
		evs = append(evs, parse(t, org, fmt.Sprintf("e-%d", i), "user.session.start", 10))
	}
	res, err := j.Append(t.Context(), evs)
	if err != nil || res.Stored != 250 || res.Duplicates != 0 {
		t.Fatalf("append: got %+v, %v; want 250 stored", res, err)
	}
	msgs, _, err := j.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if msgs != 4 { // 125 per org: 100 + 25 each
		t.Errorf("got %d messages, want 4 record batches", msgs)
	}
	got := journaltest.Records(t, j)
	if len(got) != 250 {
		t.Fatalf("got %d records, want 250", len(got))
	}
	perOrg := map[string][]string{}
	for i, r := range got {
		if i > 0 && r.Seq <= got[i-1].Seq {
			t.Errorf("position %d after %d: want increasing", r.Seq, got[i-1].Seq)
		}
		perOrg[r.Org] = append(perOrg[r.Org], r.UUID)
	}
	for _, org := range []string{"acme", "globex"} {
		var want []string
		for i := range evs {
			if evs[i].Org == org {
				want = append(want, evs[i].UUID)
			}
		}
		if fmt.Sprint(perOrg[org]) != fmt.Sprint(want) {
			t.Errorf("org %s: got %v, want %v", org, perOrg[org], want)
		}
	}
}

// A uuid is de-duplicated per org, within one append, across appends,
// across concurrent appends and against version 1 messages of an older
// release; the same uuid in another org is another event.
func TestAppendDeduplicates(t *testing.T) {
	j := journaltest.Open(t)
	legacy := events(t, "acme", "old", 3, 10)
	journaltest.AppendLegacy(t, j, legacy)

	a := parse(t, "acme", "same", "user.session.start", 10)
	b := parse(t, "globex", "same", "user.session.start", 10)
	res, err := j.Append(t.Context(), []event.Record{a, a, b, legacy[1]})
	if err != nil {
		t.Fatal(err)
	}
	if res.Stored != 2 || res.Duplicates != 2 {
		t.Errorf("first append: got %+v, want 2 stored (one per org) and 2 duplicates", res)
	}
	// Concurrent appends of overlapping events: each event stored once.
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := journal.Result{}
	for w := range 8 {
		wg.Go(func() {
			evs := events(t, "acme", "c", 200, 10)
			evs = append(evs[w*10:], evs[:w*10]...) // each writer in another order
			res, err := j.Append(t.Context(), evs)
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			total.Stored += res.Stored
			total.Duplicates += res.Duplicates
			mu.Unlock()
		})
	}
	wg.Wait()
	if total.Stored != 200 || total.Duplicates != 7*200 {
		t.Errorf("concurrent appends: got %+v, want 200 stored and 1400 duplicates", total)
	}
	seen := map[string]int{}
	for _, id := range uuids(journaltest.Records(t, j)) {
		seen[id]++
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("%s stored %d times, want once", id, n)
		}
	}
	if len(seen) != 3+2+200 {
		t.Errorf("got %d distinct events, want %d", len(seen), 3+2+200)
	}
}

// A message another writer stores between two of this writer's batches
// (a second node on the same stream) fences the writer: its append is
// retried after it read the foreign message, and no event is lost or
// stored twice, also when the foreign message holds one of its events.
func TestAppendFencedByAnotherWriter(t *testing.T) {
	j := journaltest.Open(t)
	if _, err := j.Append(t.Context(), events(t, "acme", "first", 5, 10)); err != nil {
		t.Fatal(err)
	}
	next := events(t, "acme", "next", 5, 10)
	// The other writer stores next[2] first (as a version 1 message, or
	// any message that is not this writer's).
	journaltest.AppendLegacy(t, j, next[2:3])
	// The request also repeats next-0 and next-2: copies within it.
	res, err := j.Append(t.Context(), append(next, next[0], next[2]))
	if err != nil {
		t.Fatal(err)
	}
	if res.Stored != 4 || res.Duplicates != 3 {
		t.Errorf("got %+v, want 4 stored and 3 duplicates (next-2 twice, the copy of next-0)", res)
	}
	got := uuids(journaltest.Records(t, j))
	want := []string{"acme/first-0", "acme/first-1", "acme/first-2", "acme/first-3", "acme/first-4",
		"acme/next-2", "acme/next-0", "acme/next-1", "acme/next-3", "acme/next-4"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// JetStream itself refuses a batch that expects another message as the
// stream's last: the fence the writer relies on.
func TestFenceRefusesAStaleWriter(t *testing.T) {
	j := journaltest.Open(t)
	if _, err := j.Append(t.Context(), events(t, "acme", "a", 1, 10)); err != nil {
		t.Fatal(err)
	}
	m := journal.LegacyMessage(parse(t, "acme", "stale", "x", 1))
	_, err := j.JetStream().PublishMsg(t.Context(), m, jetstream.WithExpectLastMsgID("not-the-last"))
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode != 10070 {
		t.Fatalf("got %v, want JetStream's wrong-last-msg-id error (10070)", err)
	}
}

// The window is bounded by count: past DuplicateWindowMaxIDs the oldest
// ids are forgotten (and stored again), while the newest still
// de-duplicate.
func TestDuplicateWindowBoundedByCount(t *testing.T) {
	j := journaltest.OpenWith(t, journal.Options{DuplicateWindowMaxIDs: 100})
	evs := events(t, "acme", "w", 150, 10)
	if _, err := j.Append(t.Context(), evs); err != nil {
		t.Fatal(err)
	}
	res, err := j.Append(t.Context(), evs[140:])
	if err != nil || res.Duplicates != 10 {
		t.Errorf("newest again: got %+v, %v; want 10 duplicates", res, err)
	}
	res, err = j.Append(t.Context(), evs[:10])
	if err != nil || res.Stored != 10 {
		t.Errorf("oldest again: got %+v, %v; want 10 stored (forgotten past 100 ids)", res, err)
	}
}

// A data directory written by an older release (version 1 messages) keeps
// working: new appends go after them, and both are read back in order, with
// positions that keep increasing.
func TestReadsBothFormatsInOrder(t *testing.T) {
	dir := t.TempDir()
	j := journaltest.OpenWith(t, journal.Options{DataDir: dir})
	old := events(t, "acme", "v1", 3, 10)
	old[1].Source, old[1].Account = "aws.partner/okta", "123456789012"
	journaltest.AppendLegacy(t, j, old)
	j.Close()

	j = journaltest.OpenWith(t, journal.Options{DataDir: dir})
	res, err := j.Append(t.Context(), append(events(t, "acme", "v2", 3, 10), old[0]))
	if err != nil || res.Stored != 3 || res.Duplicates != 1 {
		t.Fatalf("append after reopen: got %+v, %v; want 3 stored, the version 1 event a duplicate", res, err)
	}
	got := journaltest.Records(t, j)
	want := []string{"acme/v1-0", "acme/v1-1", "acme/v1-2", "acme/v2-0", "acme/v2-1", "acme/v2-2"}
	if fmt.Sprint(uuids(got)) != fmt.Sprint(want) {
		t.Fatalf("got %v, want %v", uuids(got), want)
	}
	for i := range got {
		if i > 0 && got[i].Seq <= got[i-1].Seq {
			t.Errorf("position of %s: got %d after %d, want increasing", got[i].UUID, got[i].Seq, got[i-1].Seq)
		}
		if i < 3 && (!bytes.Equal(got[i].Data, old[i].Data) || !got[i].Published.Equal(old[i].Published) ||
			got[i].Source != old[i].Source || got[i].Account != old[i].Account || got[i].EventType != old[i].EventType) {
			t.Errorf("version 1 record %d: got %+v, want %+v", i, got[i], old[i])
		}
	}
	recent, err := j.RecentUUIDs(t.Context(), "acme", "aws.partner/okta", time.Now().Add(-time.Hour), 10)
	if err != nil || fmt.Sprint(recent) != "[v1-1]" {
		t.Errorf("RecentUUIDs: got %v, %v; want [v1-1]", recent, err)
	}
}

// With an external NATS server that goes away, Append fails at once with
// ErrUnavailable (ingest answers 503) instead of waiting for the
// reconnect, and works again once the server is back.
func TestAppendFailsFastWhenDisconnected(t *testing.T) {
	dir := t.TempDir()
	opts := &server.Options{StoreDir: dir}
	srv := journaltest.StartNATS(t, opts)
	url := srv.ClientURL()
	port := srv.Addr().(*net.TCPAddr).Port
	j := journaltest.OpenWith(t, journal.Options{URL: url, AppendTimeout: 5 * time.Second})
	if _, err := j.Append(t.Context(), events(t, "acme", "up", 3, 10)); err != nil {
		t.Fatal(err)
	}
	srv.Shutdown()
	srv.WaitForShutdown()
	wait.Eventually(t, "client disconnected", func() bool { return !j.Conn().IsConnected() })
	start := time.Now()
	_, err := j.Append(t.Context(), events(t, "acme", "down", 3, 10))
	if !errors.Is(err, journal.ErrUnavailable) || time.Since(start) > time.Second {
		t.Fatalf("append while disconnected: got %v after %s, want ErrUnavailable at once", err, time.Since(start))
	}
	opts.Port = port
	journaltest.StartNATS(t, opts)
	wait.Eventually(t, "append works again", func() bool {
		_, err := j.Append(t.Context(), events(t, "acme", "again", 3, 10))
		return err == nil
	}, wait.Within(15*time.Second), wait.Every(200*time.Millisecond))
}

// On an external server whose max_file_store cannot hold the caps, Open
// refuses with a message naming the settings to change, replicas included.
func TestExternalServerTooSmall(t *testing.T) {
	srv := journaltest.StartNATS(t, &server.Options{JetStreamMaxStore: 64 << 20})
	_, err := journal.Open(t.Context(), journal.Options{URL: srv.ClientURL(), MaxBytes: 1 << 30}, slog.New(slog.DiscardHandler))
	if !errors.Is(err, journal.ErrInsufficientStorage) {
		t.Fatalf("got %v, want ErrInsufficientStorage", err)
	}
	for _, want := range []string{"journal.maxBytes (1.0 GiB", "journal.replicas = 1", "max_file_store", srv.ClientURL()} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q: want it to name %q", err, want)
		}
	}
}

// Two nodes (two journals, two writers) appending to one stream at once,
// with the same events sent to both (a producer retrying against the other
// node): every event is stored exactly once and no append fails.
func TestTwoWritersDeduplicate(t *testing.T) {
	srv := journaltest.StartNATS(t, nil)
	a := journaltest.OpenWith(t, journal.Options{URL: srv.ClientURL()})
	b := journaltest.OpenWith(t, journal.Options{URL: srv.ClientURL()})
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := journal.Result{}
	for _, j := range []*journal.Journal{a, b, a, b} {
		wg.Go(func() {
			for r := range 20 {
				evs := events(t, "acme", fmt.Sprintf("r%d", r), 100, 50)
				res, err := j.Append(t.Context(), evs)
				if err != nil {
					t.Errorf("append round %d: %v", r, err)
					return
				}
				mu.Lock()
				total.Stored += res.Stored
				total.Duplicates += res.Duplicates
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if total.Stored != 2000 || total.Duplicates != 6000 {
		t.Errorf("got %+v, want 2000 stored and 6000 duplicates", total)
	}
	seen := map[string]int{}
	for _, id := range uuids(journaltest.Records(t, a)) {
		seen[id]++
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("%s stored %d times, want once", id, n)
		}
	}
	if len(seen) != 2000 {
		t.Errorf("got %d distinct events, want 2000", len(seen))
	}
}
