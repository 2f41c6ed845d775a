package detect

import (
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/detect/correlate"
	"github.com/auditstream/auditstream/internal/detect/sigma"
	"github.com/auditstream/auditstream/internal/journal"
)

// Events of the API (no envelope source) are routed by their org's
// source, auditstream.<org>, which the matcher builds once per org in a
// row: with orgs alternating, only the routed org's events are matched.
func TestAPISourceFollowsTheOrg(t *testing.T) {
	const rule = `title: any sign-in
id: 7d1c9a52-0000-4000-8000-00000000f0aa
logsource: {product: okta, service: okta}
detection:
  sel: {eventType: user.session.start}
  condition: sel
level: low
`
	p := LoadPack("api", "", []sigma.File{{Name: "any.yml", Data: []byte(rule)}}, nil)
	if len(p.Infos) != 1 || p.Infos[0].Status != StatusLoaded {
		t.Fatalf("got %+v, want the rule loaded", p.Infos)
	}
	routes := []Route{{Product: "okta", Sources: []string{"auditstream.beta"}}}
	m, err := NewMatcher(NewRegistry(routes, p), correlate.Config{}, Envelope{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i, org := range []string{"acme", "beta", "beta", "acme", "beta", "acme", "acme"} {
		r := signIn("s-"+string(rune('a'+i)), "00uJANE"+string(rune('a'+i)), "Norway", t0.Add(time.Duration(i)*time.Second))
		r.Org, r.Source, r.Seq = org, "", journal.Position(uint64(i+1), 0)
		for range m.Feed(&r, nil) {
			got = append(got, org)
		}
	}
	if len(got) != 3 {
		t.Fatalf("got detections for %v, want 3, all for beta", got)
	}
	for _, org := range got {
		if org != "beta" {
			t.Errorf("got a detection for %s, want beta only", org)
		}
	}
}
