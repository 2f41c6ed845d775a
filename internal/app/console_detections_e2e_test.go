package app

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/wait"
)

// bruteForceRule is the id of testdata/detections/brute_force.yml.
const bruteForceRule = "2c0f6a0e-6a57-4f0e-9d0e-0b6f3f1b1a01"

// detectionsApp is serve with the test pack "ours" and six failed
// sign-ins of jane (00uJANE) in org acme, raising one brute-force
// detection; bob (00uBOB) of org other signs in once. It returns the
// service, acme's console token (every read scope and detections.manage)
// and other's.
func detectionsApp(t *testing.T) (r *running, acme, other string) {
	t.Helper()
	cfg := testConfig("")
	cfg.Detections.Packs = []config.DetectionPack{{Name: "ours", Path: filepath.Join("testdata", "detections")}}
	cfg.Detections.Logsources = []config.DetectionLogsource{{Product: "okta", Sources: []string{"auditstream."}}}
	r = startApp(t, cfg)
	scopes := []string{"logs.read", "detections.read", "detections.manage", "activity.read"}
	acme = createToken(t, r, "acme-console", "acme", scopes...)
	other = createToken(t, r, "other-console", "other", scopes...)
	acmeW := r.token("acme", "events.write")
	otherW := r.token("other", "events.write")
	start := time.Now().UTC().Add(-10 * time.Second)
	for i := range 6 {
		ev := map[string]any{"uuid": fmt.Sprintf("con-fail-%d", i), "eventType": "user.session.start",
			"published": start.Add(time.Duration(i) * time.Second).Format(time.RFC3339Nano), "version": "0", "severity": "WARN",
			"displayMessage": "User login to Okta",
			"actor":          map[string]any{"id": "00uJANE", "type": "User", "alternateId": "jane@example.com", "displayName": "Jane Doe"},
			"outcome":        map[string]any{"result": "FAILURE", "reason": "INVALID_CREDENTIALS"},
			"client":         map[string]any{"ipAddress": "203.0.113.7"}}
		if code, body := r.call("POST", "/api/v1/events", acmeW, ev); code != http.StatusAccepted {
			t.Fatalf("ingest: got %d %s, want 202", code, body)
		}
	}
	bob := map[string]any{"uuid": "con-bob-1", "eventType": "user.session.start", "published": start.Format(time.RFC3339Nano),
		"actor": map[string]any{"id": "00uBOB", "type": "User", "alternateId": "bob@example.com"}, "outcome": map[string]any{"result": "SUCCESS"}}
	if code, body := r.call("POST", "/api/v1/events", otherW, bob); code != http.StatusAccepted {
		t.Fatalf("ingest bob: got %d %s, want 202", code, body)
	}
	wait.Eventually(t, "the detection in /api/v1/detections", func() bool {
		_, body := r.call("GET", "/api/v1/detections", acme, nil)
		return strings.Contains(body, bruteForceRule)
	}, wait.Within(20*time.Second))
	return r, acme, other
}

