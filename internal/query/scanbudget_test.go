package query

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/auth"
)

// TestScanBudgetPagesGiveTheSameEvents: with a scan budget (here 1 ns, so
// every page stops after its first read) a sparse keyword search answers
// short pages whose next links continue where each stopped; following
// them gives exactly the events, in the same order, of the query without
// a budget, in either order, with ties of published. Without a budget in
// the context nothing changes (no header, full pages).
func TestScanBudgetPagesGiveTheSameEvents(t *testing.T) {
	h := newHarness(t, Config{RateLimit: -1})
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	var evs []ev
	for i := range 3000 {
		actor := fmt.Sprintf("user%d@example.com", i)
		if i%37 == 0 {
			actor = "needle@example.com"
		}
		// Three events per second: ties of published.
		evs = append(evs, ev{uuid: fmt.Sprintf("u-%05d", 2999-i), org: "acme", typ: "user.session.start", actor: actor, pub: base.Add(time.Duration(i/3) * time.Second)})
	}
	h.append(evs...)
	tok := auth.Token{ID: "budget-test", Name: "budget", Org: "acme", Scopes: []auth.Scope{auth.ScopeReadLogs}}
	for _, order := range []string{"ASCENDING", "DESCENDING"} {
		t.Run(order, func(t *testing.T) {
			q := params("since", base.Format(time.RFC3339), "until", base.Add(time.Hour).Format(time.RFC3339),
				"q", "needle@example.com", "limit", "20", "sortOrder", order)
			want, _ := h.follow(h.acme, q, 20)
			if len(want) != 82 {
				t.Fatalf("without a budget: got %d events, want 82", len(want))
			}
			// In process, as the console calls it, with a budget.
			var got []string
			stops := 0
			target := "/api/v1/logs?" + q.Encode()
			for page := 0; target != ""; page++ {
				if page > 1000 {
					t.Fatal("too many pages")
				}
				req := httptest.NewRequestWithContext(WithScanBudget(t.Context(), time.Nanosecond), http.MethodGet, target, nil)
				rec := httptest.NewRecorder()
				if err := h.e.ServeLogs(rec, req, tok); err != nil {
					t.Fatalf("page %d: %v", page, err)
				}
				r := response{status: rec.Code, header: rec.Header()}
				if err := json.Unmarshal(rec.Body.Bytes(), &r.events); err != nil {
					t.Fatal(err)
				}
				if rec.Header().Get(ScanStoppedHeader) != "" {
					stops++
					if len(r.events) >= 20 {
						t.Errorf("page %d: stopped with %d events, want fewer than the limit", page, len(r.events))
					}
					if r.links()["next"] == "" {
						t.Errorf("page %d: stopped without a next link", page)
					}
				}
				got = append(got, r.uuids()...)
				target = r.links()["next"]
			}
			if !slices.Equal(got, want) {
				t.Errorf("with a budget: got %d events %v, want %d %v", len(got), got, len(want), want)
			}
			if stops == 0 {
				t.Error("no page stopped at the budget, want most of them to")
			}
			// A full page over a dense range: no stop, no header.
			req := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/api/v1/logs?"+params("since", base.Format(time.RFC3339),
				"until", base.Add(time.Hour).Format(time.RFC3339), "q", "needle@example.com", "limit", "20", "sortOrder", order).Encode(), nil)
			rec := httptest.NewRecorder()
			if err := h.e.ServeLogs(rec, req, tok); err != nil {
				t.Fatal(err)
			}
			if v := rec.Header().Get(ScanStoppedHeader); v != "" {
				t.Errorf("without a budget: got %s %q, want none", ScanStoppedHeader, v)
			}
		})
	}
}
