package detect

import (
	"github.com/auditstream/auditstream/internal/detect/overlay"
	"path/filepath"
	"strings"
	"testing"

	"github.com/auditstream/auditstream/internal/detect/correlate"
)

func TestNativePackStatuses(t *testing.T) {
	reg := nativeRegistry(t)
	want := map[string]string{
		"2c0f6a0e-6a57-4f0e-9d0e-0b6f3f1b1a01": StatusLoaded,
		"2c0f6a0e-6a57-4f0e-9d0e-0b6f3f1b1a02": StatusLoaded,
		"2c0f6a0e-6a57-4f0e-9d0e-0b6f3f1b1a03": StatusLoaded,
		"2c0f6a0e-6a57-4f0e-9d0e-0b6f3f1b1a04": StatusNoSource,
		"2c0f6a0e-6a57-4f0e-9d0e-0b6f3f1b1a05": StatusRefused,
	}
	got := map[string]Info{}
	for _, in := range reg.Infos() {
		got[in.ID] = in
	}
	for id, st := range want {
		in, ok := got[id]
		if !ok {
			t.Errorf("rule %s: not listed", id)
			continue
		}
		if in.Status != st {
			t.Errorf("rule %s: got status %q (%s), want %q", id, in.Status, in.Reason, st)
		}
		if st != StatusLoaded && in.Reason == "" {
			t.Errorf("rule %s: status %s without a reason", id, st)
		}
	}
	if r := got["2c0f6a0e-6a57-4f0e-9d0e-0b6f3f1b1a05"]; !strings.Contains(r.Reason, "match") || r.File != "bad.yml" {
		t.Errorf("refused rule: got %s:%d %q, want bad.yml and a reason about match", r.File, r.Line, r.Reason)
	}
	if r := got["2c0f6a0e-6a57-4f0e-9d0e-0b6f3f1b1a01"]; r.Kind != KindCorrelation || r.Slug != "okta_brute_force_user" {
		t.Errorf("brute force rule: got kind %q slug %q, want correlation okta_brute_force_user", r.Kind, r.Slug)
	}
}

// The SigmaHQ Okta pack from testdata loads (both spellings), refused rules
// are listed with their reason, and a placeholder rule without its overlay
// value is refused naming it.
func TestSigmaPacksLoad(t *testing.T) {
	for _, dir := range []string{"sigma", "sigma-r2026-01-01"} {
		t.Run(dir, func(t *testing.T) {
			files, err := ReadFiles(filepath.Join("..", "..", "testdata", "detections", dir))
			if err != nil {
				t.Fatal(err)
			}
			reg := NewRegistry(DefaultRoutes(), LoadPack(dir, "", files, nil))
			loaded, refused := 0, 0
			for _, in := range reg.Infos() {
				switch in.Status {
				case StatusLoaded:
					loaded++
					if in.Author == "" {
						t.Errorf("%s: loaded without an author (DRL 1.1)", in.File)
					}
				case StatusRefused:
					refused++
					if in.Reason == "" || in.File == "" || in.Line == 0 {
						t.Errorf("refused rule without file, line or reason: %+v", in)
					}
				default:
					t.Errorf("%s: got status %q (%s), want loaded or refused", in.File, in.Status, in.Reason)
				}
			}
			if loaded < 22 {
				t.Errorf("got %d loaded rules, want at least 22", loaded)
			}
			if dir == "sigma" {
				if refused != 1 {
					t.Errorf("got %d refused, want 1 (the placeholder rule without overlay)", refused)
				}
				ov := &overlay.Overlay{Placeholders: map[string][]string{"legtimate_identifiers": {"@example.com"}}}
				reg := NewRegistry(DefaultRoutes(), LoadPack(dir, "", files, ov))
				for _, in := range reg.Infos() {
					if in.Status != StatusLoaded {
						t.Errorf("with the overlay: %s got %q (%s), want loaded", in.File, in.Status, in.Reason)
					}
				}
			}
		})
	}
}

func TestRoutesDeclareSources(t *testing.T) {
	files, err := ReadFiles(filepath.Join("testdata", "native", "github.yml"))
	if err != nil {
		t.Fatal(err)
	}
	routes := append(DefaultRoutes(), Route{Product: "github", Sources: []string{"github.audit"}})
	reg := NewRegistry(routes, LoadPack("p", "", files, nil))
	if in, _ := reg.Info("2c0f6a0e-6a57-4f0e-9d0e-0b6f3f1b1a04"); in.Status != StatusLoaded {
		t.Errorf("with a github route: got %q, want loaded", in.Status)
	}
}

// A correlation the engine would refuse (a threshold maxEventsPerWindow
// cannot reach) is refused with the engine's reason; the others still run.
func TestCheckRefusesWhatTheEngineWouldNot(t *testing.T) {
	unreachable := []byte(`title: Too many
id: too-many
author: t
match: {detail: {eventType: [user.session.start]}}
correlation: {type: event_count, timespan: 1h, condition: {gte: 5000}}
`)
	reg := NewRegistry(DefaultRoutes(), nativePack(t), LoadPack("p2", "", fileList("x.yml", unreachable), nil))
	reg.Check(correlate.Config{})
	in, _ := findInfo(reg, "too-many")
	if in.Status != StatusRefused || !strings.Contains(in.Reason, "cannot be reached") {
		t.Errorf("got %q %q, want refused with the engine's reason", in.Status, in.Reason)
	}
	if _, err := NewMatcher(reg, correlate.Config{}, Envelope{}); err != nil {
		t.Errorf("matcher after Check: got %v, want the other rules running", err)
	}
	if in, _ := findInfo(reg, bruteForceID); in.Status != StatusLoaded {
		t.Errorf("brute force: got %q, want loaded", in.Status)
	}
}

func findInfo(reg *Registry, id string) (Info, bool) {
	for _, in := range reg.Infos() {
		if in.ID == id {
			return in, true
		}
	}
	return Info{}, false
}
