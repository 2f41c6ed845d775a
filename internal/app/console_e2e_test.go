package app

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/auditstream/auditstream/internal/console"
	"github.com/auditstream/auditstream/internal/wait"
)

// The console's end-to-end tests drive a real headless Chromium against
// a real serve. Chromium comes from $CHROMIUM or PATH (Debian's chromium
// package; .ci/run installs it): without it these tests fail, never skip.
// AUDITSTREAM_SCREENSHOTS names a directory the tests write page
// screenshots to.

func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, n := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	t.Fatal("no Chromium: install Debian's chromium package (apt-get install -y chromium) or set $CHROMIUM")
	return ""
}

// browser is one headless Chromium tab on a running service.
type browser struct {
	t    *testing.T
	ctx  context.Context
	base string
}

func newBrowser(t *testing.T, base string) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromiumPath(t)), chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.WindowSize(1280, 900), chromedp.Flag("disable-dev-shm-usage", true))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	ctx, cancelT := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelT(); cancelC(); cancelA() })
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("start chromium: %v", err)
	}
	return &browser{t: t, ctx: ctx, base: base}
}

func (b *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v (page %s)", what, err, b.location())
	}
}

// navigateBy runs a step that navigates (a click on a submit button) and
// waits for the new page.
func (b *browser) navigateBy(what string, step chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if _, err := chromedp.RunResponse(b.ctx, step); err != nil {
		b.t.Fatalf("%s: %v (page %s)", what, err, b.location())
	}
}

func (b *browser) open(path string) {
	b.t.Helper()
	b.do("open "+path, chromedp.Navigate(b.base+path))
}

func (b *browser) location() string {
	loc, _ := chromedp.Run(b.ctx, chromedp.Location())
	return loc
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("text of %s: %v (page %s)", sel, err, b.location())
	}
	return strings.TrimSpace(s)
}

func (b *browser) count(sel string) int {
	b.t.Helper()
	n, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](fmt.Sprintf("document.querySelectorAll(%q).length", sel)))
	if err != nil {
		b.t.Fatalf("count %s: %v", sel, err)
	}
	return n
}

func (b *browser) body() string {
	s, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string]("document.body.innerText"))
	return s
}

