package detect

import (
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/detect/correlate"
	"github.com/auditstream/auditstream/internal/event"
)

// DETECTIONS.md §8 case 1 through the runtime, on SigmaHQ's rule file as
// published (both packs): a reset by admin A raises one WARN detection
// carrying the rule's author (DRL 1.1) and eventType; the upper-case event
// type matches too; two more resets by A within the suppression window raise
// nothing but are counted on the next detection of A after the window.
func TestCaseMFAResetThroughRuntime(t *testing.T) {
	for _, dir := range []string{"sigma", "sigma-r2026-01-01"} {
		t.Run(dir, func(t *testing.T) {
			files, err := ReadFiles(filepath.Join("..", "..", "testdata", "detections", dir, "rules", "identity", "okta", "okta_mfa_reset_or_deactivated.yml"))
			if err != nil {
				t.Fatal(err)
			}
			reg := NewRegistry(DefaultRoutes(), LoadPack(dir, "", files, nil))
			m, err := NewMatcher(reg, correlate.Config{}, Envelope{})
			if err != nil {
				t.Fatal(err)
			}
			recs := []event.Record{
				oktaEvent("acme", "r1", "user.mfa.factor.reset_all", "SUCCESS", "00uADMIN", t0),
				oktaEvent("acme", "r2", "USER.MFA.FACTOR.RESET_ALL", "SUCCESS", "00uADMIN", t0.Add(time.Minute)),
				oktaEvent("acme", "r3", "user.mfa.factor.reset_all", "SUCCESS", "00uADMIN", t0.Add(2*time.Minute)),
				oktaEvent("acme", "n1", "user.mfa.factor.activate", "SUCCESS", "00uADMIN", t0.Add(3*time.Minute)),
				oktaEvent("acme", "r4", "user.mfa.factor.deactivate", "SUCCESS", "00uADMIN", t0.Add(2*time.Hour)),
			}
			var out []Raised
			for i := range recs {
				out = m.Feed(&recs[i], out)
			}
			if len(out) != 2 {
				t.Fatalf("got %d detections, want 2 (r1, then r4 after the hour)", len(out))
			}
			var ev struct {
				EventType, Severity string
				Actor               struct{ ID string }
				Target              []struct {
					Type        string
					DetailEntry map[string]string
				}
			}
			if err := json.Unmarshal(out[0].Record.Data, &ev); err != nil {
				t.Fatal(err)
			}
			if ev.EventType != EventTypePrefix+"okta_mfa_reset_or_deactivated" || ev.Severity != "WARN" || ev.Actor.ID != "00uADMIN" ||
				ev.Target[0].DetailEntry["author"] != "Austin Songer @austinsonger" || ev.Target[0].DetailEntry["license"] != "DRL-1.1" {
				t.Errorf("got %s %s actor %s rule %v, want the rule's type, WARN, the admin, author and DRL-1.1", ev.EventType, ev.Severity, ev.Actor.ID, ev.Target[0].DetailEntry)
			}
			if out[1].Detection.SuppressedBefore != 2 {
				t.Errorf("second detection: got suppressed %d, want 2", out[1].Detection.SuppressedBefore)
			}
		})
	}
}
