package app

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/auditstream/auditstream/internal/source/okta/oktatest"
	"github.com/auditstream/auditstream/internal/wait"
)

// Adding sources from the console (an Okta poller against a fake org, an
// EventBridge receiver whose key is shown once), their lifecycle, and the
// progress of a replay, in a real Chromium against a real serve.

func TestConsoleAddOktaSource(t *testing.T) {
	r := startApp(t, testConfig(""))
	const oktaToken = "okta-console-token-0123456789"
	org := oktatest.New(oktatest.Config{APIToken: oktaToken})
	t.Cleanup(org.Close)
	org.Add(json.RawMessage(fmt.Sprintf(`{"uuid":"okta-console-1","published":%q,"eventType":"user.session.start",`+
		`"displayMessage":"User login to Okta","actor":{"id":"00u9","type":"User","alternateId":"carol@example.com"},"outcome":{"result":"SUCCESS"}}`,
		time.Now().Add(-time.Minute).UTC().Format("2006-01-02T15:04:05.000Z"))))

	b := newBrowser(t, r.base)
	b.signIn(testAdmin)
	b.open("/console/sources")
	b.navigateBy("add", chromedp.Click(chromedp.CSS("#add-source")))
	b.navigateBy("choose okta", chromedp.Click(chromedp.CSS("#source-type-okta")))
	b.do("fill the form",
		chromedp.WaitVisible(chromedp.CSS("#source-form")),
		chromedp.SendKeys(chromedp.CSS("#name"), "acme okta"),
		chromedp.SendKeys(chromedp.CSS("#org"), "acme"),
		chromedp.SendKeys(chromedp.CSS(`[id="s.baseUrl"]`), org.URL),
		chromedp.SetValue(chromedp.CSS(`[id="s.auth.type"]`), "SSWS"),
		chromedp.SendKeys(chromedp.CSS(`[id="s.auth.token"]`), oktaToken),
		chromedp.SendKeys(chromedp.CSS(`[id="s.pollInterval"]`), "200ms"))
	if n := b.count(`[id="s.auth.token"][type=password]`); n != 1 {
		t.Errorf("the API token input: got %d password inputs, want 1", n)
	}
	b.shot("source-add")
	b.navigateBy("save", chromedp.Click(chromedp.CSS("#source-save")))
	if got := b.text("#notice"); got != "Source created" {
		t.Fatalf("save: got notice %q (page %s)", got, b.body())
	}
	srcPath := b.location()
	if strings.Contains(b.pageHTML(), oktaToken) {
		t.Fatal("the source page holds the Okta API token")
	}
	// It polls the org: the event is in acme's System Log, and the page
	// counts it.
	wait.Eventually(t, "the source to store the org's event", func() bool {
		b.open(strings.TrimPrefix(srcPath, r.base))
		n, _ := strconv.Atoi(b.text("#source-events"))
		return n >= 1
	}, wait.Within(30*time.Second), wait.Every(300*time.Millisecond))
	b.open("/console/logs?preset=24h&filter=" + url.QueryEscape(`uuid eq "okta-console-1"`))
	if got := b.body(); !strings.Contains(got, "carol@example.com") {
		t.Errorf("System Log page: got %s, want the polled event", got)
	}
	code, body := r.call("GET", "/api/v1/logs?filter="+url.QueryEscape(`eventType eq "system.log_source.lifecycle.create"`), testAdmin, nil)
	if code != 200 || !strings.Contains(body, `"alternateId":"`+envTokenNameForTest(t, r)+`"`) || !strings.Contains(body, "acme okta") {
		t.Errorf("audit event of the create: got %d %s, want the signed-in token as actor", code, body)
	}

	// Deactivate and activate on its page.
	b.open(strings.TrimPrefix(srcPath, r.base))
	b.navigateBy("deactivate", chromedp.Click(chromedp.CSS("#source-deactivate")))
	if got := b.text("#source-status"); got != "INACTIVE" {
		t.Fatalf("deactivate: got %q, want INACTIVE", got)
	}
	b.navigateBy("activate", chromedp.Click(chromedp.CSS("#source-activate")))
	if got := b.text("#source-status"); got != "ACTIVE" {
		t.Fatalf("activate: got %q, want ACTIVE", got)
	}

	// Edit: the token is kept while left empty; the source goes on polling.
	b.navigateBy("edit", chromedp.Click(chromedp.CSS("#source-edit")))
	b.do("change the poll interval",
		chromedp.WaitVisible(chromedp.CSS("#source-form")),
		chromedp.SetValue(chromedp.CSS(`[id="s.pollInterval"]`), "300ms"))
	if strings.Contains(b.pageHTML(), oktaToken) {
		t.Fatal("the edit form holds the Okta API token")
	}
	b.navigateBy("save the edit", chromedp.Click(chromedp.CSS("#source-save")))
	if got := b.text("#notice"); got != "Source updated" {
		t.Fatalf("edit: got notice %q (page %s)", got, b.body())
	}
	if got := b.text("#source-settings"); !strings.Contains(got, `"pollInterval": "300ms"`) {
		t.Errorf("edited settings: got %s", got)
	}
	org.Add(json.RawMessage(fmt.Sprintf(`{"uuid":"okta-console-2","published":%q,"eventType":"user.session.end",`+
		`"displayMessage":"User logout","actor":{"id":"00u9","type":"User","alternateId":"carol@example.com"},"outcome":{"result":"SUCCESS"}}`,
		time.Now().UTC().Format("2006-01-02T15:04:05.000Z"))))
	wait.Eventually(t, "the edited source to poll with the kept token", func() bool {
		_, body := r.call("GET", "/api/v1/logs?filter="+url.QueryEscape(`uuid eq "okta-console-2"`), testAdmin, nil)
		return strings.Contains(body, "okta-console-2")
	}, wait.Within(30*time.Second), wait.Every(300*time.Millisecond))

	// A refusal is the API's text, and keeps the form without the token.
	b.open("/console/sources/new?type=okta")
	b.do("fill a bad form",
		chromedp.WaitVisible(chromedp.CSS("#source-form")),
		chromedp.SendKeys(chromedp.CSS("#name"), "bad okta"),
		chromedp.SendKeys(chromedp.CSS(`[id="s.baseUrl"]`), "ftp://nope.example"),
		chromedp.SendKeys(chromedp.CSS(`[id="s.auth.token"]`), oktaToken))
	b.navigateBy("save", chromedp.Click(chromedp.CSS("#source-save")))
	if got := b.body(); !strings.Contains(got, "settings.baseUrl") || !strings.Contains(got, "Api validation failed: source") {
		t.Errorf("refused: got %s, want the API's causes", got)
	}
	if strings.Contains(b.pageHTML(), oktaToken) {
		t.Error("the refused form sends the Okta API token back")
	}
}