// shot writes a screenshot to $AUDITSTREAM_SCREENSHOTS/<name>.png.
func (b *browser) shot(name string) {
	b.t.Helper()
	dir := os.Getenv("AUDITSTREAM_SCREENSHOTS")
	if dir == "" {
		return
	}
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// signIn signs in with an API token through the sign-in form.
func (b *browser) signIn(token string) {
	b.t.Helper()
	b.open("/console/signin")
	b.do("type the token", chromedp.WaitVisible(chromedp.CSS("#token")), chromedp.SendKeys(chromedp.CSS("#token"), token))
	b.navigateBy("sign in", chromedp.Click(chromedp.CSS("#signin")))
	b.do("signed in", chromedp.WaitVisible(chromedp.CSS("#who-org")))
}

// ingest posts events of eventType with token; it returns their uuids.
func ingest(t *testing.T, r *running, token, eventType string, n int) []string {
	t.Helper()
	var ids []string
	for i := range n {
		id := fmt.Sprintf("%s-%d-%d", strings.ReplaceAll(eventType, ".", "-"), time.Now().UnixNano(), i)
		code, body := r.call("POST", "/api/v1/events", token, map[string]any{"eventType": eventType, "uuid": id,
			"displayMessage": "test " + eventType, "actor": map[string]any{"alternateId": "alice@example.com", "type": "User"},
			"outcome": map[string]any{"result": "SUCCESS"}})
		if code >= 300 {
			t.Fatalf("ingest: %d %s", code, body)
		}
		ids = append(ids, id)
	}
	return ids
}

// createToken makes a token through the API and returns its secret.
func createToken(t *testing.T, r *running, name, org string, scopes ...string) string {
	t.Helper()
	code, body := r.call("POST", "/api/v1/tokens", testAdmin, map[string]any{"name": name, "org": org, "scopes": scopes})
	if code != http.StatusCreated {
		t.Fatalf("create token: %d %s", code, body)
	}
	var out struct {
		Token string `json:"token"`
	}
	_ = json.Unmarshal([]byte(body), &out)
	return out.Token
}

func TestConsoleRequiresSessionAndSignsInWithToken(t *testing.T) {
	r := startApp(t, testConfig(""))
	b := newBrowser(t, r.base)

	// Without a session the page does not load: the browser lands on the
	// sign-in form.
	b.open("/console/streams")
	if loc := b.location(); !strings.Contains(loc, "/console/signin") {
		t.Fatalf("without a session: got %s, want the sign-in page", loc)
	}
	if n := b.count("#streams-table"); n != 0 {
		t.Fatalf("without a session: got the streams table")
	}
	// A wrong token is refused with Okta's text.
	b.do("type a wrong token", chromedp.SendKeys(chromedp.CSS("#token"), "not-a-token"))
	b.navigateBy("sign in", chromedp.Click(chromedp.CSS("#signin")))
	if got := b.text("#error"); !strings.Contains(got, "Invalid token provided") {
		t.Fatalf("wrong token: got %q, want Invalid token provided", got)
	}
	b.shot("signin")

	b.signIn(testAdmin)
	if got := b.text("#who-org"); got != "*" {
		t.Fatalf("signed in: got org %q, want *", got)
	}
	cookies, err := chromedp.Call(b.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{r.base + "/console/"}})
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, c := range cookies.Cookies {
		if c.Name != "auditstream_session" {
			continue
		}
		found = true
		if !c.HTTPOnly || c.SameSite != network.CookieSameSiteStrict || c.Expires <= float64(time.Now().Unix()) {
			t.Errorf("session cookie: got httpOnly=%v sameSite=%s expires=%v, want HttpOnly, Strict and a future expiry",
				c.HTTPOnly, c.SameSite, c.Expires)
		}
		if strings.Contains(c.Value, testAdmin) {
			t.Errorf("session cookie carries the API token")
		}
	}
	if !found {
		t.Fatal("no session cookie after sign-in")
	}
	// The script ran under the CSP: times show in the browser's zone (the
	// server writes UTC).
	b.open("/console/tokens")
	b.do("tokens", chromedp.WaitVisible(chromedp.CSS("#tokens")))
	if got := b.text("#tokens time"); strings.HasSuffix(got, "UTC") {
		t.Errorf("token time: got %q, want it rewritten to local time by console.js", got)
	}
	title, err := chromedp.Run(b.ctx, chromedp.AttributeValue(chromedp.CSS("#tokens time"), "title"))
	if err != nil || !strings.HasSuffix(title.Value, "UTC") {
		t.Errorf("token time title: got %q (%v), want UTC on hover", title.Value, err)
	}
	b.shot("tokens")

	// Sign-out ends the session on the server.
	b.navigateBy("sign out", chromedp.Click(chromedp.CSS(".who button")))
	b.open("/console/")
	if loc := b.location(); !strings.Contains(loc, "/console/signin") {
		t.Fatalf("after sign-out: got %s, want the sign-in page", loc)
	}
}

// webhook is a destination that counts the events it accepts and refuses
// (422, permanent) events of refuseType while refusing is set.
type webhook struct {
	srv      *httptest.Server
	mu       sync.Mutex
	got      map[string]int // uuid → deliveries
	types    map[string]int
	refusing bool
}

const refuseType = "user.refused"

func newWebhook(t *testing.T) *webhook {
	w := &webhook{got: map[string]int{}, types: map[string]int{}, refusing: true}
	w.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var ev struct {
			UUID      string `json:"uuid"`
			EventType string `json:"eventType"`
		}
		_ = json.Unmarshal(b, &ev)
		w.mu.Lock()
		defer w.mu.Unlock()
		if ev.EventType == refuseType && w.refusing {
			http.Error(rw, "refused by the test", http.StatusUnprocessableEntity)
			return
		}
		if ev.UUID != "" {
			w.got[ev.UUID]++
			w.types[ev.EventType]++
		}
		rw.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(w.srv.Close)
	return w
}

func (w *webhook) deliveries(uuid string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.got[uuid]
}

func (w *webhook) typeCount(typ string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.types[typ]
}

