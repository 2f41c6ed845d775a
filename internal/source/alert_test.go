package source_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/kvstore"
	"github.com/auditstream/auditstream/internal/source"
	"github.com/auditstream/auditstream/internal/sysevent"
)

// TestHealthEvent checks the LogEvent a source raises about its health,
// built by sysevent like every event the service writes about itself.
func TestHealthEvent(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	d := source.Definition{Header: kvstore.Header{ID: "src1", Type: "okta", Name: "prod", Org: "acme"}}
	snap := source.Snapshot{Events: 7, LastError: "401", LastErrorKind: "auth", LastSuccessAt: now.Add(-time.Hour)}
	tests := []struct {
		health, typ, severity, result string
	}{
		{source.HealthFailing, source.EventFailing, "WARN", "FAILURE"},
		{source.HealthSilent, source.EventSilent, "WARN", "FAILURE"},
		{source.HealthRecovered, source.EventRecovered, "INFO", "SUCCESS"},
	}
	for _, tc := range tests {
		t.Run(tc.health, func(t *testing.T) {
			ev, err := sysevent.New(source.HealthEvent(d, tc.health, "why", snap), now)
			if err != nil {
				t.Fatal(err)
			}
			if ev.Org != "acme" || ev.EventType != tc.typ {
				t.Fatalf("got org %q type %q, want acme %s", ev.Org, ev.EventType, tc.typ)
			}
			var got struct {
				Severity string            `json:"severity"`
				Actor    sysevent.Ref      `json:"actor"`
				Target   []sysevent.Ref    `json:"target"`
				Outcome  map[string]string `json:"outcome"`
				Debug    struct {
					Data map[string]any `json:"debugData"`
				} `json:"debugContext"`
			}
			if err := json.Unmarshal(ev.Data, &got); err != nil {
				t.Fatal(err)
			}
			self := sysevent.Ref{ID: "src1", Type: "LogSource", AlternateID: "okta", DisplayName: "prod"}
			if got.Severity != tc.severity || got.Actor != self || len(got.Target) != 1 || got.Target[0] != self {
				t.Errorf("got severity %q actor %+v target %+v, want %s and the source", got.Severity, got.Actor, got.Target, tc.severity)
			}
			if got.Outcome["result"] != tc.result || got.Outcome["reason"] != "why" {
				t.Errorf("outcome: got %v, want %s because why", got.Outcome, tc.result)
			}
			dd := got.Debug.Data
			if dd["detail"] != "why" || dd["lastError"] != "401" || dd["eventsPulled"] != float64(7) ||
				dd["lastSuccessAt"] != "2026-12-04T09:00:00.000Z" || dd["lastEventPublished"] != nil {
				t.Errorf("debugData: got %v", dd)
			}
		})
	}
}
