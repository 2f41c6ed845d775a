package app

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/auditstream/auditstream/internal/wait"
)

// The console's stream editing, delivery chart, live tail and source
// pages, driven in a real Chromium against a real serve.

// signingSecret is a webhook's write-only setting the pages must never show.
var signingSecret = "whsec_" + base64.StdEncoding.EncodeToString([]byte("console-test-signing-key-0123456"))

// createWebhookStream makes an http stream with a signing secret through
// the API and returns its id.
func createWebhookStream(t *testing.T, r *running, token, org, name, hookURL string) string {
	t.Helper()
	in := map[string]any{"type": "http", "name": name, "settings": map[string]any{"url": hookURL, "body": "event",
		"signing": map[string]any{"secret": signingSecret}}}
	if org != "" {
		in["org"] = org
	}
	code, body := r.call("POST", "/api/v1/logStreams", token, in)
	if code != http.StatusOK {
		t.Fatalf("create stream: %d %s", code, body)
	}
	var out struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal([]byte(body), &out)
	return out.ID
}

// pageHTML is the whole document as the browser holds it (inputs'
// values included).
func (b *browser) pageHTML() string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](
		`document.documentElement.outerHTML + [...document.querySelectorAll('input,textarea')].map(e => e.value).join('\n')`))
	if err != nil {
		b.t.Fatalf("page HTML: %v", err)
	}
	return s
}

