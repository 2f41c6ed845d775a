package app

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/journal/journaltest"
	"github.com/auditstream/auditstream/internal/wait"
)

// attr is the attribute name of the first element matching sel ("" when
// it has none).
func (b *browser) attr(sel, name string) string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.AttributeValue(chromedp.CSS(sel), name))
	if err != nil {
		b.t.Fatalf("attribute %s of %s: %v (page %s)", name, sel, err, b.location())
	}
	return v.Value
}

// TestConsoleNativeRule: a native rule made in the console's form (its
// pattern in the filter editor, whose preview counts the matching events)
// is uploaded through the API as the signed-in token, listed enabled,
// raises a detection for an ingested matching event, and is edited; a
// rule the API refuses shows the API's causes next to the form.
func TestConsoleNativeRule(t *testing.T) {
	r, acme, _ := detectionsApp(t)
	b := newBrowser(t, r.base)
	b.signIn(acme)

	b.open("/console/detections")
	b.navigateBy("new native rule", chromedp.Click(chromedp.CSS("#rule-new")))
	id := b.attr("#rule-id", "value")
	if id == "" {
		t.Fatalf("the form proposes no id")
	}
	pattern := `{"detail": {"eventType": ["user.session.start"], "outcome": {"result": ["FAILURE"]}}}`
	b.do("fill the form",
		chromedp.SendKeys(chromedp.CSS("#rule-title"), "Failed sign-in (console)"),
		chromedp.SendKeys(chromedp.CSS("#rule-name"), "console_failed_signin"),
		chromedp.SetValue(chromedp.CSS("#rule-level"), "high"),
		chromedp.SendKeys(chromedp.CSS("#rule-description"), "Every failed sign-in."),
		chromedp.SetValue(chromedp.CSS("#rule-suppress-for"), "0"),
		chromedp.SendKeys(chromedp.CSS("#rule-match"), pattern))
	// The filter editor's preview: jane's six failures match, the rest not.
	b.do("preview", chromedp.WaitVisible(chromedp.CSS("#rule-preview #matched")))
	wait.Eventually(t, "the preview of the whole pattern", func() bool { return b.text("#rule-preview #matched") == "6" },
		wait.Within(10*time.Second), wait.Seen(func() string { return b.text("#rule-preview") }))
	if n, _ := strconv.Atoi(b.text("#rule-preview #unmatched")); n < 1 {
		t.Errorf("preview: got %d events not matching, want the detection and others", n)
	}
	b.shot("native-rule-new")
	b.do("phone width", chromedp.EmulateViewport(390, 844))
	if w, err := chromedp.Run(b.ctx, chromedp.Evaluate[int]("document.documentElement.scrollWidth")); err != nil || w > 390 {
		t.Errorf("phone width: got a form %d px wide (%v), want at most 390", w, err)
	}
	b.do("desktop width", chromedp.EmulateViewport(1280, 900))
	b.navigateBy("create", chromedp.Click(chromedp.CSS("#rule-save")))
	if got := b.text("#notice"); got != "Rule created" {
		t.Fatalf("create: got notice %q (page %s: %s)", got, b.location(), b.body())
	}
	if got, st := b.text("#rule-enabled"), b.text("#rule-status"); got != "yes" || st != "loaded" {
		t.Errorf("new rule: got enabled %q, status %q, want yes, loaded", got, st)
	}
	if got := b.text("#rule-text"); !strings.Contains(got, "id: "+id) || !strings.Contains(got, "- user.session.start") {
		t.Errorf("rule text: got %q", got)
	}
	wait.Eventually(t, "the upload's audit event with the console's token as actor", func() bool {
		_, body := r.call("GET", "/api/v1/logs?filter="+url.QueryEscape(`eventType eq "system.detection_rule.create"`), acme, nil)
		return strings.Contains(body, `"alternateId":"acme-console"`) && strings.Contains(body, id)
	}, wait.Within(10*time.Second))

	// Listed, enabled, in the org's uploaded rules.
	b.open("/console/detections")
	row := `#pack-uploaded tr[data-rule="` + id + `"]`
	if got := b.text(row + " .enabled"); got != "yes" {
		t.Errorf("rules list: got enabled %q, want yes", got)
	}

	// An ingested failed sign-in raises a detection of the rule.
	ev := map[string]any{"uuid": "con-native-1", "eventType": "user.session.start", "published": time.Now().UTC().Format(time.RFC3339Nano),
		"actor":   map[string]any{"id": "00uMAX", "type": "User", "alternateId": "max@example.com"},
		"outcome": map[string]any{"result": "FAILURE", "reason": "INVALID_CREDENTIALS"}}
	if code, body := r.call("POST", "/api/v1/events", r.token("acme", "events.write"), ev); code != http.StatusAccepted {
		t.Fatalf("ingest: got %d %s", code, body)
	}
	wait.Eventually(t, "a detection of the console's rule", func() bool {
		_, body := r.call("GET", "/api/v1/detections?rule="+id, acme, nil)
		return strings.Contains(body, "con-native-1")
	}, wait.Within(20*time.Second))
	b.open("/console/detections")
	if got := b.text("#alerts"); !strings.Contains(got, "Failed sign-in (console)") || !strings.Contains(got, "00uMAX") {
		t.Errorf("detections list: got %q, want the console rule's detection of 00uMAX", got)
	}
	b.shot("native-rule-detections")

	// Edit: the form opens filled; a new level is saved.
	b.open("/console/detections/rules/" + id)
	b.navigateBy("edit", chromedp.Click(chromedp.CSS("#rule-edit")))
	if got := b.attr("#rule-id", "readonly"); got == "" && !strings.Contains(b.body(), "it stays") {
		t.Errorf("edit: the id is not fixed")
	}
	got, err := chromedp.Run(b.ctx, chromedp.Value(chromedp.CSS("#rule-match")))
	if err != nil || !strings.Contains(got, `"user.session.start"`) {
		t.Errorf("edit: got pattern %q (%v), want the rule's", got, err)
	}
	b.do("preview of the stored pattern", chromedp.WaitVisible(chromedp.CSS("#rule-preview #matched")))
	b.do("level", chromedp.SetValue(chromedp.CSS("#rule-level"), "critical"))
	b.navigateBy("save", chromedp.Click(chromedp.CSS("#rule-save")))
	if got := b.text("#rule-level"); got != "critical" {
		t.Errorf("edit: got level %q, want critical (page %s)", got, b.body())
	}

	// Delete (confirmed): the rule is gone from the list and the API.
	b.do("accept the confirmation", chromedp.Evaluate[chromedp.Void]("window.confirm = () => true"))
	b.navigateBy("delete", chromedp.Click(chromedp.CSS("#rule-delete")))
	if got := b.text("#notice"); got != "Rule "+id+" deleted" {
		t.Errorf("delete: got notice %q", got)
	}
	if n := b.count(`tr[data-rule="` + id + `"]`); n != 0 {
		t.Errorf("delete: the rule is still listed")
	}
	if code, _ := r.call("GET", "/api/v1/detections/rules/"+id, acme, nil); code != http.StatusNotFound {
		t.Errorf("delete: the API answers %d for the rule, want 404", code)
	}

	// A refused rule: the API's cause, with the document's line.
	b.open("/console/detections/rules/new")
	b.do("fill a bad rule",
		chromedp.SendKeys(chromedp.CSS("#rule-title"), "Bad correlation"),
		chromedp.SendKeys(chromedp.CSS("#rule-match"), `{"detail": {"eventType": ["a.b"]}}`),
		chromedp.SendKeys(chromedp.CSS("#rule-correlation"), "type: sometimes\ntimespan: 10m\n"))
	b.navigateBy("create", chromedp.Click(chromedp.CSS("#rule-save")))
	if got := b.text("#error"); !strings.Contains(got, "Api validation failed: rule") || !strings.Contains(got, "line ") {
		t.Errorf("refused: got %q, want the API's validation error with its line", got)
	}
	if got := b.text("#rule-yaml"); !strings.Contains(got, "type: sometimes") {
		t.Errorf("refused: got document %q, want the rule as sent", got)
	}
	if v, _ := chromedp.Run(b.ctx, chromedp.Value(chromedp.CSS("#rule-title"))); v != "Bad correlation" {
		t.Errorf("refused: the form lost the title: %q", v)
	}
	b.shot("native-rule-refused")
	_, body := r.call("GET", "/api/v1/detections/rules", acme, nil)
	if strings.Contains(body, "Bad correlation") {
		t.Errorf("a refused rule was stored")
	}
}

