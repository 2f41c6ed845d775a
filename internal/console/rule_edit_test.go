package console

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/journal/journaltest"
)

// A native rule read into the form and written back is the same rule:
// the form's fields, the pattern as JSON, the correlation and the other
// keys as YAML.
func TestRuleFormRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		text string
	}{
		{"single event", "title: Token created\nid: r-1\nlevel: high\nlogsource: {product: okta}\nmatch: {detail: {eventType: [system.api_token.create]}}\n"},
		{"correlation, suppression, more keys", `title: Many failures
id: r-2
name: many_failures
description: |
  Failed sign-ins.
  Several lines.
author: acme
level: medium
logsource:
  product: okta
  service: okta
tags: [attack.t1110]
match:
  detail:
    eventType: [user.session.start]
    outcome: {result: [FAILURE], reason: [{prefix: INVALID}]}
correlation:
  type: event_count
  group-by: [actor.id]
  timespan: 10m
  condition: {gte: 5}
suppress: {for: 30m, by: [actor.id], summary: true}
firstSeen: [country]
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := formOf(tt.text)
			if err != nil {
				t.Fatal(err)
			}
			doc, causes := f.document()
			if len(causes) > 0 {
				t.Fatalf("document: %v", causes)
			}
			var want, got any
			if err := yaml.Unmarshal([]byte(tt.text), &want); err != nil {
				t.Fatal(err)
			}
			if err := yaml.Unmarshal(doc, &got); err != nil {
				t.Fatalf("the form's document does not parse: %v\n%s", err, doc)
			}
			wb, _ := yaml.Marshal(want)
			gb, _ := yaml.Marshal(got)
			if string(wb) != string(gb) {
				t.Errorf("round trip: got\n%s\nwant\n%s", gb, wb)
			}
		})
	}
}

func TestRuleFormRefusesBadInput(t *testing.T) {
	tests := []struct {
		name string
		f    ruleForm
		want string
	}{
		{"no pattern", ruleForm{Title: "x", ID: "x"}, "match: the event pattern is required"},
		{"pattern not JSON", ruleForm{Title: "x", ID: "x", Match: `{"detail":`}, "not valid JSON"},
		{"pattern not an object", ruleForm{Title: "x", ID: "x", Match: `[1]`}, "must be a JSON object"},
		{"correlation not a mapping", ruleForm{Title: "x", ID: "x", Match: `{}`, Correlation: "- a"}, "correlation: must be a YAML mapping"},
		{"more keys overriding a field", ruleForm{Title: "x", ID: "x", Match: `{}`, Extra: "level: high"}, "level is set by the form"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, causes := tt.f.document()
			if doc != nil || !strings.Contains(strings.Join(causes, "; "), tt.want) {
				t.Errorf("got %q, causes %v, want a cause with %q", doc, causes, tt.want)
			}
		})
	}
}

// The form uploads the rule's YAML through the API as the signed-in
// identity; a refusal shows the API's causes next to the form with the
// numbered document; a bad pattern is refused before the API; a new rule
// does not replace an existing one; pack rules are not edited here.
func TestRuleFormThroughTheAPI(t *testing.T) {
	api := &cannedAPI{answers: map[string]fakeAnswer{
		"POST /api/v1/detections/rules":      {200, `{"id":"r-new","pack":"uploaded","format":"native","status":"loaded","enabled":true}`},
		"GET /api/v1/detections/rules/r1":    {200, `{"id":"r1","pack":"a","format":"sigma","text":"title: x"}`},
		"GET /api/v1/detections/rules/up1":   {200, `{"id":"up1","pack":"uploaded","format":"native","text":"title: Up\nid: up1\nlevel: low\nmatch: {detail: {eventType: [a.b]}}\ntags: [x]\n"}`},
		"GET /api/v1/detections/rules/r-new": {404, `{"errorCode":"E0000007","errorSummary":"Not found: Resource not found: r-new (DetectionRule)","errorCauses":[]}`},
	}}
	srv, cl, csrf := consoleFor(t, api, acmeReader)
	page := get(t, cl, srv.URL+"/console/detections/rules/new", http.StatusOK)
	for _, want := range []string{`class="pattern" data-preview="rule-preview"`, `name="match"`, `id="rule-preview"`, `id="rule-correlation"`, `name="id" value="`} {
		if !strings.Contains(page, want) {
			t.Errorf("new rule form: want %q in %s", want, page)
		}
	}
	post := func(form url.Values) (int, string, string) {
		form.Set("csrf", csrf)
		resp, err := cl.PostForm(srv.URL+"/console/detections/rules", form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Location"), string(b)
	}
	form := url.Values{"mode": {"new"}, "id": {"r-new"}, "title": {"Token created"}, "level": {"high"}, "product": {"okta"},
		"match": {`{"detail": {"eventType": ["system.api_token.create"]}}`}, "suppressFor": {"0"}, "correlation": {"type: event_count\ngroup-by: [actor.id]\ntimespan: 10m\ncondition: {gte: 2}\n"}}
	code, loc, body := post(form)
	if code != http.StatusSeeOther || !strings.HasPrefix(loc, "/console/detections/rules/r-new?notice=") {
		t.Fatalf("create: got %d %s %s, want 303 to the rule's page", code, loc, body)
	}
	calls := api.called("POST", "/api/v1/detections/rules")
	if len(calls) != 1 || calls[0].who.ID != acmeReader.ID {
		t.Fatalf("upload: got %+v, want one call as the signed-in token", calls)
	}
	var up map[string]any
	if err := yaml.Unmarshal([]byte(calls[0].body), &up); err != nil {
		t.Fatalf("uploaded body is not YAML: %v\n%s", err, calls[0].body)
	}
	for k, want := range map[string]string{"id": "r-new", "title": "Token created", "level": "high",
		"match": "map[detail:map[eventType:[system.api_token.create]]]", "suppress": "map[for:0]", "logsource": "map[product:okta]",
		"correlation": "map[condition:map[gte:2] group-by:[actor.id] timespan:10m type:event_count]"} {
		if got := fmt.Sprint(up[k]); got != want {
			t.Errorf("uploaded %s: got %s, want %s", k, got, want)
		}
	}

	// A refusal: the API's causes and the document they point into.
	api.mu.Lock()
	api.answers["POST /api/v1/detections/rules"] = fakeAnswer{400, `{"errorCode":"E0000001","errorSummary":"Api validation failed: rule","errorCauses":[{"errorSummary":"line 1: correlation: unknown type \"nope\""}]}`}
	api.mu.Unlock()
	form.Set("correlation", "type: nope\n")
	code, _, body = post(form)
	if code != http.StatusBadRequest || !strings.Contains(body, "line 1: correlation: unknown type &#34;nope&#34;") || !strings.Contains(body, `id="rule-yaml"`) ||
		!strings.Contains(body, `<span class="ln">  1</span>  title: Token created`) || !strings.Contains(body, `value="Token created"`) {
		t.Errorf("refused: got %d %s, want 400 with the API's cause, the numbered document and the form as typed", code, body)
	}
	// A bad pattern never reaches the API.
	n := len(api.called("POST", "/api/v1/detections/rules"))
	form.Set("match", `{"detail":`)
	if code, _, body := post(form); code != http.StatusBadRequest || !strings.Contains(body, "not valid JSON") || len(api.called("POST", "/api/v1/detections/rules")) != n {
		t.Errorf("bad pattern: got %d %s, want 400 and no upload", code, body)
	}
	// A new rule with the id of an existing one is refused.
	form.Set("match", `{}`)
	form.Set("id", "up1")
	if code, _, body := post(form); code != http.StatusBadRequest || !strings.Contains(body, "exists already") || len(api.called("POST", "/api/v1/detections/rules")) != n {
		t.Errorf("existing id: got %d %s, want 400 and no upload", code, body)
	}

	// Edit: an uploaded native rule opens filled; a pack's rule does not.
	page = get(t, cl, srv.URL+"/console/detections/rules/up1/edit", http.StatusOK)
	for _, want := range []string{`name="mode" value="edit"`, `value="up1" required readonly`, `<option value="low" selected>`, `&#34;eventType&#34;: [`, "tags:"} {
		if !strings.Contains(page, want) {
			t.Errorf("edit form: want %q in %s", want, page)
		}
	}
	if page := get(t, cl, srv.URL+"/console/detections/rules/r1/edit", http.StatusBadRequest); !strings.Contains(page, "only native rules uploaded by the org") {
		t.Errorf("edit of a pack rule: got %s", page)
	}

	// Without the CSRF token nothing is uploaded or deleted.
	n = len(api.called("POST", "/api/v1/detections/rules"))
	for _, path := range []string{"/console/detections/rules", "/console/detections/rules/up1/delete"} {
		resp, err := cl.PostForm(srv.URL+path, url.Values{"mode": {"new"}, "id": {"x"}, "title": {"x"}, "match": {`{}`}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("POST %s without CSRF: got %d, want 403", path, resp.StatusCode)
		}
	}
	if len(api.called("POST", "/api/v1/detections/rules")) != n || len(api.called("DELETE", "/api/v1/detections/rules/up1")) != 0 {
		t.Errorf("a request without CSRF reached the API")
	}
	// Delete is the API's DELETE.
	api.mu.Lock()
	api.answers["DELETE /api/v1/detections/rules/up1"] = fakeAnswer{204, ""}
	api.mu.Unlock()
	resp, err := cl.PostForm(srv.URL+"/console/detections/rules/up1/delete", url.Values{"csrf": {csrf}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if calls := api.called("DELETE", "/api/v1/detections/rules/up1"); resp.StatusCode != http.StatusSeeOther || len(calls) != 1 || calls[0].who.ID != acmeReader.ID ||
		!strings.HasPrefix(resp.Header.Get("Location"), "/console/detections?notice=") {
		t.Errorf("delete: got %d to %s with calls %+v, want 303 to the list after one DELETE as the token", resp.StatusCode, resp.Header.Get("Location"), calls)
	}
}

// The filter editor's preview reads the latest events of the range it is
// given (default 7 days).
func TestFilterPreviewRange(t *testing.T) {
	api := &cannedAPI{answers: map[string]fakeAnswer{"GET /api/v1/logs": {200, `[]`}}}
	j := journaltest.Open(t)
	c, err := New(config.Console{}, Deps{API: api, Tokens: oneToken{acmeReader}, Sessions: journaltest.KV(t, j, Bucket),
		Now: func() time.Time { return testNow }, Match: func([]byte) (func(*event.Record) bool, error) {
			return func(*event.Record) bool { return true }, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	jar, _ := cookiejar.New(nil)
	cl := &http.Client{Jar: jar}
	resp, err := cl.PostForm(srv.URL+"/console/signin", url.Values{"token": {"secret"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, tt := range []struct{ rng, since string }{{"1h", "2026-12-05T11:00:00Z"}, {"30d", "2026-11-05T12:00:00Z"}, {"", "2026-11-28T12:00:00Z"}, {"1y", "2026-11-28T12:00:00Z"}} {
		page := get(t, cl, srv.URL+"/console/filter/preview?pattern=%7B%7D&n=10&range="+tt.rng, http.StatusOK)
		calls := api.called("GET", "/api/v1/logs")
		if len(calls) == 0 || calls[len(calls)-1].query.Get("since") != tt.since {
			t.Errorf("range %q: got calls %+v, want since %s", tt.rng, calls, tt.since)
		}
		if !strings.Contains(page, `id="preview-counts"`) {
			t.Errorf("range %q: got %s, want the counts", tt.rng, page)
		}
	}
}
