package console

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
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
