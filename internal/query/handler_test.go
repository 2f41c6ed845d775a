package query

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func seqEvents(prefix, org string, n int, pub func(i int) time.Time) []ev {
	out := make([]ev, n)
	for i := range out {
		out[i] = ev{uuid: fmt.Sprintf("%s-%05d", prefix, i), org: org, typ: "user.session.start",
			actor: fmt.Sprintf("user%d@example.com", i%7), pub: pub(i)}
	}
	return out
}

func TestPollingPaginationAndArrivals(t *testing.T) {
	h := newHarness(t, Config{})
	now := time.Now()
	h.append(seqEvents("a", "acme", 3000, func(i int) time.Time { return now.Add(-time.Duration(i%50) * time.Minute) })...)
	h.append(seqEvents("o", "other", 400, func(int) time.Time { return now })...)

	since := now.Add(-time.Hour).UTC().Format(time.RFC3339)
	got, last := h.follow(h.acme, params("since", since, "limit", "1000"), 1000)
	want := make([]string, 3000)
	for i := range want {
		want[i] = fmt.Sprintf("a-%05d", i)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("polling acme: got %d events (first %v), want the 3000 acme events in journal order", len(got), got[:min(3, len(got))])
	}
	next := last.links()["next"]
	if next == "" {
		t.Fatal("last polling page: got no next link, want one")
	}
	// An empty page keeps its next link, which re-reads from the same place.
	empty := h.get(h.acme, next)
	if len(empty.events) != 0 || empty.links()["next"] == "" {
		t.Fatalf("empty poll: got %d events and next %q, want 0 events and a next link", len(empty.events), empty.links()["next"])
	}
	h.append(seqEvents("b", "acme", 250, func(int) time.Time { return now.Add(-24 * time.Hour) })...)
	h.append(seqEvents("p", "other", 10, func(int) time.Time { return now })...)
	r := h.get(h.acme, empty.links()["next"])
	if len(r.events) != 250 || r.uuids()[0] != "b-00000" || r.uuids()[249] != "b-00249" {
		t.Fatalf("after arrivals: got %d events, want the 250 new acme events (late published included)", len(r.events))
	}
	if r := h.get(h.acme, r.links()["next"]); len(r.events) != 0 {
		t.Fatalf("after reading arrivals: got %d events, want 0", len(r.events))
	}

	t.Run("all orgs", func(t *testing.T) {
		got, _ := h.follow(h.all, params("since", since, "limit", "1000"), 1000)
		if len(got) != 3000+400+250+10 {
			t.Fatalf("got %d events, want 3660", len(got))
		}
	})
	t.Run("other org", func(t *testing.T) {
		got, _ := h.follow(h.other, params("since", since, "limit", "1000"), 1000)
		if len(got) != 410 || !strings.HasPrefix(got[0], "o-") {
			t.Fatalf("got %d events, want 410 of org other", len(got))
		}
	})
	t.Run("since after everything", func(t *testing.T) {
		r := h.logs(h.acme, params("since", time.Now().Add(time.Hour).UTC().Format(time.RFC3339)))
		if len(r.events) != 0 || r.links()["next"] == "" {
			t.Fatalf("got %d events, next %q; want none and a next link", len(r.events), r.links()["next"])
		}
	})
	t.Run("limit 0", func(t *testing.T) {
		r := h.logs(h.acme, params("since", since, "limit", "0"))
		if r.status != http.StatusOK || len(r.events) != 0 || r.links()["next"] == "" || r.links()["self"] == "" {
			t.Fatalf("got status %d, %d events, links %v; want 200, [] and self+next", r.status, len(r.events), r.links())
		}
	})
}

func TestPollingWhileAppending(t *testing.T) {
	h := newHarness(t, Config{})
	const total = 3000
	var wg sync.WaitGroup
	wg.Go(func() {
		for b := range total / 100 {
			h.append(seqEvents(fmt.Sprintf("w%02d", b), "acme", 100, func(int) time.Time { return time.Now() })...)
			time.Sleep(time.Millisecond)
		}
	})
	seen := map[string]bool{}
	next := "/api/v1/logs?limit=150"
	deadline := time.Now().Add(30 * time.Second)
	for len(seen) < total && time.Now().Before(deadline) {
		r := h.get(h.acme, next)
		if r.status != http.StatusOK {
			t.Fatalf("got status %d, want 200", r.status)
		}
		for _, u := range r.uuids() {
			if seen[u] {
				t.Fatalf("got %s twice, want each event once", u)
			}
			seen[u] = true
		}
		next = r.links()["next"]
		if len(r.events) == 0 {
			time.Sleep(5 * time.Millisecond)
		}
	}
	wg.Wait()
	if len(seen) != total {
		t.Fatalf("got %d events, want %d", len(seen), total)
	}
}

