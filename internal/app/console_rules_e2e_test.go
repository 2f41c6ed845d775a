package app

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

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