func TestConsoleWebhookStreamLifecycle(t *testing.T) {
	r := startApp(t, testConfig(""))
	hook := newWebhook(t)
	b := newBrowser(t, r.base)
	b.signIn(testAdmin)

	// The wizard: type → form drawn from the http destination's fields →
	// filter → verify → save.
	b.open("/console/streams")
	b.navigateBy("add", chromedp.Click(chromedp.CSS("#add-stream")))
	b.navigateBy("choose http", chromedp.Click(chromedp.CSS("#type-http")))
	b.do("fill the form",
		chromedp.WaitVisible(chromedp.CSS("#wizard")),
		chromedp.SendKeys(chromedp.CSS("#name"), "siem webhook"),
		chromedp.SendKeys(chromedp.CSS(`[id="s.url"]`), hook.srv.URL+"/hook"),
		chromedp.SendKeys(chromedp.CSS(`[id="s.body"]`), "event"),
		chromedp.SendKeys(chromedp.CSS("#filter"), `{"detail": {"eventType": [{"prefix": "user."}]}}`))
	if n := b.count(`[id="s.signing.secret"][type=password]`); n != 1 {
		t.Errorf("signing secret input: got %d password inputs, want 1 (secrets write-only)", n)
	}
	b.shot("wizard")
	b.navigateBy("verify", chromedp.Click(chromedp.CSS("#verify")))
	if n := b.count("#verified"); n != 1 {
		t.Fatalf("verify: got %q, want Verified", b.body())
	}
	b.navigateBy("save", chromedp.Click(chromedp.CSS("#save")))
	if got := b.text("#notice"); got != "Log stream created" {
		t.Fatalf("save: got notice %q (page %s), want Log stream created", got, b.body())
	}
	streamPath, _ := url.Parse(b.location())

	// Its delivered count rises as events come in; the filter keeps
	// app.* events out.
	ids := ingest(t, r, testAdmin, "user.session.start", 3)
	ingest(t, r, testAdmin, "app.other", 2)
	delivered := func() int {
		b.open(streamPath.Path)
		n, _ := strconv.Atoi(b.text("#delivered"))
		return n
	}
	wait.Eventually(t, "the delivered count to reach 3", func() bool { return delivered() >= 3 }, wait.Within(30*time.Second), wait.Every(300*time.Millisecond))
	if n := hook.typeCount("app.other"); n != 0 {
		t.Errorf("filtered events: got %d app.other deliveries, want 0", n)
	}
	b.shot("stream")
	b.open("/console/")
	b.do("overview", chromedp.WaitVisible(chromedp.CSS("#journal-size")))
	if got := b.text("#ingest-rate"); got == "0.00/s" {
		t.Errorf("overview: got ingest rate %s, want the events just sent counted", got)
	}
	b.shot("overview")
	b.open("/console/streams")
	b.shot("streams")

	// The change is an audit event with the signed-in token as actor.
	code, body := r.call("GET", "/api/v1/logs?filter="+url.QueryEscape(`eventType eq "system.log_stream.lifecycle.create"`), testAdmin, nil)
	if code != 200 || !strings.Contains(body, `"alternateId":"`+envTokenNameForTest(t, r)+`"`) {
		t.Errorf("audit event of the create: got %d %s, want the signed-in token as actor", code, body)
	}

	// Deactivate, reactivate.
	b.open(streamPath.Path)
	b.navigateBy("deactivate", chromedp.Click(chromedp.CSS("#deactivate")))
	if got := b.text("#stream-status"); got != "INACTIVE" {
		t.Fatalf("deactivate: got %q, want INACTIVE", got)
	}
	b.navigateBy("activate", chromedp.Click(chromedp.CSS("#activate")))
	if got := b.text("#stream-status"); got != "ACTIVE" {
		t.Fatalf("activate: got %q, want ACTIVE", got)
	}

	// Replay from an hour ago delivers the events again.
	b.navigateBy("replay", chromedp.Click(chromedp.CSS("#replay")))
	if got := b.text("#notice"); !strings.HasPrefix(got, "Replay started from") {
		t.Fatalf("replay: got %q, want Replay started", got)
	}
	wait.Eventually(t, "the replay to deliver the events again", func() bool { return hook.deliveries(ids[0]) >= 2 },
		wait.Within(30*time.Second), wait.Every(100*time.Millisecond))

	// A refused event becomes a dead letter; redrive delivers it.
	refused := ingest(t, r, testAdmin, refuseType, 1)[0]
	wait.Eventually(t, "the refused event to be dead-lettered", func() bool {
		b.open(streamPath.Path)
		return b.count("#dead-letters") == 1 && strings.Contains(b.text("#dead-letters"), refused)
	}, wait.Within(30*time.Second), wait.Every(300*time.Millisecond))
	hook.mu.Lock()
	hook.refusing = false
	hook.mu.Unlock()
	b.navigateBy("redrive", chromedp.Click(chromedp.CSS("#redrive")))
	if got := b.text("#notice"); got != "1 dead letters redriven" {
		t.Fatalf("redrive: got %q, want 1 dead letters redriven", got)
	}
	if n := hook.deliveries(refused); n != 1 {
		t.Errorf("redriven event: got %d deliveries, want 1", n)
	}
	if n := b.count("#no-dead"); n != 1 {
		t.Errorf("after redrive: got dead letters still listed")
	}
	// The redrive's progress: all of them redriven, done.
	if got, pct := b.text("#op-redriven"), b.text("#op-percent"); got != "1" || pct != "100%" {
		t.Errorf("redrive progress: got %s redriven, %s; want 1, 100%%", got, pct)
	}
}