// TestConsoleDetections: the Detections pages show the pack's rules with
// the firing, a rule is disabled and enabled again, a detection is
// acknowledged with a note (each an audit event with the signed-in token
// as actor), its events open in the System Log, and a backtest runs.
func TestConsoleDetections(t *testing.T) {
	r, acme, _ := detectionsApp(t)
	var dets []struct {
		ID     string   `json:"id"`
		Events []string `json:"events"`
	}
	_, body := r.call("GET", "/api/v1/detections", acme, nil)
	if err := json.Unmarshal([]byte(body), &dets); err != nil || len(dets) != 1 {
		t.Fatalf("detections: got %s, want one", body)
	}
	b := newBrowser(t, r.base)
	b.signIn(acme)

	// The overview lists it.
	b.open("/console/")
	b.do("overview", chromedp.WaitVisible(chromedp.CSS("#overview-detections")))
	if got := b.text("#alerts"); !strings.Contains(got, "Okta brute force against one user") || !strings.Contains(got, "00uJANE") {
		t.Errorf("overview detections: got %q, want the brute-force detection of 00uJANE", got)
	}

	// The list: rules by pack with their firings of the last 24 h.
	b.open("/console/detections")
	b.do("detections", chromedp.WaitVisible(chromedp.CSS("#pack-ours")))
	row := `tr[data-rule="` + bruteForceRule + `"]`
	if got := b.text(row + " .firings"); got != "1" {
		t.Errorf("firings: got %q, want 1", got)
	}
	if got := b.text(row + " .enabled"); got != "yes" {
		t.Errorf("enabled: got %q, want yes", got)
	}
	if n := b.count("section.pack"); n < 2 {
		t.Errorf("packs: got %d, want ours and the shipped pack", n)
	}
	if got := b.text("#alerts"); !strings.Contains(got, "OPEN") || !strings.Contains(got, "high") {
		t.Errorf("alerts: got %q, want the open high detection", got)
	}
	b.shot("detections")
	// At phone width the page does not scroll sideways.
	b.do("phone width", chromedp.EmulateViewport(390, 844), chromedp.Reload())
	if w, err := chromedp.Run(b.ctx, chromedp.Evaluate[int]("document.documentElement.scrollWidth")); err != nil || w > 390 {
		t.Errorf("phone width: got a page %d px wide (%v), want at most 390", w, err)
	}
	b.shot("detections-phone")
	b.do("desktop width", chromedp.EmulateViewport(1280, 900))

	// The rule: disable, enable.
	b.navigateBy("open the rule", chromedp.Click(chromedp.CSS(row+" a")))
	if got := b.text("#rule-description"); !strings.Contains(got, "Five or more failed sign-ins") {
		t.Errorf("rule description: got %q", got)
	}
	if got := b.text("#alerts"); !strings.Contains(got, "00uJANE") {
		t.Errorf("rule's detections: got %q, want jane's", got)
	}
	if got := b.text("#rule-text"); !strings.Contains(got, "group-by: [actor.id]") || !strings.Contains(got, "id: "+bruteForceRule) {
		t.Errorf("rule text: got %q, want the rule's YAML", got)
	}
	if got := b.text("#rule-suppress"); got != "1h0m0s after a detection, per actor.id" {
		t.Errorf("suppression: got %q, want the rule's 1h per actor.id", got)
	}
	b.navigateBy("disable", chromedp.Click(chromedp.CSS("#rule-deactivate")))
	if got, n := b.text("#rule-enabled"), b.text("#notice"); got != "no" || n != "Rule deactivated" {
		t.Fatalf("disable: got enabled %q, notice %q, want no, Rule deactivated", got, n)
	}
	if _, body := r.call("GET", "/api/v1/detections/rules/"+bruteForceRule, acme, nil); !strings.Contains(body, `"enabled":false`) {
		t.Errorf("after disable the API says %s, want enabled false", body)
	}
	b.shot("detection-rule")
	b.navigateBy("enable", chromedp.Click(chromedp.CSS("#rule-activate")))
	if got := b.text("#rule-enabled"); got != "yes" {
		t.Fatalf("enable: got enabled %q, want yes", got)
	}
	for _, typ := range []string{"system.detection_rule.lifecycle.deactivate", "system.detection_rule.lifecycle.activate"} {
		wait.Eventually(t, "the audit event "+typ+" with the console's token as actor", func() bool {
			_, body := r.call("GET", "/api/v1/logs?filter="+url.QueryEscape(`eventType eq "`+typ+`"`), acme, nil)
			return strings.Contains(body, `"alternateId":"acme-console"`) && strings.Contains(body, bruteForceRule)
		}, wait.Within(10*time.Second))
	}

	// Backtest the rule from its page: it finds the detection, raises none.
	// It runs as a job: the page follows it with a progress bar against
	// the journal range and shows the result when it ended.
	b.navigateBy("backtest", chromedp.Click(chromedp.CSS("#bt-go")))
	if loc := b.location(); !strings.Contains(loc, "/console/detections/backtests/") {
		t.Fatalf("backtest: got page %s, want the job's page", loc)
	}
	b.do("backtest ended", chromedp.WaitVisible(chromedp.CSS("#bt-count")))
	if got := b.text("#bt-count"); got != "1" {
		t.Errorf("backtest: got %q detections, want 1 (page %s)", got, b.body())
	}
	if got, v := b.text("#bt-status"), b.attr("#bt-progress", "value"); got != "SUCCEEDED" || v != "100" {
		t.Errorf("backtest: got status %q, bar at %q, want SUCCEEDED at 100", got, v)
	}
	if got := b.text("#bt-matches"); got != "1" {
		t.Errorf("backtest: got %q matches, want 1", got)
	}
	if got := b.text("#bt-position"); !regexp.MustCompile(`^\d+ of \d+–\d+$`).MatchString(got) {
		t.Errorf("backtest: got position %q, want N of first–last", got)
	}
	b.shot("detection-backtest")
	// Its matched events open in the System Log: jane's six failures.
	b.navigateBy("open the matched events", chromedp.Click(chromedp.CSS("#bt-logs")))
	b.do("events", chromedp.WaitVisible(chromedp.CSS("#events")))
	if n, page := b.count("#events tbody tr"), b.body(); n < 5 || !strings.Contains(page, "jane@example.com") {
		t.Errorf("backtest's events in the System Log: got %d rows, want jane's failures", n)
	}

	// The detection: its user with their login (from the activity
	// profile, once folded); acknowledge with a note.
	wait.Eventually(t, "jane's activity profile", func() bool {
		code, _ := r.call("GET", "/api/v1/activity/users/00uJANE", acme, nil)
		return code == http.StatusOK
	}, wait.Within(20*time.Second))
	b.open("/console/detections/alerts/" + dets[0].ID)
	b.do("detection", chromedp.WaitVisible(chromedp.CSS("#triage")))
	if got := b.text("#alert-user"); got != "00uJANE" {
		t.Errorf("detection's user: got %q, want 00uJANE", got)
	}
	if got := b.text("#alert-login"); got != "jane@example.com" {
		t.Errorf("detection's user login: got %q, want jane@example.com", got)
	}
	b.do("acknowledge", chromedp.Click(chromedp.CSS("#status-acknowledged")), chromedp.SendKeys(chromedp.CSS("#note"), "looking into it"))
	b.navigateBy("save", chromedp.Click(chromedp.CSS("#triage-go")))
	if got := b.text("#alert-status"); got != "ACKNOWLEDGED" {
		t.Fatalf("triage: got %q, want ACKNOWLEDGED", got)
	}
	if got := b.text("#alert-note"); got != "looking into it" {
		t.Errorf("note: got %q", got)
	}
	b.shot("detection")
	wait.Eventually(t, "the triage audit event with the console's token as actor", func() bool {
		_, body := r.call("GET", "/api/v1/logs?filter="+url.QueryEscape(`eventType eq "system.detection.update"`), acme, nil)
		return strings.Contains(body, "looking into it") && strings.Contains(body, `"alternateId":"acme-console"`)
	}, wait.Within(10*time.Second))

	// Its events in the System Log: the detection event and its events.
	wait.Eventually(t, "the detection event in the System Log", func() bool {
		_, body := r.call("GET", "/api/v1/logs?filter="+url.QueryEscape(`uuid eq "`+dets[0].ID+`"`), acme, nil)
		return strings.Contains(body, dets[0].ID)
	}, wait.Within(20*time.Second))
	b.navigateBy("open its events", chromedp.Click(chromedp.CSS("#alert-events")))
	b.do("events", chromedp.WaitVisible(chromedp.CSS("#events")))
	all, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`[...document.querySelectorAll('.event-json')].map(e => e.textContent).join('\n')`))
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range append([]string{dets[0].ID}, dets[0].Events...) {
		if !strings.Contains(all, id) {
			t.Errorf("System Log of the detection: event %s missing", id)
		}
	}
	if n, want := b.count("#events tbody tr"), 1+len(dets[0].Events); n != want || len(dets[0].Events) < 5 {
		t.Errorf("System Log of the detection: got %d rows, want %d (the detection and its %d events)", n, want, len(dets[0].Events))
	}
}