func TestConsoleEditStreamSettings(t *testing.T) {
	r := startApp(t, testConfig(""))
	hook := newWebhook(t)
	id := createWebhookStream(t, r, testAdmin, "", "edit me", hook.srv.URL+"/hook")
	b := newBrowser(t, r.base)
	b.signIn(testAdmin)

	// Deliveries show in the stream's chart of the last hour.
	ingest(t, r, testAdmin, "user.session.start", 3)
	wait.Eventually(t, "the chart to count 3 deliveries", func() bool {
		b.open("/console/streams/" + id)
		v, err := chromedp.Run(b.ctx, chromedp.AttributeValue(chromedp.CSS("#delivery-chart svg"), "data-delivered"))
		n, _ := strconv.Atoi(v.Value)
		return err == nil && n >= 3
	}, wait.Within(30*time.Second), wait.Every(300*time.Millisecond))
	if n := b.count("#delivery-chart svg rect.ok"); n != 60 {
		t.Errorf("chart: got %d minutes, want 60", n)
	}
	b.shot("stream-chart")

	b.navigateBy("edit", chromedp.Click(chromedp.CSS("#edit-settings")))
	b.do("the form", chromedp.WaitVisible(chromedp.CSS("#edit-stream")))
	if html := b.pageHTML(); strings.Contains(html, signingSecret) || strings.Contains(html, "console-test-signing") {
		t.Fatal("the edit page holds the signing secret")
	}
	if got := b.text(`[id="state-signing.secret"]`); !strings.HasPrefix(got, "set") {
		t.Errorf("secret state: got %q, want set", got)
	}
	if got, _ := chromedp.Run(b.ctx, chromedp.Value(chromedp.CSS(`[id="s.url"]`))); got != hook.srv.URL+"/hook" {
		t.Errorf("url input: got %q, want the stored url", got)
	}
	b.shot("stream-edit")

	// Bad values: the API's causes are shown next to their setting, and
	// nothing is stored. Moving the url to another host needs the secret
	// typed again.
	b.do("another host", chromedp.SetValue(chromedp.CSS(`[id="s.url"]`), "https://nowhere.example/x"))
	b.navigateBy("save", chromedp.Click(chromedp.CSS("#save-settings")))
	if b.count(`[id="field-signing.secret"] .field-error`) != 1 || !strings.Contains(b.text(`[id="field-signing.secret"] .field-error`), "sent again") {
		t.Fatalf("another host: got no error next to the secret (page %s)", b.body())
	}
	b.do("a bad body", chromedp.SetValue(chromedp.CSS(`[id="s.url"]`), hook.srv.URL+"/hook"),
		chromedp.SetValue(chromedp.CSS(`[id="s.body"]`), "weird"))
	b.navigateBy("save", chromedp.Click(chromedp.CSS("#save-settings")))
	if b.count(`[id="field-body"] .field-error`) != 1 || !strings.Contains(b.text(`[id="field-body"] .field-error`), "weird") {
		t.Fatalf("bad body: got no error next to body (page %s)", b.body())
	}
	b.shot("stream-edit-error")
	if html := b.pageHTML(); strings.Contains(html, signingSecret) {
		t.Fatal("the refused form holds the signing secret")
	}
	_, body := r.call("GET", "/api/v1/logStreams/"+id, testAdmin, nil)
	if strings.Contains(body, "nowhere.example") || strings.Contains(body, "weird") {
		t.Fatalf("a refused edit was stored: %s", body)
	}

	// The filter has the live preview against recent events.
	if _, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`(document.getElementById('filter').value = '') === ''`)); err != nil {
		t.Fatal(err)
	}
	b.do("type a filter", chromedp.SendKeys(chromedp.CSS("#filter"), `{"detail": {"eventType": ["user.session.start"]}}`),
		chromedp.WaitVisible(chromedp.CSS("#edit-preview #matched")))
	if got := b.text("#edit-preview #matched"); got != "3" {
		t.Errorf("filter preview: got %s matches, want the 3 events sent", got)
	}

	// A good change is saved; the secret, not typed, is kept.
	b.do("change settings",
		chromedp.SetValue(chromedp.CSS(`[id="s.url"]`), hook.srv.URL+"/hook2"),
		chromedp.SetValue(chromedp.CSS(`[id="s.body"]`), "event"),
		chromedp.SetValue(chromedp.CSS(`[id="s.maxEvents"]`), "7"),
		chromedp.SetValue(chromedp.CSS("#name"), "edited"),
		chromedp.SetValue(chromedp.CSS("#filter"), `{"detail": {"eventType": [{"prefix": "user."}]}}`))
	b.navigateBy("save", chromedp.Click(chromedp.CSS("#save-settings")))
	if got := b.text("#notice"); got != "Settings saved" {
		t.Fatalf("save: got notice %q (page %s), want Settings saved", got, b.body())
	}
	if html := b.pageHTML(); strings.Contains(html, signingSecret) {
		t.Fatal("the detail page holds the signing secret")
	}
	_, body = r.call("GET", "/api/v1/logStreams/"+id, testAdmin, nil)
	var got struct {
		Name       string          `json:"name"`
		Settings   map[string]any  `json:"settings"`
		Filter     json.RawMessage `json:"filter"`
		SecretsSet []string        `json:"secretsSet"`
	}
	_ = json.Unmarshal([]byte(body), &got)
	if got.Name != "edited" || got.Settings["url"] != hook.srv.URL+"/hook2" || got.Settings["maxEvents"] != 7.0 ||
		!strings.Contains(string(got.Filter), "user.") || len(got.SecretsSet) != 1 {
		t.Fatalf("after save: got %s, want the new name, url, maxEvents and filter, the secret kept", body)
	}
	// The change is audited with the signed-in identity as actor.
	code, logs := r.call("GET", "/api/v1/logs?filter="+url.QueryEscape(`eventType eq "system.log_stream.lifecycle.update"`), testAdmin, nil)
	if code != 200 || !strings.Contains(logs, `"alternateId":"`+envTokenNameForTest(t, r)+`"`) {
		t.Errorf("audit event of the edit: got %d %s", code, logs)
	}
}