func TestConsoleAddReceiverShowsKeyOnce(t *testing.T) {
	r := startApp(t, testConfig(""))
	b := newBrowser(t, r.base)
	acme := createToken(t, r, "acme-sources", "acme", "logs.read", "sources.manage")
	b.signIn(acme)
	b.open("/console/sources/new")
	b.navigateBy("choose eventbridge", chromedp.Click(chromedp.CSS("#source-type-eventbridge")))
	if n := b.count("#org"); n != 0 {
		t.Errorf("an org-scoped identity: got an org input")
	}
	b.do("fill the form",
		chromedp.WaitVisible(chromedp.CSS("#source-form")),
		chromedp.SendKeys(chromedp.CSS("#name"), "acme receiver"),
		chromedp.SetValue(chromedp.CSS(`[id="s.auth.type"]`), "API_KEY"))
	b.navigateBy("save", chromedp.Click(chromedp.CSS("#source-save")))
	b.do("created", chromedp.WaitVisible(chromedp.CSS("#source-created")))
	recvURL := b.text("#endpoint-receiver")
	key := b.text(`[id="secret-auth.value"]`)
	if len(key) < 32 || !strings.Contains(recvURL, "/api/v1/eventbridge/") {
		t.Fatalf("created page: got URL %q key %q (page %s)", recvURL, key, b.body())
	}
	if strings.Count(b.pageHTML(), key) != 1 {
		t.Errorf("the key is shown more than once on the created page")
	}
	b.shot("source-receiver-created")
	srcID := recvURL[strings.LastIndex(recvURL, "/")+1:]
	// The URL is built from query.publicUrl; the test's serve listens on a
	// port of its own.
	if u, err := url.Parse(recvURL); err == nil {
		recvURL = r.base + u.Path
	}

	// Post an EventBridge event with that key: it is in acme's System Log.
	env := fmt.Sprintf(`{"version":"0","id":"eb-1","detail-type":"SystemLog","source":"aws.partner/okta.com/acme/s","account":"123456789012",`+
		`"detail":{"uuid":"eb-console-1","eventType":"user.session.start","published":%q,"displayMessage":"via EventBridge",`+
		`"actor":{"id":"00u7","type":"User","alternateId":"dave@example.com"},"outcome":{"result":"SUCCESS"}}}`,
		time.Now().UTC().Format("2006-01-02T15:04:05.000Z"))
	post := func(k string) int {
		req, _ := http.NewRequestWithContext(t.Context(), "POST", recvURL, bytes.NewReader([]byte(env)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("x-api-key", k)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := post("wrong-key-0123456789abcdef"); got != http.StatusUnauthorized {
		t.Fatalf("a wrong key: got %d, want 401", got)
	}
	if got := post(key); got != http.StatusAccepted {
		t.Fatalf("post with the key: got %d, want 202", got)
	}
	wait.Eventually(t, "the event in the System Log page", func() bool {
		b.open("/console/logs?preset=1h&filter=" + url.QueryEscape(`uuid eq "eb-console-1"`))
		return strings.Contains(b.body(), "dave@example.com")
	}, wait.Within(20*time.Second), wait.Every(300*time.Millisecond))

	// Never again: not on the source's page, the list, nor the API.
	for _, p := range []string{"/console/sources/" + srcID, "/console/sources", "/console/"} {
		b.open(p)
		if strings.Contains(b.pageHTML(), key) {
			t.Errorf("%s shows the receiver's key", p)
		}
	}
	if _, body := r.call("GET", "/api/v1/sources/"+srcID, testAdmin, nil); strings.Contains(body, key) {
		t.Errorf("the API shows the key: %s", body)
	}
}

// TestConsoleTenantCannotAddSourceToAnotherOrg: an org-scoped identity
// posting another org is refused by the API and nothing is stored; it
// cannot open another org's receiver, so never sees its settings.
func TestConsoleTenantCannotAddSourceToAnotherOrg(t *testing.T) {
	r := startApp(t, testConfig(""))
	code, body := r.call("POST", "/api/v1/sources", testAdmin, map[string]any{"type": "eventbridge", "name": "other receiver", "org": "other",
		"settings": map[string]any{"auth": map[string]any{"type": "API_KEY"}}})
	if code != http.StatusOK {
		t.Fatalf("create: %d %s", code, body)
	}
	var other struct {
		ID       string `json:"id"`
		Settings struct {
			Auth struct {
				Value string `json:"value"`
			} `json:"auth"`
		} `json:"settings"`
	}
	_ = json.Unmarshal([]byte(body), &other)
	acme := createToken(t, r, "acme-sources", "acme", "logs.read", "sources.manage")
	c, csrf := consoleClient(t, r, acme)
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.PostForm(r.base+"/console/sources/new", url.Values{"csrf": {csrf}, "type": {"eventbridge"}, "name": {"planted"},
		"org": {"other"}, "s.auth.type": {"API_KEY"}})
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(page), "may not manage sources of org other") || strings.Contains(string(page), "source-created") {
		t.Errorf("acme adding to other: got %d %s, want the API's refusal", resp.StatusCode, page)
	}
	_, list := r.call("GET", "/api/v1/sources", testAdmin, nil)
	if strings.Contains(list, "planted") {
		t.Fatalf("a source was stored: %s", list)
	}
	for _, p := range []string{"/console/sources/" + other.ID, "/console/sources"} {
		resp, err := c.Get(r.base + p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(b), "other receiver") || (other.Settings.Auth.Value != "" && strings.Contains(string(b), other.Settings.Auth.Value)) {
			t.Errorf("GET %s as acme: got %d with the other org's receiver", p, resp.StatusCode)
		}
	}
	for _, action := range []string{"deactivate", "delete"} {
		resp, err := c.PostForm(r.base+"/console/sources/"+other.ID+"/lifecycle", url.Values{"csrf": {csrf}, "action": {action}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s as acme: got %d, want 404", action, resp.StatusCode)
		}
	}
	if _, body := r.call("GET", "/api/v1/sources/"+other.ID, testAdmin, nil); !strings.Contains(body, `"status":"ACTIVE"`) {
		t.Errorf("the other org's receiver changed: %s", body)
	}
}

func TestConsoleReplayProgress(t *testing.T) {
	r := startApp(t, testConfig(""))
	hook := newWebhook(t)
	id := createWebhookStream(t, r, testAdmin, "", "replayed", hook.srv.URL+"/hook")
	ids := ingest(t, r, testAdmin, "user.session.start", 30)
	wait.Eventually(t, "the events delivered", func() bool { return hook.deliveries(ids[len(ids)-1]) >= 1 },
		wait.Within(30*time.Second), wait.Every(100*time.Millisecond))

	b := newBrowser(t, r.base)
	b.signIn(testAdmin)
	b.open("/console/streams/" + id)
	b.navigateBy("replay", chromedp.Click(chromedp.CSS("#replay")))
	if got := b.text("#notice"); !strings.HasPrefix(got, "Replay started from") {
		t.Fatalf("replay: got %q", got)
	}
	if n := b.count("#op-state[data-kind=replay]"); n != 1 {
		t.Fatalf("after replay: got no progress block (page %s)", b.body())
	}
	b.shot("stream-replay")
	// The page follows the lag down to 0 without a reload.
	wait.Eventually(t, "the replay progress to reach done", func() bool {
		st, _ := chromedp.Run(b.ctx, chromedp.AttributeValue(chromedp.CSS("#op-state"), "data-running"))
		return st.Value == "false"
	}, wait.Within(30*time.Second), wait.Every(200*time.Millisecond))
	if got := b.text("#op-percent"); got != "100%" {
		t.Errorf("replay done: got %s, want 100%%", got)
	}
	if got := b.text("#op-left"); got != "0" {
		t.Errorf("replay done: got %s left, want 0", got)
	}
	if n := hook.deliveries(ids[0]); n < 2 {
		t.Errorf("replayed event: got %d deliveries, want 2", n)
	}
}

// TestConsoleRedriveProgress: while a redrive runs (the destination takes
// each dead letter only when the test lets it), the stream's page counts
// the dead letters left going down, then shows the redrive done.
func TestConsoleRedriveProgress(t *testing.T) {
	r := startApp(t, testConfig(""))
	var (
		mu       sync.Mutex
		accept   bool
		accepted int
	)
	release, done := make(chan struct{}, 3), make(chan struct{})
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		mu.Lock()
		ok := accept
		mu.Unlock()
		if !ok {
			http.Error(w, "refused by the test", http.StatusUnprocessableEntity)
			return
		}
		select {
		case <-release:
		case <-req.Context().Done():
			return
		case <-done:
			http.Error(w, "the test ended", http.StatusServiceUnavailable)
			return
		}
		mu.Lock()
		accepted++
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(hook.Close)
	t.Cleanup(func() { close(done) }) // before hook.Close: no handler waits on
	code, body := r.call("POST", "/api/v1/logStreams", testAdmin, map[string]any{"type": "http", "name": "slow hook",
		"settings": map[string]any{"url": hook.URL + "/hook", "body": "event", "maxEvents": 1}})
	if code != http.StatusOK {
		t.Fatalf("create stream: %d %s", code, body)
	}
	var st struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal([]byte(body), &st)
	ingest(t, r, testAdmin, refuseType, 3)

	b := newBrowser(t, r.base)
	b.signIn(testAdmin)
	wait.Eventually(t, "3 dead letters", func() bool {
		b.open("/console/streams/" + st.ID)
		return b.count("#dead-letters tbody tr") == 3
	}, wait.Within(30*time.Second), wait.Every(300*time.Millisecond))
	mu.Lock()
	accept = true
	mu.Unlock()
	// The form is sent after the count; its answer waits for the hook.
	b.do("redrive", chromedp.Click(chromedp.CSS("#redrive")))
	left := func() string {
		s, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.querySelector('#op-state[data-kind=redrive] #op-left')?.textContent ?? ''`))
		return s
	}
	wait.Eventually(t, "the page to count 3 left", func() bool { return left() == "3" }, wait.Within(20*time.Second), wait.Every(100*time.Millisecond))
	release <- struct{}{}
	wait.Eventually(t, "the page to count 2 left", func() bool { return left() == "2" }, wait.Within(20*time.Second), wait.Every(100*time.Millisecond))
	pct, _ := chromedp.Run(b.ctx, chromedp.AttributeValue(chromedp.CSS("#op-progress-bar"), "value"))
	if pct.Value != "33" {
		t.Errorf("one of 3 redriven: got progress %q, want 33", pct.Value)
	}
	b.shot("stream-redrive")
	release <- struct{}{}
	release <- struct{}{}
	wait.Eventually(t, "the redrive's answer", func() bool {
		s, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.getElementById('notice')?.textContent ?? ''`))
		return strings.Contains(s, "3 dead letters redriven")
	}, wait.Within(20*time.Second), wait.Every(100*time.Millisecond))
	if got, pct := b.text("#op-redriven"), b.text("#op-percent"); got != "3" || pct != "100%" {
		t.Errorf("redrive done: got %s redriven, %s; want 3, 100%%", got, pct)
	}
	if got := b.text("#op-from"); got != "3" {
		t.Errorf("redrive done: got from %s, want 3", got)
	}
}

