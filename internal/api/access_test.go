package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/auditstream/auditstream/internal/auth"
	"github.com/auditstream/auditstream/internal/httpapi"
	"github.com/auditstream/auditstream/internal/journal/journaltest"
	"github.com/auditstream/auditstream/internal/wire"
)

func TestAuthentication(t *testing.T) {
	t.Parallel()
	s := newServer(t, httpapi.Limits{})
	writer := s.token("acme", auth.ScopeWriteEvents)
	reader := s.token("acme", auth.ScopeReadStreams)
	tests := []struct {
		name   string
		method string
		path   string
		auth   string // the Authorization header
		status int
		code   string
		cause  string
	}{
		{"no token", "GET", "/api/v1/logStreams", "", 401, httpapi.CodeInvalidToken, ""},
		{"SSWS", "GET", "/api/v1/logStreams", "SSWS " + s.admin, 200, "", ""},
		{"Bearer", "GET", "/api/v1/logStreams", "Bearer " + s.admin, 200, "", ""},
		{"scheme is case-insensitive", "GET", "/api/v1/logStreams", "bearer " + s.admin, 200, "", ""},
		{"Basic is not a token", "GET", "/api/v1/logStreams", "Basic " + s.admin, 401, httpapi.CodeInvalidToken, ""},
		{"bare token", "GET", "/api/v1/logStreams", s.admin, 401, httpapi.CodeInvalidToken, ""},
		{"wrong token", "GET", "/api/v1/logStreams", "SSWS as_wrong", 401, httpapi.CodeInvalidToken, ""},
		{"empty token", "GET", "/api/v1/logStreams", "SSWS ", 401, httpapi.CodeInvalidToken, ""},
		{"writer cannot read streams", "GET", "/api/v1/logStreams", "SSWS " + writer, 403, httpapi.CodeForbidden, "missing scope logStreams.read"},
		{"reader cannot manage streams", "POST", "/api/v1/logStreams", "SSWS " + reader, 403, httpapi.CodeForbidden, "missing scope logStreams.manage"},
		{"reader cannot ingest", "POST", "/api/v1/events", "SSWS " + reader, 403, httpapi.CodeForbidden, "missing scope events.write"},
		{"writer cannot list tokens", "GET", "/api/v1/tokens", "SSWS " + writer, 403, httpapi.CodeForbidden, "missing scope admin"},
		{"metrics needs a token", "GET", "/metrics", "", 401, httpapi.CodeInvalidToken, ""},
		{"metrics needs admin", "GET", "/metrics", "SSWS " + reader, 403, httpapi.CodeForbidden, "missing scope admin"},
		{"metrics for admin", "GET", "/metrics", "SSWS " + s.admin, 200, "", ""},
		{"healthz is open", "GET", "/healthz", "", 200, "", ""},
		{"readyz is open", "GET", "/readyz", "", 200, "", ""},
		{"unknown path without a token", "GET", "/api/v1/nothing", "", 401, httpapi.CodeInvalidToken, ""},
		{"unknown path", "GET", "/api/v1/nothing", "SSWS " + reader, 404, httpapi.CodeNotFound, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.call(tt.method, tt.path, "", nil, "Authorization", tt.auth)
			if r.header.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("got X-Content-Type-Options %q, want nosniff", r.header.Get("X-Content-Type-Options"))
			}
			if tt.code == "" {
				wantStatus(t, r, tt.status)
				return
			}
			if tt.cause == "" {
				wantError(t, r, tt.status, tt.code)
			} else {
				wantError(t, r, tt.status, tt.code, tt.cause)
			}
		})
	}
}

func TestHealthAndMetrics(t *testing.T) {
	t.Parallel()
	s := newServer(t, httpapi.Limits{})
	tests := []struct {
		path, token, want string
	}{
		{"/healthz", "", `{"status":"ok"}`},
		{"/readyz", "", `{"status":"ready"}`},
	}
	for _, tt := range tests {
		r := s.call("GET", tt.path, tt.token, nil)
		wantStatus(t, r, 200)
		if got := strings.TrimSpace(string(r.body)); got != tt.want {
			t.Errorf("%s: got %s, want %s", tt.path, got, tt.want)
		}
	}
	wantStatus(t, s.call("POST", "/api/v1/events", s.admin, `{"eventType":"x"}`), 202)
	r := s.call("GET", "/metrics", s.admin, nil)
	wantStatus(t, r, 200)
	if !strings.Contains(string(r.body), "auditstream_ingest_events_total 1") {
		t.Errorf("got metrics without auditstream_ingest_events_total 1:\n%s", r.body)
	}
}

