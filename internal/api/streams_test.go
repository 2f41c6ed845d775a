package api_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/auth"
	"github.com/auditstream/auditstream/internal/httpapi"
	"github.com/auditstream/auditstream/internal/journal/journaltest"
	"github.com/auditstream/auditstream/internal/wait"
)

// streamView is Okta's LogStream object as the API returns it.
type streamView struct {
	ID          string                     `json:"id"`
	Type        string                     `json:"type"`
	Name        string                     `json:"name"`
	Status      string                     `json:"status"`
	Settings    map[string]any             `json:"settings"`
	Filter      json.RawMessage            `json:"filter"`
	Org         string                     `json:"org"`
	Created     string                     `json:"created"`
	LastUpdated string                     `json:"lastUpdated"`
	Links       map[string]json.RawMessage `json:"_links"`
}

const secretPassword = "hunter2-very-secret"

func newStream(name string) map[string]any {
	return map[string]any{"type": "test", "name": name,
		"settings": map[string]any{"url": "http://dest.example", "password": secretPassword}}
}

func (s *server) create(t *testing.T, body any) streamView {
	t.Helper()
	r := s.call("POST", "/api/v1/logStreams", s.admin, body)
	wantStatus(t, r, 200)
	noSecret(t, r)
	var v streamView
	r.json(t, &v)
	return v
}

func noSecret(t *testing.T, r response) {
	t.Helper()
	if strings.Contains(string(r.body), secretPassword) || strings.Contains(string(r.body), `"password"`) {
		t.Errorf("got %s, want the password left out", r.body)
	}
}

// storedPassword reads the password the store holds for a stream.
func (s *server) storedPassword(t *testing.T, id string) string {
	t.Helper()
	d, ok := s.store.Get(id)
	if !ok {
		t.Fatalf("stream %s not in the store", id)
	}
	var set struct {
		Password string `json:"password"`
	}
	if err := json.Unmarshal(d.Settings, &set); err != nil {
		t.Fatal(err)
	}
	return set.Password
}

func checkLinks(t *testing.T, base string, v streamView) {
	t.Helper()
	type link struct{ Href, Method string }
	get := func(name string) (link, bool) {
		raw, ok := v.Links[name]
		if !ok {
			return link{}, false
		}
		var l link
		if err := json.Unmarshal(raw, &l); err != nil {
			t.Fatal(err)
		}
		return l, true
	}
	self := base + "/api/v1/logStreams/" + v.ID
	if l, ok := get("self"); !ok || l.Href != self || l.Method != "GET" {
		t.Errorf("self link: got %+v, want GET %s", l, self)
	}
	want, unwanted := "deactivate", "activate"
	if v.Status == "INACTIVE" {
		want, unwanted = "activate", "deactivate"
	}
	if l, ok := get(want); !ok || l.Href != self+"/lifecycle/"+want || l.Method != "POST" {
		t.Errorf("%s link of a %s stream: got %+v, want POST %s/lifecycle/%s", want, v.Status, l, self, want)
	}
	if _, ok := get(unwanted); ok {
		t.Errorf("got a %s link on a %s stream, want none", unwanted, v.Status)
	}
}

