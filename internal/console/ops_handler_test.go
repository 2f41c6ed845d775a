package console

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/auth"
	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/journal/journaltest"
	"github.com/auditstream/auditstream/internal/sink"
	"github.com/auditstream/auditstream/internal/sink/httpsink"
	"github.com/auditstream/auditstream/internal/wire"
)

// apiCall is one request the console made to the API.
type apiCall struct {
	Method, Path string
	Query        url.Values
	Body         map[string]any
	Who          string
}

// fakeAPI answers the console's in-process API calls with canned answers
// and keeps what it was asked.
type fakeAPI struct {
	mu     sync.Mutex
	calls  []apiCall
	answer func(c apiCall) (int, http.Header, string)
}

func (f *fakeAPI) ServeAs(w http.ResponseWriter, r *http.Request, tok auth.Token) {
	var b []byte
	if r.Body != nil {
		b, _ = io.ReadAll(r.Body)
	}
	c := apiCall{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Who: tok.ID}
	_ = json.Unmarshal(b, &c.Body)
	f.mu.Lock()
	f.calls = append(f.calls, c)
	f.mu.Unlock()
	status, h, body := f.answer(c)
	for k, v := range h {
		w.Header()[k] = v
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

func (f *fakeAPI) made(method, path string) []apiCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []apiCall
	for _, c := range f.calls {
		if c.Method == method && c.Path == path {
			out = append(out, c)
		}
	}
	return out
}

type fakeTokens map[string]auth.Token

func (f fakeTokens) Authenticate(string) (auth.Token, bool) { return auth.Token{}, false }
func (f fakeTokens) Get(id string) (auth.Token, bool)       { t, ok := f[id]; return t, ok }

// handlerEnv is a console on a fake API with one signed-in session.
type handlerEnv struct {
	t      *testing.T
	c      *Console
	api    *fakeAPI
	cookie *http.Cookie
	csrf   string
}

func newHandlerEnv(t *testing.T, who auth.Token, answer func(c apiCall) (int, http.Header, string)) *handlerEnv {
	t.Helper()
	j := journaltest.Open(t)
	api := &fakeAPI{answer: answer}
	c, err := New(config.Console{}, Deps{API: api, Tokens: fakeTokens{who.ID: who}, Sessions: journaltest.KV(t, j, Bucket),
		Destinations: []sink.Type{httpsink.Type(), writeOnceType()}})
	if err != nil {
		t.Fatal(err)
	}
	id, sess, err := c.sessions.create(t.Context(), session{TokenID: who.ID})
	if err != nil {
		t.Fatal(err)
	}
	return &handlerEnv{t: t, c: c, api: api, cookie: &http.Cookie{Name: cookieName, Value: id}, csrf: sess.CSRF}
}

func (e *handlerEnv) do(method, path string, form url.Values) *httptest.ResponseRecorder {
	e.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	r := httptest.NewRequestWithContext(e.t.Context(), method, path, body)
	if form != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	r.AddCookie(e.cookie)
	w := httptest.NewRecorder()
	e.c.ServeHTTP(w, r)
	return w
}

var acmeManager = auth.Token{ID: "tok1", Name: "acme ops", Org: "acme", Scopes: []auth.Scope{auth.ScopeManageStreams, auth.ScopeReadLogs, auth.ScopeManageSources}}

const storedStream = `{"id":"0oa1","type":"http","name":"siem","status":"ACTIVE","org":"acme",
 "settings":{"url":"https://a.example/h","body":"event","insecureHttp":true},"secretsSet":["settings.signing.secret"]}`

// TestStreamEditHandler: the edit form's POST is the API's PUT as the
// signed-in identity: a secret not typed is left out (the API keeps it),
// a typed one is sent, "clear" sends ""; a refusal is shown with its
// causes next to the setting and never echoes a typed secret; without
// the CSRF token nothing is sent.
func TestStreamEditHandler(t *testing.T) {
	const typed = "whsec_dHlwZWQtc2VjcmV0LXZhbHVlLTAxMjM0NTY3ODk="
	tests := []struct {
		name       string
		form       url.Values
		refuse     bool
		noCSRF     bool
		wantStatus int
		wantSecret any // the PUT's settings.signing.secret; nil: left out
	}{
		{"secret left as is", url.Values{"name": {"siem 2"}, "s.url": {"https://a.example/h2"}, "s.body": {"event"}}, false, false, http.StatusSeeOther, nil},
		{"secret typed", url.Values{"name": {"siem"}, "s.url": {"https://a.example/h"}, "s.signing.secret": {typed}}, false, false, http.StatusSeeOther, typed},
		{"secret cleared", url.Values{"name": {"siem"}, "s.url": {"https://a.example/h"}, "clear.signing.secret": {"on"}}, false, false, http.StatusSeeOther, ""},
		{"refused", url.Values{"name": {"siem"}, "s.url": {"https://b.example/"}, "s.signing.secret": {typed}}, true, false, http.StatusBadRequest, typed},
		{"no CSRF token", url.Values{"name": {"siem"}, "s.url": {"https://a.example/h"}}, false, true, http.StatusForbidden, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newHandlerEnv(t, acmeManager, func(c apiCall) (int, http.Header, string) {
				switch {
				case c.Method == "GET" && c.Path == "/api/v1/logStreams/0oa1":
					return 200, nil, storedStream
				case c.Method == "PUT" && tt.refuse:
					return 400, nil, `{"errorCode":"E0000001","errorSummary":"Api validation failed: logStream","errorCauses":[{"errorSummary":"http sink config: url: not allowed here"}]}`
				case c.Method == "PUT":
					return 200, nil, storedStream
				}
				return 404, nil, `{"errorCode":"E0000007","errorSummary":"Not found"}`
			})
			if !tt.noCSRF {
				tt.form.Set("csrf", e.csrf)
			}
			w := e.do("POST", "/console/streams/0oa1/edit", tt.form)
			if w.Code != tt.wantStatus {
				t.Fatalf("got %d %s, want %d", w.Code, w.Body, tt.wantStatus)
			}
			if strings.Contains(w.Body.String(), typed) {
				t.Fatal("the answer echoes the typed secret")
			}
			puts := e.api.made("PUT", "/api/v1/logStreams/0oa1")
			if tt.noCSRF {
				if len(puts) != 0 {
					t.Fatalf("got %d PUTs without a CSRF token, want none", len(puts))
				}
				return
			}
			if len(puts) != 1 || puts[0].Who != acmeManager.ID {
				t.Fatalf("got PUTs %+v, want one as %s", puts, acmeManager.ID)
			}
			settings, _ := puts[0].Body["settings"].(map[string]any)
			signing, _ := settings["signing"].(map[string]any)
			got, has := signing["secret"]
			if tt.wantSecret == nil && has || tt.wantSecret != nil && got != tt.wantSecret {
				t.Errorf("PUT settings %v: got signing.secret %v (%v), want %v", settings, got, has, tt.wantSecret)
			}
			if puts[0].Body["type"] != "http" || puts[0].Body["org"] != "acme" || puts[0].Body["name"] != tt.form.Get("name") {
				t.Errorf("PUT body: got %v", puts[0].Body)
			}
			// insecureHttp was set and is unticked: false; gzip-like
			// settings the stream never had stay out (their default).
			if settings["insecureHttp"] != false {
				t.Errorf("unticked insecureHttp: got %v, want false", settings["insecureHttp"])
			}
			if _, has := settings["maxEvents"]; has {
				t.Errorf("maxEvents left empty: got %v, want it left out", settings["maxEvents"])
			}
			if tt.refuse && !strings.Contains(w.Body.String(), `<p class="field-error" role="alert">http sink config: url: not allowed here</p>`) {
				t.Errorf("refused: got %s, want the cause next to url", w.Body)
			}
		})
	}
}