// sortedWant is what a bounded query must return: events in [lo, hi)
// passing keep, ordered by published then uuid.
func sortedWant(evs []ev, lo, hi time.Time, desc bool, keep func(ev) bool) []string {
	var sel []ev
	for _, e := range evs {
		if !e.pub.Before(lo) && e.pub.Before(hi) && (keep == nil || keep(e)) {
			sel = append(sel, e)
		}
	}
	slices.SortFunc(sel, func(a, b ev) int {
		c := a.pub.Compare(b.pub)
		if c == 0 {
			c = strings.Compare(a.uuid, b.uuid)
		}
		if desc {
			return -c
		}
		return c
	})
	out := make([]string, len(sel))
	for i, e := range sel {
		out[i] = e.uuid
	}
	return out
}

// boundedEvents are 2,400 events over 4 hours, appended in random order,
// many sharing a published time, in two orgs.
func boundedEvents() []ev {
	rng := rand.New(rand.NewPCG(1, 2))
	types := []string{"user.session.start", "user.session.end", "user.authentication.sso", "policy.evaluate_sign_on"}
	var evs []ev
	for i := range 2400 {
		pub := t0.Add(time.Duration(rng.IntN(4*3600)) * time.Second)
		if i%10 == 0 && len(evs) > 0 {
			pub = evs[len(evs)-1].pub // ties
		}
		org := "acme"
		if i%5 == 0 {
			org = "other"
		}
		evs = append(evs, ev{uuid: fmt.Sprintf("%08x", rng.Uint32()), org: org, typ: types[rng.IntN(len(types))],
			actor: fmt.Sprintf("user%d@example.com", rng.IntN(20)), pub: pub,
			extra: fmt.Sprintf(`"outcome":{"result":%q},"severity":"INFO","n":%d`, []string{"SUCCESS", "FAILURE"}[rng.IntN(2)], i)})
	}
	rng.Shuffle(len(evs), func(i, j int) { evs[i], evs[j] = evs[j], evs[i] })
	return evs
}