func TestStreamCRUD(t *testing.T) {
	t.Parallel()
	s := newServer(t, httpapi.Limits{})
	before := time.Now().UTC().Truncate(time.Millisecond)
	v := s.create(t, newStream("siem"))

	if len(v.ID) != 20 || !strings.HasPrefix(v.ID, "0oa") || v.Type != "test" || v.Name != "siem" || v.Status != "ACTIVE" || v.Org != "*" {
		t.Errorf("got %+v, want a 20-character 0oa id, type test, name siem, ACTIVE, org *", v)
	}
	if v.Settings["url"] != "http://dest.example" {
		t.Errorf("got settings %v, want url kept", v.Settings)
	}
	created, err := time.Parse("2006-01-02T15:04:05.000Z", v.Created)
	if err != nil || created.Before(before) || v.LastUpdated != v.Created {
		t.Errorf("got created %q lastUpdated %q (%v), want Okta's millisecond UTC form, now", v.Created, v.LastUpdated, err)
	}
	checkLinks(t, s.url, v)

	// GET one and list: same view, no secret.
	r := s.call("GET", "/api/v1/logStreams/"+v.ID, s.admin, nil)
	wantStatus(t, r, 200)
	noSecret(t, r)
	var got streamView
	r.json(t, &got)
	if got.ID != v.ID || got.Name != "siem" || got.Created != v.Created {
		t.Errorf("GET: got %+v, want %+v", got, v)
	}
	r = s.call("GET", "/api/v1/logStreams", s.admin, nil)
	wantStatus(t, r, 200)
	noSecret(t, r)
	var list []streamView
	r.json(t, &list)
	if len(list) != 1 || list[0].ID != v.ID {
		t.Errorf("list: got %+v, want [%s]", list, v.ID)
	}

	// PUT keeps the secret when it is left out or sent back redacted, as
	// long as the destination's host stays the same.
	for _, settings := range []map[string]any{
		{"url": "http://dest.example/two"},
		{"url": "http://dest.example/three", "password": "********"},
	} {
		r := s.call("PUT", "/api/v1/logStreams/"+v.ID, s.admin, map[string]any{"type": "test", "name": "siem-2", "settings": settings})
		wantStatus(t, r, 200)
		noSecret(t, r)
		var up streamView
		r.json(t, &up)
		if up.Name != "siem-2" || up.Settings["url"] != settings["url"] || up.Created != v.Created || up.LastUpdated < v.LastUpdated {
			t.Errorf("PUT: got %+v, want the new name and url, the same created", up)
		}
		if pw := s.storedPassword(t, v.ID); pw != secretPassword {
			t.Errorf("after PUT %v: got stored password %q, want it kept", settings, pw)
		}
	}
	r = s.call("PUT", "/api/v1/logStreams/"+v.ID, s.admin, map[string]any{"type": "test", "name": "siem-2",
		"settings": map[string]any{"url": "http://dest3.example", "password": "rotated"}})
	wantStatus(t, r, 200)
	if strings.Contains(string(r.body), "rotated") {
		t.Errorf("got %s, want the new password left out", r.body)
	}
	if pw := s.storedPassword(t, v.ID); pw != "rotated" {
		t.Errorf("got stored password %q, want rotated", pw)
	}

	// DELETE.
	r = s.call("DELETE", "/api/v1/logStreams/"+v.ID, s.admin, nil)
	wantStatus(t, r, 204)
	wantError(t, s.call("GET", "/api/v1/logStreams/"+v.ID, s.admin, nil), 404, httpapi.CodeNotFound)
	wantError(t, s.call("DELETE", "/api/v1/logStreams/"+v.ID, s.admin, nil), 404, httpapi.CodeNotFound)
	wantError(t, s.call("GET", "/api/v1/logStreams/0oanothere", s.admin, nil), 404, httpapi.CodeNotFound)
}

