package query

import (
	"slices"
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
	ix.scan(pub.UnixNano(), pub.Add(time.Hour).UnixNano(), false, func(*entry, []typeKey, *people) bool { return true }, func(b []entry) bool {
		for _, e := range b {
			got = append(got, e.pos)
		}
		return true
	})
	if len(got) != 18 || got[0] != journal.Position(5, 0) || got[17] != journal.Position(10, 2) {
		t.Fatalf("positions: got %v, want 18 from %d to %d", got, journal.Position(5, 0), journal.Position(10, 2))
	}
	if len(ix.people.strs) != 3 || ix.people.strs[2] != "a@example.com" {
		t.Fatalf("actors: got %q, want the one actor interned once", ix.people.strs)
	}
}

// TestIndexPeople checks that the index answers actor.id and target.id
// (a user's events as actor or as target) without reading the events:
// the events of other users are ruled out, those it cannot know about
// (a target id that is not a plain string) are kept.
func TestIndexPeople(t *testing.T) {
	ix := newIndex(discard)
	pub := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	datas := []string{
		0: `{"actor":{"id":"00uA","alternateId":"a@example.com"},"target":[{"id":"00uV","type":"User"}]}`,
		1: `{"actor":{"id":"00uV","alternateId":"v@example.com"},"target":[{"id":"0oaAPP","type":"AppInstance"}]}`,
		2: `{"actor":{"id":"00uB","alternateId":"b@example.com"}}`,
		3: `{"actor":{"id":"00uB","alternateId":"b@example.com"},"target":[{"id":"0oaAPP"},{"id":"00uC"}]}`,
		4: `{"actor":{"id":"00uB","alternateId":"b@example.com"},"target":[{"id":null}]}`,
		5: `{"actor":{"id":"00uA","alternateId":"a@example.com"},"target":[{"id":"00uV","type":"User"}]}`,
		6: `{}`,
	}
	var recs []event.Record
	for i, d := range datas {
		recs = append(recs, event.Record{Seq: journal.Position(1, i), Org: "acme", EventType: "t", Published: pub, Data: []byte(d)})
	}
	ix.addBatch(recs)
	// Events 0 and 5 share one who tuple.
	if got := len(ix.people.whos); got != 2+5 {
		t.Errorf("who tuples: got %d, want 7 (2 reserved, 5 distinct)", got)
	}
	for _, tc := range []struct {
		filter string
		want   []int // indexes of the events kept
	}{
		{`actor.id eq "00uV"`, []int{1}},
		{`actor.id eq "00uB"`, []int{2, 3, 4}},
		{`target.id eq "00uV"`, []int{0, 4, 5}},
		{`target.id eq "00uC"`, []int{3, 4}},
		{`actor.id eq "00uV" or target.id eq "00uV"`, []int{0, 1, 4, 5}},
		{`actor.id eq "00uX" or target.id eq "00uX"`, []int{4}},
		{`not (target.id eq "0oaAPP")`, []int{0, 2, 4, 5, 6}},
		{`actor.alternateId eq "a@example.com"`, []int{0, 5}},
	} {
		f, err := ParseFilter(tc.filter)
		if err != nil {
			t.Fatalf("%s: %v", tc.filter, err)
		}
		p := newPlanner("acme", f)
		var got []int
		ix.scan(pub.UnixNano(), pub.Add(time.Minute).UnixNano(), false, p.keep, func(b []entry) bool {
			for _, e := range b {
				_, i := journal.SplitPosition(e.pos)
				got = append(got, i)
			}
			return true
		})
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: got events %v, want %v", tc.filter, got, tc.want)
		}
	}
}
