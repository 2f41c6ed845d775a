package detect

import (
	"context"
	"encoding/json"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/detect/correlate"
	"github.com/auditstream/auditstream/internal/detect/overlay"
	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/journal/journaltest"
)

// suppress.summary set in a pack overlay: after the suppression period of a
// detection in which firings were suppressed, one summary detection event
// counts them (a correlation: the native brute-force rule; a single-event
// rule: SigmaHQ's MFA reset); nothing without suppressed firings; replay
// gives the same bytes.
func TestSuppressSummaryFromOverlay(t *testing.T) {
	const mfaResetID = "50e068d7-1e6b-4054-87e5-0a592c40c7e0"
	resets := func(n int) []event.Record {
		var out []event.Record
		for i := range n {
			out = append(out, oktaEvent("acme", "r"+string(rune('a'+i)), "user.mfa.factor.reset_all", "SUCCESS", "00uADMIN", t0.Add(time.Duration(i)*4*time.Minute)))
		}
		return out
	}
	for _, tc := range []struct {
		name, file, rule string
		events           []event.Record
		wantSuppressed   int // 0: no summary
	}{
		{"correlation: 15 failures = 3 firings, 2 suppressed", filepath.Join("testdata", "native", "brute_force.yml"), bruteForceID,
			failuresEvery("acme", "00uJANE", 15, t0, time.Second, "f"), 2},
		{"correlation: one firing, nothing suppressed", filepath.Join("testdata", "native", "brute_force.yml"), bruteForceID,
			failuresEvery("acme", "00uJANE", 5, t0, time.Second, "f"), 0},
		{"single-event Sigma rule: 3 resets, 2 suppressed", filepath.Join("..", "..", "testdata", "detections", "sigma", "rules", "identity", "okta", "okta_mfa_reset_or_deactivated.yml"), mfaResetID,
			resets(3), 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ov, err := overlay.Parse([]byte("rules: {" + tc.rule + ": {suppress: {for: 1h, summary: true}}}\n"))
			if err != nil {
				t.Fatal(err)
			}
			files, err := ReadFiles(tc.file)
			if err != nil {
				t.Fatal(err)
			}
			p := LoadPack("p", "", files, ov)
			if len(p.Warnings) > 0 {
				t.Errorf("warnings: %v", p.Warnings)
			}
			run := func() []Raised {
				m, err := NewMatcher(NewRegistry(DefaultRoutes(), p), correlate.Config{}, Envelope{})
				if err != nil {
					t.Fatal(err)
				}
				var out []Raised
				for i := range tc.events {
					out = m.Feed(&tc.events[i], out)
				}
				// The clock passes the period's end (+ allowedLateness): an idle
				// org's clock follows the wall clock.
				return m.Advance(t0.Add(time.Hour+correlate.DefaultAllowedLateness+time.Minute), out)
			}
			out := run()
			want := 1
			if tc.wantSuppressed > 0 {
				want = 2
			}
			if len(out) != want {
				t.Fatalf("got %d detections, want %d", len(out), want)
			}
			if tc.wantSuppressed == 0 {
				if out[0].Detection.SummaryOf != "" {
					t.Errorf("got a summary, want none")
				}
				return
			}
			sum := out[1]
			var ev struct {
				UUID, EventType, Published, DisplayMessage string
				DebugContext                               struct{ DebugData map[string]string } `json:"debugContext"`
				Target                                     []struct{ Type, ID string }
			}
			if err := json.Unmarshal(sum.Record.Data, &ev); err != nil {
				t.Fatal(err)
			}
			dd := ev.DebugContext.DebugData
			if dd["summaryOf"] != out[0].Record.UUID || dd["suppressedCount"] != "2" || ev.EventType != out[0].Record.EventType ||
				ev.DisplayMessage != out[0].Info.Title+" (2 suppressed)" {
				t.Errorf("got summary %s, want 2 suppressed of %s", sum.Record.Data, out[0].Record.UUID)
			}
			if !sum.Record.Published.Equal(out[0].Record.Published.Add(time.Hour)) || dd["windowStart"] != rfc3339(out[0].Record.Published) {
				t.Errorf("got summary at %s (window from %s), want the period's end %s", sum.Record.Published, dd["windowStart"], out[0].Record.Published.Add(time.Hour))
			}
			if d := DetectionOf(sum); d.SummaryOf != out[0].Record.UUID || d.Count != 2 {
				t.Errorf("triage entry: got %+v, want summaryOf and count 2", d)
			}
			again := run()
			if string(again[1].Record.Data) != string(sum.Record.Data) {
				t.Errorf("replay: got %s, want %s", again[1].Record.Data, sum.Record.Data)
			}
		})
	}
}

// Through the runtime: the summary is journaled as a detection event once
// the suppression period ended (here by the wall clock, after the backlog
// was read), once, and recorded for triage.
func TestServiceSuppressSummary(t *testing.T) {
	ov, err := overlay.Parse([]byte("rules: {" + bruteForceID + ": {suppress: {for: 2s, summary: true}}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	files, err := ReadFiles(filepath.Join("testdata", "native", "brute_force.yml"))
	if err != nil {
		t.Fatal(err)
	}
	reg := NewRegistry(DefaultRoutes(), LoadPack("native", "", files, ov))
	j := journaltest.Open(t)
	// Three firings within 2s: the 2nd and 3rd suppressed.
	appendAll(t, j, failuresEvery("acme", "00uJANE", 15, recent(), 100*time.Millisecond, "f"))
	var recorded atomic.Int64
	svc, stop := startService(t, j, reg, Config{Engine: correlate.Config{AllowedLateness: time.Second}}, func(s *Service) {
		s.deps.Raised = func(_ context.Context, rs []Raised) {
			for _, r := range rs {
				if DetectionOf(r).SummaryOf != "" {
					recorded.Add(1)
				}
			}
		}
	})
	defer stop()
	waitRaised(t, svc, 2)
	caughtUp(t, j, svc)
	dets := detections(t, j)
	if len(dets) != 2 {
		t.Fatalf("got %d detection events, want the detection and its summary", len(dets))
	}
	var ev struct {
		DebugContext struct{ DebugData map[string]string } `json:"debugContext"`
	}
	if err := json.Unmarshal(dets[1].Data, &ev); err != nil {
		t.Fatal(err)
	}
	if dd := ev.DebugContext.DebugData; dd["summaryOf"] != dets[0].UUID || dd["suppressedCount"] != "2" {
		t.Errorf("got summary %s, want 2 suppressed of %s", dets[1].Data, dets[0].UUID)
	}
	if recorded.Load() != 1 {
		t.Errorf("got %d summaries recorded for triage, want 1", recorded.Load())
	}
}
