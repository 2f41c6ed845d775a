package query

import (
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/auth"
	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/journal"
)

// TestRecordKeeper checks the test polling applies to a record batch's
// index before reading an event's JSON: false only when the org or the
// type rules the event out; the actor, not in the index, never does.
func TestRecordKeeper(t *testing.T) {
	rec := func(org, typ string) *event.Record { return &event.Record{Org: org, EventType: typ} }
	for _, tc := range []struct {
		org, filter string
		rec         *event.Record
		want        bool
	}{
		{"acme", "", rec("acme", "user.session.start"), true},
		{"acme", "", rec("other", "user.session.start"), false},
		{auth.AllOrgs, "", rec("other", "user.session.start"), true},
		{"acme", `eventType eq "user.session.start"`, rec("acme", "user.session.start"), true},
		{"acme", `eventType eq "user.session.start"`, rec("acme", "user.session.end"), false},
		{"acme", `eventType sw "user.session"`, rec("acme", "user.session.end"), true},
		{"acme", `not (eventType eq "user.session.end")`, rec("acme", "user.session.end"), false},
		{"acme", `eventType eq "a" or eventType eq "b"`, rec("acme", "b"), true},
		{"acme", `eventType eq "a" and actor.alternateId eq "x"`, rec("acme", "a"), true},
		{"acme", `eventType eq "a" and actor.alternateId eq "x"`, rec("acme", "b"), false},
		{"acme", `actor.alternateId eq "x"`, rec("acme", "b"), true},
		{"acme", `outcome.result eq "FAILURE"`, rec("acme", "b"), true},
	} {
		f, err := ParseFilter(tc.filter)
		if err != nil {
			t.Fatalf("%s: %v", tc.filter, err)
		}
		k := newRecordKeeper(tc.org, f)
		// Twice: the second answer comes from the memo.
		for i := range 2 {
			if got := k.keep(tc.rec); got != tc.want {
				t.Errorf("org %s, filter %q, record %s/%s (%d): got %v, want %v", tc.org, tc.filter, tc.rec.Org, tc.rec.EventType, i, got, tc.want)
			}
		}
	}
}

// TestIndexPositions checks that the index keeps each event's position
// and prunes by message sequence: every event of the messages below the
// journal's first sequence goes, every event of the others stays.
func TestIndexPositions(t *testing.T) {
	ix := newIndex(discard)
	pub := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for seq := uint64(1); seq <= 10; seq++ {
		recs := make([]event.Record, 3)
		for i := range recs {
			recs[i] = event.Record{Seq: journal.Position(seq, i), Org: "acme", EventType: "t", Published: pub.Add(time.Duration(seq) * time.Second),
				Data: []byte(`{"actor":{"alternateId":"a@example.com"}}`)}
		}
		ix.addBatch(recs)
	}
	if n := ix.Len(); n != 30 {
		t.Fatalf("index: got %d events, want 30", n)
	}
	ix.prune(5)
	if n := ix.Len(); n != 18 {
		t.Fatalf("after pruning below message 5: got %d events, want 18", n)
	}
	var got []uint64
	ix.scan(pub.UnixNano(), pub.Add(time.Hour).UnixNano(), false, func(*entry, []typeKey, []string) bool { return true }, func(b []entry) bool {
		for _, e := range b {
			got = append(got, e.pos)
		}
		return true
	})
	if len(got) != 18 || got[0] != journal.Position(5, 0) || got[17] != journal.Position(10, 2) {
		t.Fatalf("positions: got %v, want 18 from %d to %d", got, journal.Position(5, 0), journal.Position(10, 2))
	}
	if len(ix.actors) != 3 || ix.actors[2] != "a@example.com" {
		t.Fatalf("actors: got %q, want the one actor interned once", ix.actors)
	}
}
