package activity

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/auditstream/auditstream/internal/api"
	"github.com/auditstream/auditstream/internal/auth"
	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/journal/journaltest"
	"github.com/auditstream/auditstream/internal/query"
)

const (
	john  = "00uttidj01jqL21aM1d6"
	alice = "00u6eup97mAJZWYmP357" // only ever a target
)

// apiEnv is a journal with the Okta fixture in org acme and one event of
// john in org other, the fold, the query engine and the API server.
type apiEnv struct {
	srv                        *httptest.Server
	evs                        []event.Record
	acme, other, logsOnly, all string
	store                      *Store
}

func newAPIEnv(t *testing.T) *apiEnv {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	j := journaltest.Open(t)
	e := &apiEnv{evs: append(oktaEvents(t, "acme"), parseAll(t, "acme", extraEvents...)...)}
	appendAll(t, j, e.evs, 10)
	appendAll(t, j, parseAll(t, "other", `{"uuid":"o-1","published":"2024-08-13T17:00:00.000Z","eventType":"user.session.start","actor":{"id":"`+john+`","type":"User","alternateId":"someone@other.example"},"client":{"ipAddress":"192.0.2.9"},"outcome":{"result":"SUCCESS"}}`), 1)
	r := start(t, j, journaltest.KV(t, j, Bucket), Config{})
	caughtUp(t, j, r.s)
	e.store = r.s

	tokens, err := auth.NewStore(t.Context(), journaltest.KV(t, j, journal.BucketTokens), log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tokens.Close)
	mk := func(org string, scopes ...auth.Scope) string {
		secret, _, err := tokens.Create(t.Context(), auth.Token{Name: "t-" + org, Org: org, Scopes: scopes})
		if err != nil {
			t.Fatal(err)
		}
		return secret
	}
	e.acme = mk("acme", auth.ScopeReadActivity)
	e.other = mk("other", auth.ScopeReadActivity)
	e.logsOnly = mk("acme", auth.ScopeReadLogs)
	e.all = mk(auth.AllOrgs, auth.ScopeAdmin)

	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	q, err := query.New(t.Context(), j, query.Config{BaseURL: base}, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(t.Context()))
	done := make(chan struct{})
	go func() { defer close(done); _ = q.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	a := API{Store: r.s, Events: q, BaseURL: base}
	srv.Config.Handler = api.New(api.Deps{Journal: j, Tokens: tokens, Log: log, Registry: prometheus.NewRegistry(), Routes: a.Routes()})
	srv.Start()
	t.Cleanup(srv.Close)
	e.srv = srv
	return e
}

type answer struct {
	status int
	body   []byte
	header http.Header
}

func (e *apiEnv) get(t *testing.T, token, path string) answer {
	t.Helper()
	u := path
	if !strings.HasPrefix(u, "http") {
		u = e.srv.URL + path
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "SSWS "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, b, resp.Header}
}

// TestAPIProfile checks the profile endpoint's answers, scopes and org
// isolation.
func TestAPIProfile(t *testing.T) {
	e := newAPIEnv(t)
	for _, tc := range []struct {
		name, token, path string
		status            int
		code, login       string
	}{
		{"own org", e.acme, "/api/v1/activity/users/" + john, 200, "", "john.doe@example.com"},
		{"same id in another org sees only its own", e.other, "/api/v1/activity/users/" + john, 200, "", "someone@other.example"},
		{"another org's user", e.other, "/api/v1/activity/users/" + alice, 404, "E0000007", ""},
		{"another org named by an org token", e.other, "/api/v1/activity/users/" + john + "?org=acme", 404, "E0000007", ""},
		{"unknown user", e.acme, "/api/v1/activity/users/00uNOBODY", 404, "E0000007", ""},
		{"no activity scope", e.logsOnly, "/api/v1/activity/users/" + john, 403, "E0000006", ""},
		{"no token", "", "/api/v1/activity/users/" + john, 401, "E0000011", ""},
		{"all orgs without org", e.all, "/api/v1/activity/users/" + john, 400, "E0000001", ""},
		{"all orgs with org", e.all, "/api/v1/activity/users/" + john + "?org=acme", 200, "", "john.doe@example.com"},
		{"quote in the id", e.acme, "/api/v1/activity/users/" + url.PathEscape(`a"b`), 400, "E0000001", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := e.get(t, tc.token, tc.path)
			if a.status != tc.status {
				t.Fatalf("status: got %d, want %d (%s)", a.status, tc.status, a.body)
			}
			if tc.code != "" {
				var eb struct{ ErrorCode, ErrorSummary string }
				if err := json.Unmarshal(a.body, &eb); err != nil || eb.ErrorCode != tc.code {
					t.Errorf("error body: got %s, want errorCode %s", a.body, tc.code)
				}
				if tc.status == 404 && !strings.Contains(eb.ErrorSummary, "Not found: Resource not found") {
					t.Errorf("404 summary: got %q, want Okta's", eb.ErrorSummary)
				}
				return
			}
			var v View
			if err := json.Unmarshal(a.body, &v); err != nil {
				t.Fatal(err)
			}
			if v.Login != tc.login {
				t.Errorf("login: got %q, want %q", v.Login, tc.login)
			}
			if !strings.HasSuffix(strings.Split(v.Links["events"].Href, "?")[0], "/api/v1/activity/users/"+john+"/events") {
				t.Errorf("events link: got %q", v.Links["events"].Href)
			}
		})
	}
}