func TestDrainRefusesEvents(t *testing.T) {
	t.Parallel()
	s := newServer(t, httpapi.Limits{})
	s.api.Drain()
	r := s.call("POST", "/api/v1/events", s.admin, `{"eventType":"x"}`)
	wantError(t, r, http.StatusServiceUnavailable, httpapi.CodeUnavailable)
	if got := r.header.Get("Retry-After"); got != "5" {
		t.Errorf("got Retry-After %q, want 5", got)
	}
	wantError(t, s.call("GET", "/readyz", "", nil), http.StatusServiceUnavailable, httpapi.CodeUnavailable)
	wantStatus(t, s.call("GET", "/healthz", "", nil), 200)
}

func TestReadyzWithoutJournal(t *testing.T) {
	t.Parallel()
	s := newServer(t, httpapi.Limits{})
	s.j.Close()
	wantError(t, s.call("GET", "/readyz", "", nil), http.StatusServiceUnavailable, httpapi.CodeUnavailable)
}

func TestErrorBodyShape(t *testing.T) {
	t.Parallel()
	s := newServer(t, httpapi.Limits{})
	r := s.call("GET", "/api/v1/logStreams", "", nil)
	e1 := wantError(t, r, 401, httpapi.CodeInvalidToken)
	if string(r.body) == "" || !strings.Contains(string(r.body), `"errorCauses":[]`) {
		t.Errorf("got %s, want errorCauses as an empty array", r.body)
	}
	if e1.ErrorSummary != "Invalid token provided" {
		t.Errorf("got summary %q, want Okta's %q", e1.ErrorSummary, "Invalid token provided")
	}
	e2 := wantError(t, s.call("GET", "/api/v1/logStreams", "", nil), 401, httpapi.CodeInvalidToken)
	if e1.ErrorID == e2.ErrorID {
		t.Errorf("got errorId %s twice, want a fresh id per error", e1.ErrorID)
	}
	e := wantError(t, s.call("POST", "/api/v1/logStreams", s.admin, `{"type":"nope","name":""}`), 400, httpapi.CodeValidation)
	if len(e.ErrorCauses) < 2 {
		t.Errorf("got causes %q, want one per problem", e.causes())
	}
}

// TestWrongMethod checks that a known path with a method it does not serve
// answers 405 with Okta's E0000022 (httpapi.CodeMethod), not "not found".
func TestWrongMethod(t *testing.T) {
	t.Parallel()
	s := newServer(t, httpapi.Limits{})
	for _, tt := range []struct{ method, path string }{
		{"PATCH", "/api/v1/logStreams"},
		{"DELETE", "/api/v1/tokens"},
		{"GET", "/api/v1/events"},
	} {
		r := s.call(tt.method, tt.path, s.admin, nil)
		wantError(t, r, http.StatusMethodNotAllowed, httpapi.CodeMethod)
	}
}

