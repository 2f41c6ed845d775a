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

	j = openTest(t, dir)
	defer j.Close()
	msgs, _, err := j.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if msgs != 5 {
		t.Fatalf("after reopen: got %d messages, want 5", msgs)
	}
	m, err := j.JetStream().Stream(t.Context(), j.StreamName())
	if err != nil {
		t.Fatal(err)
	}
	raw, err := m.GetMsg(t.Context(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if raw.Subject != "audit.acme.user.session.start" {
		t.Fatalf("subject: got %s, want audit.acme.user.session.start", raw.Subject)
	}
	if raw.Header.Get("Nats-Msg-Id") != "acme/u-0" || UUIDOf(raw.Header) != "u-0" {
		t.Fatalf("msg id: got %q and uuid %q, want acme/u-0 and u-0", raw.Header.Get("Nats-Msg-Id"), UUIDOf(raw.Header))
	}
}