// backtestEvents is how many events of org acme TestConsoleBacktestProgress
// puts in the journal: failed sign-ins the shipped pack's correlations
// count, so that a backtest of the pack runs for seconds (2.5 to 4 s here;
// without the correlations' work 400,000 events took 0.4 s).
// Under the race detector the backtest is about ten times slower: fewer
// events still make it run for seconds.
var backtestEvents = map[bool]int{false: 250_000, true: 40_000}[raceEnabled]

// TestConsoleBacktestProgress: a backtest over a journal of many events
// runs as a job whose page follows it (the bar and the counts move while
// it runs); Cancel stops it with what it found so far.
func TestConsoleBacktestProgress(t *testing.T) {
	dir := t.TempDir()
	jr, err := journal.Open(t.Context(), journal.Options{DataDir: dir, MaxBytes: -1, DuplicateWindow: time.Second}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	end := time.Now().UTC()
	err = journaltest.Fill(t.Context(), jr, 0, backtestEvents, func(int) func(int) (event.Record, error) {
		return func(i int) (event.Record, error) {
			pub := end.Add(-48*time.Hour + time.Duration(i)*100*time.Millisecond)
			raw := fmt.Sprintf(`{"uuid":"bt-%07d","published":%q,"eventType":"user.session.start","version":"0","severity":"WARN",`+
				`"actor":{"id":"00u%d","type":"User","alternateId":"user%d@example.com"},"outcome":{"result":"FAILURE","reason":"INVALID_CREDENTIALS"},`+
				`"client":{"ipAddress":"10.0.%d.%d","userAgent":{"rawUserAgent":"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)"}},`+
				`"target":[{"id":"0oa%d","type":"AppInstance","alternateId":"app%d"}],"debugContext":{"debugData":{"requestUri":"/api/v1/things/%d"}}}`,
				i, pub.Format(event.TimeFormat), i%100, i%100, i%256, i%200, i%50, i%50, i)
			return event.Parse([]byte(raw), "acme", pub)
		}
	})
	jr.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("filled %d events in %s", backtestEvents, time.Since(start).Round(time.Millisecond))
	cfg := testConfig(dir)
	cfg.Journal.MaxBytes = -1
	// The shipped pack sees these events (failed sign-ins): its
	// correlations make the backtest do real work.
	cfg.Detections.Logsources = []config.DetectionLogsource{{Product: "okta", Sources: []string{"auditstream."}}}
	start = time.Now()
	r := startApp(t, cfg)
	t.Logf("serve ready in %s", time.Since(start).Round(time.Millisecond))
	acme := createToken(t, r, "acme-console", "acme", "logs.read", "detections.read", "detections.manage")
	b := newBrowser(t, r.base)
	b.signIn(acme)
	startJob := func() {
		b.open("/console/detections")
		b.do("choose the shipped pack", chromedp.SetValue(chromedp.CSS("#bt-pack"), "auditstream-okta"),
			chromedp.SetValue(chromedp.CSS("#bt-since"), ""))
		b.navigateBy("backtest", chromedp.Click(chromedp.CSS("#bt-go")))
	}

	// The job's page, drawn right after the job started: it runs.
	start = time.Now()
	startJob()
	if first := b.job(); first.Status != "RUNNING" || !first.Cancel {
		t.Fatalf("job page: got %+v, want RUNNING with a Cancel (%s after the start)", first, time.Since(start))
	}
	b.shot("detection-backtest-running")
	// backtest.js follows it in place (no reload): the bar and the counts
	// move, then it ends.
	b.do("mark the page", chromedp.Evaluate[chromedp.Void]("window.notReloaded = true"))
	var seen []string
	wait.Eventually(t, "the running job's progress, in place", func() bool {
		p := b.job()
		seen = append(seen, fmt.Sprintf("%+v", p))
		return p.Status == "RUNNING" && p.Percent > 0 && p.Percent < 100 && p.Scanned > 0 && p.Scanned < backtestEvents
	}, wait.Within(30*time.Second), wait.Every(50*time.Millisecond), wait.Seen(func() string { return strings.Join(seen, ", ") }))
	t.Logf("progress after %s: %s", time.Since(start).Round(time.Millisecond), seen[len(seen)-1])
	b.shot("detection-backtest-progress")
	var j btJob // the job as last read
	wait.Eventually(t, "the job's end, in place", func() bool { j = b.job(); return j.Status != "RUNNING" },
		wait.Within(3*time.Minute), wait.Every(100*time.Millisecond), wait.Seen(func() string { return fmt.Sprintf("%+v", j) }))
	t.Logf("backtest of %d events ended after %s: %+v", backtestEvents, time.Since(start).Round(time.Millisecond), j)
	if same, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool]("window.notReloaded === true")); err != nil || !same {
		t.Errorf("the page was reloaded (%v): want the block updated in place", err)
	}
	if j.Status != "SUCCEEDED" || j.Percent != 100 || j.Scanned < backtestEvents || j.Count == "" {
		t.Errorf("ended: got %+v, want SUCCEEDED at 100%% with every event scanned and a count", j)
	}
	if !regexp.MustCompile(`^(\d+) of 1–(\d+)$`).MatchString(j.Position) {
		t.Errorf("position: got %q, want N of 1–last", j.Position)
	}

	// Cancel, at once: the job stops with what it found so far.
	startJob()
	landed := time.Now()
	b.navigateBy("cancel", chromedp.Click(chromedp.CSS("#bt-cancel")))
	t.Logf("cancelled %s after the job's page was drawn", time.Since(landed).Round(time.Millisecond))
	j = b.job()
	if j.Notice != "Backtest cancelled" || j.Status != "STOPPED" || !strings.Contains(j.Stopped, "cancelled") || j.Cancel {
		t.Errorf("cancel: got %+v, want STOPPED, cancelled, no Cancel (a job that ended before the cancel arrived means the journal is too small for this machine: raise backtestEvents)", j)
	}
	if j.Scanned >= backtestEvents {
		t.Errorf("cancel: got %d events scanned, want fewer than all %d", j.Scanned, backtestEvents)
	}
	b.shot("detection-backtest-cancelled")
	// Both jobs are listed on the Detections page.
	b.open("/console/detections")
	if n, got := b.count("#bt-jobs tbody tr"), b.text("#bt-jobs"); n != 2 || !strings.Contains(got, "SUCCEEDED") || !strings.Contains(got, "STOPPED") {
		t.Errorf("recent backtests: got %d rows %q, want the succeeded and the stopped job", n, got)
	}
}

// btJob is what a backtest job's page shows, read at one instant.
type btJob struct {
	Status, Position, Count, Stopped, Notice string
	Percent, Scanned                         int
	Cancel                                   bool
}

// job reads the job's block at one instant (backtest.js replaces it).
func (b *browser) job() btJob {
	b.t.Helper()
	j, err := chromedp.Run(b.ctx, chromedp.Evaluate[btJob](`(() => {
  const t = (id) => (document.getElementById(id)?.textContent ?? '').trim();
  return {Status: t('bt-status'), Position: t('bt-position'), Count: t('bt-count'), Stopped: t('bt-stopped'), Notice: t('notice'),
    Percent: Number(document.getElementById('bt-progress')?.getAttribute('value') ?? -1), Scanned: Number(t('bt-scanned') || -1),
    Cancel: document.getElementById('bt-cancel') !== null};
})()`))
	if err != nil {
		b.t.Fatalf("read the job's page: %v (page %s)", err, b.location())
	}
	return j
}