// TestConsoleTenantCannotReachOtherOrgs: an org's console session gets
// Okta's not-found for another org's stream and source, to read or to
// change, and nothing changes.
func TestConsoleTenantCannotReachOtherOrgs(t *testing.T) {
	r := startApp(t, testConfig(""))
	hook := newWebhook(t)
	other := createWebhookStream(t, r, testAdmin, "other", "other stream", hook.srv.URL+"/hook")
	code, body := r.call("POST", "/api/v1/sources", testAdmin, map[string]any{"type": "okta", "name": "other okta", "org": "other",
		"settings": map[string]any{"baseUrl": "http://127.0.0.1:9", "auth": map[string]any{"type": "SSWS", "token": "okta-token-0123456789"}}})
	if code != http.StatusOK {
		t.Fatalf("create source: %d %s", code, body)
	}
	var src struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal([]byte(body), &src)
	acme := createToken(t, r, "acme-console", "acme", "logs.read", "logStreams.manage", "sources.manage")
	c, csrf := consoleClient(t, r, acme)
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for _, p := range []string{"/console/streams/" + other, "/console/streams/" + other + "/edit", "/console/sources/" + src.ID} {
		resp, err := c.Get(r.base + p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound || strings.Contains(string(b), "other stream") || strings.Contains(string(b), "other okta") {
			t.Errorf("GET %s as acme: got %d, want 404 without the other org's object", p, resp.StatusCode)
		}
	}
	for _, p := range []struct {
		path string
		form url.Values
	}{
		{"/console/streams/" + other + "/edit", url.Values{"name": {"taken over"}, "s.url": {"https://evil.example"}}},
		{"/console/sources/" + src.ID + "/backfill", url.Values{"since": {time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)}}},
	} {
		p.form.Set("csrf", csrf)
		resp, err := c.PostForm(r.base+p.path, p.form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("POST %s as acme: got %d, want 404", p.path, resp.StatusCode)
		}
	}
	// The live tail shows acme's events only.
	since := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339Nano)
	otherWrite := createToken(t, r, "other-writer", "other", "events.write")
	acmeWrite := createToken(t, r, "acme-writer", "acme", "events.write")
	otherIDs := ingest(t, r, otherWrite, "user.session.start", 2)
	acmeIDs := ingest(t, r, acmeWrite, "user.session.start", 2)
	var tail string
	wait.Eventually(t, "acme's tail to show its events", func() bool {
		resp, err := c.Get(r.base + "/console/logs/tail?" + url.Values{"since": {since}}.Encode())
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		tail = string(b)
		return strings.Contains(tail, acmeIDs[1])
	}, wait.Within(20*time.Second), wait.Every(200*time.Millisecond))
	for _, id := range otherIDs {
		if strings.Contains(tail, id) {
			t.Errorf("acme's tail shows the other org's event %s", id)
		}
	}
	_, body = r.call("GET", "/api/v1/logStreams/"+other, testAdmin, nil)
	if strings.Contains(body, "taken over") || strings.Contains(body, "evil.example") {
		t.Fatalf("acme changed another org's stream: %s", body)
	}
	_, body = r.call("GET", "/api/v1/sources/"+src.ID+"/status", testAdmin, nil)
	if strings.Contains(body, "backfill") {
		t.Fatalf("acme started a backfill of another org's source: %s", body)
	}
}

