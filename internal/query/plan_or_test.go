package query

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/auth"
	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/journal"
)

// orEvent is one event of the planner tests: its org, published time,
// uuid and JSON.
type orEvent struct {
	org, uuid string
	pub       time.Time
	raw       string
}

// orEvents are n events of three orgs over three hours (three share each
// published time, so pages end inside ties), with 10 actor ids, 0 to 3
// targets (users, an app, now and then one whose id is not a string),
// and some events without an actor.
func orEvents(n int, base time.Time) []orEvent {
	rng := rand.New(rand.NewPCG(15, 15))
	orgs := []string{"acme", "other", "third"}
	var out []orEvent
	for i := range n {
		e := orEvent{org: orgs[rng.IntN(3)], uuid: fmt.Sprintf("or-%04d-%d", rng.IntN(10000), i), pub: base.Add(time.Duration(i/3) * 30 * time.Second)}
		raw := fmt.Sprintf(`{"uuid":%q,"published":%q,"eventType":"t%d"`, e.uuid, e.pub.Format(event.TimeFormat), rng.IntN(4))
		if rng.IntN(10) > 0 {
			a := rng.IntN(10)
			raw += fmt.Sprintf(`,"actor":{"id":"00u%d","alternateId":"user%d@example.com"}`, a, a)
		}
		if k := rng.IntN(4); k > 0 {
			raw += `,"target":[`
			for j := range k {
				if j > 0 {
					raw += ","
				}
				switch r := rng.IntN(12); {
				case r == 0:
					raw += `{"id":null}`
				case r == 1:
					raw += `{"id":"0oaAPP","type":"AppInstance"}`
				default:
					raw += fmt.Sprintf(`{"id":"00u%d","type":"User"}`, rng.IntN(10))
				}
			}
			raw += "]"
		}
		e.raw = raw + `,"outcome":{"result":"SUCCESS"}}`
		out = append(out, e)
	}
	return out
}

// orFilters are filters whose index part is an or of indexed
// comparisons, or comparisons on target.id whose answer needs every
// target (ne, not, eq null).
var orFilters = []string{
	`actor.id eq "00u3" or target.id eq "00u3"`,
	`target.id eq "00u3" or actor.id eq "00u3"`,
	`actor.id eq "00u7" or target.id eq "00u7" or actor.alternateId eq "user1@example.com"`,
	`eventType eq "t1" or eventType eq "t3"`,
	`target.id eq "0oaAPP" or eventType eq "t2"`,
	`(actor.id eq "00u1" or target.id eq "00u2") and eventType eq "t0"`,
	`(actor.id eq "00u1" or target.id eq "00u1") and outcome.result eq "SUCCESS"`,
	`actor.id eq "00u4" or outcome.result eq "FAILURE"`,
	`not (target.id eq "00u5")`,
	`target.id ne "00u5"`,
	`target.id pr`,
	`not (target.id pr)`,
	`target.id sw "0oa" or actor.id ew "9"`,
	`actor.id eq "nobody" or target.id eq "nobody"`,
}

// TestPlannerOrAgreesWithFilter checks the index's answer for each
// event against the full filter: the planner may keep an event the
// filter refuses, never refuse one it accepts; and for filters of
// indexed fields only it must keep exactly the events the filter accepts
// (but those with a target id that is not a string, which it cannot know).
func TestPlannerOrAgreesWithFilter(t *testing.T) {
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	evs := orEvents(600, base)
	ix := newIndex(discard)
	byPos := map[uint64]orEvent{}
	var recs []event.Record
	for i, e := range evs {
		r, err := event.Parse([]byte(e.raw), e.org, e.pub)
		if err != nil {
			t.Fatal(err)
		}
		r.Seq = journal.Position(uint64(i+1), 0)
		byPos[r.Seq] = e
		recs = append(recs, r)
	}
	ix.addBatch(recs)
	for _, filter := range orFilters {
		f, err := ParseFilter(filter)
		if err != nil {
			t.Fatalf("%s: %v", filter, err)
		}
		// Every comparison but outcome's is one the index answers.
		exact := !strings.Contains(filter, "outcome")
		for _, org := range []string{"acme", auth.AllOrgs} {
			p := newPlanner(org, f)
			kept := map[uint64]bool{}
			ix.scan(base.UnixNano(), base.Add(24*time.Hour).UnixNano(), false, p.keep, func(b []entry) bool {
				for _, e := range b {
					kept[e.pos] = true
				}
				return true
			})
			for pos, e := range byPos {
				match := (org == auth.AllOrgs || e.org == org) && f.Match([]byte(e.raw))
				if match && !kept[pos] {
					t.Errorf("%s (org %s): event %s refused by the index, but the filter accepts it", filter, org, e.raw)
				}
				if exact && kept[pos] && !match && !strings.Contains(e.raw, `{"id":null}`) {
					t.Errorf("%s (org %s): event %s kept by the index, but the filter refuses it", filter, org, e.raw)
				}
			}
		}
	}
}

// TestOrQueriesMatchScan checks whole queries through the API over a
// real journal of three orgs: for each filter, token (one org, another,
// every org), order and page size, following the next links (after
// cursors) gives exactly the events a scan of every event with the full
// filter gives, in order (published, then uuid), each once.
func TestOrQueriesMatchScan(t *testing.T) {
	h := newHarness(t, Config{RateLimit: -1})
	base := time.Now().UTC().Add(-6 * time.Hour).Truncate(time.Second)
	evs := orEvents(900, base)
	var recs []event.Record
	for _, e := range evs {
		r, err := event.Parse([]byte(e.raw), e.org, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	if _, err := h.j.Append(t.Context(), recs); err != nil {
		t.Fatal(err)
	}
	since, until := base.Add(-time.Minute), base.Add(3*time.Hour)
	tokens := []struct{ org, token string }{{"acme", h.acme}, {"other", h.other}, {auth.AllOrgs, h.all}}
	for _, filter := range orFilters {
		f, err := ParseFilter(filter)
		if err != nil {
			t.Fatalf("%s: %v", filter, err)
		}
		for _, tk := range tokens {
			var want []orEvent
			for _, e := range evs {
				if (tk.org == auth.AllOrgs || e.org == tk.org) && f.Match([]byte(e.raw)) {
					want = append(want, e)
				}
			}
			for _, desc := range []bool{false, true} {
				w := slices.SortedFunc(slices.Values(want), func(a, b orEvent) int {
					c := cmp.Or(a.pub.Compare(b.pub), cmp.Compare(a.uuid, b.uuid))
					if desc {
						return -c
					}
					return c
				})
				wantIDs := make([]string, len(w))
				for i, e := range w {
					wantIDs[i] = e.uuid
				}
				for _, limit := range []int{7, 50, 1000} {
					order := "ASCENDING"
					if desc {
						order = "DESCENDING"
					}
					p := url.Values{"filter": {filter}, "since": {since.Format(time.RFC3339)}, "until": {until.Format(time.RFC3339)},
						"limit": {strconv.Itoa(limit)}, "sortOrder": {order}}
					got, _ := h.follow(tk.token, p, limit)
					if !slices.Equal(got, wantIDs) {
						t.Errorf("%s, org %s, %s, limit %d: got %d events %v, want %d %v", filter, tk.org, order, limit, len(got), got, len(wantIDs), wantIDs)
					}
				}
			}
		}
	}
}