// envTokenNameForTest is the name of the token set from
// AUDITSTREAM_ADMIN_TOKEN, the actor of what the admin does.
func envTokenNameForTest(t *testing.T, r *running) string {
	t.Helper()
	_, body := r.call("GET", "/api/v1/tokens", testAdmin, nil)
	var list []struct {
		Name string `json:"name"`
	}
	_ = json.Unmarshal([]byte(body), &list)
	if len(list) == 0 {
		t.Fatal("no tokens")
	}
	return list[0].Name
}

func TestConsoleFilterPreview(t *testing.T) {
	r := startApp(t, testConfig(""))
	ingest(t, r, testAdmin, "user.session.start", 3)
	ingest(t, r, testAdmin, "policy.rule.update", 2)
	b := newBrowser(t, r.base)
	b.signIn(testAdmin)
	b.open("/console/filter")
	// Typing runs the preview (console.js fetches it; no submit).
	b.do("type a pattern", chromedp.WaitVisible(chromedp.CSS("#pattern")),
		chromedp.SendKeys(chromedp.CSS("#pattern"), `{"detail": {"eventType": ["user.session.start"]}}`),
		chromedp.WaitVisible(chromedp.CSS("#matched")))
	// The latest events also hold the service's own (the admin token's
	// creation): every event but the three is a "no match".
	_, body := r.call("GET", "/api/v1/logs?limit=100", testAdmin, nil)
	var all []json.RawMessage
	_ = json.Unmarshal([]byte(body), &all)
	if m, u := b.text("#matched"), b.text("#unmatched"); m != "3" || u != strconv.Itoa(len(all)-3) || len(all) < 5 {
		t.Fatalf("preview: got %s match / %s no match, want 3 / %d", m, u, len(all)-3)
	}
	b.shot("filter")
	// AWS's error text for a bad pattern.
	if _, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`(document.getElementById('pattern').value = '') === ''`)); err != nil {
		t.Fatal(err)
	}
	b.do("type a bad pattern",
		chromedp.SendKeys(chromedp.CSS("#pattern"), `{"detail": {"eventType": "user.session.start"}}`),
		chromedp.WaitVisible(chromedp.CSS("#pattern-error")))
	if got := b.text("#pattern-error"); !strings.Contains(got, "Event pattern is not valid") {
		t.Fatalf("bad pattern: got %q, want AWS's error text", got)
	}
}

func TestConsoleSystemLogSearch(t *testing.T) {
	r := startApp(t, testConfig(""))
	ids := ingest(t, r, testAdmin, "user.session.start", 4)
	ingest(t, r, testAdmin, "policy.rule.update", 3)
	b := newBrowser(t, r.base)
	b.signIn(testAdmin)
	b.open("/console/logs")
	filter := `eventType eq "user.session.start"`
	b.do("type the filter", chromedp.WaitVisible(chromedp.CSS("#filter")), chromedp.SendKeys(chromedp.CSS("#filter"), filter))
	b.navigateBy("search", chromedp.Click(chromedp.CSS("#search-go")))
	rows := b.count("#events tbody tr")
	// The same query through the API.
	code, body := r.call("GET", "/api/v1/logs?filter="+url.QueryEscape(filter), testAdmin, nil)
	var api []json.RawMessage
	_ = json.Unmarshal([]byte(body), &api)
	if code != 200 || rows != len(api) || rows != len(ids) {
		t.Fatalf("search: got %d rows, want %d (the API answered %d with %d events)", rows, len(ids), code, len(api))
	}
	if n := b.count("#histogram svg rect.bar"); n == 0 {
		t.Errorf("no histogram drawn")
	}
	// A row opens into the event's JSON.
	b.do("open an event", chromedp.Click(chromedp.CSS("#events tbody tr:first-child summary")),
		chromedp.WaitVisible(chromedp.CSS("#events tbody tr:first-child .event-json")))
	js := b.text("#events tbody tr:first-child .event-json")
	if !strings.Contains(js, `"uuid"`) || !strings.Contains(js, "user.session.start") {
		t.Fatalf("event JSON: got %q", js)
	}
	b.shot("systemlog")
	// At phone width the page does not scroll sideways (wide tables
	// scroll in their own box).
	b.do("phone width", chromedp.EmulateViewport(390, 844), chromedp.Reload())
	if w, err := chromedp.Run(b.ctx, chromedp.Evaluate[int]("document.documentElement.scrollWidth")); err != nil || w > 390 {
		t.Errorf("phone width: got a page %d px wide (%v), want at most 390", w, err)
	}
	b.shot("systemlog-phone")
	b.do("desktop width", chromedp.EmulateViewport(1280, 900))
	// Export as NDJSON: the same events.
	href, err := chromedp.Run(b.ctx, chromedp.AttributeValue(chromedp.CSS("#export-ndjson"), "href"))
	if err != nil {
		t.Fatal(err)
	}
	nd, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](fmt.Sprintf("fetch(%q).then(r => r.text())", href.Value), chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(strings.TrimSpace(nd), "\n") + 1; n != len(ids) {
		t.Errorf("NDJSON export: got %d lines, want %d", n, len(ids))
	}
}

