package console

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/query"
)

// TestLogsKeywordHistogram: a keyword search's histogram is drawn from the
// table's rows when the first page holds every match (one query of the
// System Log API, not two reading the same range); with a full page, or
// a filter, the histogram has its own query.
func TestLogsKeywordHistogram(t *testing.T) {
	now := time.Now().UTC()
	for _, tc := range []struct {
		name      string
		query     string
		matches   int // events the API has for the query
		wantCalls int // GET /api/v1/logs
	}{
		{"keyword, few matches", "q=user42&preset=1h", 3, 1},
		{"keyword, no match", "q=nobody&preset=1h", 0, 1},
		{"keyword, a full page", "q=user&preset=1h", 60, 2},
		{"filter, few matches", "preset=1h&filter=" + strings.ReplaceAll(`eventType eq "a"`, " ", "+"), 3, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newHandlerEnv(t, acmeManager, func(c apiCall) (int, http.Header, string) {
				if c.Path != "/api/v1/logs" {
					return http.StatusNotFound, nil, `{}`
				}
				limit, _ := strconv.Atoi(c.Query.Get("limit"))
				var evs []string
				for i := range min(limit, tc.matches) {
					evs = append(evs, fmt.Sprintf(`{"uuid":"u%d","published":%q,"eventType":"a","actor":{"id":"00u42"}}`,
						i, now.Add(-time.Duration(i+1)*time.Minute).Format(time.RFC3339)))
				}
				return http.StatusOK, nil, "[" + strings.Join(evs, ",") + "]"
			})
			w := e.do(http.MethodGet, "/console/logs?"+tc.query, nil)
			if w.Code != http.StatusOK {
				t.Fatalf("got status %d, want 200: %s", w.Code, w.Body)
			}
			if got := len(e.api.made(http.MethodGet, "/api/v1/logs")); got != tc.wantCalls {
				t.Errorf("System Log API calls: got %d, want %d", got, tc.wantCalls)
			}
			if got, want := strings.Count(w.Body.String(), `class="bar"`), histBuckets; got != want {
				t.Errorf("histogram bars: got %d, want %d", got, want)
			}
			if tc.matches > 0 && !strings.Contains(w.Body.String(), `u0`) {
				t.Errorf("the table does not show the newest match u0")
			}
		})
	}
}

// TestUserPageNewestBeforeChart: the user page asks for the newest
// events alone first, so they are listed even when the chart's reads (the
// next pages, after them) run out of budget.
func TestUserPageNewestBeforeChart(t *testing.T) {
	now := time.Now().UTC()
	e := newHandlerEnv(t, acmeManager, func(c apiCall) (int, http.Header, string) {
		switch c.Path {
		case "/api/v1/activity/users/00uJ":
			return http.StatusOK, nil, `{"org":"acme","userId":"00uJ","login":"jane@example.com","asActor":3000}`
		case "/api/v1/activity/users/00uJ/events":
			if c.Query.Get("limit") != strconv.Itoa(userNewest) {
				// The chart's pages: slower than its budget.
				time.Sleep(chartBudget + 100*time.Millisecond)
				return http.StatusOK, nil, `[]`
			}
			var evs []string
			for i := range userNewest {
				evs = append(evs, fmt.Sprintf(`{"uuid":"newest-%d","published":%q,"eventType":"user.session.start"}`,
					i, now.Add(-time.Duration(i+1)*time.Minute).Format(time.RFC3339)))
			}
			h := http.Header{"Link": {`<http://x/api/v1/activity/users/00uJ/events?after=c1>; rel="next"`}}
			return http.StatusOK, h, "[" + strings.Join(evs, ",") + "]"
		}
		return http.StatusNotFound, nil, `{}`
	})
	w := e.do(http.MethodGet, "/console/users/00uJ?org=acme", nil)
	if w.Code != http.StatusOK {
		t.Fatalf("got status %d, want 200: %s", w.Code, w.Body)
	}
	calls := e.api.made(http.MethodGet, "/api/v1/activity/users/00uJ/events")
	if len(calls) < 2 || calls[0].Query.Get("limit") != "20" || calls[1].Query.Get("after") != "c1" {
		t.Errorf("events calls: got %+v, want the newest 20, then the chart's pages after them", calls)
	}
	for i := range userNewest {
		if !strings.Contains(w.Body.String(), fmt.Sprintf("newest-%d", i)) {
			t.Errorf("the page does not list event newest-%d", i)
		}
	}
}

// TestLogsStoppedSearch: when the table's query stops at its scan budget
// (the API's query.ScanStoppedHeader, with a next link), the page shows
// the matches found so far, says the search stopped, links to search on
// from there, and reads the range no second time for the histogram.
func TestLogsStoppedSearch(t *testing.T) {
	now := time.Now().UTC()
	for _, tc := range []struct {
		name    string
		matches int
	}{{"some matches so far", 3}, {"none so far", 0}} {
		t.Run(tc.name, func(t *testing.T) {
			e := newHandlerEnv(t, acmeManager, func(c apiCall) (int, http.Header, string) {
				if c.Path != "/api/v1/logs" {
					return http.StatusNotFound, nil, `{}`
				}
				var evs []string
				for i := range tc.matches {
					evs = append(evs, fmt.Sprintf(`{"uuid":"u%d","published":%q,"eventType":"a","actor":{"id":"00u42"}}`,
						i, now.Add(-time.Duration(i+1)*time.Minute).Format(time.RFC3339)))
				}
				h := http.Header{query.ScanStoppedHeader: {"200ms"}, "Link": {`<http://x/api/v1/logs?after=c1>; rel="next"`}}
				return http.StatusOK, h, "[" + strings.Join(evs, ",") + "]"
			})
			w := e.do(http.MethodGet, "/console/logs?q=user42&preset=24h", nil)
			if w.Code != http.StatusOK {
				t.Fatalf("got status %d, want 200: %s", w.Code, w.Body)
			}
			body := w.Body.String()
			if got := len(e.api.made(http.MethodGet, "/api/v1/logs")); got != 1 {
				t.Errorf("System Log API calls: got %d, want 1 (no histogram read)", got)
			}
			for _, want := range []string{`id="search-stopped"`, `id="search-on"`, "after=c1", `id="histogram-slow"`} {
				if !strings.Contains(body, want) {
					t.Errorf("the page has no %s", want)
				}
			}
			if strings.Contains(body, `id="no-events"`) {
				t.Error(`the page says "No events match." of a search that stopped`)
			}
			if tc.matches > 0 && !strings.Contains(body, `u0`) {
				t.Errorf("the table does not show the match u0")
			}
		})
	}
}
