package journal_test

import (
	"os"
	"testing"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/event/eventtest"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/journal/journaltest"
)

// TestJournalKeepsSpans: in a journal holding a record batch written
// before the spans (batch version 1), a version 1 message and batches
// appended now, the events appended now read back with the spans the
// parser recorded, and the older ones with the spans not known.
func TestJournalKeepsSpans(t *testing.T) {
	j := journaltest.Open(t)
	old, err := os.ReadFile("testdata/batch-v1.bin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := j.JetStream().Publish(t.Context(), journal.Subject("acme"), old); err != nil {
		t.Fatal(err)
	}
	journaltest.AppendLegacy(t, j, []event.Record{parse(t, "acme", "legacy-1", "user.session.start", 10)})
	evs := []event.Record{
		eventtest.Parse(t, `{"uuid":"n-1","eventType":"x","actor":{"id":"00u1","alternateId":"a@x"},"target":[{"id":"t1"}]}`),
		eventtest.Parse(t, "{ \"uuid\":\"n-2\", \"eventType\":\"x\",\n \"target\" : [ ] , \"actor\" : null }"),
		eventtest.Parse(t, `{"uuid":"n-3","eventType":"x"}`),
	}
	if res, err := j.Append(t.Context(), evs); err != nil || res.Stored != len(evs) {
		t.Fatalf("append: got %+v, %v", res, err)
	}
	got := journaltest.Records(t, j)
	if len(got) != 3+1+len(evs) {
		t.Fatalf("got %d records, want %d", len(got), 3+1+len(evs))
	}
	for _, r := range got[:4] {
		if r.Spans != (event.Spans{}) {
			t.Errorf("%s (written before the spans): got spans %+v, want not known", r.UUID, r.Spans)
		}
	}
	for i, r := range got[4:] {
		if r.UUID != evs[i].UUID || !evs[i].Spans.Known || r.Spans != evs[i].Spans {
			t.Errorf("%s: got spans %+v, want %+v (known)", r.UUID, r.Spans, evs[i].Spans)
		}
	}
	if a, tg, ok := got[4].Spans.Of(got[4].Data); !ok || string(a) != `{"id":"00u1","alternateId":"a@x"}` || string(tg) != `[{"id":"t1"}]` {
		t.Errorf("n-1: got actor %s, target %s, %v", a, tg, ok)
	}
}