// consoleClient signs in over plain HTTP (no browser) and returns a
// client with the session cookie and the page's CSRF token.
func consoleClient(t *testing.T, r *running, token string) (*http.Client, string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	resp, err := c.PostForm(r.base+"/console/signin", url.Values{"token": {token}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("sign-in: got %d %s, want a page with a CSRF token", resp.StatusCode, b)
	}
	return c, string(m[1])
}

func TestConsoleRefusesCSRF(t *testing.T) {
	r := startApp(t, testConfig(""))
	c, csrf := consoleClient(t, r, testAdmin)
	post := func(form url.Values) int {
		resp, err := c.PostForm(r.base+"/console/tokens", form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	form := url.Values{"name": {"ci"}, "scopes": {"logs.read"}}
	if code := post(form); code != http.StatusForbidden {
		t.Fatalf("without a CSRF token: got %d, want 403", code)
	}
	form.Set("csrf", "wrong")
	if code := post(form); code != http.StatusForbidden {
		t.Fatalf("with a wrong CSRF token: got %d, want 403", code)
	}
	_, body := r.call("GET", "/api/v1/tokens", testAdmin, nil)
	if strings.Contains(body, `"name":"ci"`) {
		t.Fatal("a refused request created a token")
	}
	form.Set("csrf", csrf)
	if code := post(form); code != http.StatusOK {
		t.Fatalf("with the CSRF token: got %d, want 200", code)
	}
	_, body = r.call("GET", "/api/v1/tokens", testAdmin, nil)
	if !strings.Contains(body, `"name":"ci"`) {
		t.Fatal("the token was not created")
	}
	// Every console answer carries the strict CSP.
	resp0, err := http.Get(r.base + "/console/signin")
	if err != nil {
		t.Fatal(err)
	}
	resp0.Body.Close()
	if got := resp0.Header.Get("Content-Security-Policy"); got != console.CSP {
		t.Errorf("CSP: got %q, want %q", got, console.CSP)
	}
	// A form posted from another site is refused at sign-in too.
	req, _ := http.NewRequest("POST", r.base+"/console/signin", strings.NewReader(url.Values{"token": {testAdmin}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-site sign-in: got %d, want 403", resp.StatusCode)
	}
}

func TestConsoleOrgScopedUserSeesOnlyItsOrg(t *testing.T) {
	r := startApp(t, testConfig(""))
	acmeWrite := createToken(t, r, "acme-writer", "acme", "events.write")
	otherWrite := createToken(t, r, "other-writer", "other", "events.write")
	acme := createToken(t, r, "acme-console", "acme", "logs.read", "logStreams.manage")
	for _, in := range []map[string]any{
		{"type": "file", "name": "acme stream", "org": "acme", "settings": map[string]any{"dir": t.TempDir()}},
		{"type": "file", "name": "other stream", "org": "other", "settings": map[string]any{"dir": t.TempDir()}},
	} {
		if code, body := r.call("POST", "/api/v1/logStreams", testAdmin, in); code != 200 {
			t.Fatalf("create stream: %d %s", code, body)
		}
	}
	acmeIDs := ingest(t, r, acmeWrite, "user.session.start", 2)
	otherIDs := ingest(t, r, otherWrite, "user.session.start", 2)

	b := newBrowser(t, r.base)
	b.signIn(acme)
	if got := b.text("#who-org"); got != "acme" {
		t.Fatalf("org: got %q, want acme", got)
	}
	b.open("/console/streams")
	table := b.text("#streams-table")
	if !strings.Contains(table, "acme stream") || strings.Contains(table, "other stream") {
		t.Fatalf("streams: got %q, want acme's only", table)
	}
	b.open("/console/logs")
	b.do("logs", chromedp.WaitVisible(chromedp.CSS("#events")))
	page := b.body()
	var all string
	nodes, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`[...document.querySelectorAll('.event-json')].map(e => e.textContent).join('\n')`))
	all = nodes
	for _, id := range acmeIDs {
		if !strings.Contains(all, id) {
			t.Errorf("acme's event %s missing from its System Log", id)
		}
	}
	for _, id := range otherIDs {
		if strings.Contains(all, id) || strings.Contains(page, id) {
			t.Errorf("other org's event %s shown to acme", id)
		}
	}
	// Tokens are admin only: Okta's error, not a blank page.
	b.open("/console/tokens")
	if got := b.text("#error"); !strings.Contains(got, "You do not have permission") {
		t.Errorf("tokens as acme: got %q, want Okta's permission error", got)
	}
	b.shot("org-scoped")
}

// TestConsoleSessionSurvivesRestart: sessions live in the journal's KV,
// not in the process.
func TestConsoleSessionSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	r := startApp(t, testConfig(dir))
	c, _ := consoleClient(t, r, testAdmin)
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	r = startApp(t, testConfig(dir))
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Get(r.base + "/console/tokens")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("after a restart: got %d (%s), want the page", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// TestConsoleDisabled: console.enabled false serves the API alone.
func TestConsoleDisabled(t *testing.T) {
	cfg := testConfig("")
	off := false
	cfg.Console.Enabled = &off
	r := startApp(t, cfg)
	for _, p := range []string{"/", "/console/", "/console/signin", "/console/static/console.js"} {
		resp, err := http.Get(r.base + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("Content-Security-Policy") != "" {
			t.Errorf("%s with the console off: got %d, want the API's 401", p, resp.StatusCode)
		}
	}
	if code, _ := r.call("GET", "/api/v1/logStreams", testAdmin, nil); code != 200 {
		t.Errorf("API with the console off: got %d, want 200", code)
	}
}

// TestConsoleSystemLogPagingAndCSV: the pages of the System Log hold, in
// order, the same events as GET /api/v1/logs for the same query, and the
// CSV export has them all.
func TestConsoleSystemLogPagingAndCSV(t *testing.T) {
	r := startApp(t, testConfig(""))
	ids := ingest(t, r, testAdmin, "user.session.start", 60)
	c, _ := consoleClient(t, r, testAdmin)
	get := func(path string) string {
		t.Helper()
		resp, err := c.Get(r.base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: got %d %s", path, resp.StatusCode, b)
		}
		return string(b)
	}
	uuidRE := regexp.MustCompile(`&#34;uuid&#34;: &#34;([^&]+)&#34;`)
	nextRE := regexp.MustCompile(`<a href="([^"]+)" id="next-page"`)
	q := "/console/logs?filter=" + url.QueryEscape(`eventType eq "user.session.start"`)
	var seen []string
	page := get(q)
	for range 5 {
		for _, m := range uuidRE.FindAllStringSubmatch(page, -1) {
			seen = append(seen, m[1])
		}
		m := nextRE.FindStringSubmatch(page)
		if m == nil {
			break
		}
		page = get(html.UnescapeString(m[1]))
	}
	if len(seen) != len(ids) {
		t.Fatalf("paging: got %d events, want %d", len(seen), len(ids))
	}
	// Newest first, as the API answers with sortOrder=DESCENDING.
	for i, id := range seen {
		if want := ids[len(ids)-1-i]; id != want {
			t.Fatalf("event %d: got %s, want %s", i, id, want)
		}
	}
	csv := get("/console/logs/export?format=csv&filter=" + url.QueryEscape(`eventType eq "user.session.start"`))
	if lines := strings.Count(strings.TrimSpace(csv), "\n"); lines != len(ids) || !strings.HasPrefix(csv, "published,uuid,eventType") {
		t.Fatalf("CSV export: got %d rows, want %d with a header", lines, len(ids))
	}
}