// TestConsoleUserActivity: a login finds the user; the profile shows
// the counts, a chart of the events per day, the detection about them,
// and links to their events in the System Log.
func TestConsoleUserActivity(t *testing.T) {
	r, acme, _ := detectionsApp(t)
	b := newBrowser(t, r.base)
	b.signIn(acme)
	wait.Eventually(t, "jane's profile with her six events and the detection", func() bool {
		_, body := r.call("GET", "/api/v1/activity/users/00uJANE", acme, nil)
		return strings.Contains(body, `"asActor":6`) && strings.Contains(body, `"title":"Okta brute force against one user"`)
	}, wait.Within(20*time.Second), wait.Seen(func() string {
		_, body := r.call("GET", "/api/v1/activity/users/00uJANE", acme, nil)
		return body
	}))
	// The user's events as the activity API answers them: the six
	// sign-ins and the detection event naming her.
	var evs []json.RawMessage
	events := func() string {
		_, body := r.call("GET", "/api/v1/activity/users/00uJANE/events", acme, nil)
		evs = nil
		_ = json.Unmarshal([]byte(body), &evs)
		return body
	}
	wait.Eventually(t, "jane's 7 events in the activity API", func() bool { events(); return len(evs) == 7 },
		wait.Within(20*time.Second), wait.Seen(events))
	b.open("/console/users")
	b.do("search by login", chromedp.WaitVisible(chromedp.CSS("#user-q")), chromedp.SendKeys(chromedp.CSS("#user-q"), "jane@example.com"))
	b.navigateBy("open", chromedp.Click(chromedp.CSS("#user-go")))
	if got := b.text("#user-id"); got != "00uJANE" {
		t.Fatalf("search by login: got user %q (page %s), want 00uJANE", got, b.location())
	}
	if got := b.text("#as-actor"); got != "6" {
		t.Errorf("as actor: got %q, want 6", got)
	}
	if got := b.text("#list-ip"); !strings.Contains(got, "203.0.113.7") {
		t.Errorf("IPs: got %q, want 203.0.113.7", got)
	}
	if got := b.text("#user-detections"); !strings.Contains(got, "Okta brute force against one user") {
		t.Errorf("detections: got %q", got)
	}
	sum, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`[...document.querySelectorAll('#day-chart g.day')].reduce((s, g) => s + Number(g.dataset.count), 0)`))
	if err != nil || sum != len(evs) {
		t.Errorf("chart: got %d events over its days (%v), want %d", sum, err, len(evs))
	}
	if n := b.count("#day-chart g.day"); n != 30 {
		t.Errorf("chart: got %d days, want 30", n)
	}
	if n := b.count("#user-events tbody tr"); n != len(evs) {
		t.Errorf("newest events: got %d rows, want %d", n, len(evs))
	}
	b.shot("user-activity")
	b.do("phone width", chromedp.EmulateViewport(390, 844), chromedp.Reload())
	if w, err := chromedp.Run(b.ctx, chromedp.Evaluate[int]("document.documentElement.scrollWidth")); err != nil || w > 390 {
		t.Errorf("phone width: got a page %d px wide (%v), want at most 390", w, err)
	}
	b.shot("user-activity-phone")
	b.do("desktop width", chromedp.EmulateViewport(1280, 900))
	b.navigateBy("open in the System Log", chromedp.Click(chromedp.CSS("#user-logs")))
	b.do("events", chromedp.WaitVisible(chromedp.CSS("#events")))
	if n := b.count("#events tbody tr"); n != len(evs) {
		t.Errorf("System Log of the user: got %d rows, want %d", n, len(evs))
	}
	// The user's name in the System Log leads back to the profile.
	b.navigateBy("the actor's link", chromedp.Click(chromedp.CSS("#events tbody tr:last-child a.user")))
	if got := b.text("#user-id"); got != "00uJANE" {
		t.Errorf("actor link: got user %q (page %s), want 00uJANE", got, b.location())
	}
	// A user id opens the profile too.
	b.open("/console/users?q=00uJANE")
	if got := b.text("#user-id"); got != "00uJANE" {
		t.Errorf("search by id: got %q", got)
	}
}

