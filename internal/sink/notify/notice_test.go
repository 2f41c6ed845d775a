package notify_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/sink/notify"
	"github.com/auditstream/auditstream/internal/sink/notify/notifytest"
	"github.com/auditstream/auditstream/internal/sink/sinktest"
)

func TestParseDetection(t *testing.T) {
	n := notify.Parse(notifytest.Detection("detection"))
	checks := []struct{ name, got, want string }{
		{"ID", n.ID, "5b0c5d0e-8f5e-5b7a-9c55-0d2b7e1f4a10"},
		{"Title", n.Title, "Password spray from one IP"},
		{"Level", n.Level, "high"},
		{"RuleID", n.RuleID, "4c1d7a43-2a0e-4a77-9f0a-6a3b8f0e2c55"},
		{"RuleName", n.RuleName, "okta_password_spray_by_ip"},
		{"Author", n.Author, "auditstream"},
		{"License", n.License, "Apache-2.0"},
		{"GroupBy", n.GroupBy, "client.ipAddress=203.0.113.7"},
		{"Count", n.Count, "12"},
		{"Value", n.Value, "12"},
		{"CorrelationType", n.CorrelationType, "value_count"},
		{"WindowStart", n.WindowStart, "2026-11-21T10:10:41.002Z"},
		{"ASN", n.ASN, "AS64500 example transit"},
		{"Country", n.Country, "Iceland"},
		{"Org", n.Org, "example"},
		{"Headline", n.Headline(), "HIGH: Password spray from one IP"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, c.got, c.want)
		}
	}
	if !n.Detection {
		t.Error("Detection: got false, want true")
	}
	if got := len(n.Users); got != 1 || n.Users[0].Name() != "Jane Doe (jane@example.com)" {
		t.Errorf("users: got %+v, want Jane Doe", n.Users)
	}
	if want := []string{"0b8f2c7e-1a11-4a0e-9d6b-000000000001", "0b8f2c7e-1a11-4a0e-9d6b-000000000012"}; !slices.Equal(n.Events, want) {
		t.Errorf("events: got %v, want %v", n.Events, want)
	}
	var names []string
	for _, f := range n.Facts() {
		names = append(names, f.Name)
	}
	// The system principal is not shown as the actor of a spray.
	if want := []string{"Level", "Org", "Group", "Count", "Window", "Users", "Client", "Rule"}; !slices.Equal(names, want) {
		t.Errorf("facts: got %v, want %v", names, want)
	}
	if got := n.Attribution(); got != "Apache-2.0 · rule by auditstream · detection 5b0c5d0e-8f5e-5b7a-9c55-0d2b7e1f4a10" {
		t.Errorf("attribution: got %q", got)
	}
}

// TestParseSigmaKeepsAuthor: a Sigma rule's detection names its author and
// DRL licence (the licence requires the author in every alert).
func TestParseSigmaKeepsAuthor(t *testing.T) {
	n := notify.Parse(notifytest.Detection("sigma_detection"))
	if n.Level != "medium" || n.Author != "Austin Songer @austinsonger" || n.License != "DRL-1.1" {
		t.Errorf("level, author, license: got %q %q %q", n.Level, n.Author, n.License)
	}
	if a := n.Attribution(); !strings.Contains(a, "Austin Songer") || !strings.Contains(a, "DRL-1.1") {
		t.Errorf("attribution: got %q, want the author and DRL-1.1", a)
	}
	if n.Actor.Name() != "Ada Admin (admin@example.com)" {
		t.Errorf("actor: got %q", n.Actor.Name())
	}
}

func TestParseOtherEvents(t *testing.T) {
	rec := sinktest.Record(1, 10)
	tests := []struct {
		name      string
		rec       event.Record
		wantTitle string
		wantLevel string
	}{
		{"okta event", rec, "user.session.start", "low"},
		{"not json", event.Record{UUID: "u1", EventType: "x.y", Data: []byte("nope")}, "x.y", "low"},
		{"empty", event.Record{}, "event", "low"},
		{"error event", event.Record{UUID: "u2", Data: []byte(`{"uuid":"u2","eventType":"policy.rule.deny","severity":"ERROR","displayMessage":"Deny\nit"}`)}, "Deny it", "high"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := notify.Parse(tt.rec)
			if n.Detection {
				t.Error("Detection: got true, want false")
			}
			if n.Title != tt.wantTitle || n.Level != tt.wantLevel {
				t.Errorf("title, level: got %q %q, want %q %q", n.Title, n.Level, tt.wantTitle, tt.wantLevel)
			}
			if n.ID != n.UUID {
				t.Errorf("id: got %q, want the uuid %q", n.ID, n.UUID)
			}
			_ = n.Facts()
			_ = n.Line()
		})
	}
}

func TestParseClipsHugeValues(t *testing.T) {
	big := strings.Repeat("é", 5000)
	n := notify.Parse(event.Record{Data: []byte(`{"uuid":"u","displayMessage":"` + big + `"}`)})
	if len(n.Title) > 600 || !strings.HasSuffix(n.Title, "…") {
		t.Errorf("title: got %d bytes, want it clipped near 500 with …", len(n.Title))
	}
}

func TestDigest(t *testing.T) {
	det := notify.Parse(notifytest.Detection("detection"))
	sig := notify.Parse(notifytest.Detection("sigma_detection"))
	d := notify.NewDigest([]notify.Notice{sig, det, det}, 5*time.Minute)
	if got, want := d.Headline(), "3 detections in example (digest)"; got != want {
		t.Errorf("headline: got %q, want %q", got, want)
	}
	if got, want := d.Summary(), "2 high, 1 medium · 2026-11-21T10:15:03.412Z"; got != want {
		t.Errorf("summary: got %q, want %q", got, want)
	}
	mixed := notify.NewDigest([]notify.Notice{det, notify.Parse(sinktest.Record(1, 1))}, time.Minute)
	if got, want := mixed.Headline(), "2 events in example (digest)"; got != want {
		t.Errorf("mixed headline: got %q, want %q", got, want)
	}
}