func TestBoundedPagination(t *testing.T) {
	h := newHarness(t, Config{})
	evs := boundedEvents()
	h.append(evs...)
	acme := func(e ev) bool { return e.org == "acme" }
	tests := []struct {
		name   string
		lo, hi time.Time
		order  string
		limit  int
	}{
		{"asc one hour", t0.Add(time.Hour), t0.Add(2 * time.Hour), "ASCENDING", 37},
		{"desc one hour", t0.Add(time.Hour), t0.Add(2 * time.Hour), "DESCENDING", 37},
		{"asc everything page 1000", t0.Add(-time.Hour), t0.Add(5 * time.Hour), "", 1000},
		{"desc all small pages", t0, t0.Add(4 * time.Hour), "DESCENDING", 7},
		{"asc exact window", t0.Add(30 * time.Minute), t0.Add(31 * time.Minute), "ASCENDING", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			desc := tt.order == "DESCENDING"
			p := params("since", tt.lo.Format(time.RFC3339), "until", tt.hi.Format(time.RFC3339), "limit", strconv.Itoa(tt.limit))
			if tt.order != "" {
				p.Set("sortOrder", tt.order)
			}
			want := sortedWant(evs, tt.lo, tt.hi, desc, acme)
			var got []string
			r := h.logs(h.acme, p)
			pages := 0
			for {
				if r.status != http.StatusOK {
					t.Fatalf("got status %d (%s), want 200", r.status, r.err.ErrorSummary)
				}
				pages++
				got = append(got, r.uuids()...)
				next, ok := r.links()["next"]
				if !ok {
					break
				}
				if len(r.events) != tt.limit {
					t.Fatalf("page %d: got %d events with a next link, want full pages before the last", pages, len(r.events))
				}
				r = h.get(h.acme, next)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("got %d events, want %d in published order (first diff at %d)", len(got), len(want), firstDiff(got, want))
			}
			if wantPages := max(1, (len(want)+tt.limit-1)/tt.limit); pages != wantPages {
				t.Fatalf("got %d pages, want %d (the last page has no next link)", pages, wantPages)
			}
		})
	}
	t.Run("descending without until is bounded at now", func(t *testing.T) {
		r := h.logs(h.acme, params("sortOrder", "DESCENDING", "since", t0.Format(time.RFC3339), "limit", "5"))
		want := sortedWant(evs, t0, time.Now(), true, acme)[:5]
		if !slices.Equal(r.uuids(), want) {
			t.Fatalf("got %v, want %v", r.uuids(), want)
		}
	})
	t.Run("SDK style: original params re-sent with after", func(t *testing.T) {
		p := params("since", t0.Format(time.RFC3339), "until", t0.Add(time.Hour).Format(time.RFC3339), "limit", "10", "filter", `eventType sw "user"`)
		r := h.logs(h.acme, p)
		next := r.links()["next"]
		after := strings.SplitN(next, "after=", 2)[1]
		after, _, _ = strings.Cut(after, "&")
		p.Set("after", after)
		r2 := h.get(h.acme, "/api/v1/logs?"+p.Encode())
		if r2.status != http.StatusOK || len(r2.events) != 10 || r2.uuids()[0] == r.uuids()[0] {
			t.Fatalf("got status %d with %d events, want the second page", r2.status, len(r2.events))
		}
	})
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestFiltersOverAPI checks that index planning and journal reading return
// exactly the events the evaluator accepts, in both modes.
func TestFiltersOverAPI(t *testing.T) {
	h := newHarness(t, Config{})
	evs := boundedEvents()
	h.append(evs...)
	filters := []string{
		`eventType eq "user.session.start"`,
		`eventType ne "user.session.start"`,
		`eventType sw "user.session"`,
		`eventType co "authentication"`,
		`eventType ew ".end"`,
		`eventType gt "user.session.end"`,
		`eventType ge "user.session.end" and eventType le "user.session.start"`,
		`eventType lt "user"`,
		`actor.alternateId eq "user3@example.com"`,
		`actor.alternateId ew "7@example.com" or eventType eq "policy.evaluate_sign_on"`,
		`not actor.alternateId sw "user1"`,
		`actor.alternateId pr and outcome.result eq "FAILURE"`,
		`(eventType eq "user.session.start" or eventType eq "user.session.end") and not outcome.result eq "SUCCESS"`,
		`eventType eq "user.session.start" and actor.alternateId eq "user5@example.com" and outcome.result eq "FAILURE"`,
		`severity eq "INFO" and n ge 0`,
		`outcome.result eq "FAILURE" or actor.alternateId eq "user2@example.com"`,
		`device pr`,
	}
	lo, hi := t0, t0.Add(4*time.Hour)
	for _, f := range filters {
		t.Run(f, func(t *testing.T) {
			pf, err := ParseFilter(f)
			if err != nil {
				if strings.Contains(f, " n ") { // n is not a LogEvent attribute
					return
				}
				t.Fatal(err)
			}
			keep := func(e ev) bool { return e.org == "acme" && pf.Match([]byte(raw(e))) }
			want := sortedWant(evs, lo, hi, false, keep)
			b, _ := h.follow(h.acme, params("since", lo.Format(time.RFC3339), "until", hi.Format(time.RFC3339), "limit", "200", "filter", f), 200)
			if !slices.Equal(b, want) {
				t.Fatalf("bounded: got %d events, want %d (first diff at %d)", len(b), len(want), firstDiff(b, want))
			}
			p, _ := h.follow(h.acme, params("since", time.Now().Add(-time.Hour).Format(time.RFC3339), "limit", "200", "filter", f), 200)
			slices.Sort(p)
			slices.Sort(want)
			if !slices.Equal(p, want) {
				t.Fatalf("polling: got %d events, want %d", len(p), len(want))
			}
		})
	}
	t.Run("q and filter", func(t *testing.T) {
		b, _ := h.follow(h.acme, params("since", lo.Format(time.RFC3339), "until", hi.Format(time.RFC3339), "limit", "1000",
			"filter", `eventType eq "user.session.end"`, "q", "FAILURE USER4@example.com"), 1000)
		want := sortedWant(evs, lo, hi, false, func(e ev) bool {
			return e.org == "acme" && e.typ == "user.session.end" && e.actor == "user4@example.com" && strings.Contains(e.extra, "FAILURE")
		})
		if len(want) == 0 || !slices.Equal(b, want) {
			t.Fatalf("got %d events, want %d", len(b), len(want))
		}
	})
}

// raw is the JSON of e as harness.append stores it (for the evaluator).
func raw(e ev) string {
	s := fmt.Sprintf(`{"uuid":%q,"eventType":%q,"actor":{"id":"x","type":"User","alternateId":%q}`, e.uuid, e.typ, e.actor)
	if e.extra != "" {
		s += "," + e.extra
	}
	return s + "}"
}

