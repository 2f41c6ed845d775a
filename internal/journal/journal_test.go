package journal

import (
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/event"
)

func openTest(t *testing.T, dir string) *Journal {
	t.Helper()
	j, err := Open(t.Context(), Options{DataDir: dir}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return j
}

func TestAppendDeduplicatesAndPersists(t *testing.T) {
	dir := t.TempDir()
	j := openTest(t, dir)
	var evs []event.Record
	for i := range 5 {
		ev, err := event.Parse(fmt.Appendf(nil, `{"uuid":"u-%d","eventType":"user.session.start"}`, i), "acme", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	res, err := j.Append(t.Context(), evs)
	if err != nil {
		t.Fatal(err)
	}
	if res.Stored != 5 || res.Duplicates != 0 {
		t.Fatalf("first append: got %+v, want 5 stored", res)
	}
	res, err = j.Append(t.Context(), evs[1:3])
	if err != nil {
		t.Fatal(err)
	}
	if res.Stored != 0 || res.Duplicates != 2 {
		t.Fatalf("second append: got %+v, want 2 duplicates", res)
	}
	j.Close()
	j.Close() // idempotent

	// After a restart the window is rebuilt from the journal's tail: the
	// same events are still duplicates.
	j = openTest(t, dir)
	defer j.Close()
	res, err = j.Append(t.Context(), evs)
	if err != nil {
		t.Fatal(err)
	}
	if res.Stored != 0 || res.Duplicates != 5 {
		t.Fatalf("append after reopen: got %+v, want 5 duplicates", res)
	}
	msgs, _, err := j.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if msgs != 1 {
		t.Fatalf("after reopen: got %d messages, want 1 record batch", msgs)
	}
	m, err := j.JetStream().Stream(t.Context(), j.StreamName())
	if err != nil {
		t.Fatal(err)
	}
	raw, err := m.GetMsg(t.Context(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if raw.Subject != "audit.acme" || raw.Header.Get("Nats-Msg-Id") == "" || raw.Header.Get(headerUUID) != "" {
		t.Fatalf("got subject %s and headers %v, want audit.acme with a message id and no event headers", raw.Subject, raw.Header)
	}
	recs, err := Decode(RawMessage(raw), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 5 {
		t.Fatalf("got %d records, want 5", len(recs))
	}
	for i, r := range recs {
		if r.UUID != evs[i].UUID || r.Org != "acme" || r.Seq != Position(1, i) || string(r.Data) != string(evs[i].Data) ||
			!r.Published.Equal(evs[i].Published) || r.EventType != "user.session.start" {
			t.Errorf("record %d: got %+v, want %+v at position %d", i, r, evs[i], Position(1, i))
		}
	}
}
