package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// logsFake serves /api/v1/logs from a list of pages; page i links to
// page i+1 with after=i+1 on a public URL that is not the test server's.
type logsFake struct {
	mu    sync.Mutex
	pages [][]string // uuids per page
	// bounded pages have no next link after the last.
	bounded bool
	queries []string
}

func (f *logsFake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Header.Get("Authorization") != "SSWS "+token || r.URL.Path != "/api/v1/logs" {
		http.Error(w, `{"errorCode":"E0000011","errorSummary":"Invalid token provided"}`, http.StatusUnauthorized)
		return
	}
	f.queries = append(f.queries, r.URL.RawQuery)
	i := 0
	fmt.Sscan(r.URL.Query().Get("after"), &i)
	var evs []string
	if i < len(f.pages) {
		for _, u := range f.pages[i] {
			evs = append(evs, fmt.Sprintf(`{"uuid":%q}`, u))
		}
	}
	next := min(i+1, len(f.pages))
	if !f.bounded || i+1 < len(f.pages) {
		q := r.URL.Query()
		q.Set("after", fmt.Sprint(next))
		w.Header().Add("Link", `<https://public.example.com/api/v1/logs?`+q.Encode()+`>; rel="next"`)
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, "[%s]", strings.Join(evs, ","))
}

func uuidsOf(t *testing.T, evs []json.RawMessage) []string {
	t.Helper()
	var out []string
	for _, e := range evs {
		var v struct{ UUID string }
		if err := json.Unmarshal(e, &v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v.UUID)
	}
	return out
}

func TestQueryLogs(t *testing.T) {
	tests := []struct {
		name    string
		q       LogQuery
		bounded bool
		pages   [][]string
		want    []string
	}{
		{"bounded follows to the last page", LogQuery{Until: time.Now(), Limit: 2}, true,
			[][]string{{"a", "b"}, {"c", "d"}, {"e"}}, []string{"a", "b", "c", "d", "e"}},
		{"bounded empty", LogQuery{Until: time.Now(), Limit: 2}, true, [][]string{{}}, nil},
		{"polling stops at a short page", LogQuery{Limit: 2, Filter: `eventType eq "x"`}, false,
			[][]string{{"a", "b"}, {"c"}, {"never"}}, []string{"a", "b", "c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &logsFake{pages: tt.pages, bounded: tt.bounded}
			srv := httptest.NewServer(f)
			defer srv.Close()
			c := New(srv.URL, token, nil)
			var got []string
			err := c.QueryLogs(t.Context(), tt.q, func(evs []json.RawMessage) error {
				got = append(got, uuidsOf(t, evs)...)
				return nil
			})
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			if tt.q.Filter != "" && !strings.Contains(f.queries[0], "filter=eventType+eq+%22x%22") {
				t.Fatalf("query: got %q, want the filter", f.queries[0])
			}
		})
	}
}

func TestTailLogs(t *testing.T) {
	f := &logsFake{pages: [][]string{{"a", "b"}, {"c"}, {}, {"d"}}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	c := New(srv.URL, token, nil)
	ctx, cancel := context.WithCancel(t.Context())
	var waits []time.Duration
	sleeps := 0
	c.sleep = func(ctx context.Context, d time.Duration) error {
		waits = append(waits, d)
		sleeps++
		if sleeps == 4 {
			cancel()
		}
		return ctx.Err()
	}
	var got []string
	err := c.TailLogs(ctx, LogQuery{Limit: 2}, time.Second, func(evs []json.RawMessage) error {
		got = append(got, uuidsOf(t, evs)...)
		return nil
	})
	if err != nil {
		t.Fatalf("got error %v, want nil after cancel", err)
	}
	if want := []string{"a", "b", "c", "d"}; !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if len(waits) != 4 || waits[0] != time.Second {
		t.Fatalf("waits: got %v, want 4 waits of 1s after short pages", waits)
	}
	// Links name a public URL; the client kept sending to its own server.
	if len(f.queries) < 4 || !strings.Contains(f.queries[3], "after=3") {
		t.Fatalf("queries: got %v, want the next links followed on the client's server", f.queries)
	}
}