func TestStreamValidation(t *testing.T) {
	t.Parallel()
	s := newServer(t, httpapi.Limits{})
	existing := s.create(t, newStream("taken"))
	settings := map[string]any{"url": "http://x"}
	tests := []struct {
		name   string
		method string
		path   string
		body   any
		status int
		code   string
		causes []string
	}{
		{"empty name", "POST", "", map[string]any{"type": "test", "name": "", "settings": settings}, 400, httpapi.CodeValidation,
			[]string{"name: must be 1 to 100 characters"}},
		{"long name", "POST", "", map[string]any{"type": "test", "name": strings.Repeat("n", 101), "settings": settings}, 400, httpapi.CodeValidation,
			[]string{"name: must be 1 to 100 characters"}},
		{"duplicate name", "POST", "", map[string]any{"type": "test", "name": "taken", "settings": settings}, 400, httpapi.CodeValidation,
			[]string{"name: a log stream with this name already exists"}},
		{"unknown type", "POST", "", map[string]any{"type": "nope", "name": "n", "settings": settings}, 400, httpapi.CodeValidation,
			[]string{`unknown log stream type "nope"`}},
		{"bad settings", "POST", "", map[string]any{"type": "test", "name": "n", "settings": map[string]any{"uri": "x"}}, 400, httpapi.CodeValidation,
			[]string{"settings"}},
		{"invalid filter", "POST", "", map[string]any{"type": "test", "name": "n", "settings": settings,
			"filter": map[string]any{"detail": map[string]any{"eventType": "user.session.start"}}}, 400, httpapi.CodeValidation,
			[]string{"filter: Event pattern is not valid. Reason: "}},
		{"bad org", "POST", "", map[string]any{"type": "test", "name": "n", "settings": settings, "org": "a.b"}, 400, httpapi.CodeValidation,
			[]string{"org: must be 1 to 64 letters"}},
		{"every problem at once", "POST", "", map[string]any{"type": "nope", "name": "", "filter": map[string]any{"a": 1}}, 400, httpapi.CodeValidation,
			[]string{"name: must be", "unknown log stream type", "filter: Event pattern is not valid. Reason: "}},
		{"destination check", "POST", "", map[string]any{"type": "test", "name": "n", "settings": map[string]any{"url": "http://unreachable.invalid"}},
			400, httpapi.CodeValidation, []string{"the destination check failed: dial tcp: no such host"}},
		{"not JSON", "POST", "", `{"type":`, 400, httpapi.CodeMalformed, nil},
		{"type cannot change", "PUT", "/" + existing.ID, map[string]any{"type": "other", "name": "taken", "settings": settings}, 400, httpapi.CodeValidation,
			[]string{"type: cannot be changed"}},
		{"PUT unknown", "PUT", "/0oanothere", newStream("x"), 404, httpapi.CodeNotFound, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.call(tt.method, "/api/v1/logStreams"+tt.path, s.admin, tt.body)
			wantError(t, r, tt.status, tt.code, tt.causes...)
		})
	}
	var list []streamView
	s.call("GET", "/api/v1/logStreams", s.admin, nil).json(t, &list)
	if len(list) != 1 {
		t.Errorf("got %d streams, want only the first one created", len(list))
	}
	// ?verify=false skips the destination check.
	r := s.call("POST", "/api/v1/logStreams?verify=false", s.admin, map[string]any{"type": "test", "name": "later",
		"settings": map[string]any{"url": "http://unreachable.invalid"}})
	wantStatus(t, r, 200)
}