// TestConsoleDetectionsOrgScoped: another org's token sees none of
// acme's detections, uploaded rules or users, through any page.
func TestConsoleDetectionsOrgScoped(t *testing.T) {
	r, acme, other := detectionsApp(t)
	req := "title: Acme token created\nid: acme-token-created\nauthor: acme\nmatch: {detail: {eventType: [system.api_token.create]}}\n"
	hreq, _ := http.NewRequestWithContext(t.Context(), "POST", r.base+"/api/v1/detections/rules", strings.NewReader(req))
	hreq.Header.Set("Authorization", "SSWS "+acme)
	hreq.Header.Set("Content-Type", "application/yaml")
	resp, err := http.DefaultClient.Do(hreq)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("upload acme's rule: %v %v", err, resp.Status)
	}
	resp.Body.Close()
	_, body := r.call("GET", "/api/v1/detections", acme, nil)
	var dets []struct{ ID string }
	_ = json.Unmarshal([]byte(body), &dets)
	if len(dets) != 1 {
		t.Fatalf("acme's detections: got %s", body)
	}

	wait.Eventually(t, "acme's rule and bob's profile", func() bool {
		c1, _ := r.call("GET", "/api/v1/detections/rules/acme-token-created", acme, nil)
		c2, _ := r.call("GET", "/api/v1/activity/users/00uBOB", other, nil)
		_, logs := r.call("GET", "/api/v1/logs?filter="+url.QueryEscape(`actor.alternateId eq "bob@example.com"`), other, nil)
		return c1 == http.StatusOK && c2 == http.StatusOK && strings.Contains(logs, "00uBOB")
	}, wait.Within(20*time.Second))
	b := newBrowser(t, r.base)
	b.signIn(acme)
	b.open("/console/detections")
	if n := b.count(`tr[data-rule="acme-token-created"]`); n != 1 {
		t.Fatalf("acme's own rule: got %d rows, want 1", n)
	}
	b.navigateBy("sign out", chromedp.Click(chromedp.CSS(".who button")))

	b.signIn(other)
	b.open("/console/detections")
	b.do("detections", chromedp.WaitVisible(chromedp.CSS("#pack-ours")))
	if n := b.count(`tr[data-rule="acme-token-created"]`); n != 0 {
		t.Errorf("other sees acme's uploaded rule")
	}
	if got := b.text(`tr[data-rule="` + bruteForceRule + `"] .firings`); got != "0" {
		t.Errorf("other's firings of the pack rule: got %q, want 0", got)
	}
	if n := b.count("#alerts tbody tr[data-id]"); n != 0 || strings.Contains(b.body(), "00uJANE") {
		t.Errorf("other sees acme's detections: %q", b.text("#alerts"))
	}
	b.shot("detections-other-org")
	for _, p := range []string{"/console/detections/alerts/" + dets[0].ID, "/console/detections/rules/acme-token-created",
		"/console/users/00uJANE", "/console/users?q=jane@example.com", "/console/detections/alerts/" + dets[0].ID + "?org=acme"} {
		b.open(p)
		if got := b.text("#error"); !strings.Contains(got, "Not found") && !strings.Contains(got, "permission") {
			t.Errorf("%s as other: got %q, want not found or refused", p, got)
		}
		if page := b.body(); strings.Contains(page, "jane@example.com") && !strings.Contains(p, "jane") || strings.Contains(page, "Five or more") {
			t.Errorf("%s as other shows acme's data: %s", p, page)
		}
	}
	// Other's own user is there.
	b.open("/console/users?q=bob@example.com")
	if got := b.text("#user-id"); got != "00uBOB" {
		t.Errorf("other's own user: got %q (page %s)", got, b.body())
	}
	b.navigateBy("sign out", chromedp.Click(chromedp.CSS(".who button")))

	// An all-orgs admin picks the org.
	b.signIn(testAdmin)
	b.open("/console/detections")
	b.do("org picker", chromedp.WaitVisible(chromedp.CSS("#org-picker")), chromedp.SendKeys(chromedp.CSS("#org"), "acme"))
	b.navigateBy("show acme", chromedp.Submit(chromedp.CSS("#org-picker")))
	if n := b.count(`#alerts tr[data-id="` + dets[0].ID + `"]`); n != 1 {
		t.Fatalf("admin with org acme: got %d rows of acme's detection (page %s)", n, b.location())
	}
	b.navigateBy("open the detection", chromedp.Click(chromedp.CSS(`#alerts tr[data-id="`+dets[0].ID+`"] td:nth-child(2) a`)))
	b.navigateBy("open the user", chromedp.Click(chromedp.CSS("#alert-user")))
	if got := b.text("#user-id"); got != "00uJANE" {
		t.Errorf("admin: got user %q (page %s), want 00uJANE", got, b.location())
	}
}

