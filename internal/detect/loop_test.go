package detect

import (
	"testing"

	"github.com/auditstream/auditstream/internal/detect/correlate"
)

// Alert-on-alert rules that match detection events of their own level never
// loop: a rule does not see its own detections, and two rules matching each
// other's stop at MaxChainDepth. The journal's loop is simulated by feeding
// every raised detection back.
func TestAlertOnAlertNoLoop(t *testing.T) {
	rule := func(id string) []byte {
		return []byte("title: " + id + "\nid: " + id + "\nauthor: t\nlevel: high\n" +
			"logsource: {product: auditstream, service: detections}\n" +
			"match: {detail: {severity: [ERROR]}}\nsuppress: {for: \"0\"}\n")
	}
	for _, tc := range []struct {
		name  string
		rules []string
		want  int // detections raised from the first one, in all
	}{
		{"a rule matching its own detections", []string{"self"}, 1},
		{"two rules matching each other's", []string{"ping", "pong"}, 2 * (MaxChainDepth - 1)}, // depths 2 to 10
	} {
		t.Run(tc.name, func(t *testing.T) {
			var packs []*Pack
			for _, id := range tc.rules {
				packs = append(packs, LoadPack(id, "", fileList(id+".yml", rule(id)), nil))
			}
			packs = append(packs, nativePack(t))
			reg := NewRegistry(DefaultRoutes(), packs...)
			m, err := NewMatcher(reg, correlate.Config{}, Envelope{})
			if err != nil {
				t.Fatal(err)
			}
			queue := failures("acme", "00uJANE", 5, t0, "x")
			total := 0
			for i := 0; i < len(queue); i++ {
				if i > 1000 {
					t.Fatal("detections loop")
				}
				out := m.Feed(&queue[i], nil)
				for _, r := range out {
					if r.Info.ID != bruteForceID && r.Info.ID != "2c0f6a0e-6a57-4f0e-9d0e-0b6f3f1b1a03" {
						total++
					}
					queue = append(queue, r.Record)
				}
			}
			if total != tc.want {
				t.Errorf("got %d alert-on-alert detections, want %d", total, tc.want)
			}
		})
	}
}