func TestConsoleSystemLogLiveTail(t *testing.T) {
	r := startApp(t, testConfig(""))
	before := ingest(t, r, testAdmin, "user.tail.seen", 1)[0]
	b := newBrowser(t, r.base)
	b.signIn(testAdmin)
	b.open("/console/logs?filter=" + url.QueryEscape(`eventType eq "user.tail.seen"`))
	b.do("start the tail", chromedp.WaitEnabled(chromedp.CSS("#tail-toggle")), chromedp.Click(chromedp.CSS("#tail-toggle")),
		chromedp.WaitVisible(chromedp.CSS(`#tail-section[data-state="running"]`)))
	seen := ingest(t, r, testAdmin, "user.tail.seen", 2)
	other := ingest(t, r, testAdmin, "user.tail.other", 1)[0]
	row := func(id string) string { return `#tail tbody tr[data-uuid="` + id + `"]` }
	wait.Eventually(t, "the tail to show the events ingested after the page opened", func() bool {
		return b.count(row(seen[0])) == 1 && b.count(row(seen[1])) == 1
	}, wait.Within(30*time.Second), wait.Every(200*time.Millisecond))
	if b.count(row(other)) != 0 {
		t.Errorf("tail: got an event the filter excludes")
	}
	if b.count(row(before)) != 0 {
		t.Errorf("tail: got an event from before the page opened")
	}
	// Newest on top.
	first, err := chromedp.Run(b.ctx, chromedp.AttributeValue(chromedp.CSS("#tail tbody tr"), "data-uuid"))
	if err != nil || first.Value != seen[1] {
		t.Errorf("tail order: got %q first, want the newest %s", first.Value, seen[1])
	}
	b.shot("systemlog-tail")

	// Paused, it asks for nothing; resumed, it catches up from where it
	// stopped.
	b.do("pause", chromedp.Click(chromedp.CSS("#tail-toggle")), chromedp.WaitVisible(chromedp.CSS(`#tail-section[data-state="paused"]`)))
	if got := b.text("#tail-toggle"); got != "Resume live tail" {
		t.Errorf("paused: got button %q, want Resume live tail", got)
	}
	later := ingest(t, r, testAdmin, "user.tail.seen", 1)[0]
	b.do("resume", chromedp.Click(chromedp.CSS("#tail-toggle")))
	wait.Eventually(t, "the resumed tail to show the event sent while paused", func() bool { return b.count(row(later)) == 1 },
		wait.Within(30*time.Second), wait.Every(200*time.Millisecond))
	if n := b.count("#tail tbody tr"); n != 3 {
		t.Errorf("tail: got %d rows, want 3 (each event once)", n)
	}
}

// fakeOkta is an Okta org's System Log API for the backfill test: bounded
// queries (since and until) answer pages of two events in published
// order with Okta's next links, and every page after the first waits
// until the test opens the gate; polling queries find nothing new.
type fakeOkta struct {
	srv    *httptest.Server
	events []json.RawMessage // by published
	pubs   []time.Time
	gate   chan struct{}
}

func newFakeOkta(t *testing.T, token string, published []time.Time) *fakeOkta {
	f := &fakeOkta{gate: make(chan struct{}), pubs: published}
	for i, p := range published {
		f.events = append(f.events, json.RawMessage(fmt.Sprintf(`{"uuid":"okta-backfill-%d","published":%q,"eventType":"user.session.start",`+
			`"displayMessage":"User login to Okta","actor":{"id":"00u1","type":"User","alternateId":"bob@example.com"},"outcome":{"result":"SUCCESS"}}`,
			i, p.UTC().Format("2006-01-02T15:04:05.000Z"))))
	}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/logs" || r.Header.Get("Authorization") != "SSWS "+token {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"errorCode":"E0000011","errorSummary":"Invalid token provided"}`)
			return
		}
		q := r.URL.Query()
		w.Header().Set("Content-Type", "application/json")
		self := fmt.Sprintf(`<%s/api/v1/logs?%s>; rel="self"`, f.srv.URL, q.Encode())
		if q.Get("until") == "" { // polling: nothing new
			w.Header().Add("Link", self)
			w.Header().Add("Link", fmt.Sprintf(`<%s/api/v1/logs?%s>; rel="next"`, f.srv.URL, q.Encode()))
			_, _ = io.WriteString(w, "[]")
			return
		}
		since, _ := time.Parse(time.RFC3339Nano, q.Get("since"))
		until, _ := time.Parse(time.RFC3339Nano, q.Get("until"))
		var in []json.RawMessage
		for i, p := range f.pubs {
			if !p.Before(since) && p.Before(until) {
				in = append(in, f.events[i])
			}
		}
		off, _ := strconv.Atoi(q.Get("after"))
		if off > 0 {
			select {
			case <-f.gate:
			case <-r.Context().Done():
				return
			}
		}
		end := min(len(in), off+2)
		w.Header().Add("Link", self)
		if end < len(in) {
			q.Set("after", strconv.Itoa(end))
			w.Header().Add("Link", fmt.Sprintf(`<%s/api/v1/logs?%s>; rel="next"`, f.srv.URL, q.Encode()))
		}
		b, _ := json.Marshal(in[min(off, len(in)):end])
		_, _ = w.Write(b)
	}))
	t.Cleanup(f.srv.Close)
	t.Cleanup(func() {
		select {
		case <-f.gate:
		default:
			close(f.gate)
		}
	})
	return f
}

