package console

import (
	"io"
	"net/http"
	"net/http/cookiejar"
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
)

// cannedAPI answers the console's in-process calls from canned bodies by
// "METHOD path" (path without the query) and records each call with the
// identity it was made as.
type cannedAPI struct {
	mu      sync.Mutex
	answers map[string]fakeAnswer
	// links are Link headers of answers by "METHOD path".
	links map[string]string
	calls []fakeCall
}

type fakeAnswer struct {
	status int
	body   string
}

type fakeCall struct {
	method, path string
	query        url.Values
	body         string
	who          auth.Token
}

func (f *cannedAPI) ServeAs(w http.ResponseWriter, r *http.Request, tok auth.Token) {
	var b []byte
	if r.Body != nil {
		b, _ = io.ReadAll(r.Body)
	}
	f.mu.Lock()
	f.calls = append(f.calls, fakeCall{method: r.Method, path: r.URL.Path, query: r.URL.Query(), body: string(b), who: tok})
	a, ok := f.answers[r.Method+" "+r.URL.Path]
	f.mu.Unlock()
	if !ok {
		a = fakeAnswer{http.StatusNotFound, `{"errorCode":"E0000007","errorSummary":"Not found: Resource not found: ` + r.URL.Path + ` (fake)","errorCauses":[]}`}
	}
	w.Header().Set("Content-Type", "application/json")
	if l := f.links[r.Method+" "+r.URL.Path]; l != "" {
		w.Header().Set("Link", l)
	}
	w.WriteHeader(a.status)
	_, _ = io.WriteString(w, a.body)
}

// called returns the calls to "METHOD path".
func (f *cannedAPI) called(method, path string) []fakeCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fakeCall
	for _, c := range f.calls {
		if c.method == method && c.path == path {
			out = append(out, c)
		}
	}
	return out
}

type oneToken struct{ tok auth.Token }

func (f oneToken) Authenticate(secret string) (auth.Token, bool) { return f.tok, secret == "secret" }
func (f oneToken) Get(id string) (auth.Token, bool)              { return f.tok, id == f.tok.ID }

var testNow = time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)