// TestAPIEvents pages through a user's events (as actor or target) and
// compares them with the fixture's.
func TestAPIEvents(t *testing.T) {
	e := newAPIEnv(t)
	for _, user := range []string{john, alice, "0002222AAAA"} {
		var want []string
		for _, r := range e.evs {
			var ev logEvent
			parseEvent(r.Data, &ev, nil)
			hit := ev.Actor.ID == user
			for _, tg := range ev.Target {
				hit = hit || tg.ID == user
			}
			if hit && !slices.Contains(want, r.UUID) {
				want = append(want, r.UUID)
			}
		}
		if len(want) == 0 {
			t.Fatalf("%s: no events in the fixture", user)
		}
		params := url.Values{"since": {"2000-01-01T00:00:00Z"}, "until": {time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}, "limit": {"2"}}
		next := "/api/v1/activity/users/" + user + "/events?" + params.Encode()
		var got []string
		for pages := 0; next != "" && pages < 50; pages++ {
			a := e.get(t, e.acme, next)
			if a.status != 200 {
				t.Fatalf("%s: status %d: %s", user, a.status, a.body)
			}
			var evs []struct{ UUID string }
			if err := json.Unmarshal(a.body, &evs); err != nil {
				t.Fatal(err)
			}
			for _, ev := range evs {
				got = append(got, ev.UUID)
			}
			next = ""
			for _, l := range a.header.Values("Link") {
				if strings.HasSuffix(l, `rel="next"`) {
					next = strings.TrimSuffix(strings.TrimPrefix(strings.Split(l, ">;")[0], "<"), "")
					if !strings.Contains(next, "/api/v1/activity/users/"+user+"/events?") {
						t.Errorf("next link: got %q, want it on the user's events", next)
					}
				}
			}
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s events: got %v, want %v", user, got, want)
		}
	}
	// An all-orgs token names the org: only that org's events.
	a0 := e.get(t, e.all, "/api/v1/activity/users/"+john+"/events?org=other&since=2000-01-01T00:00:00Z&until=2030-01-01T00:00:00Z")
	if a0.status != 200 || strings.Contains(string(a0.body), "john.doe@example.com") || !strings.Contains(string(a0.body), `"o-1"`) {
		t.Errorf("all-orgs token, org other: got %d %s, want only org other's event", a0.status, a0.body)
	}
	// Another org's token: 404, nothing of acme's events.
	if a := e.get(t, e.other, "/api/v1/activity/users/"+alice+"/events"); a.status != 404 {
		t.Errorf("other org, alice's events: got %d, want 404", a.status)
	}
	a := e.get(t, e.other, "/api/v1/activity/users/"+john+"/events?since=2000-01-01T00:00:00Z&until=2030-01-01T00:00:00Z")
	if a.status != 200 || strings.Contains(string(a.body), "john.doe@example.com") || !strings.Contains(string(a.body), `"o-1"`) {
		t.Errorf("other org, john's events: got %d %s, want only org other's event", a.status, a.body)
	}
}