// TestLogsTailHandler: the tail asks the API's polling mode (since, no
// until) with the page's filter and keywords and the browser's cursor,
// and answers the next cursor and escaped rows; a rate-limited API says
// when to try again; a bad since is refused before the API is asked.
func TestLogsTailHandler(t *testing.T) {
	reset := time.Now().Add(30 * time.Second).Unix()
	e := newHandlerEnv(t, acmeManager, func(c apiCall) (int, http.Header, string) {
		if c.Path != "/api/v1/logs" {
			return 404, nil, `{"errorCode":"E0000007","errorSummary":"Not found"}`
		}
		if c.Query.Get("after") == "BUSY" {
			return 429, http.Header{"X-Rate-Limit-Reset": {strconv.FormatInt(reset, 10)}}, `{"errorCode":"E0000047","errorSummary":"API call exceeded rate limit due to too many requests."}`
		}
		return 200, http.Header{"Link": {`<http://x/api/v1/logs?after=CUR2>; rel="next"`}},
			`[{"uuid":"u1","published":"2026-12-05T10:00:00.000Z","eventType":"user.session.start","displayMessage":"<script>alert(1)</script>"},` +
				`{"uuid":"u2","published":"2026-12-05T10:00:01.000Z","eventType":"user.session.end"}]`
	})
	since := "2026-12-05T09:00:00Z"
	w := e.do("GET", "/console/logs/tail?"+url.Values{"since": {since}, "filter": {`eventType sw "user."`}, "q": {"alice"}, "after": {"CUR1"}}.Encode(), nil)
	var out tailRows
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil || w.Code != 200 {
		t.Fatalf("got %d %s (%v)", w.Code, w.Body, err)
	}
	calls := e.api.made("GET", "/api/v1/logs")
	q := calls[0].Query
	if q.Get("since") != since || q.Get("until") != "" || q.Get("filter") != `eventType sw "user."` || q.Get("q") != "alice" ||
		q.Get("after") != "CUR1" || q.Get("sortOrder") != "" || calls[0].Who != acmeManager.ID {
		t.Errorf("API query: got %v as %s, want polling mode with the page's filter, keywords and cursor", q, calls[0].Who)
	}
	if out.After != "CUR2" || out.Count != 2 || !strings.Contains(out.Rows, `data-uuid="u2"`) ||
		strings.Contains(out.Rows, "<script>") || !strings.Contains(out.Rows, "&lt;script&gt;") {
		t.Errorf("got %+v, want cursor CUR2 and two escaped rows", out)
	}
	w = e.do("GET", "/console/logs/tail?"+url.Values{"since": {since}, "after": {"BUSY"}}.Encode(), nil)
	out = tailRows{}
	_ = json.Unmarshal(w.Body.Bytes(), &out)
	if w.Code != http.StatusTooManyRequests || out.RetryAfter < 1 || out.After != "BUSY" || !strings.Contains(out.Error, "rate limit") {
		t.Errorf("rate limited: got %d %+v, want 429 with a wait and the same cursor", w.Code, out)
	}
	n := len(e.api.made("GET", "/api/v1/logs"))
	w = e.do("GET", "/console/logs/tail?since=yesterday", nil)
	if w.Code != http.StatusBadRequest || len(e.api.made("GET", "/api/v1/logs")) != n {
		t.Errorf("bad since: got %d, want 400 without asking the API", w.Code)
	}
}