// consoleFor serves a console over api for the identity who, signed in;
// it returns the server, a client with the session and its CSRF token.
func consoleFor(t *testing.T, api *cannedAPI, who auth.Token) (*httptest.Server, *http.Client, string) {
	t.Helper()
	j := journaltest.Open(t)
	c, err := New(config.Console{}, Deps{API: api, Tokens: oneToken{who}, Sessions: journaltest.KV(t, j, Bucket),
		Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	jar, _ := cookiejar.New(nil)
	cl := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := cl.PostForm(srv.URL+"/console/signin", url.Values{"token": {"secret"}, "next": {"/console/tokens"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// The CSRF token is on every signed-in page.
	body := get(t, cl, srv.URL+"/console/users", http.StatusOK)
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no CSRF token on the page: %s", body)
	}
	return srv, cl, m[1]
}

func get(t *testing.T, cl *http.Client, u string, want int) string {
	t.Helper()
	resp, err := cl.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("GET %s: got %d, want %d: %s", u, resp.StatusCode, want, b)
	}
	return string(b)
}

var acmeReader = auth.Token{ID: "tok1", Name: "acme-console", Org: "acme",
	Scopes: []auth.Scope{auth.ScopeReadDetections, auth.ScopeManageDetections, auth.ScopeReadActivity, auth.ScopeReadLogs}}

const rulesJSON = `[
 {"id":"r1","title":"Rule one","pack":"a","format":"sigma","level":"high","status":"loaded","enabled":true},
 {"id":"r2","title":"Rule two","pack":"b","format":"native","level":"low","status":"refused","reason":"no source","enabled":false},
 {"id":"r3","title":"Rule three","pack":"a","format":"okta","level":"medium","status":"loaded","enabled":true}]`

// firingsRE reads a rule row's firings cell.
func firings(t *testing.T, page, rule string) string {
	t.Helper()
	m := regexp.MustCompile(`(?s)<tr data-rule="` + rule + `">.*?<td class="num firings">(\d+)</td>`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no row of rule %s in %s", rule, page)
	}
	return m[1]
}

func TestDetectionsPageCountsFiringsPerRule(t *testing.T) {
	api := &cannedAPI{answers: map[string]fakeAnswer{
		"GET /api/v1/detections/rules": {200, rulesJSON},
		"GET /api/v1/detections": {200, `[{"id":"d1","org":"acme","rule":"r1","title":"Rule one","level":"high","status":"OPEN","count":5,"published":"2026-12-05T11:00:00Z","group":[{"field":"actor.id","value":"00uJ"}]},
			{"id":"d2","org":"acme","rule":"r1","title":"Rule one","level":"high","status":"CLOSED","count":5,"published":"2026-12-05T10:00:00Z"},
			{"id":"d3","org":"acme","rule":"r3","title":"Rule three","level":"medium","status":"OPEN","count":1,"published":"2026-12-05T09:00:00Z"}]`},
		"GET /api/v1/detections/backtests": {200, `[{"id":"j1","status":"RUNNING","pack":"a","created":"2026-12-05T11:59:00Z","progress":{"scanned":10,"position":5,"first":1,"last":9}}]`},
	}}
	srv, cl, _ := consoleFor(t, api, acmeReader)
	page := get(t, cl, srv.URL+"/console/detections", http.StatusOK)
	if !strings.Contains(page, `<tr data-job="j1"><td><a href="/console/detections/backtests/j1">`) || !strings.Contains(page, "RUNNING</span> 55%") {
		t.Errorf("the org's backtests: want the running job with its progress and link in %s", page)
	}
	if strings.Contains(page, `id="error"`) {
		t.Errorf("the page shows an error: %s", page)
	}
	for rule, want := range map[string]string{"r1": "2", "r2": "0", "r3": "1"} {
		if got := firings(t, page, rule); got != want {
			t.Errorf("rule %s: got %s firings, want %s", rule, got, want)
		}
	}
	if !strings.Contains(page, `id="pack-a"`) || !strings.Contains(page, `id="pack-b"`) {
		t.Errorf("packs a and b not shown")
	}
	// The load-status filter is the API's.
	get(t, cl, srv.URL+"/console/detections?ruleStatus=refused", http.StatusOK)
	if calls := api.called("GET", "/api/v1/detections/rules"); calls[len(calls)-1].query.Get("status") != "refused" {
		t.Errorf("ruleStatus: got rules query %v, want status refused", calls[len(calls)-1].query)
	}
	if !strings.Contains(page, `href="/console/users/00uJ?org=acme"`) {
		t.Errorf("the detection's user does not link to the user's activity")
	}
	// The firings are counted from the detections of the last 24 hours,
	// read as the signed-in identity.
	calls := api.called("GET", "/api/v1/detections")
	var since bool
	for _, c := range calls {
		if c.who.ID != acmeReader.ID || c.who.Org != "acme" {
			t.Errorf("call as %+v, want the signed-in identity", c.who)
		}
		if c.query.Get("since") == testNow.Add(-24*time.Hour).Format(time.RFC3339) {
			since = true
		}
	}
	if !since {
		t.Errorf("got calls %+v, want one with since 24 h ago", calls)
	}
}

func TestDetectionsPageShowsTheAPIError(t *testing.T) {
	api := &cannedAPI{answers: map[string]fakeAnswer{
		"GET /api/v1/detections/rules": {403, `{"errorCode":"E0000006","errorSummary":"You do not have permission to perform the requested action","errorCauses":[]}`},
	}}
	srv, cl, _ := consoleFor(t, api, acmeReader)
	page := get(t, cl, srv.URL+"/console/detections", http.StatusForbidden)
	if !strings.Contains(page, "You do not have permission") {
		t.Fatalf("got %s, want Okta's error text", page)
	}
}

func TestRuleActionGoesThroughTheAPI(t *testing.T) {
	api := &cannedAPI{answers: map[string]fakeAnswer{
		"POST /api/v1/detections/rules/r1/lifecycle/deactivate": {200, `{"id":"r1","enabled":false}`},
	}}
	srv, cl, csrf := consoleFor(t, api, acmeReader)
	post := func(path string, form url.Values) (int, string) {
		resp, err := cl.PostForm(srv.URL+path, form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Location") + string(b)
	}
	tests := []struct {
		name   string
		path   string
		form   url.Values
		status int
		calls  int
	}{
		{"no CSRF token", "/console/detections/rules/r1/deactivate", url.Values{}, http.StatusForbidden, 0},
		{"an unknown operation", "/console/detections/rules/r1/level", url.Values{"csrf": {csrf}}, http.StatusNotFound, 0},
		{"deactivate", "/console/detections/rules/r1/deactivate", url.Values{"csrf": {csrf}, "org": {"acme"}}, http.StatusSeeOther, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(api.called("POST", "/api/v1/detections/rules/r1/lifecycle/deactivate"))
			code, out := post(tt.path, tt.form)
			calls := api.called("POST", "/api/v1/detections/rules/r1/lifecycle/deactivate")
			if code != tt.status || len(calls)-before != tt.calls {
				t.Fatalf("got %d with %d API calls (%s), want %d with %d", code, len(calls)-before, out, tt.status, tt.calls)
			}
			if tt.calls > 0 {
				c := calls[len(calls)-1]
				if c.who.ID != acmeReader.ID || c.query.Get("org") != "acme" {
					t.Errorf("got the call as %s with org %q, want as %s with org acme", c.who.ID, c.query.Get("org"), acmeReader.ID)
				}
				if want := "/console/detections/rules/r1?org=acme&notice=Rule+deactivated"; out != want {
					t.Errorf("got redirect %q, want %q", out, want)
				}
			}
		})
	}
}

func TestUsersSearch(t *testing.T) {
	notFound := fakeAnswer{404, `{"errorCode":"E0000007","errorSummary":"Not found: Resource not found: x (User)","errorCauses":[]}`}
	tests := []struct {
		name     string
		q        string
		answers  map[string]fakeAnswer
		status   int
		location string
		want     string
	}{
		{"an id", "00uJ", map[string]fakeAnswer{"GET /api/v1/activity/users/00uJ": {200, `{"org":"acme","userId":"00uJ"}`}},
			http.StatusSeeOther, "/console/users/00uJ", ""},
		{"a login", "jane@example.com", map[string]fakeAnswer{"GET /api/v1/activity/users/jane@example.com": notFound,
			"GET /api/v1/logs": {200, `[{"actor":{"id":"00uJ","alternateId":"jane@example.com"}},{"actor":{"id":"00uA","alternateId":"admin@x"},"target":[{"id":"00uJ","alternateId":"JANE@example.com"}]}]`}},
			http.StatusSeeOther, "/console/users/00uJ", ""},
		{"a login of two ids", "jane@example.com", map[string]fakeAnswer{"GET /api/v1/activity/users/jane@example.com": notFound,
			"GET /api/v1/logs": {200, `[{"actor":{"id":"00uJ","alternateId":"jane@example.com"}},{"actor":{"id":"00uK","alternateId":"jane@example.com"}}]`}},
			http.StatusOK, "", `href="/console/users/00uK"`},
		{"a target's login", "new@example.com", map[string]fakeAnswer{"GET /api/v1/activity/users/new@example.com": notFound,
			"GET /api/v1/logs": {200, `[{"actor":{"id":"00uA","alternateId":"admin@x"},"target":[{"id":"00uN","alternateId":"new@example.com"}]}]`}},
			http.StatusSeeOther, "/console/users/00uN", ""},
		{"nobody", "nobody", map[string]fakeAnswer{"GET /api/v1/activity/users/nobody": notFound, "GET /api/v1/logs": {200, `[]`}},
			http.StatusNotFound, "", "no event of the last 90 days names this login"},
		{"a quote", `a"b`, nil, http.StatusBadRequest, "", "not a user id or login"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := &cannedAPI{answers: tt.answers}
			srv, cl, _ := consoleFor(t, api, acmeReader)
			resp, err := cl.Get(srv.URL + "/console/users?q=" + url.QueryEscape(tt.q))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status || resp.Header.Get("Location") != tt.location || !strings.Contains(string(b), tt.want) {
				t.Fatalf("got %d to %q: %s, want %d to %q with %q", resp.StatusCode, resp.Header.Get("Location"), b, tt.status, tt.location, tt.want)
			}
			if tt.status == http.StatusBadRequest && len(api.calls) != 0 {
				t.Errorf("a refused query called the API: %+v", api.calls)
			}
			// A login is looked up among actors (indexed), then targets.
			for i, c := range api.called("GET", "/api/v1/logs") {
				want := []string{`actor.alternateId eq "` + tt.q + `"`, `target.alternateId eq "` + tt.q + `"`}
				if i >= len(want) || c.query.Get("filter") != want[i] {
					t.Errorf("login lookup %d: got filter %q, want %q", i, c.query.Get("filter"), want)
				}
			}
		})
	}
}

func TestUserPageChartAndLinks(t *testing.T) {
	api := &cannedAPI{answers: map[string]fakeAnswer{
		"GET /api/v1/activity/users/00uJ": {200, `{"org":"acme","userId":"00uJ","login":"jane@example.com","asActor":3,"asTarget":1,
			"first":"2026-11-20T08:00:00Z","last":"2026-12-05T11:00:00Z","lists":{"country":[{"value":"France","count":3}]},
			"detections":[{"id":"d1","rule":"r1","title":"Rule one","level":"high","count":1,"status":"ACKNOWLEDGED"}]}`},
		"GET /api/v1/activity/users/00uJ/events": {200, `[{"uuid":"e3","published":"2026-12-05T11:00:00Z","eventType":"user.session.start"},
			{"uuid":"e2","published":"2026-12-05T10:00:00Z","eventType":"user.session.start"},
			{"uuid":"e1","published":"2026-12-01T10:00:00Z","eventType":"user.session.start"}]`},
	}}
	srv, cl, _ := consoleFor(t, api, acmeReader)
	page := get(t, cl, srv.URL+"/console/users/00uJ", http.StatusOK)
	for _, want := range []string{`data-day="2026-12-05" data-count="2"`, `data-day="2026-12-01" data-count="1"`, `data-day="2026-11-06" data-count="0"`,
		`id="list-country"`, "France", `href="/console/detections/alerts/d1"`, "ACKNOWLEDGED",
		`href="/console/logs?filter=actor.id&#43;eq&#43;%2200uJ%22&#43;or&#43;target.id&#43;eq&#43;%2200uJ%22&amp;since=2026-11-20T07%3A59%3A00Z&amp;until=2026-12-05T12%3A01%3A00Z"`} {
		if !strings.Contains(page, want) {
			t.Errorf("user page: want %s in %q", want, regexp.MustCompile(`href="/console/logs[^"]*"`).FindAllString(page, -1))
		}
	}
	if n := strings.Count(page, `<g class="day"`); n != chartDays {
		t.Errorf("chart: got %d days, want %d", n, chartDays)
	}
}

func TestDetectionEventsLink(t *testing.T) {
	d := detection{ID: "d1", Events: []string{"e1", "e2"}, Published: testNow, WindowStart: testNow.Add(-10 * time.Minute)}
	u, err := url.Parse(d.EventsLink())
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if got, want := q.Get("filter"), `uuid eq "d1" or uuid eq "e1" or uuid eq "e2"`; got != want {
		t.Errorf("filter: got %q, want %q", got, want)
	}
	if got, want := q.Get("since"), "2026-12-05T11:49:00Z"; got != want {
		t.Errorf("since: got %s, want %s", got, want)
	}
	if got, want := q.Get("until"), "2026-12-05T12:01:00Z"; got != want {
		t.Errorf("until: got %s, want %s", got, want)
	}
}

func TestBacktestAndTriageForms(t *testing.T) {
	api := &cannedAPI{answers: map[string]fakeAnswer{
		"POST /api/v1/detections/backtests": {202, `{"id":"j1","status":"RUNNING","rule":"r1"}`},
		"POST /api/v1/detections/d1":        {200, `{"id":"d1","status":"CLOSED"}`},
	}}
	srv, cl, csrf := consoleFor(t, api, acmeReader)
	tests := []struct {
		name     string
		path     string
		form     url.Values
		status   int
		want     string
		apiPath  string
		apiBody  string
		apiCalls int
	}{
		{"backtest of a rule starts a job", "/console/detections/backtest", url.Values{"csrf": {csrf}, "rule": {"r1"}, "since": {"2026-12-01T10:00"}, "tz": {"-60"}},
			http.StatusSeeOther, "", "/api/v1/detections/backtests", `{"rule":"r1","since":"2026-12-01T09:00:00Z"}`, 1},
		{"backtest with a bad time", "/console/detections/backtest", url.Values{"csrf": {csrf}, "pack": {"a"}, "since": {"yesterday"}},
			http.StatusBadRequest, "Api validation failed: backtest", "/api/v1/detections/backtests", "", 0},
		{"close with a note", "/console/detections/alerts/d1", url.Values{"csrf": {csrf}, "status": {"CLOSED"}, "note": {"benign"}},
			http.StatusSeeOther, "", "/api/v1/detections/d1", `{"note":"benign","status":"CLOSED"}`, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(api.called("POST", tt.apiPath))
			resp, err := cl.PostForm(srv.URL+tt.path, tt.form)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status || !strings.Contains(string(b), tt.want) {
				t.Fatalf("got %d %s, want %d with %q", resp.StatusCode, b, tt.status, tt.want)
			}
			if tt.path == "/console/detections/backtest" && tt.status == http.StatusSeeOther {
				if loc := resp.Header.Get("Location"); loc != "/console/detections/backtests/j1" {
					t.Errorf("got Location %q, want the job's page", loc)
				}
			}
			calls := api.called("POST", tt.apiPath)
			if len(calls)-before != tt.apiCalls {
				t.Fatalf("got %d API calls, want %d", len(calls)-before, tt.apiCalls)
			}
			if tt.apiCalls > 0 {
				if c := calls[len(calls)-1]; c.body != tt.apiBody || c.who.ID != acmeReader.ID {
					t.Errorf("got API body %s as %s, want %s as %s", c.body, c.who.ID, tt.apiBody, acmeReader.ID)
				}
			}
		})
	}
}

// TestAlertPageWithoutManage: an identity that may read detections but
// not change them gets no triage form.
func TestAlertPageWithoutManage(t *testing.T) {
	api := &cannedAPI{answers: map[string]fakeAnswer{
		"GET /api/v1/detections/d1": {200, `{"id":"d1","org":"acme","rule":"r1","title":"Rule one","level":"high","status":"OPEN","events":["e1"]}`},
	}}
	reader := acmeReader
	reader.Scopes = []auth.Scope{auth.ScopeReadDetections}
	srv, cl, _ := consoleFor(t, api, reader)
	page := get(t, cl, srv.URL+"/console/detections/alerts/d1", http.StatusOK)
	if strings.Contains(page, `id="triage"`) || strings.Contains(page, `id="alert-events"`) {
		t.Errorf("a reader without detections.manage and logs.read got the triage form or the System Log link")
	}
	if !strings.Contains(page, "<code>e1</code>") {
		t.Errorf("the contributing event is not listed")
	}
}

// TestBacktestJobPage: a job's page shows its progress against the
// journal range it reads and a Cancel that is the API's cancel (with the
// CSRF token only); the block alone is served for backtest.js; an ended
// job shows its result with its events in the System Log.
func TestBacktestJobPage(t *testing.T) {
	running := `{"id":"j1","status":"RUNNING","rule":"r1","created":"2026-12-05T11:59:00Z",
		"progress":{"scanned":1200,"events":800,"position":6,"first":2,"last":10,"matches":3,"at":"2026-12-04T10:00:00Z"}}`
	api := &cannedAPI{answers: map[string]fakeAnswer{
		"GET /api/v1/detections/backtests/j1":         {200, running},
		"POST /api/v1/detections/backtests/j1/cancel": {200, `{"id":"j1","status":"STOPPED"}`},
	}}
	srv, cl, csrf := consoleFor(t, api, acmeReader)
	page := get(t, cl, srv.URL+"/console/detections/backtests/j1", http.StatusOK)
	for _, want := range []string{`data-running="true"`, `id="bt-progress" max="100" value="55"`, `<dd id="bt-scanned">1200</dd>`,
		`<dd id="bt-matches">3</dd>`, `<dd id="bt-position">6 of 2–10</dd>`, `id="bt-cancel"`, `src="/console/static/backtest.js"`} {
		if !strings.Contains(page, want) {
			t.Errorf("running job's page: want %q in %s", want, page)
		}
	}
	frag := get(t, cl, srv.URL+"/console/detections/backtests/j1/progress", http.StatusOK)
	if !strings.Contains(frag, `value="55"`) || strings.Contains(frag, "<html") || !strings.Contains(frag, `name="csrf" value="`+csrf+`"`) {
		t.Errorf("progress block: got %s, want the block alone with its cancel form", frag)
	}
	post := func(form url.Values) *http.Response {
		resp, err := cl.PostForm(srv.URL+"/console/detections/backtests/j1/cancel", form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := post(url.Values{}); resp.StatusCode != http.StatusForbidden || len(api.called("POST", "/api/v1/detections/backtests/j1/cancel")) != 0 {
		t.Fatalf("cancel without CSRF: got %d, want 403 and no API call", resp.StatusCode)
	}
	resp := post(url.Values{"csrf": {csrf}})
	if calls := api.called("POST", "/api/v1/detections/backtests/j1/cancel"); resp.StatusCode != http.StatusSeeOther || len(calls) != 1 || calls[0].who.ID != acmeReader.ID {
		t.Fatalf("cancel: got %d and calls %+v, want 303 and one call as the signed-in token", resp.StatusCode, calls)
	}
	if loc := resp.Header.Get("Location"); !strings.HasPrefix(loc, "/console/detections/backtests/j1?notice=") {
		t.Errorf("cancel: got Location %q, want the job's page", loc)
	}

	api.mu.Lock()
	api.answers["GET /api/v1/detections/backtests/j1"] = fakeAnswer{200, `{"id":"j1","status":"STOPPED","rule":"r1","created":"2026-12-05T11:59:00Z","finished":"2026-12-05T11:59:02Z",
		"progress":{"scanned":1300,"events":900,"position":7,"first":2,"last":10,"matches":1},
		"result":{"events":900,"count":1,"scanned":1300,"stopped":"cancelled","detections":[{"id":"x","rule":"r1","title":"Rule one","level":"high","count":2,
		"published":"2026-12-04T10:00:00Z","windowStart":"2026-12-04T09:50:00Z","events":["e1","e2"],"group":[{"field":"actor.id","value":"00uJ"}]}]}}`}
	api.mu.Unlock()
	page = get(t, cl, srv.URL+"/console/detections/backtests/j1", http.StatusOK)
	for _, want := range []string{`data-running="false"`, `value="100"`, `<dd id="bt-count">1</dd>`, `id="bt-stopped"`, `<dd id="bt-took">2s</dd>`,
		`id="bt-logs"`, `uuid&#43;eq&#43;%22e1%22&#43;or&#43;uuid&#43;eq&#43;%22e2%22`} {
		if !strings.Contains(page, want) {
			t.Errorf("stopped job's page: want %q in %s", want, page)
		}
	}
	if strings.Contains(page, `id="bt-cancel"`) {
		t.Errorf("an ended job has a Cancel button")
	}
	// Another org's or a forgotten job: the API's 404 text.
	if page := get(t, cl, srv.URL+"/console/detections/backtests/nope", http.StatusNotFound); !strings.Contains(page, "Not found") {
		t.Errorf("unknown job: got %s", page)
	}
}

// TestUserPageChartFromDailyCounts draws the chart of a busy user from
// the profile's daily counts (millions of events, far more than any
// read of events could count) and reads the events once, for the table.
func TestUserPageChartFromDailyCounts(t *testing.T) {
	// From 2026-10-27 (39 days before testNow's day) to 2026-12-05.
	counts := make([]string, 40)
	for i := range counts {
		counts[i] = "0"
	}
	counts[0] = "7"                   // 2026-10-27: before the chart's 30 days
	counts[len(counts)-1] = "4000000" // 2026-12-05
	counts[len(counts)-5] = "2500000" // 2026-12-01
	counts[len(counts)-30] = "12"     // 2026-11-06, the chart's first day
	api := &cannedAPI{answers: map[string]fakeAnswer{
		"GET /api/v1/activity/users/00uJ": {200, `{"org":"acme","userId":"00uJ","login":"jane@example.com","asActor":6500019,"asTarget":0,
			"first":"2026-10-27T08:00:00Z","last":"2026-12-05T11:00:00Z","lists":{},
			"dailyCounts":{"from":"2026-10-27","counts":[` + strings.Join(counts, ",") + `]}}`},
		"GET /api/v1/activity/users/00uJ/events": {200, `[{"uuid":"e3","published":"2026-12-05T11:00:00Z","eventType":"user.session.start"}]`},
	}}
	srv, cl, _ := consoleFor(t, api, acmeReader)
	page := get(t, cl, srv.URL+"/console/users/00uJ", http.StatusOK)
	for _, want := range []string{`data-day="2026-12-05" data-count="4000000"`, `data-day="2026-12-01" data-count="2500000"`,
		`data-day="2026-11-06" data-count="12"`, `data-day="2026-11-20" data-count="0"`, `id="user-events"`, "6500012 events as actor or target"} {
		if !strings.Contains(page, want) {
			t.Errorf("user page: want %s in it", want)
		}
	}
	if strings.Contains(page, "counts only the newest") || strings.Contains(page, "counted from") {
		t.Errorf("user page: the chart says it is partial, want it whole")
	}
	if n := strings.Count(page, `<g class="day"`); n != chartDays {
		t.Errorf("chart: got %d days, want %d", n, chartDays)
	}
	// The bars are drawn: the tallest is the full height.
	if !strings.Contains(page, `data-day="2026-12-05" data-count="4000000"><title>2026-12-05: 4000000 events</title><rect class="bar" x="581" y="0.0" width="18" height="100.0"/>`) {
		t.Errorf("chart: the newest day is not the full-height bar")
	}
	calls := api.called(http.MethodGet, "/api/v1/activity/users/00uJ/events")
	if len(calls) != 1 || calls[0].query.Get("limit") != strconv.Itoa(userNewest) {
		t.Errorf("events reads: got %d (%v), want one of %d events", len(calls), calls, userNewest)
	}
}

// TestUserPageChartOfAnOlderProfile: a profile whose counts start after
// its first event (stored before they were kept) says since when the
// chart counts.
func TestUserPageChartOfAnOlderProfile(t *testing.T) {
	api := &cannedAPI{answers: map[string]fakeAnswer{
		"GET /api/v1/activity/users/00uJ": {200, `{"org":"acme","userId":"00uJ","asActor":9,
			"first":"2026-01-01T08:00:00Z","last":"2026-12-05T11:00:00Z","lists":{},
			"dailyCounts":{"from":"2026-12-03","counts":[1,0,2]}}`},
		"GET /api/v1/activity/users/00uJ/events": {200, `[]`},
	}}
	srv, cl, _ := consoleFor(t, api, acmeReader)
	page := get(t, cl, srv.URL+"/console/users/00uJ", http.StatusOK)
	for _, want := range []string{`data-day="2026-12-03" data-count="1"`, `data-day="2026-12-05" data-count="2"`, "counted from 2026-12-03 on"} {
		if !strings.Contains(page, want) {
			t.Errorf("user page: want %s in it", want)
		}
	}
}

// TestDetectionsPageOlderLink pages the detections list by the API's
// cursor: the API's rel="next" becomes an "Older detections" link whose
// after (and status) the next page hands back to the API.
func TestDetectionsPageOlderLink(t *testing.T) {
	api := &cannedAPI{answers: map[string]fakeAnswer{
		"GET /api/v1/detections/rules": {200, rulesJSON},
		"GET /api/v1/detections":       {200, `[{"id":"d9","rule":"r1","title":"Rule one","level":"high","severity":"HIGH","published":"2026-12-05T11:00:00Z","status":"CLOSED"}]`},
	}, links: map[string]string{"GET /api/v1/detections": `<http://x/api/v1/detections?after=1764932400000000000_d9&limit=100&status=CLOSED>; rel="next"`}}
	srv, cl, _ := consoleFor(t, api, acmeReader)
	page := get(t, cl, srv.URL+"/console/detections?status=closed", http.StatusOK)
	m := regexp.MustCompile(`<a href="([^"]+)" id="alerts-older">`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no Older detections link in the page")
	}
	older := strings.ReplaceAll(m[1], "&amp;", "&")
	if !strings.Contains(older, "after=1764932400000000000_d9") || !strings.Contains(older, "status=CLOSED") {
		t.Errorf("older link: got %s, want the API's after and the status", older)
	}
	page = get(t, cl, srv.URL+older, http.StatusOK)
	if !strings.Contains(page, `id="alerts-newest"`) {
		t.Errorf("an older page has no link back to the newest")
	}
	var withAfter int
	for _, c := range api.called(http.MethodGet, "/api/v1/detections") {
		if c.query.Get("after") == "1764932400000000000_d9" && c.query.Get("status") == "CLOSED" && c.query.Get("limit") == "100" {
			withAfter++
		}
	}
	if withAfter != 1 {
		t.Errorf("API calls with the cursor: got %d, want 1", withAfter)
	}
}

// TestRuleDetailPage draws a rule's page from the API's answer: its
// description, false positives, log source and effective tuning.
func TestRuleDetailPage(t *testing.T) {
	api := &cannedAPI{answers: map[string]fakeAnswer{
		"GET /api/v1/detections/rules/r1": {200, `{"id":"r1","title":"Rule one","pack":"a","format":"sigma","level":"high","status":"loaded","enabled":true,
			"description":"Many failed sign-ins","falsePositives":["a load test"],"logsource":{"product":"okta","service":"okta"},
			"text":"title: Rule one","tuning":{"suppress":"1h0m0s","suppressBy":["actor.id"],"exceptions":["{\"a\":[1]}"],
			"severityWhen":[{"match":"{\"b\":[2]}","level":"critical"}]}}`},
		"GET /api/v1/detections": {200, `[]`},
	}}
	srv, cl, _ := consoleFor(t, api, acmeReader)
	page := get(t, cl, srv.URL+"/console/detections/rules/r1", http.StatusOK)
	for _, want := range []string{`<p id="rule-description">Many failed sign-ins</p>`, `<li>a load test</li>`, "product okta service okta",
		`<pre class="json" id="rule-text">title: Rule one</pre>`, "1h0m0s after a detection, per actor.id", `<pre class="json exception">{&#34;a&#34;:[1]}</pre>`,
		`<span class="badge sev-critical">critical</span>`} {
		if !strings.Contains(page, want) {
			t.Errorf("rule page: want %s in it", want)
		}
	}
}