func TestOrgIsolation(t *testing.T) {
	t.Parallel()
	s := newServer(t, httpapi.Limits{})
	acme := s.token("acme", auth.ScopeReadStreams, auth.ScopeManageStreams, auth.ScopeWriteEvents)
	var mine, theirs, everyone wire.Stream
	mk := func(name, org string) wire.Stream {
		var v wire.Stream
		r := s.call("POST", "/api/v1/logStreams", s.admin, map[string]any{"type": "test", "name": name, "org": org,
			"settings": map[string]any{"url": "http://x"}})
		wantStatus(t, r, 200)
		r.json(t, &v)
		return v
	}
	mine, theirs, everyone = mk("mine", "acme"), mk("theirs", "other"), mk("everyone", "*")

	var list []wire.Stream
	r := s.call("GET", "/api/v1/logStreams", acme, nil)
	wantStatus(t, r, 200)
	r.json(t, &list)
	if len(list) != 1 || list[0].ID != mine.ID {
		t.Errorf("list: got %+v, want only the acme stream %s", list, mine.ID)
	}
	for _, id := range []string{theirs.ID, everyone.ID} {
		for _, tt := range []struct{ method, path string }{
			{"GET", "/api/v1/logStreams/" + id},
			{"PUT", "/api/v1/logStreams/" + id},
			{"DELETE", "/api/v1/logStreams/" + id},
			{"GET", "/api/v1/logStreams/" + id + "/status"},
			{"POST", "/api/v1/logStreams/" + id + "/lifecycle/deactivate"},
			{"POST", "/api/v1/logStreams/" + id + "/replay"},
			{"GET", "/api/v1/logStreams/" + id + "/deadLetters"},
			{"POST", "/api/v1/logStreams/" + id + "/deadLetters/redrive"},
		} {
			var body any
			if tt.method != "GET" && tt.method != "DELETE" {
				body = `{}`
			}
			wantError(t, s.call(tt.method, tt.path, acme, body), 404, httpapi.CodeNotFound)
		}
	}
	wantStatus(t, s.call("GET", "/api/v1/logStreams/"+mine.ID, acme, nil), 200)

	// An org-bound token cannot create or move a stream into another org.
	r = s.call("POST", "/api/v1/logStreams", acme, map[string]any{"type": "test", "name": "sneaky", "org": "other",
		"settings": map[string]any{"url": "http://x"}})
	wantError(t, r, 403, httpapi.CodeForbidden)
	r = s.call("PUT", "/api/v1/logStreams/"+mine.ID, acme, map[string]any{"type": "test", "name": "mine", "org": "*",
		"settings": map[string]any{"url": "http://x"}})
	wantError(t, r, 403, httpapi.CodeForbidden)

	// Ingest: the token's own org, explicitly or not; never another.
	before := s.journalCount()
	wantStatus(t, s.call("POST", "/api/v1/events", acme, `{"eventType":"a.one"}`), 202)
	wantStatus(t, s.call("POST", "/api/v1/events?org=acme", acme, `{"eventType":"a.two"}`), 202)
	wantError(t, s.call("POST", "/api/v1/events?org=other", acme, `{"eventType":"x"}`), 403, httpapi.CodeForbidden,
		"the token may not write events for org other")
	wantError(t, s.call("POST", "/api/v1/events?org=*", acme, `{"eventType":"x"}`), 403, httpapi.CodeForbidden)
	// An all-orgs token names the org, or gets the default one.
	wantStatus(t, s.call("POST", "/api/v1/events?org=other", s.admin, `{"eventType":"o.one"}`), 202)
	wantStatus(t, s.call("POST", "/api/v1/events", s.admin, `{"eventType":"d.one"}`), 202)
	wantError(t, s.call("POST", "/api/v1/events?org=bad.org", s.admin, `{"eventType":"x"}`), 400, httpapi.CodeValidation)

	for _, want := range [][2]string{{"acme", "a.one"}, {"acme", "a.two"}, {"other", "o.one"}, {"default", "d.one"}} {
		if _, ok := journaltest.Last(t, s.j, want[0], want[1]); !ok {
			t.Errorf("got no event %s of org %s", want[1], want[0])
		}
	}
	if n := s.journalCount() - before; n != 4 {
		t.Errorf("got %d events stored, want 4", n)
	}
}

// TestMetricsNeedAllOrgsAdmin checks that /metrics, which names every org's
// streams and the journal's totals, answers only an all-orgs admin token.
func TestMetricsNeedAllOrgsAdmin(t *testing.T) {
	t.Parallel()
	s := newServer(t, httpapi.Limits{})
	tests := []struct {
		name, token string
		status      int
	}{
		{"all-orgs admin", s.admin, 200},
		{"org admin", s.token("acme", auth.ScopeAdmin), 403},
		{"all-orgs reader", s.token(auth.AllOrgs, auth.ScopeReadLogs, auth.ScopeReadStreams), 403},
		{"no token", "", 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.call("GET", "/metrics", tt.token, nil)
			if tt.status != 200 {
				wantError(t, r, tt.status, map[int]string{401: httpapi.CodeInvalidToken, 403: httpapi.CodeForbidden}[tt.status])
				if strings.Contains(string(r.body), "auditstream_") {
					t.Errorf("got metrics in %s, want none", r.body)
				}
				return
			}
			wantStatus(t, r, 200)
			if !strings.Contains(string(r.body), "auditstream_ingest_") {
				t.Errorf("got %s, want the metrics", r.body)
			}
		})
	}
}