func TestListStreamsFilter(t *testing.T) {
	t.Parallel()
	s := newServer(t, httpapi.Limits{})
	a := s.create(t, newStream("a"))
	b := s.create(t, newStream("b"))
	wantStatus(t, s.call("POST", "/api/v1/logStreams/"+b.ID+"/lifecycle/deactivate", s.admin, nil), 200)
	tests := []struct {
		filter string
		want   []string
	}{
		{`type eq "test"`, []string{a.ID, b.ID}},
		{`type eq "http"`, nil},
		{`status eq "INACTIVE"`, []string{b.ID}},
		{`status eq "ACTIVE"`, []string{a.ID}},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			r := s.callQuery("/api/v1/logStreams", "filter", tt.filter)
			wantStatus(t, r, 200)
			var list []streamView
			r.json(t, &list)
			var got []string
			for _, v := range list {
				got = append(got, v.ID)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	for _, bad := range []string{`name eq "a"`, `type = "test"`, `type eq test`, `type eq "test" and status eq "ACTIVE"`, `status`} {
		t.Run(bad, func(t *testing.T) {
			wantError(t, s.callQuery("/api/v1/logStreams", "filter", bad), 400, httpapi.CodeInvalidFilter)
		})
	}
}

func (s *server) callQuery(path, key, value string) response {
	s.t.Helper()
	return s.call("GET", path+"?"+url.Values{key: {value}}.Encode(), s.admin, nil)
}

func TestStreamLifecycleAndStatus(t *testing.T) {
	t.Parallel()
	s := newServer(t, httpapi.Limits{})
	v := s.create(t, newStream("life"))
	base := "/api/v1/logStreams/" + v.ID

	r := s.call("POST", base+"/lifecycle/deactivate", s.admin, nil)
	wantStatus(t, r, 200)
	noSecret(t, r)
	var got streamView
	r.json(t, &got)
	if got.Status != "INACTIVE" {
		t.Errorf("got status %s, want INACTIVE", got.Status)
	}
	checkLinks(t, s.url, got)
	status := func() map[string]any {
		r := s.call("GET", base+"/status", s.admin, nil)
		wantStatus(t, r, 200)
		var m map[string]any
		r.json(t, &m)
		for _, k := range []string{"id", "state", "delivered", "failed", "retried", "deadLettered", "lagEvents", "lagSeconds"} {
			if _, ok := m[k]; !ok {
				t.Errorf("got status %s without %s", r.body, k)
			}
		}
		if m["id"] != v.ID {
			t.Errorf("got status id %v, want %s", m["id"], v.ID)
		}
		return m
	}
	if st := status(); st["state"] != "inactive" {
		t.Errorf("got state %v, want inactive", st["state"])
	}

	r = s.call("POST", base+"/lifecycle/activate", s.admin, nil)
	wantStatus(t, r, 200)
	got = streamView{}
	r.json(t, &got)
	if got.Status != "ACTIVE" {
		t.Errorf("got status %s, want ACTIVE", got.Status)
	}
	checkLinks(t, s.url, got)
	wait.Eventually(t, "state active", func() bool { return status()["state"] == "active" })

	wantError(t, s.call("POST", "/api/v1/logStreams/0oanothere/lifecycle/activate", s.admin, nil), 404, httpapi.CodeNotFound)

	// Replay, dead letters, redrive.
	for _, bad := range []string{`{"since":"yesterday"}`, `{"since":""}`, `{}`} {
		wantError(t, s.call("POST", base+"/replay", s.admin, bad), 400, httpapi.CodeValidation, "is not an RFC 3339 time")
	}
	wantError(t, s.call("POST", base+"/replay", s.admin, `{"since":"2026-01-01T00:00:00Z","extra":1}`), 400, httpapi.CodeMalformed)
	r = s.call("POST", base+"/replay", s.admin, `{"since":"2026-01-01T00:00:00Z"}`)
	wantStatus(t, r, 202)
	var replay map[string]any
	r.json(t, &replay)
	if replay["id"] != v.ID || replay["since"] != "2026-01-01T00:00:00Z" {
		t.Errorf("got %s, want the id and since", r.body)
	}
	r = s.call("GET", base+"/deadLetters", s.admin, nil)
	wantStatus(t, r, 200)
	if strings.TrimSpace(string(r.body)) != "[]" {
		t.Errorf("got dead letters %s, want []", r.body)
	}
	wantError(t, s.call("GET", base+"/deadLetters?limit=0", s.admin, nil), 400, httpapi.CodeValidation, "limit")
	wantError(t, s.call("GET", base+"/deadLetters?limit=x", s.admin, nil), 400, httpapi.CodeValidation, "limit")
	r = s.call("POST", base+"/deadLetters/redrive", s.admin, nil)
	wantStatus(t, r, 200)
	if strings.TrimSpace(string(r.body)) != `{"redriven":0}` {
		t.Errorf("got %s, want {\"redriven\":0}", r.body)
	}
}

func TestEventsReachStreams(t *testing.T) {
	t.Parallel()
	s := newServer(t, httpapi.Limits{})
	// Events before a stream exists are not delivered to it.
	wantStatus(t, s.call("POST", "/api/v1/events", s.admin, `{"eventType":"before"}`), 202)

	all := s.create(t, newStream("all"))
	logins := s.create(t, map[string]any{"type": "test", "name": "logins",
		"settings": map[string]any{"url": "http://x"},
		"filter":   map[string]any{"detail": map[string]any{"eventType": []string{"user.session.start"}}}})
	if string(logins.Filter) != `{"detail":{"eventType":["user.session.start"]}}` {
		t.Errorf("got filter %s, want it shown as stored", logins.Filter)
	}
	acmeOnly := s.create(t, map[string]any{"type": "test", "name": "acme", "org": "acme",
		"settings": map[string]any{"url": "http://x"}})

	body := `{"eventType":"user.session.start"}` + "\n" + `{"eventType":"user.session.end"}` + "\n" +
		`{"eventType":"user.session.start"}` + "\n"
	wantStatus(t, s.call("POST", "/api/v1/events?org=acme", s.admin, body, "Content-Type", "application/x-ndjson"), 202)
	wantStatus(t, s.call("POST", "/api/v1/events?org=other", s.admin, `{"eventType":"app.other"}`), 202)

	// The all-orgs stream also sees the audit events of the two streams
	// created after it (in the default org); no stream sees its own.
	const created = "system.log_stream.lifecycle.create"
	want := map[string][]string{
		all.ID:      {created, created, "user.session.start", "user.session.end", "user.session.start", "app.other"},
		logins.ID:   {"user.session.start", "user.session.start"},
		acmeOnly.ID: {"user.session.start", "user.session.end", "user.session.start"},
	}
	for id, w := range want {
		wait.Eventually(t, fmt.Sprintf("stream %s to deliver %v", id, w), func() bool { return len(s.types.sink(id).eventTypes()) >= len(w) },
			wait.Seen(func() string {
				var st map[string]any
				s.call("GET", "/api/v1/logStreams/"+id+"/status", s.admin, nil).json(t, &st)
				return fmt.Sprintf("%v delivered (status %v)", s.types.sink(id).eventTypes(), st)
			}))
	}
	time.Sleep(100 * time.Millisecond) // nothing more arrives
	for id, w := range want {
		if got := s.types.sink(id).eventTypes(); !slices.Equal(got, w) {
			t.Errorf("stream %s: got %v, want %v", id, got, w)
		}
	}
	var m map[string]any
	wait.Eventually(t, "status with 2 delivered and no lag", func() bool {
		m = nil
		s.call("GET", "/api/v1/logStreams/"+logins.ID+"/status", s.admin, nil).json(t, &m)
		return m["delivered"] == float64(2) && m["lagEvents"] == float64(0)
	}, wait.Seen(func() string { return fmt.Sprint(m) }))
}

func TestStreamManageScopes(t *testing.T) {
	t.Parallel()
	s := newServer(t, httpapi.Limits{})
	v := s.create(t, newStream("scoped"))
	reader := s.token(auth.AllOrgs, auth.ScopeReadStreams)
	base := "/api/v1/logStreams/" + v.ID
	wantStatus(t, s.call("GET", base, reader, nil), 200)
	wantStatus(t, s.call("GET", base+"/status", reader, nil), 200)
	wantStatus(t, s.call("GET", base+"/deadLetters", reader, nil), 200)
	for _, tt := range []struct{ method, path string }{
		{"PUT", base}, {"DELETE", base}, {"POST", base + "/lifecycle/deactivate"},
		{"POST", base + "/replay"}, {"POST", base + "/deadLetters/redrive"},
	} {
		wantError(t, s.call(tt.method, tt.path, reader, nil), 403, httpapi.CodeForbidden, "missing scope logStreams.manage")
	}
}

// TestManageImpliesRead checks that logStreams.manage alone can read the
// streams it may change (Okta's manage scopes imply read), but not the
// events in their dead letters, which need logs.read.
func TestManageImpliesRead(t *testing.T) {
	t.Parallel()
	s := newServer(t, httpapi.Limits{})
	manager := s.token("acme", auth.ScopeManageStreams)
	r := s.call("POST", "/api/v1/logStreams", manager, map[string]any{"type": "test", "name": "managed",
		"settings": map[string]any{"url": "http://x"}})
	wantStatus(t, r, 200)
	var v streamView
	r.json(t, &v)
	base := "/api/v1/logStreams/" + v.ID
	for _, path := range []string{"/api/v1/logStreams", base, base + "/status", base + "/deadLetters"} {
		wantStatus(t, s.call("GET", path, manager, nil), 200)
	}
	wantError(t, s.call("GET", "/api/v1/tokens", manager, nil), 403, httpapi.CodeForbidden)
}

func TestStreamChangesAreAudited(t *testing.T) {
	t.Parallel()
	s := newServer(t, httpapi.Limits{})
	manager := s.token("acme", auth.ScopeManageStreams, auth.ScopeReadStreams)
	r := s.call("POST", "/api/v1/logStreams", manager, map[string]any{"type": "test", "name": "audited",
		"settings": map[string]any{"url": "http://x"}})
	wantStatus(t, r, 200)
	var v streamView
	r.json(t, &v)
	base := "/api/v1/logStreams/" + v.ID
	wantStatus(t, s.call("PUT", base, manager, map[string]any{"type": "test", "name": "audited-2",
		"settings": map[string]any{"url": "http://y"}}), 200)
	wantStatus(t, s.call("POST", base+"/lifecycle/deactivate", manager, nil), 200)
	wantStatus(t, s.call("POST", base+"/lifecycle/activate", manager, nil), 200)
	wantStatus(t, s.call("DELETE", base, manager, nil), 204)

	tok, _ := s.tokens.Authenticate(manager)
	for _, action := range []string{"create", "update", "deactivate", "activate", "delete"} {
		typ := "system.log_stream.lifecycle." + action
		m, ok := journaltest.Last(t, s.j, "acme", typ)
		if !ok {
			t.Errorf("%s: got none, want an audit event %s", action, typ)
			continue
		}
		var ev struct {
			EventType string `json:"eventType"`
			Actor     struct{ ID string }
			Target    []struct{ ID, Type string }
			Outcome   struct{ Result string }
		}
		if err := json.Unmarshal(m.Data, &ev); err != nil {
			t.Fatal(err)
		}
		if ev.EventType != "system.log_stream.lifecycle."+action || ev.Actor.ID != tok.ID ||
			len(ev.Target) != 1 || ev.Target[0].ID != v.ID || ev.Target[0].Type != "LogStream" || ev.Outcome.Result != "SUCCESS" {
			t.Errorf("%s: got %s, want actor %s and target %s", action, m.Data, tok.ID, v.ID)
		}
	}
}

// TestLinksIgnoreHostHeader checks that _links are built from the public
// URL, never from the request's Host header (a client that follows them
// would otherwise send its token to whatever host the request named).
func TestLinksIgnoreHostHeader(t *testing.T) {
	t.Parallel()
	s := newServer(t, httpapi.Limits{})
	v := s.create(t, newStream("links"))
	for _, path := range []string{"/api/v1/logStreams", "/api/v1/logStreams/" + v.ID} {
		t.Run(path, func(t *testing.T) {
			r := s.call("GET", path, s.admin, nil, "Host", "evil.example", "X-Forwarded-Host", "evil.example")
			wantStatus(t, r, 200)
			if strings.Contains(string(r.body), "evil.example") {
				t.Fatalf("got %s, want links without the request's Host", r.body)
			}
			var got streamView
			if path == "/api/v1/logStreams" {
				var list []streamView
				r.json(t, &list)
				if len(list) != 1 {
					t.Fatalf("got %d streams, want 1", len(list))
				}
				got = list[0]
			} else {
				r.json(t, &got)
			}
			checkLinks(t, s.url, got)
		})
	}
}

// TestDeadLetterBodiesNeedLogsRead checks that a dead letter's event, which
// is an event like any other, is shown only to tokens that may read events
// (logs.read); logStreams.read alone sees which events failed and why.
func TestDeadLetterBodiesNeedLogsRead(t *testing.T) {
	t.Parallel()
	s := newServer(t, httpapi.Limits{})
	v := s.create(t, map[string]any{"type": "test", "name": "refused", "org": "acme", "settings": map[string]any{"url": "http://reject.invalid"}})
	wantStatus(t, s.call("POST", "/api/v1/events", s.token("acme", auth.ScopeWriteEvents),
		`{"eventType":"hr.salary.change","uuid":"dl-1","debugContext":{"debugData":{"newSalary":"999999"}}}`), 202)
	path := "/api/v1/logStreams/" + v.ID + "/deadLetters"
	wait.Eventually(t, "a dead letter", func() bool {
		var dls []map[string]any
		s.call("GET", path, s.admin, nil).json(t, &dls)
		return len(dls) == 1
	})
	tests := []struct {
		name      string
		token     string
		wantEvent bool
	}{
		{"logStreams.read only", s.token("acme", auth.ScopeReadStreams), false},
		{"logStreams.read and logs.read", s.token("acme", auth.ScopeReadStreams, auth.ScopeReadLogs), true},
		{"admin", s.admin, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.call("GET", path, tt.token, nil)
			wantStatus(t, r, 200)
			var dls []map[string]json.RawMessage
			r.json(t, &dls)
			if len(dls) != 1 {
				t.Fatalf("got %s, want one dead letter", r.body)
			}
			dl := dls[0]
			if string(dl["uuid"]) != `"dl-1"` || len(dl["reason"]) == 0 {
				t.Errorf("got %s, want uuid dl-1 and a reason", r.body)
			}
			hasBody := strings.Contains(string(r.body), "999999")
			if _, ok := dl["event"]; ok != tt.wantEvent || hasBody != tt.wantEvent {
				t.Errorf("got %s, want the event shown: %v", r.body, tt.wantEvent)
			}
			if _, ok := dl["eventOmitted"]; ok == tt.wantEvent {
				t.Errorf("got %s, want eventOmitted only when the event is left out", r.body)
			}
		})
	}
}