// TestConsoleVerifyOktaSource: the add form's Verify makes one real
// System Log request with the typed token (the sources API's dry run)
// and shows Okta's answer: a bad token its 401 and error code, a good
// one "Verified"; nothing is stored either way, and the token never
// comes back to the browser.
func TestConsoleVerifyOktaSource(t *testing.T) {
	r := startApp(t, testConfig(""))
	const good, bad = "okta-verify-good-token-0123456789", "okta-verify-bad-token-0123456789"
	org := oktatest.New(oktatest.Config{APIToken: good})
	t.Cleanup(org.Close)
	b := newBrowser(t, r.base)
	b.signIn(testAdmin)
	fill := func(tok string) {
		b.open("/console/sources/new?type=okta")
		b.do("fill the form",
			chromedp.WaitVisible(chromedp.CSS("#source-form")),
			chromedp.SendKeys(chromedp.CSS("#name"), "verified okta"),
			chromedp.SendKeys(chromedp.CSS("#org"), "acme"),
			chromedp.SendKeys(chromedp.CSS(`[id="s.baseUrl"]`), org.URL),
			chromedp.SetValue(chromedp.CSS(`[id="s.auth.type"]`), "SSWS"),
			chromedp.SendKeys(chromedp.CSS(`[id="s.auth.token"]`), tok))
	}
	fill(bad)
	b.navigateBy("verify a bad token", chromedp.Click(chromedp.CSS("#source-verify")))
	if got := b.body(); !strings.Contains(got, "401 Unauthorized") || !strings.Contains(got, "E0000011 Invalid token provided") {
		t.Errorf("bad token: got %s, want Okta's 401 and its error", got)
	}
	if n := b.count("#source-verified"); n != 0 {
		t.Errorf("bad token: the page says verified")
	}
	b.shot("source-verify-failed")
	if html := b.pageHTML(); strings.Contains(html, bad) {
		t.Error("the refused form sends the token back")
	}
	fill(good)
	b.navigateBy("verify a good token", chromedp.Click(chromedp.CSS("#source-verify")))
	if got := b.text("#source-verified"); !strings.Contains(got, "Verified") {
		t.Errorf("good token: got %q (page %s), want Verified", got, b.body())
	}
	if got := b.text("#notice"); !strings.Contains(got, "Nothing was stored") {
		t.Errorf("good token: got notice %q", got)
	}
	b.shot("source-verify")
	if html := b.pageHTML(); strings.Contains(html, good) {
		t.Error("the verified form sends the token back")
	}
	if n := org.Stats().Requests; n != 2 {
		t.Errorf("the org saw %d requests, want 2 (one per Verify)", n)
	}
	code, body := r.call("GET", "/api/v1/sources", testAdmin, nil)
	if code != 200 || strings.Contains(body, "verified okta") {
		t.Errorf("sources after Verify: got %d %s, want none stored", code, body)
	}
}
