package overlay

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/detect/field"
	"github.com/auditstream/auditstream/internal/detect/sigma"
	"github.com/auditstream/auditstream/internal/pattern"
)

const sample = `
placeholders:
  legtimate_identifiers: ["@example.com"]
aliases:
  result: outcome.result
defaults:
  suppress: {for: 1h}
  exceptions:
    - detail: {actor: {alternateId: [{suffix: "@svc.example.com"}]}}
rules:
  r1:
    enabled: false
  r2:
    level: high
    suppress: {for: 10m, by: [client.ipAddress], summary: true}
    exceptions:
      - '{"detail":{"client":{"ipAddress":[{"cidr":"10.0.0.0/8"}]}}}'
    severityWhen:
      - match: {detail: {target: {type: [PrivilegedRole]}}}
        level: critical
`

func env(detail string) *pattern.Envelope {
	return &pattern.Envelope{Source: "aws.partner/okta.com/x", DetailType: "SystemLog", Detail: []byte(detail)}
}

func TestOverlay(t *testing.T) {
	o, err := Parse([]byte(sample))
	if err != nil {
		t.Fatal(err)
	}
	if got := o.Sigma(); got.Aliases["result"] != "outcome.result" || got.Placeholders["legtimate_identifiers"][0] != "@example.com" {
		t.Errorf("got sigma overlay %+v", got)
	}
	r1, r2, r3 := o.For("r1"), o.For("r2"), o.For("r3")
	if r1.Enabled || !r2.Enabled || !r3.Enabled {
		t.Errorf("got enabled %v %v %v, want false true true", r1.Enabled, r2.Enabled, r3.Enabled)
	}
	if r3.Suppress == nil || r3.Suppress.For != time.Hour {
		t.Errorf("r3: got suppress %+v, want the default 1h", r3.Suppress)
	}
	if s := r2.Suppress; s == nil || s.For != 10*time.Minute || !s.Summary || s.By[0] != "client.ipAddress" {
		t.Errorf("r2: got suppress %+v", s)
	}
	svc := env(`{"actor":{"alternateId":"bot@svc.example.com"},"client":{"ipAddress":"192.0.2.1"}}`)
	internal := env(`{"actor":{"alternateId":"jane@example.com"},"client":{"ipAddress":"10.1.2.3"}}`)
	plain := env(`{"actor":{"alternateId":"jane@example.com"},"client":{"ipAddress":"192.0.2.1"},"target":[{"type":"PrivilegedRole"}]}`)
	tests := []struct {
		name string
		eff  Effective
		env  *pattern.Envelope
		want bool
	}{
		{"default exception on r3", r3, svc, true},
		{"default exception on r2", r2, svc, true},
		{"rule exception on r2", r2, internal, true},
		{"rule exception not on r3", r3, internal, false},
		{"no exception", r2, plain, false},
	}
	for _, tt := range tests {
		if got := tt.eff.Excepted(tt.env); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
	if got := r2.LevelFor("medium", plain); got != "critical" {
		t.Errorf("severityWhen: got %s, want critical", got)
	}
	if got := r2.LevelFor("medium", internal); got != "high" {
		t.Errorf("overlay level: got %s, want high", got)
	}
	if got := r3.LevelFor("low", plain); got != "low" {
		t.Errorf("rule level: got %s, want low", got)
	}
	if got := o.Unknown([]string{"r2", "r3"}); len(got) != 1 || got[0] != "r1" {
		t.Errorf("got unknown %q, want [r1]", got)
	}
	var nilO *Overlay
	if e := nilO.For("x"); !e.Enabled || e.Excepted(plain) {
		t.Errorf("nil overlay: got %+v", e)
	}
	if o, err := Parse(nil); err != nil || !o.For("x").Enabled {
		t.Errorf("empty overlay: %v", err)
	}
}

func TestOverlayErrors(t *testing.T) {
	tests := []struct{ yaml, want string }{
		{"rules: {r: {levle: high}}", "levle"},
		{"rules: {r: {level: severe}}", `rules.r: level "severe"`},
		{"rules: {r: {suppress: {for: 5 minutes}}}", "suppress.for"},
		{"rules: {r: {suppress: {by: [actor.id]}}}", "suppress.for is required"},
		{"defaults: {exceptions: [{detail: {eventType: \"x\"}}]}", "defaults: exceptions[0]"},
		{"rules: {r: {severityWhen: [{match: {detail: {a: [1]}}, level: bad}]}}", "severityWhen[0]"},
		{"bogus: 1", "bogus"},
	}
	for _, tt := range tests {
		_, err := Parse([]byte(tt.yaml))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want an error containing %q", tt.yaml, err, tt.want)
		}
	}
}

func TestOverlayShortForms(t *testing.T) {
	o, err := Parse([]byte("disabled: [a]\nlevels: {b: critical, c: low}\nsuppress: {for: 2h}\nrules: {c: {level: high}}"))
	if err != nil {
		t.Fatal(err)
	}
	a, b, c := o.For("a"), o.For("b"), o.For("c")
	if a.Enabled || !b.Enabled || b.Level != "critical" || c.Level != "high" || a.Suppress == nil || a.Suppress.For != 2*time.Hour {
		t.Errorf("got a %+v, b %+v, c %+v", a, b, c)
	}
	if _, err := Parse([]byte("levels: {b: severe}")); err == nil {
		t.Error("bad level in levels accepted")
	}
}

// Sigma filters in the overlay are applied to the Sigma rules they name.
func TestOverlaySigmaFilters(t *testing.T) {
	o, err := Parse([]byte(`
filters:
  - title: Our automation creates API tokens
    id: 0f6c2d8e-1b7a-4e55-9a1e-3c2b7d9e8f10
    logsource: {product: okta, service: okta}
    filter:
      rules: [19951c21-229d-4ccb-8774-b993c3ff3c5c]
      selection:
        actor.alternateId|endswith: '@automation.example.com'
      condition: selection
`))
	if err != nil {
		t.Fatal(err)
	}
	rule, err := os.ReadFile("../../../testdata/detections/sigma/rules/identity/okta/okta_api_token_created.yml")
	if err != nil {
		t.Fatal(err)
	}
	files := append([]sigma.File{{Name: "okta_api_token_created.yml", Data: rule}}, o.SigmaFiles()...)
	p := sigma.LoadFiles(o.Sigma(), files...)
	if len(p.Refused) > 0 || len(p.Filters) != 1 {
		t.Fatalf("got filters %d, refused %v", len(p.Filters), p.Refused)
	}
	r := p.Rule("19951c21-229d-4ccb-8774-b993c3ff3c5c")
	var e field.Event
	for _, tt := range []struct {
		event string
		want  bool
	}{
		{`{"eventType":"system.api_token.create","actor":{"alternateId":"jane@example.com"}}`, true},
		{`{"eventType":"system.api_token.create","actor":{"alternateId":"ci@automation.example.com"}}`, false},
	} {
		if err := e.Reset([]byte(tt.event)); err != nil {
			t.Fatal(err)
		}
		if got := r.Match(&e); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.event, got, tt.want)
		}
	}
	for _, bad := range []string{"filters: [1]", "filters: [{title: x}]"} {
		if _, err := Parse([]byte(bad)); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}
