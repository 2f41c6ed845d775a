package query

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/auditstream/auditstream/internal/api"
	"github.com/auditstream/auditstream/internal/auth"
	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/journal/journaltest"
)

var discard = slog.New(slog.DiscardHandler)

// harness is a real embedded journal, the query engine and the API server
// on an httptest listener, with tokens for two orgs and for all orgs.
type harness struct {
	t      *testing.T
	j      *journal.Journal
	e      *Engine
	srv    *httptest.Server
	acme   string // logs.read on org acme
	other  string // logs.read on org other
	all    string // admin on every org
	noRead string // events.write only
}

func newHarness(t *testing.T, cfg Config) *harness {
	t.Helper()
	return newHarnessOn(t, cfg, journaltest.Open(t))
}

// newHarnessOn is newHarness on the journal j.
func newHarnessOn(t *testing.T, cfg Config, j *journal.Journal) *harness {
	t.Helper()
	tokens, err := auth.NewStore(t.Context(), journaltest.KV(t, j, journal.BucketTokens), discard)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, j: j}
	mk := func(org string, scopes ...auth.Scope) string {
		secret, _, err := tokens.Create(t.Context(), auth.Token{Name: "t-" + org, Org: org, Scopes: scopes})
		if err != nil {
			t.Fatal(err)
		}
		return secret
	}
	h.acme = mk("acme", auth.ScopeReadLogs)
	h.other = mk("other", auth.ScopeReadLogs)
	h.all = mk(auth.AllOrgs, auth.ScopeAdmin)
	h.noRead = mk("acme", auth.ScopeWriteEvents)

	srv := httptest.NewUnstartedServer(nil)
	if cfg.BaseURL == "" {
		cfg.BaseURL = "http://" + srv.Listener.Addr().String()
	}
	h.e, err = New(t.Context(), j, cfg, discard)
	if err != nil {
		t.Fatal(err)
	}
	stopEngine := runEngine(t, h.e)
	srv.Config.Handler = api.New(api.Deps{Journal: j, Tokens: tokens, Log: discard, Registry: prometheus.NewRegistry(), Routes: h.e.Routes()})
	srv.Start()
	h.srv = srv
	t.Cleanup(func() {
		srv.Close()
		tokens.Close()
		stopEngine()
		j.Close()
	})
	return h
}

// runEngine runs e until the returned stop, which waits for Run to return
// (and fails the test when Run fails or does not return within 10s).
func runEngine(t testing.TB, e *Engine) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.WithoutCancel(t.Context()))
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	return func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("engine run: got %v, want nil", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("engine run: still running 10s after its context ended, want it stopped")
		}
	}
}

// ev builds one event.
type ev struct {
	uuid, org, typ, actor string
	pub                   time.Time
	extra                 string // more members, e.g. `"outcome":{"result":"FAILURE"}`
}

// json is the event's JSON.
func (e ev) json() string {
	raw := fmt.Sprintf(`{"uuid":%q,"published":%q,"eventType":%q,"actor":{"id":"x","type":"User","alternateId":%q}`,
		e.uuid, e.pub.UTC().Format(event.TimeFormat), e.typ, e.actor)
	if e.extra != "" {
		raw += "," + e.extra
	}
	return raw + "}"
}

func (h *harness) append(evs ...ev) {
	h.t.Helper()
	var out []event.Record
	for _, e := range evs {
		raw := e.json()
		pe, err := event.Parse([]byte(raw), e.org, time.Now())
		if err != nil {
			h.t.Fatalf("parse %s: %v", raw, err)
		}
		out = append(out, pe)
	}
	for len(out) > 0 {
		n := min(len(out), 1000)
		if _, err := h.j.Append(h.t.Context(), out[:n]); err != nil {
			h.t.Fatal(err)
		}
		out = out[n:]
	}
}

// response is one answer of GET /api/v1/logs.
type response struct {
	status int
	header http.Header
	events []map[string]any
	err    struct {
		ErrorCode    string `json:"errorCode"`
		ErrorSummary string `json:"errorSummary"`
		ErrorLink    string `json:"errorLink"`
		ErrorID      string `json:"errorId"`
		ErrorCauses  []struct {
			ErrorSummary string `json:"errorSummary"`
		} `json:"errorCauses"`
	}
}

func (r response) uuids() []string {
	out := make([]string, len(r.events))
	for i, e := range r.events {
		out[i], _ = e["uuid"].(string)
	}
	return out
}

// links returns the Link header targets by rel.
func (r response) links() map[string]string {
	out := map[string]string{}
	for _, v := range r.header.Values("Link") {
		target, params, _ := strings.Cut(v, ";")
		rel := strings.Trim(strings.TrimPrefix(strings.TrimSpace(params), "rel="), `"`)
		out[rel] = strings.Trim(strings.TrimSpace(target), "<>")
	}
	return out
}

// get requests rawURL (absolute, or a path and query on the server).
func (h *harness) get(token, rawURL string) response {
	h.t.Helper()
	if strings.HasPrefix(rawURL, "/") {
		rawURL = h.srv.URL + rawURL
	}
	req, err := http.NewRequestWithContext(h.t.Context(), http.MethodGet, rawURL, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Authorization", "SSWS "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	r := response{status: resp.StatusCode, header: resp.Header}
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(body, &r.events); err != nil {
			h.t.Fatalf("decode %s: %v", body, err)
		}
	} else if err := json.Unmarshal(body, &r.err); err != nil {
		h.t.Fatalf("decode error %s: %v", body, err)
	}
	return r
}

// logs requests /api/v1/logs with params.
func (h *harness) logs(token string, params url.Values) response {
	h.t.Helper()
	return h.get(token, "/api/v1/logs?"+params.Encode())
}

// follow pages through next links until a page has fewer than limit
// events (polling) or no next (bounded), and returns every uuid.
func (h *harness) follow(token string, params url.Values, limit int) (all []string, last response) {
	h.t.Helper()
	r := h.logs(token, params)
	for i := 0; ; i++ {
		if r.status != http.StatusOK {
			h.t.Fatalf("page %d: got status %d (%s), want 200", i, r.status, r.err.ErrorSummary)
		}
		all = append(all, r.uuids()...)
		next, ok := r.links()["next"]
		if !ok || len(r.events) < limit {
			return all, r
		}
		if i > 100000 {
			h.t.Fatal("too many pages")
		}
		r = h.get(token, next)
	}
}

func params(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}
