package sysevent

import (
	"encoding/json"
	"testing"
	"time"
)

func TestNew(t *testing.T) {
	now := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	ev, err := New(Spec{Type: "system.log_stream.gap", Severity: SeverityWarn, Message: "Events dropped",
		Targets: []Ref{{ID: "s1", Type: "LogStream"}}, Failure: true, Reason: "retention",
		Debug: map[string]any{"count": 3}, Org: "acme"}, now)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Org != "acme" || ev.EventType != "system.log_stream.gap" || !ev.Published.Equal(now) {
		t.Fatalf("got org %q type %q published %v", ev.Org, ev.EventType, ev.Published)
	}
	var got struct {
		Severity string            `json:"severity"`
		Actor    Ref               `json:"actor"`
		Outcome  map[string]string `json:"outcome"`
		Debug    struct {
			Data map[string]any `json:"debugData"`
		} `json:"debugContext"`
	}
	if err := json.Unmarshal(ev.Data, &got); err != nil {
		t.Fatal(err)
	}
	if got.Severity != "WARN" || got.Actor != Service || got.Outcome["result"] != "FAILURE" ||
		got.Outcome["reason"] != "retention" || got.Debug.Data["count"] != float64(3) {
		t.Fatalf("got %+v", got)
	}
}

// TestOrgFor: events about something of every org (or of none) go to the
// system org; the others to their own org.
func TestOrgFor(t *testing.T) {
	tests := []struct{ name, org, want string }{
		{"a tenant's", "acme", "acme"},
		{"every org's", "*", "default"},
		{"no org", "", "default"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := OrgFor(tt.org, "default"); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}