func TestErrors(t *testing.T) {
	h := newHarness(t, Config{})
	h.append(seqEvents("a", "acme", 3, func(int) time.Time { return t0 })...)
	tests := []struct {
		name       string
		token      string
		query      string
		wantStatus int
		wantCode   string
		wantText   string
	}{
		{"no token", "nope", "", 401, "E0000011", "Invalid token provided"},
		{"no scope", "noread", "", 403, "E0000006", "permission"},
		{"limit too big", "", "limit=1001", 400, "E0000001", "Api validation failed: 'limit'"},
		{"limit negative", "", "limit=-1", 400, "E0000001", "Api validation failed: 'limit'"},
		{"limit not int", "", "limit=ten", 400, "E0000001", "'ten' is not an integer"},
		{"sortOrder", "", "sortOrder=UP", 400, "E0000001", "Api validation failed: 'sortOrder'"},
		{"since", "", "since=yesterday", 400, "E0000001", "Api validation failed: 'since': The date format in your query is not recognized"},
		{"until", "", "until=2024-13-01", 400, "E0000001", "Api validation failed: 'until': The date format in your query is not recognized"},
		{"since after until", "", "since=2024-02-01T00:00:00Z&until=2024-01-01T00:00:00Z", 400, "E0000001", "'since': must not be after until"},
		{"q too long", "", "q=" + strings.Repeat("a", 41), 400, "E0000001", "Api validation failed: 'q': Freeform search cannot contain items longer than 40 characters"},
		{"q too many", "", "q=a+b+c+d+e+f+g+h+i+j+k", 400, "E0000001", "Freeform search cannot contain more than 10 items"},
		{"filter operator", "", "filter=" + urlq(`displayMessage eqq "Create okta user"`), 400, "E0000053",
			`Invalid filter 'displayMessage eqq "Create okta user"': Unrecognized attribute operator 'eqq' at position 15. Expected: eq,ne,co,sw,ew,pr,gt,ge,lt,le`},
		{"filter field", "", "filter=" + urlq(`some_invalid_field eq "x"`), 400, "E0000053", "field is not valid: some_invalid_field"},
		{"filter published", "", "filter=" + urlq(`published gt "2024-01-01T00:00:00Z"`), 400, "E0000053", "field is not valid: published"},
		{"filter brackets", "", "filter=" + urlq(`target[type eq "User"]`), 400, "E0000053", "not supported at position 6"},
		{"filter co url", "", "filter=" + urlq(`debugContext.debugData.requestUri co "/x"`), 400, "E0000031",
			"The supplied combination of operator and field is not currently supported. Operator: co, Field: debugContext.debugData.requestUri"},
		{"forged after", "", "after=abc.def", 400, "E0000001", "Api validation failed: 'after'"},
	}
	tokens := map[string]string{"": h.acme, "nope": "nope", "noread": h.noRead}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.get(tokens[tt.token], "/api/v1/logs?"+tt.query)
			if r.status != tt.wantStatus || r.err.ErrorCode != tt.wantCode {
				t.Fatalf("got %d %s (%s), want %d %s", r.status, r.err.ErrorCode, r.err.ErrorSummary, tt.wantStatus, tt.wantCode)
			}
			if !strings.Contains(r.err.ErrorSummary, tt.wantText) {
				t.Fatalf("summary: got %q, want it to contain %q", r.err.ErrorSummary, tt.wantText)
			}
			if r.err.ErrorLink != tt.wantCode || r.err.ErrorID == "" || r.err.ErrorCauses == nil {
				t.Fatalf("body: got link %q id %q causes %v, want Okta's error body", r.err.ErrorLink, r.err.ErrorID, r.err.ErrorCauses)
			}
			if tt.wantCode == "E0000001" && len(r.err.ErrorCauses) == 0 {
				t.Fatal("causes: got none, want the failed parameter")
			}
		})
	}

	t.Run("cursor of another query or org", func(t *testing.T) {
		r := h.logs(h.acme, params("limit", "1", "since", t0.Add(-time.Hour).Format(time.RFC3339), "until", t0.Add(time.Hour).Format(time.RFC3339)))
		next := r.links()["next"]
		if next == "" {
			t.Fatal("got no next link, want one")
		}
		_, after, _ := strings.Cut(next, "after=")
		after, _, _ = strings.Cut(after, "&")
		cases := map[string]string{
			"other filter": "filter=" + urlq(`eventType pr`) + "&since=" + t0.Add(-time.Hour).Format(time.RFC3339) + "&until=" + t0.Add(time.Hour).Format(time.RFC3339) + "&after=" + after,
			"polling mode": "after=" + after,
			"tampered":     "after=" + strings.Replace(after, after[:4], "AAAA", 1),
		}
		for name, q := range cases {
			if r := h.get(h.acme, "/api/v1/logs?"+q); r.status != 400 || r.err.ErrorCode != "E0000001" {
				t.Fatalf("%s: got %d %s, want 400 E0000001", name, r.status, r.err.ErrorCode)
			}
		}
		if r := h.get(h.other, next); r.status != 400 {
			t.Fatalf("other org: got %d, want 400", r.status)
		}
		if r := h.get(h.acme, next); r.status != 200 || len(r.events) != 1 {
			t.Fatalf("own next link: got %d with %d events, want 200 with 1", r.status, len(r.events))
		}
	})
}