// TestViewBackfill: a backfill's progress is how far through its window
// the newest event read is; done is 100.
func TestViewBackfill(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)
	b := func(state wire.BackfillState, reached time.Duration) *wire.Backfill {
		out := &wire.Backfill{State: state, Since: t0, Until: t0.Add(10 * time.Hour)}
		if reached > 0 {
			out.Reached = t0.Add(reached)
		}
		return out
	}
	tests := []struct {
		name string
		b    *wire.Backfill
		want int
	}{
		{"nothing read yet", b(wire.BackfillRunning, 0), 0},
		{"a quarter", b(wire.BackfillRunning, 150*time.Minute), 25},
		{"at the end but not done", b(wire.BackfillRunning, 10*time.Hour), 99},
		{"done", b(wire.BackfillDone, 3*time.Hour), 100},
		{"failed", b(wire.BackfillFailed, 3*time.Hour), 30},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := viewBackfill(tt.b).Percent; got != tt.want {
				t.Errorf("got %d%%, want %d%%", got, tt.want)
			}
		})
	}
	if viewBackfill(nil) != nil {
		t.Error("no backfill: got a view")
	}
}

// TestSourceBackfillHandler: the form's time, in the browser's zone, is
// sent to the API in UTC as the signed-in identity; a source the API does
// not show is not found and nothing is started.
func TestSourceBackfillHandler(t *testing.T) {
	e := newHandlerEnv(t, acmeManager, func(c apiCall) (int, http.Header, string) {
		switch {
		case c.Method == "GET" && c.Path == "/api/v1/sources/src1":
			return 200, nil, `{"id":"src1","type":"okta","name":"acme okta","status":"ACTIVE","org":"acme","settings":{}}`
		case c.Method == "POST" && c.Path == "/api/v1/sources/src1/backfill":
			return 202, nil, `{"id":"src1","state":"RUNNING"}`
		}
		return 404, nil, `{"errorCode":"E0000007","errorSummary":"Not found: Resource not found: x (Source)"}`
	})
	// 10:00 in a zone one hour ahead of UTC (getTimezoneOffset -60).
	w := e.do("POST", "/console/sources/src1/backfill", url.Values{"csrf": {e.csrf}, "since": {"2026-12-05T10:00"}, "tz": {"-60"}})
	if w.Code != http.StatusSeeOther {
		t.Fatalf("got %d %s, want a redirect", w.Code, w.Body)
	}
	posts := e.api.made("POST", "/api/v1/sources/src1/backfill")
	if len(posts) != 1 || posts[0].Body["since"] != "2026-12-05T09:00:00Z" || posts[0].Body["until"] != nil || posts[0].Who != acmeManager.ID {
		t.Fatalf("got %+v, want one backfill from 09:00 UTC as %s", posts, acmeManager.ID)
	}
	w = e.do("POST", "/console/sources/other/backfill", url.Values{"csrf": {e.csrf}, "since": {"2026-12-05T10:00"}})
	if w.Code != http.StatusNotFound || len(e.api.made("POST", "/api/v1/sources/other/backfill")) != 0 {
		t.Fatalf("another org's source: got %d, want 404 and no backfill", w.Code)
	}
}

