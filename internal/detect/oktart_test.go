package detect

import (
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/detect/oktarule"
	"github.com/auditstream/auditstream/internal/detect/overlay"
	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/journal/journaltest"
)

var oktaCatalogDir = filepath.Join("..", "..", "testdata", "detections", "okta-customer-detections")

// adminDeniedID is the catalog's "Access to Admin Console Denied".
const adminDeniedID = "e6e88bfdbc27a65cddf1225c9ff0fb12"

// Okta's catalog loads as a pack, told by its content or declared with
// format okta: every OIE entry loaded, every Splunk-only entry listed as
// refused with the reason (never dropped). Declared as Sigma, the same
// files are refused by the Sigma loader.
func TestOktaCatalogPack(t *testing.T) {
	files, err := ReadFiles(oktaCatalogDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{FormatAuto, FormatOkta} {
		t.Run("format "+format, func(t *testing.T) {
			reg := NewRegistry(DefaultRoutes(), LoadPackFormat(format, "okta-catalog", "", files, nil))
			n := map[string]int{}
			for _, in := range reg.Infos() {
				n[in.Status]++
				if in.Format != FormatOkta {
					t.Errorf("%s: got format %q, want okta", in.File, in.Format)
				}
				if in.Status == StatusRefused && in.Reason != oktarule.ReasonNoOIE {
					t.Errorf("%s: refused with %q, want %q", in.File, in.Reason, oktarule.ReasonNoOIE)
				}
			}
			if n[StatusRefused] != 9 || n[StatusLoaded] != len(files)-9 {
				t.Errorf("got %v of %d files, want 9 refused (Splunk only), the rest loaded", n, len(files))
			}
			in, ok := reg.Info(adminDeniedID)
			if !ok || in.License != "Apache-2.0" || in.Author != "Okta" {
				t.Errorf("admin console denied: got %+v, want loaded, Apache-2.0, author Okta", in)
			}
		})
	}
	reg := NewRegistry(DefaultRoutes(), LoadPackFormat(FormatSigma, "okta-catalog", "", files, nil))
	for _, in := range reg.Infos() {
		if in.Status == StatusLoaded {
			t.Errorf("declared sigma: %s loaded, want refused", in.File)
		}
	}
}

// A catalog rule raises detections through the runtime, with the overlay's
// level and exceptions applied to it.
func TestOktaCatalogThroughRuntime(t *testing.T) {
	files, err := ReadFiles(oktaCatalogDir)
	if err != nil {
		t.Fatal(err)
	}
	ov, err := overlay.Parse([]byte(`
rules:
  ` + adminDeniedID + `:
    level: high
    exceptions: [{detail: {actor: {id: ["00uBREAKGLASS"]}}}]
`))
	if err != nil {
		t.Fatal(err)
	}
	reg := NewRegistry(DefaultRoutes(), LoadPack("okta-catalog", "", files, ov))
	j := journaltest.Open(t)
	svc, stop := startService(t, j, reg, Config{}, nil)
	defer stop()
	start := recent()
	appendAll(t, j, []event.Record{
		oktaEvent("acme", "ok1", "user.session.access_admin_app", "SUCCESS", "00uJANE", start),
		oktaEvent("acme", "bg1", "user.session.access_admin_app", "FAILURE", "00uBREAKGLASS", start.Add(time.Second)),
		oktaEvent("acme", "d1", "user.session.access_admin_app", "FAILURE", "00uJANE", start.Add(2*time.Second)),
	})
	waitRaised(t, svc, 1)
	caughtUp(t, j, svc)
	var got []string
	for _, d := range detections(t, j) {
		var ev struct {
			Actor  struct{ ID string }
			Target []struct {
				Type        string
				DetailEntry map[string]string
			}
			DebugContext struct{ DebugData map[string]string } `json:"debugContext"`
		}
		if err := json.Unmarshal(d.Data, &ev); err != nil {
			t.Fatal(err)
		}
		if ev.DebugContext.DebugData["ruleId"] != adminDeniedID {
			continue
		}
		got = append(got, ev.Actor.ID)
		if de := ev.Target[0].DetailEntry; de["ruleFormat"] != FormatOkta || de["level"] != "high" || de["author"] != "Okta" {
			t.Errorf("rule target: got %v, want format okta, level high, author Okta", de)
		}
	}
	if len(got) != 1 || got[0] != "00uJANE" {
		t.Errorf("got detections of %v, want one, of 00uJANE (success and the excepted account raise nothing)", got)
	}
}
