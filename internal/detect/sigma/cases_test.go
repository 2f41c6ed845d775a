package sigma

import (
	"testing"

	"github.com/auditstream/auditstream/internal/detect/field"
)

// TestDetectionsPlanCases runs the single-event part of DETECTIONS.md §8 cases 1-5
// (suppression and windows are the runtime's) against the real rule files of both
// SigmaHQ packs.
func TestDetectionsPlanCases(t *testing.T) {
	cur := loadPack(t, "sigma", testOverlay)
	old := loadPack(t, "sigma-r2026-01-01", testOverlay)
	cases := []struct {
		name, id string
		yes, no  []string
	}{
		{"1 mfa reset", "50e068d7-1e6b-4054-87e5-0a592c40c7e0",
			[]string{`{"eventType":"user.mfa.factor.reset_all","actor":{"alternateId":"a@example.com"},"target":[{"alternateId":"v@example.com"}]}`,
				`{"eventType":"USER.MFA.FACTOR.RESET_ALL"}`, `{"eventType":"user.mfa.factor.deactivate"}`},
			[]string{`{"eventType":"user.mfa.factor.activate"}`, `{"eventType":"user.mfa.factor.reset_all.extra"}`}},
		{"2 admin console behaviours", "a0b38b70-3cb5-484b-a4eb-c4d8e7bcc0a9",
			[]string{
				`{"eventType":"policy.evaluate_sign_on","target":[{"displayName":"Okta Admin Console"}],"debugContext":{"debugData":{"behaviors":"{New Geo-Location=NEGATIVE, New Device=POSITIVE, New IP=NEGATIVE}"}}}`,
				`{"eventType":"policy.evaluate_sign_on","target":[{"displayName":"x"},{"displayName":"Okta Admin Console"}],"debugContext":{"debugData":{"logOnlySecurityData":"{\"behaviors\":{\"New Device\":\"POSITIVE\"}}"}}}`,
				`{"eventType":"policy.evaluate_sign_on","target":[{"displayName":"Okta Admin Console"}],"debugContext":{"debugData":{"behaviors":["New Device=POSITIVE"]}}}`,
				`{"eventType":"policy.evaluate_sign_on","target":[{"displayName":"Okta Admin Console"}],"debugContext":{"debugData":{"logOnlySecurityData":{"behaviors":{"New Device":"POSITIVE"}}}}}`,
			},
			[]string{
				`{"eventType":"policy.evaluate_sign_on","target":[{"displayName":"Okta Dashboard"}],"debugContext":{"debugData":{"behaviors":"{New Device=POSITIVE}"}}}`,
				`{"eventType":"policy.evaluate_sign_on","target":[{"displayName":"Okta Admin Console"}],"debugContext":{"debugData":{"behaviors":"{New Geo-Location=NEGATIVE, New Device=NEGATIVE}"}}}`,
				`{"eventType":"policy.evaluate_sign_on","target":[{"displayName":"Okta Admin Console"}],"debugContext":{"debugData":{"behaviors":"NEGATIVE","other":"POSITIVE"}}}`,
			}},
		{"3 password in alternateId", "91b76b84-8589-47aa-9605-c837583b82a9",
			[]string{`{"legacyEventType":"core.user_auth.login_failed","actor":{"alternateId":"Winter2026!"}}`},
			[]string{`{"legacyEventType":"core.user_auth.login_failed","actor":{"alternateId":"jane.doe@example.com"}}`,
				`{"legacyEventType":"core.user_auth.login_failed","actor":{"alternateId":"0oa1b2c3d4"}}`,
				`{"legacyEventType":"core.user_auth.login_failed","actor":{"alternateId":"JANE@EXAMPLE.COM"}}`,
				`{"legacyEventType":"core.user_auth.login_success","actor":{"alternateId":"Winter2026!"}}`}},
		{"4 anonymised proxy", "bde30855-5c53-4c18-ae90-1ff79ebc9578",
			[]string{`{"eventType":"user.session.start","securityContext":{"isProxy":true}}`},
			[]string{`{"eventType":"user.session.start","securityContext":{"isProxy":false}}`,
				`{"eventType":"user.session.start","securityContext":{"isProxy":null}}`,
				`{"eventType":"user.session.start","securityContext":{}}`,
				`{"eventType":"user.session.end","securityContext":{"isProxy":true}}`}},
		{"5 impersonation from an untrusted domain", "fe04b26b-0ac4-45d7-9404-4b9f16a440a9",
			[]string{`{"eventType":"user.session.impersonation.grant","actor":{"alternateId":"mallory@evil.test"}}`},
			[]string{`{"eventType":"user.session.impersonation.grant","actor":{"alternateId":"system@okta.com"}}`,
				`{"eventType":"user.session.impersonation.grant","actor":{"alternateId":"admin@example.com"}}`,
				`{"eventType":"user.session.start","actor":{"alternateId":"mallory@evil.test"}}`}},
	}
	var e field.Event
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, p := range []*Pack{cur, old} {
				r := p.Rule(tc.id)
				if r == nil {
					if p == old && tc.id == "fe04b26b-0ac4-45d7-9404-4b9f16a440a9" {
						continue // the placeholder rule is newer than r2026-01-01
					}
					t.Fatalf("rule %s not loaded", tc.id)
				}
				for _, ev := range tc.yes {
					if err := e.Reset([]byte(ev)); err != nil {
						t.Fatal(err)
					}
					if !r.Match(&e) {
						t.Errorf("%s: %s: got no match, want a match", r.File, ev)
					}
				}
				for _, ev := range tc.no {
					if err := e.Reset([]byte(ev)); err != nil {
						t.Fatal(err)
					}
					if r.Match(&e) {
						t.Errorf("%s: %s: got a match, want none", r.File, ev)
					}
				}
			}
		})
	}
	if r := cur.Rule("50e068d7-1e6b-4054-87e5-0a592c40c7e0"); r.Author != "Austin Songer @austinsonger" || r.Level != "medium" {
		t.Errorf("got author %q level %q, want Austin Songer @austinsonger, medium", r.Author, r.Level)
	}
}