func TestConsoleSourceBackfillProgress(t *testing.T) {
	r := startApp(t, testConfig(""))
	now := time.Now().UTC()
	var pubs []time.Time
	for i := range 6 {
		pubs = append(pubs, now.Add(-time.Duration(7-i)*time.Hour))
	}
	const oktaToken = "okta-token-0123456789"
	org := newFakeOkta(t, oktaToken, pubs)
	code, body := r.call("POST", "/api/v1/sources", testAdmin, map[string]any{"type": "okta", "name": "acme okta", "org": "acme",
		"settings": map[string]any{"baseUrl": org.srv.URL, "auth": map[string]any{"type": "SSWS", "token": oktaToken}}})
	if code != http.StatusOK {
		t.Fatalf("create source: %d %s", code, body)
	}
	var src struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal([]byte(body), &src)

	b := newBrowser(t, r.base)
	b.signIn(testAdmin)
	b.open("/console/sources")
	b.navigateBy("open the source", chromedp.Click(chromedp.CSS(`#sources a[href="/console/sources/`+src.ID+`"]`)))
	b.do("source page", chromedp.WaitVisible(chromedp.CSS("#source-props")))
	if html := b.pageHTML(); strings.Contains(html, oktaToken) {
		t.Fatal("the source page holds the Okta API token")
	}
	wait.Eventually(t, "the source to poll", func() bool {
		b.open("/console/sources/" + src.ID)
		return !strings.Contains(b.text("#source-last-poll"), "—")
	}, wait.Within(30*time.Second), wait.Every(300*time.Millisecond))
	if n := b.count("#no-backfill"); n != 1 {
		t.Fatalf("before a backfill: got %q", b.text("#backfill"))
	}

	// Backfill from the default (a day ago): the first page is stored,
	// the next waits; the page follows the progress without a reload.
	b.navigateBy("start the backfill", chromedp.Click(chromedp.CSS("#backfill-start")))
	if got := b.text("#notice"); !strings.HasPrefix(got, "Backfill started from") {
		t.Fatalf("backfill: got notice %q (page %s)", got, b.body())
	}
	wait.Eventually(t, "the page to show the first page's progress", func() bool {
		return b.text("#backfill-events") == "2"
	}, wait.Within(30*time.Second), wait.Every(200*time.Millisecond))
	pct, err := chromedp.Run(b.ctx, chromedp.AttributeValue(chromedp.CSS("#backfill-progress"), "value"))
	if n, _ := strconv.Atoi(pct.Value); err != nil || n <= 0 || n >= 100 {
		t.Errorf("running backfill: got progress %q (%v), want between 0 and 100", pct.Value, err)
	}
	if got, _ := chromedp.Run(b.ctx, chromedp.AttributeValue(chromedp.CSS("#backfill-state"), "data-state")); got.Value != "RUNNING" {
		t.Errorf("running backfill: got state %q", got.Value)
	}
	b.shot("source-backfill")
	close(org.gate)
	wait.Eventually(t, "the page to show the backfill done", func() bool {
		st, _ := chromedp.Run(b.ctx, chromedp.AttributeValue(chromedp.CSS("#backfill-state"), "data-state"))
		return st.Value == "DONE"
	}, wait.Within(30*time.Second), wait.Every(200*time.Millisecond))
	if got, want := b.text("#backfill-events"), "6"; got != want {
		t.Errorf("done: got %s events, want %s", got, want)
	}
	if got := b.text("#backfill-percent"); got != "100%" {
		t.Errorf("done: got %s, want 100%%", got)
	}
	// The events are in acme's System Log.
	code, logs := r.call("GET", "/api/v1/logs?filter="+url.QueryEscape(`actor.alternateId eq "bob@example.com"`), testAdmin, nil)
	if code != 200 || strings.Count(logs, "okta-backfill-") != 6 {
		t.Errorf("backfilled events: got %d %s, want 6", code, logs)
	}
}
