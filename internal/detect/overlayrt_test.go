package detect

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/detect/overlay"
	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/journal/journaltest"
)

// detSummary is what the overlay tests read of a detection event.
type detSummary struct {
	Actor, Severity, Level string
	Count                  string
}

func summarize(t *testing.T, recs []event.Record) []detSummary {
	t.Helper()
	var out []detSummary
	for _, r := range recs {
		var ev struct {
			Severity string
			Actor    struct{ ID string }
			Target   []struct {
				Type        string
				DetailEntry map[string]string
			}
			DebugContext struct{ DebugData map[string]string } `json:"debugContext"`
		}
		if err := json.Unmarshal(r.Data, &ev); err != nil {
			t.Fatal(err)
		}
		s := detSummary{Actor: ev.Actor.ID, Severity: ev.Severity, Count: ev.DebugContext.DebugData["count"]}
		for _, tg := range ev.Target {
			if tg.Type == "DetectionRule" {
				s.Level = tg.DetailEntry["level"]
			}
		}
		out = append(out, s)
	}
	return out
}

// The pack overlay (package overlay, one format for every pack) takes
// effect in the runtime: each case runs the native brute-force rule (5
// failures of one user in 10m, level high, suppressed 1h) through the
// journal, the reader, the matcher and the engine with an overlay, and
// checks the detections journaled.
func TestOverlayThroughRuntime(t *testing.T) {
	janes := func(s time.Time) []event.Record { return failuresEvery("acme", "00uJANE", 7, s, time.Second, "j") }
	svc := func(s time.Time) []event.Record { return failuresEvery("acme", "00uSVC", 7, s, time.Second, "s") }
	jane10 := func(s time.Time) []event.Record { return failuresEvery("acme", "00uJANE", 10, s, time.Second, "t") }
	vip := func(s time.Time) []event.Record { return failuresEvery("acme", "00uVIP", 5, s, time.Second, "v") }
	for _, tc := range []struct {
		name    string
		overlay string
		events  []func(time.Time) []event.Record
		want    []detSummary
	}{
		{"no overlay", "", []func(time.Time) []event.Record{janes, svc},
			[]detSummary{{"00uJANE", "ERROR", "high", "5"}, {"00uSVC", "ERROR", "high", "5"}}},
		{"rule exception: the excepted user never triggers", `
rules:
  ` + bruteForceID + `:
    exceptions:
      - detail: {actor: {id: ["00uSVC"]}}
`, []func(time.Time) []event.Record{janes, svc}, []detSummary{{"00uJANE", "ERROR", "high", "5"}}},
		{"default exception (every rule of the pack)", `
defaults:
  exceptions:
    - detail: {actor: {alternateId: [{prefix: "00uSVC@"}]}}
    - detail: {actor: {alternateId: [{suffix: "@nowhere.example"}]}}
`, []func(time.Time) []event.Record{janes, svc}, []detSummary{{"00uJANE", "ERROR", "high", "5"}}},
		{"rule level", `
rules: {` + bruteForceID + `: {level: low}}
`, []func(time.Time) []event.Record{janes}, []detSummary{{"00uJANE", "INFO", "low", "5"}}},
		{"severityWhen: first match wins, others keep the rule's level", `
rules:
  ` + bruteForceID + `:
    severityWhen:
      - match: {detail: {actor: {id: ["00uVIP"]}}}
        level: critical
`, []func(time.Time) []event.Record{janes, vip}, []detSummary{{"00uJANE", "ERROR", "high", "5"}, {"00uVIP", "ERROR", "critical", "5"}}},
		{"rule suppression off: every firing raises (the window restarts after each)", `
rules: {` + bruteForceID + `: {suppress: {for: "0"}}}
`, []func(time.Time) []event.Record{jane10}, []detSummary{{"00uJANE", "ERROR", "high", "5"}, {"00uJANE", "ERROR", "high", "5"}}},
		{"default suppression (the rule's 1h): one detection", "", []func(time.Time) []event.Record{jane10},
			[]detSummary{{"00uJANE", "ERROR", "high", "5"}}},
		{"short forms: levels", `
levels: {` + bruteForceID + `: medium}
`, []func(time.Time) []event.Record{janes}, []detSummary{{"00uJANE", "WARN", "medium", "5"}}},
		{"short forms: disabled", `
disabled: [` + bruteForceID + `]
`, []func(time.Time) []event.Record{janes}, nil},
		{"rules.<id>.enabled: false", `
rules: {` + bruteForceID + `: {enabled: false}}
`, []func(time.Time) []event.Record{janes}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ov, err := overlay.Parse([]byte(tc.overlay))
			if err != nil {
				t.Fatal(err)
			}
			files, err := ReadFiles(filepath.Join("testdata", "native", "brute_force.yml"))
			if err != nil {
				t.Fatal(err)
			}
			p := LoadPack("native", "", files, ov)
			if len(p.Warnings) > 0 {
				t.Errorf("warnings: %v", p.Warnings)
			}
			reg := NewRegistry(DefaultRoutes(), p)
			if tc.want == nil {
				if in := reg.Infos(); len(in) != 1 || in[0].Status != StatusDisabled {
					t.Errorf("rule list: got %+v, want the rule listed disabled", in)
				}
			}
			j := journaltest.Open(t)
			s, stop := startService(t, j, reg, Config{}, nil)
			defer stop()
			start := recent()
			for _, f := range tc.events {
				appendAll(t, j, f(start))
			}
			if len(tc.want) > 0 {
				waitRaised(t, s, uint64(len(tc.want)))
			}
			caughtUp(t, j, s)
			got := summarize(t, detections(t, j))
			if len(got) != len(tc.want) {
				t.Fatalf("got detections %+v, want %+v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("detection %d: got %+v, want %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

// An overlay's Sigma filter applies to the SigmaHQ rule it names, through
// the runtime: the automation account's MFA reset raises nothing, an
// admin's does.
func TestOverlaySigmaFilterThroughRuntime(t *testing.T) {
	files, err := ReadFiles(filepath.Join("..", "..", "testdata", "detections", "sigma", "rules", "identity", "okta", "okta_mfa_reset_or_deactivated.yml"))
	if err != nil {
		t.Fatal(err)
	}
	ov, err := overlay.Parse([]byte(`
filters:
  - title: Our automation resets factors
    id: 0d9f3a5e-8a39-4d0c-9a55-0c0f6d1e2f11
    logsource: {product: okta, service: okta}
    filter:
      rules: [50e068d7-1e6b-4054-87e5-0a592c40c7e0]
      selection: {actor.id: 00uBOT}
      condition: selection
`))
	if err != nil {
		t.Fatal(err)
	}
	reg := NewRegistry(DefaultRoutes(), LoadPack("sigma", "", files, ov))
	for _, in := range reg.Infos() {
		if in.Status != StatusLoaded {
			t.Errorf("%s %s: got %s (%s), want loaded", in.File, in.ID, in.Status, in.Reason)
		}
	}
	j := journaltest.Open(t)
	s, stop := startService(t, j, reg, Config{}, nil)
	defer stop()
	start := recent()
	appendAll(t, j, []event.Record{
		oktaEvent("acme", "b1", "user.mfa.factor.reset_all", "SUCCESS", "00uBOT", start),
		oktaEvent("acme", "a1", "user.mfa.factor.reset_all", "SUCCESS", "00uADMIN", start.Add(time.Second)),
	})
	waitRaised(t, s, 1)
	caughtUp(t, j, s)
	got := summarize(t, detections(t, j))
	if len(got) != 1 || got[0].Actor != "00uADMIN" {
		t.Fatalf("got %+v, want one detection, of 00uADMIN", got)
	}
}

// Overlay tuning the runtime cannot apply is said, not ignored: a typo'd
// rule id, suppress.summary without a suppression period, by in
// defaults.suppress.
func TestOverlayWarnings(t *testing.T) {
	ov, err := overlay.Parse([]byte(`
defaults: {suppress: {for: 1h, by: [client.ipAddress]}}
rules:
  no-such-rule: {level: high}
  ` + bruteForceID + `: {suppress: {for: "0", summary: true}}
`))
	if err != nil {
		t.Fatal(err)
	}
	files, err := ReadFiles(filepath.Join("testdata", "native", "brute_force.yml"))
	if err != nil {
		t.Fatal(err)
	}
	p := LoadPack("native", "", files, ov)
	w := strings.Join(p.Warnings, "\n")
	for _, want := range []string{"no-such-rule", "summary without a suppression period", "defaults.suppress"} {
		if !strings.Contains(w, want) {
			t.Errorf("warnings %q: want one naming %q", w, want)
		}
	}
}

// Exceptions under a Sigma correlation's id apply to the events of the
// rules it correlates, for that correlation only: the excepted user's
// denials do not count towards push fatigue, while a second correlation
// over the same rule still counts them.
func TestOverlaySigmaCorrelationExceptions(t *testing.T) {
	ov, err := overlay.Parse([]byte(`
rules:
  plan-fatigue: {exceptions: [{detail: {actor: {id: [00uX]}}}]}
`))
	if err != nil {
		t.Fatal(err)
	}
	other := `title: Three denials
id: plan-three
correlation: {type: event_count, rules: [deny], group-by: [actor.id], timespan: 10m, condition: {gte: 3}}
`
	p := LoadPack("plan", "", append(fileList("plan.yml", []byte(planCorrelations)), fileList("other.yml", []byte(other))...), ov)
	if len(p.Warnings) > 0 {
		t.Errorf("warnings: %v", p.Warnings)
	}
	reg := NewRegistry(DefaultRoutes(), p)
	o := newOkta(t)
	denials := func(user string) (out []event.Record) {
		for i := range 5 {
			out = append(out, o.raw(fmt.Sprintf("%s-%d", user, i), t0.Add(time.Duration(i)*time.Minute),
				`{"eventType":"user.mfa.okta_verify.deny_push","actor":{"id":"`+user+`"}}`))
		}
		return out
	}
	for _, tc := range []struct {
		user, rule string
		want       int
	}{
		{"00uU", "plan-fatigue", 1},
		{"00uX", "plan-fatigue", 0},
		{"00uX", "plan-three", 1},
	} {
		if got := countRaised(t, reg, tc.rule, denials(tc.user)); got != tc.want {
			t.Errorf("%s by %s: got %d detections, want %d", tc.rule, tc.user, got, tc.want)
		}
	}
}
