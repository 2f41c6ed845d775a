package detect

import (
	"github.com/auditstream/auditstream/internal/detect/overlay"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/detect/correlate"
	"github.com/auditstream/auditstream/internal/event"
)

// A Sigma correlation over a Sigma rule in one file (the specification's
// layout): the correlation raises once per user, with its own title and
// author; the base rule (generate: false) raises nothing on its own; an
// overlay alias applies to the group-by field.
const sigmaCorrelation = `title: Failed sign-in
id: 11111111-1111-4111-8111-111111111111
name: failed_signin
author: test author
logsource: {product: okta, service: okta}
detection:
  selection:
    eventType: user.session.start
    outcome.result: FAILURE
  condition: selection
---
title: Many failed sign-ins of one user
id: 22222222-2222-4222-8222-222222222222
author: test author
level: critical
correlation:
  type: event_count
  rules: [failed_signin]
  group-by: [user]
  timespan: 10m
  condition: {gte: 3}
`

func TestSigmaCorrelationThroughRuntime(t *testing.T) {
	ov := &overlay.Overlay{Aliases: map[string]string{"user": "actor.alternateId"}}
	reg := NewRegistry(DefaultRoutes(), LoadPack("p", "", fileList("c.yml", []byte(sigmaCorrelation)), ov))
	for _, in := range reg.Infos() {
		if in.Status != StatusLoaded {
			t.Fatalf("%s: got %s (%s), want loaded", in.ID, in.Status, in.Reason)
		}
	}
	m, err := NewMatcher(reg, correlate.Config{}, Envelope{})
	if err != nil {
		t.Fatal(err)
	}
	var recs []event.Record
	recs = append(recs, failures("acme", "00uA", 4, t0, "a")...)
	recs = append(recs, failures("acme", "00uB", 2, t0, "b")...)
	var out []Raised
	for i := range recs {
		out = m.Feed(&recs[i], out)
	}
	if len(out) != 1 {
		t.Fatalf("got %d detections, want 1 (the correlation, for 00uA)", len(out))
	}
	d := out[0]
	if d.Info.ID != "22222222-2222-4222-8222-222222222222" || d.Record.EventType != EventTypePrefix+"c" {
		t.Errorf("got rule %s type %s, want the correlation", d.Info.ID, d.Record.EventType)
	}
	if len(d.Detection.Group) != 1 || d.Detection.Group[0].Value != "00uA@example.com" {
		t.Errorf("got group %+v, want user=00uA@example.com (through the alias)", d.Detection.Group)
	}
	if !d.Record.Published.Equal(t0.Add(2*time.Minute)) || Severity(d.Info.Level) != "ERROR" || d.Info.Author != "test author" {
		t.Errorf("got published %s level %s author %q, want the third failure's time, ERROR, test author", d.Record.Published, d.Info.Level, d.Info.Author)
	}
}
