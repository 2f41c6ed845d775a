package e2e

import (
	"encoding/json"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestLogsQueryThroughServe drives GET /api/v1/logs on the real binary as
// a bounded client and as a polling client would.
func TestLogsQueryThroughServe(t *testing.T) {
	s := startServer(t, "")
	start := time.Now().UTC().Add(-time.Minute)
	lines, ids := events("logs", 250, func(i int) string {
		if i%5 == 0 {
			return "user.session.start"
		}
		return "app.thing.happened"
	})
	if code, body := s.ingest(lines); code != 202 {
		t.Fatalf("ingest: got %d %s", code, body)
	}
	next := regexp.MustCompile(`<([^>]+)>; rel="next"`)
	get := func(path string) ([]map[string]any, string) {
		t.Helper()
		code, body, h := s.do("GET", path, adminToken, "", nil)
		if code != 200 {
			t.Fatalf("GET %s: got %d %s, want 200", path, code, body)
		}
		var evs []map[string]any
		if err := json.Unmarshal(body, &evs); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		m := next.FindStringSubmatch(strings.Join(h.Values("Link"), ", "))
		if m == nil {
			return evs, ""
		}
		u, err := url.Parse(m[1])
		if err != nil {
			t.Fatal(err)
		}
		return evs, u.RequestURI()
	}

	// Bounded and filtered, in pages of 20: exactly the logins.
	q := url.Values{"since": {start.Format(time.RFC3339)}, "until": {time.Now().UTC().Add(time.Minute).Format(time.RFC3339)},
		"filter": {`eventType eq "user.session.start"`}, "limit": {"20"}}
	seen := map[string]bool{}
	for path := "/api/v1/logs?" + q.Encode(); path != ""; {
		var evs []map[string]any
		evs, path = get(path)
		for _, e := range evs {
			seen[e["uuid"].(string)] = true
		}
	}
	for i, u := range ids {
		if want := i%5 == 0; seen[u] != want {
			t.Fatalf("bounded query: event %s returned %v, want %v", u, seen[u], want)
		}
	}

	// Polling: the first pages hold everything, then an empty page with a
	// next link, which later returns only what arrived after.
	path := "/api/v1/logs?" + url.Values{"since": {start.Format(time.RFC3339)}, "limit": {"1000"}}.Encode()
	total := 0
	for {
		evs, nextPath := get(path)
		if nextPath == "" {
			t.Fatalf("polling page without a next link")
		}
		path = nextPath
		total += len(evs)
		if len(evs) == 0 {
			break
		}
	}
	if total < len(ids) {
		t.Fatalf("polling: got %d events, want at least %d", total, len(ids))
	}
	more, moreIDs := events("logs-later", 3, constType("user.session.start"))
	if code, body := s.ingest(more); code != 202 {
		t.Fatalf("ingest: got %d %s", code, body)
	}
	evs, _ := get(path)
	if len(evs) != len(moreIDs) {
		t.Fatalf("after polling caught up: got %d events, want the %d new ones", len(evs), len(moreIDs))
	}
}
