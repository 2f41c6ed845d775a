package detect

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/auth"
	"github.com/auditstream/auditstream/internal/detect/correlate"
	"github.com/auditstream/auditstream/internal/httpapi"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/journal/journaltest"
)

// apiServer serves the detections routes with a token per org (the
// header X-Org picks it), as the API server would after authentication.
func apiServer(t *testing.T, j *journal.Journal, rules *Rules) *httptest.Server {
	t.Helper()
	return serveAPI(t, &API{Rules: rules, Store: NewStore(journaltest.KV(t, j, BucketDetections)), Journal: j, DefaultOrg: "default",
		Log: slog.New(slog.DiscardHandler)}, auth.ScopeManageDetections)
}

// serveAPI serves a's routes as apiServer does, each org's token with
// scope.
func serveAPI(t *testing.T, a *API, scope auth.Scope) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	for _, rt := range a.Routes() {
		mux.HandleFunc(rt.Pattern, func(w http.ResponseWriter, r *http.Request) {
			tok := auth.Token{ID: "tok-" + r.Header.Get("X-Org"), Org: r.Header.Get("X-Org"), Scopes: []auth.Scope{scope}}
			if err := rt.Handle(w, r, tok); err != nil {
				httpapi.WriteError(w, a.Log, err)
			}
		})
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func do(t *testing.T, srv *httptest.Server, org, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Org", org)
	if strings.HasPrefix(body, "{") {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

const uploadedRule = `title: Token created by a human
id: upload-token-human
author: acme secops
match: {detail: {eventType: [system.api_token.create]}}
suppress: {for: "0"}
`

// Uploads: a good rule is stored and listed for its org only (and loaded);
// a bad one is a 400 with Okta's body, stores nothing; deactivating a rule
// stops it for that org; another org cannot see or change it.
func TestAPIUploadsAndLifecycle(t *testing.T) {
	j := journaltest.Open(t)
	rules, err := OpenRules(t.Context(), RulesConfig{Routes: DefaultRoutes(), Packs: []*Pack{nativePack(t)}, KV: journaltest.KV(t, j, BucketRules)})
	if err != nil {
		t.Fatal(err)
	}
	srv := apiServer(t, j, rules)

	code, body := do(t, srv, "acme", "POST", "/api/v1/detections/rules", "title: x\nmatch: {detail: {eventType: user.session.start}}\n")
	if code != http.StatusBadRequest || !strings.Contains(body, `"errorCode":"E0000001"`) || !strings.Contains(body, "id is required") {
		t.Fatalf("bad upload: got %d %s, want 400 E0000001 naming the problems", code, body)
	}
	code, body = do(t, srv, "acme", "POST", "/api/v1/detections/rules", uploadedRule)
	if code != http.StatusOK || !strings.Contains(body, `"status":"loaded"`) {
		t.Fatalf("upload: got %d %s, want 200 loaded", code, body)
	}
	if code, _ := do(t, srv, "acme", "POST", "/api/v1/detections/rules", strings.Replace(uploadedRule, "upload-token-human", bruteForceID, 1)); code != http.StatusBadRequest {
		t.Errorf("upload with a pack rule's id: got %d, want 400", code)
	}
	if code, _ := do(t, srv, "acme", "GET", "/api/v1/detections/rules/upload-token-human", ""); code != http.StatusOK {
		t.Errorf("get own upload: got %d, want 200", code)
	}
	if code, _ := do(t, srv, "other", "GET", "/api/v1/detections/rules/upload-token-human", ""); code != http.StatusNotFound {
		t.Errorf("another org's upload: got %d, want 404", code)
	}
	if code, _ := do(t, srv, "other", "POST", "/api/v1/detections/rules/upload-token-human/lifecycle/deactivate", ""); code != http.StatusNotFound {
		t.Errorf("another org deactivating it: got %d, want 404", code)
	}
	if code, _ := do(t, srv, "other", "DELETE", "/api/v1/detections/rules/upload-token-human", ""); code != http.StatusNotFound {
		t.Errorf("another org deleting it: got %d, want 404", code)
	}

	// The uploaded rule runs for acme only; after deactivation not at all.
	feed := func() int {
		m, err := NewMatcher(rules.Registry(), correlate.Config{}, Envelope{})
		if err != nil {
			t.Fatal(err)
		}
		m.Enabled = rules.Enabled
		var out []Raised
		for i, org := range []string{"acme", "other"} {
			r := oktaEvent(org, "tok-"+org+string(rune('a'+i)), "system.api_token.create", "SUCCESS", "00u1", t0)
			out = m.Feed(&r, out)
		}
		n := 0
		for _, x := range out {
			if x.Info.ID == "upload-token-human" {
				n++
				if x.Record.Org != "acme" {
					t.Errorf("uploaded rule raised in org %s, want acme only", x.Record.Org)
				}
			}
		}
		return n
	}
	if n := feed(); n != 1 {
		t.Fatalf("before deactivation: got %d detections of the uploaded rule, want 1", n)
	}
	if code, body := do(t, srv, "acme", "POST", "/api/v1/detections/rules/upload-token-human/lifecycle/deactivate", ""); code != http.StatusOK || !strings.Contains(body, `"enabled":false`) {
		t.Fatalf("deactivate: got %d %s, want 200 enabled false", code, body)
	}
	if n := feed(); n != 0 {
		t.Errorf("after deactivation: got %d detections, want 0", n)
	}
	// The change is a System Log event with the actor.
	rec, ok := journaltest.Last(t, j, "acme", EventRuleDeactivate)
	if !ok || !strings.Contains(string(rec.Data), "tok-acme") {
		t.Errorf("deactivation event: got %v %s, want one naming tok-acme", ok, rec.Data)
	}
	if code, _ := do(t, srv, "acme", "POST", "/api/v1/detections/rules/upload-token-human/lifecycle/explode", ""); code != http.StatusNotFound {
		t.Errorf("unknown lifecycle op: got %d, want 404", code)
	}
	for _, tc := range []struct{ method, path, body, want string }{
		{"POST", "/api/v1/detections/backtest", `{"rule":"upload-token-human","since":"yesterday"}`, "since"},
		{"POST", "/api/v1/detections/backtest", `{}`, "rule or pack"},
		{"POST", "/api/v1/detections/backtest", `{"pack":"nope"}`, "no pack"},
		{"POST", "/api/v1/detections/backtest", `{"rule":"x","bogus":1}`, "bogus"},
		{"GET", "/api/v1/detections?status=maybe", "", "status"},
		{"GET", "/api/v1/detections?since=never", "", "since"},
		{"GET", "/api/v1/detections?limit=0", "", "limit"},
		{"GET", "/api/v1/detections?org=other", "", "org"},
	} {
		code, body := do(t, srv, "acme", tc.method, tc.path, tc.body)
		if code/100 != 4 || !strings.Contains(body, `"errorCode":"E0000`) || !strings.Contains(body, tc.want) {
			t.Errorf("%s %s %s: got %d %s, want a 4xx Okta error naming %q", tc.method, tc.path, tc.body, code, body, tc.want)
		}
	}
}

// Backtest: reports what a rule would have raised over the org's events in
// the range, appends nothing, and never reads another org's events.
func TestBacktest(t *testing.T) {
	j := journaltest.Open(t)
	appendAll(t, j, failures("acme", "00uJANE", 6, t0, "a"))
	appendAll(t, j, failures("other", "00uJANE", 6, t0, "b"))
	before := len(journaltest.Records(t, j))
	reg := nativeRegistry(t)
	ctx := context.Background()
	for _, tc := range []struct {
		req  BacktestRequest
		want int
	}{
		{BacktestRequest{Org: "acme", Rule: bruteForceID}, 1},
		{BacktestRequest{Org: "acme", Pack: "native"}, 1},
		{BacktestRequest{Org: "acme", Rule: bruteForceID, Since: t0.Add(2 * time.Minute)}, 0},
		{BacktestRequest{Org: "nobody", Rule: bruteForceID}, 0},
	} {
		res, err := Backtest(ctx, j, reg, correlate.Config{}, Envelope{}, tc.req)
		if err != nil {
			t.Fatal(err)
		}
		if res.Count != tc.want {
			t.Errorf("%+v: got %d detections, want %d", tc.req, res.Count, tc.want)
		}
		for _, d := range res.Detections {
			if d.Org != tc.req.Org {
				t.Errorf("backtest of %s raised in org %s", tc.req.Org, d.Org)
			}
		}
	}
	if after := len(journaltest.Records(t, j)); after != before {
		t.Errorf("journal: got %d events after backtests, want %d (nothing raised)", after, before)
	}
	if _, err := Backtest(ctx, j, reg, correlate.Config{}, Envelope{}, BacktestRequest{Org: "acme"}); err == nil {
		t.Error("backtest without rule or pack: got nil error")
	}
}

// Every detections endpoint acts in one org: an org's token naming
// another org with ?org= is refused (403) on each, before anything is
// read or stored.
func TestAPIEveryRouteRefusesAnotherOrg(t *testing.T) {
	j := journaltest.Open(t)
	rules, err := OpenRules(t.Context(), RulesConfig{Routes: DefaultRoutes(), Packs: []*Pack{nativePack(t)}, KV: journaltest.KV(t, j, BucketRules)})
	if err != nil {
		t.Fatal(err)
	}
	srv := apiServer(t, j, rules)
	before := len(rules.Registry().Infos())
	paths := strings.NewReplacer("{id}", "x", "{op}", "activate")
	for _, rt := range (&API{}).Routes() {
		method, path, _ := strings.Cut(rt.Pattern, " ")
		t.Run(rt.Pattern, func(t *testing.T) {
			code, body := do(t, srv, "acme", method, paths.Replace(path)+"?org=other", `{"rule":"x"}`)
			if code != http.StatusForbidden || !strings.Contains(body, "may not act on org other") {
				t.Errorf("got %d %s, want 403 naming org other", code, body)
			}
		})
	}
	if got := len(rules.Registry().Infos()); got != before {
		t.Errorf("got %d rules after the refused requests, want %d", got, before)
	}
}