func urlq(s string) string {
	return strings.NewReplacer(" ", "%20", `"`, "%22", "[", "%5B", "]", "%5D", "/", "%2F").Replace(s)
}

func TestHeaders(t *testing.T) {
	h := newHarness(t, Config{BaseURL: "https://audit.example.com/", RateLimit: 3})
	h.append(seqEvents("a", "acme", 5, func(int) time.Time { return t0 })...)
	r := h.get(h.acme, "/api/v1/logs?limit=2&since=2026-03-01T00:00:00Z&until=2026-03-02T00:00:00Z")
	links := r.links()
	if links["self"] != "https://audit.example.com/api/v1/logs?limit=2&since=2026-03-01T00:00:00Z&until=2026-03-02T00:00:00Z" {
		t.Fatalf("self: got %q, want the request on the public base URL", links["self"])
	}
	if !strings.HasPrefix(links["next"], "https://audit.example.com/api/v1/logs?after=") || !strings.Contains(links["next"], "limit=2") {
		t.Fatalf("next: got %q, want the public base URL with after and the request's parameters", links["next"])
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("content type: got %q, want application/json", ct)
	}
	if r.header.Get("X-Okta-Request-Id") == "" {
		t.Fatal("X-Okta-Request-Id: got none, want one")
	}
	if l, rem := r.header.Get("X-Rate-Limit-Limit"), r.header.Get("X-Rate-Limit-Remaining"); l != "3" || rem != "2" {
		t.Fatalf("rate headers: got limit %s remaining %s, want 3 and 2", l, rem)
	}
	reset, err := strconv.ParseInt(r.header.Get("X-Rate-Limit-Reset"), 10, 64)
	if err != nil || reset < time.Now().Unix() || reset > time.Now().Add(time.Minute+time.Second).Unix() {
		t.Fatalf("reset: got %q, want epoch seconds within a minute", r.header.Get("X-Rate-Limit-Reset"))
	}
	h.get(h.acme, "/api/v1/logs")
	h.get(h.acme, "/api/v1/logs")
	r = h.get(h.acme, "/api/v1/logs")
	if r.status != http.StatusTooManyRequests || r.err.ErrorCode != "E0000047" || r.header.Get("X-Rate-Limit-Remaining") != "0" {
		t.Fatalf("over the limit: got %d %s remaining %s, want 429 E0000047 remaining 0", r.status, r.err.ErrorCode, r.header.Get("X-Rate-Limit-Remaining"))
	}
	if r.header.Get("Retry-After") == "" {
		t.Fatal("429: got no Retry-After, want one")
	}
	// Buckets are per token.
	if r := h.get(h.other, "/api/v1/logs"); r.status != http.StatusOK {
		t.Fatalf("other token: got %d, want 200", r.status)
	}
}

func TestTimeout(t *testing.T) {
	h := newHarness(t, Config{Timeout: time.Nanosecond})
	r := h.get(h.acme, "/api/v1/logs?since=2026-03-01T00:00:00Z&until=2026-03-02T00:00:00Z")
	if r.status != http.StatusInternalServerError || r.err.ErrorCode != "E0000009" {
		t.Fatalf("got %d %s, want 500 E0000009", r.status, r.err.ErrorCode)
	}
}

func TestIndexRebuiltOnRestart(t *testing.T) {
	h := newHarness(t, Config{})
	h.append(seqEvents("a", "acme", 500, func(i int) time.Time { return t0.Add(time.Duration(i) * time.Second) })...)
	e2, err := New(t.Context(), h.j, Config{}, discard)
	if err != nil {
		t.Fatal(err)
	}
	defer runEngine(t, e2)()
	last, err := h.j.LastSeq(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if err := e2.ix.waitFor(t.Context(), last); err != nil {
		t.Fatal(err)
	}
	if n := e2.Index().Len(); n != 500 {
		t.Fatalf("rebuilt index: got %d events, want 500", n)
	}
	if string(e2.key) != string(h.e.key) {
		t.Fatal("cursor key: got a new key, want the stored one")
	}
}