// TestConsoleDetectionsCSRF: a rule change or a triage without the
// session's CSRF token is refused and changes nothing.
func TestConsoleDetectionsCSRF(t *testing.T) {
	r, acme, _ := detectionsApp(t)
	c, csrf := consoleClient(t, r, acme)
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	post := func(path string, form url.Values) int {
		resp, err := c.PostForm(r.base+path, form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	enabled := func() bool {
		_, body := r.call("GET", "/api/v1/detections/rules/"+bruteForceRule, acme, nil)
		return strings.Contains(body, `"enabled":true`)
	}
	path := "/console/detections/rules/" + bruteForceRule + "/deactivate"
	for _, form := range []url.Values{{}, {"csrf": {"wrong"}}} {
		if code := post(path, form); code != http.StatusForbidden {
			t.Fatalf("deactivate with csrf %q: got %d, want 403", form.Get("csrf"), code)
		}
	}
	if !enabled() {
		t.Fatal("a refused request disabled the rule")
	}
	if code := post(path, url.Values{"csrf": {csrf}}); code != http.StatusSeeOther {
		t.Fatalf("deactivate with the CSRF token: got %d, want 303", code)
	}
	if enabled() {
		t.Fatal("the rule is still enabled")
	}
	_, body := r.call("GET", "/api/v1/detections", acme, nil)
	var dets []struct{ ID string }
	_ = json.Unmarshal([]byte(body), &dets)
	if code := post("/console/detections/alerts/"+dets[0].ID, url.Values{"status": {"CLOSED"}}); code != http.StatusForbidden {
		t.Fatalf("triage without CSRF: got %d, want 403", code)
	}
	// A bad status is the API's validation error, shown on the page.
	if code := post("/console/detections/alerts/"+dets[0].ID, url.Values{"status": {"DONE"}, "csrf": {csrf}}); code != http.StatusBadRequest {
		t.Fatalf("triage with a bad status: got %d, want 400", code)
	}
	if _, body := r.call("GET", "/api/v1/detections/"+dets[0].ID, acme, nil); !strings.Contains(body, `"status":"OPEN"`) {
		t.Fatalf("refused triages changed the detection: %s", body)
	}
}