// writeOnceType is a destination with a write-once setting.
func writeOnceType() sink.Type {
	return sink.NewType[struct {
		Region string `json:"region"`
		Bus    string `json:"bus"`
	}, struct{}, sink.Sink]("wo", nil, nil).WithWriteOnce("region")
}

// TestStreamEditKeepsWriteOnce: a write-once setting goes back as stored,
// whatever the form says (its input is read-only; a crafted post does not
// change it either).
func TestStreamEditKeepsWriteOnce(t *testing.T) {
	e := newHandlerEnv(t, acmeManager, func(c apiCall) (int, http.Header, string) {
		if c.Method == "GET" || c.Method == "PUT" {
			return 200, nil, `{"id":"0oa2","type":"wo","name":"bus","status":"ACTIVE","org":"acme","settings":{"region":"eu-west-1","bus":"a"}}`
		}
		return 404, nil, `{"errorCode":"E0000007","errorSummary":"Not found"}`
	})
	page := e.do("GET", "/console/streams/0oa2/edit", nil)
	if page.Code != 200 || !regexp.MustCompile(`name="s.region" value="eu-west-1"[^>]*readonly`).MatchString(page.Body.String()) {
		t.Fatalf("edit page: got %d, want region read-only: %s", page.Code, page.Body)
	}
	w := e.do("POST", "/console/streams/0oa2/edit", url.Values{"csrf": {e.csrf}, "name": {"bus"}, "s.region": {"us-west-2"}, "s.bus": {"b"}})
	if w.Code != http.StatusSeeOther {
		t.Fatalf("got %d %s", w.Code, w.Body)
	}
	puts := e.api.made("PUT", "/api/v1/logStreams/0oa2")
	settings, _ := puts[0].Body["settings"].(map[string]any)
	if settings["region"] != "eu-west-1" || settings["bus"] != "b" {
		t.Fatalf("PUT settings: got %v, want region kept and bus changed", settings)
	}
}
