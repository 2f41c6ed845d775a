package shipped

import (
	"bytes"
	"encoding/json"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/auditstream/auditstream/internal/detect/field"
	"github.com/auditstream/auditstream/internal/detect/overlay"
	"github.com/auditstream/auditstream/internal/detect/sigma"
	"github.com/auditstream/auditstream/internal/pattern"
)

const eventsFile = "../../../testdata/okta/logevents.ndjson"

func fixture(t *testing.T) [][]byte {
	t.Helper()
	data, err := os.ReadFile(eventsFile)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Split(bytes.TrimSpace(data), []byte("\n"))
}

// merge overlays patch (a JSON object) onto base, recursively for objects.
func merge(base, patch map[string]any) {
	for k, v := range patch {
		if pm, ok := v.(map[string]any); ok {
			if bm, ok := base[k].(map[string]any); ok {
				merge(bm, pm)
				continue
			}
		}
		base[k] = v
	}
}

// nativeDoc is what the test reads of a native rule (the runtime's loader reads
// the same keys).
type nativeDoc struct {
	Title       string          `yaml:"title"`
	ID          string          `yaml:"id"`
	Name        string          `yaml:"name"`
	Author      string          `yaml:"author"`
	License     string          `yaml:"license"`
	Level       string          `yaml:"level"`
	Tags        []string        `yaml:"tags"`
	Related     []sigma.Related `yaml:"related"`
	Logsource   sigma.Logsource `yaml:"logsource"`
	Description string          `yaml:"description"`
	Match       yaml.Node       `yaml:"match"`
	Correlation yaml.Node       `yaml:"correlation"`
	Suppress    *struct {
		For string   `yaml:"for"`
		By  []string `yaml:"by"`
	} `yaml:"suppress"`
}

// The Splunk-only entries of Okta's catalog, each re-expressed by at least one
// shipped rule.
var splunkOnly = []string{
	"0c2634a68f9ac593c58349e0de80bb67", "4f6161a02dbd790f1b1c2c9f5287ab45", "f2ae616490db4cc6515b5f8ff7785262",
	"6d16360eb451ac60db533258c0c5b48e", "17dbb021f4a1bb58274136c6441a38ba", "d1e09d985740ae32f8267b0800e3b012",
	"2c6f8d09fd3f5bc3eb735e293497ca63", "b62937f1267543f143786725e5787b0b", "5532601c33db3f51f8db046fe5f9c4c2",
}

func TestShippedOktaPack(t *testing.T) {
	lines := fixture(t)
	base := map[string]any{}
	if err := json.Unmarshal(lines[22], &base); err != nil { // a full OIE user.session.start
		t.Fatal(err)
	}
	line := func(n int) string { return string(lines[n-1]) }
	ev := func(patch string) string {
		var p map[string]any
		if err := json.Unmarshal([]byte(patch), &p); err != nil {
			t.Fatalf("patch %s: %v", patch, err)
		}
		b := map[string]any{}
		raw, _ := json.Marshal(base)
		_ = json.Unmarshal(raw, &b)
		merge(b, p)
		out, _ := json.Marshal(b)
		return string(out)
	}
	pwFail := ev(`{"eventType":"user.authentication.verify","outcome":{"result":"FAILURE","reason":"INVALID_CREDENTIALS"}}`)
	pwOK := ev(`{"eventType":"user.authentication.verify","outcome":{"result":"SUCCESS","reason":null}}`)
	pushSent := ev(`{"eventType":"system.push.send_factor_verify_push","outcome":{"result":"SUCCESS"},"debugContext":{"debugData":{"behaviors":"{New Geo-Location=NEGATIVE, New Device=POSITIVE, New IP=POSITIVE}"}}}`)
	pushDeny := ev(`{"eventType":"user.authentication.auth_via_mfa","outcome":{"result":"FAILURE","reason":"INVALID_CREDENTIALS"},"debugContext":{"debugData":{"factor":"OKTA_VERIFY_PUSH","pushOnlyResponseType":"OV_RESPONSE_DENY"}}}`)
	pushOK := ev(`{"eventType":"user.authentication.auth_via_mfa","outcome":{"result":"SUCCESS","reason":null},"debugContext":{"debugData":{"factor":"OKTA_VERIFY_PUSH"}}}`)
	mfaAbandoned := ev(`{"eventType":"user.authentication.auth_via_mfa","outcome":{"result":"ABANDONED","reason":null}}`)
	mfaUnansweredProxy := ev(`{"eventType":"user.authentication.auth_via_mfa","outcome":{"result":"UNANSWERED"},"securityContext":{"isProxy":true}}`)
	cases := map[string]struct{ match, noMatch []string }{
		"password_spray_by_ip.yml":            {[]string{line(9), line(39), pwFail}, []string{line(1), line(10), line(24), pwOK}},
		"brute_force_by_ip.yml":               {[]string{line(9), pwFail}, []string{line(23), line(52)}},
		"brute_force_by_user.yml":             {[]string{line(41), pwFail}, []string{pwOK, line(20)}},
		"distributed_brute_force_by_user.yml": {[]string{line(40)}, []string{line(24)}},
		"mfa_push_fatigue.yml":                {[]string{pushSent, pushDeny, ev(`{"eventType":"user.mfa.okta_verify.deny_push"}`)}, []string{pushOK, line(18), line(20)}},
		"mfa_abandonment_by_ip.yml":           {[]string{mfaAbandoned, mfaUnansweredProxy}, []string{line(18), line(20), pushOK}},
		"mfa_abandonment_many_users.yml":      {[]string{mfaAbandoned}, []string{line(38)}},
		"mfa_abandonment_via_proxy.yml":       {[]string{mfaUnansweredProxy}, []string{mfaAbandoned}},
		"session_roaming_asn.yml":             {[]string{line(23), ev(`{"eventType":"user.authentication.sso","outcome":{"result":"SUCCESS"}}`)}, []string{ev(`{"authenticationContext":{"externalSessionId":"unknown"}}`), ev(`{"authenticationContext":{"externalSessionId":""}}`), line(52), line(9)}},
		"session_cookie_reuse.yml": {
			[]string{ev(`{"eventType":"policy.evaluate_sign_on","outcome":{"result":"ALLOW"}}`)},
			[]string{ev(`{"eventType":"policy.evaluate_sign_on","outcome":{"result":"DENY"}}`), line(27)}},
		"admin_console_new_device.yml":  {[]string{line(27), line(30), ev(`{"eventType":"user.session.access_admin_app","target":[{"displayName":"Okta Admin Console","type":"AppInstance"}],"debugContext":{"debugData":{"behaviors":"{New Device=POSITIVE, New IP=NEGATIVE}"}}}`)}, []string{line(29), line(3)}},
		"repeated_account_lockouts.yml": {[]string{line(52)}, []string{line(9)}},
		"rapid_app_access.yml": {
			[]string{ev(`{"eventType":"user.authentication.sso","outcome":{"result":"SUCCESS"},"debugContext":{"debugData":{"initiationType":"IDP_INITIATED"}}}`)},
			[]string{line(46), ev(`{"eventType":"user.authentication.sso","outcome":{"result":"SUCCESS"},"debugContext":{"debugData":{"initiationType":"SP_INITIATED"}}}`)}},
		"mfa_policy_downgrade.yml": {
			[]string{ev(`{"eventType":"policy.rule.update","outcome":{"result":"SUCCESS"},"target":[{"type":"PolicyEntity","displayName":"Default Policy"},{"type":"PolicyRule","displayName":"Catch-all Rule","changeDetails":{"from":{"policyRuleActionJson":"{\"appSignOn\":{\"access\":\"ALLOW\",\"verificationMethod\":{\"factorMode\":\"2FA\",\"type\":\"ASSURANCE\"}}}"},"to":{"policyRuleActionJson":"{\"appSignOn\":{\"access\":\"ALLOW\",\"verificationMethod\":{\"factorMode\":\"1FA\",\"type\":\"ASSURANCE\"}}}"}}}]}`)},
			[]string{ev(`{"eventType":"policy.rule.update","outcome":{"result":"SUCCESS"},"target":[{"type":"PolicyRule","changeDetails":{"from":{"policyRuleActionJson":"{\"appSignOn\":{\"verificationMethod\":{\"factorMode\":\"1FA\"}}}"},"to":{"policyRuleActionJson":"{\"appSignOn\":{\"verificationMethod\":{\"factorMode\":\"2FA\"}}}"}}}]}`)}},
		"device_enrolled_nonstandard_hostname.yml": {[]string{ev(`{"eventType":"device.enrollment.create","target":[{"type":"Device","displayName":"DESKTOP-4F2K1"}]}`)}, []string{line(23)}},
		"device_registered_to_multiple_users.yml": {
			[]string{ev(`{"eventType":"device.user.add","target":[{"type":"Device","displayName":"iPhone","detailEntry":{"oktaDeviceId":"guo1a2b3c4"}}]}`)},
			[]string{ev(`{"eventType":"device.user.add","target":[{"type":"Device","displayName":"iPhone"}]}`)}},
		"phone_number_registered_to_multiple_users.yml": {
			[]string{ev(`{"eventType":"system.sms.send_phone_verification_message","target":[{"type":"User","id":"00u1"},{"type":"MobilePhone","id":"mbl1a2b3"}]}`)},
			[]string{ev(`{"eventType":"system.sms.send_phone_verification_message","target":[{"type":"User","id":"00u1"}]}`)}},
		"push_from_roaming_session.yml":          {[]string{pushSent, pushOK, pushDeny}, []string{ev(`{"eventType":"system.push.send_factor_verify_push","debugContext":{"debugData":{"behaviors":"{New Device=NEGATIVE}"}}}`)}},
		"signin_new_country.yml":                 {[]string{line(23), ev(`{"eventType":"user.authentication.sso","outcome":{"result":"SUCCESS"}}`)}, []string{line(9), ev(`{"client":{"geographicalContext":{"country":""}}}`), ev(`{"outcome":{"result":"FAILURE"}}`)}},
		"app_sign_on_challenges_unsatisfied.yml": {[]string{line(27), line(33)}, []string{line(31), line(46)}},
	}

	files := OktaFiles()
	if len(files) < 20 {
		t.Fatalf("got %d files", len(files))
	}
	related := map[string]bool{}
	ids := map[string]string{}
	for _, f := range files {
		var probe map[string]any
		if err := yaml.Unmarshal(f.Data, &probe); err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		if _, native := probe["match"]; !native {
			continue
		}
		t.Run(f.Name, func(t *testing.T) {
			var d nativeDoc
			dec := yaml.NewDecoder(bytes.NewReader(f.Data))
			if err := dec.Decode(&d); err != nil {
				t.Fatal(err)
			}
			if d.Title == "" || d.Name+".yml" != f.Name || len(d.ID) != 36 || d.Author != "auditstream" || d.License != "Apache-2.0" ||
				!overlay.ValidLevel(d.Level) || d.Logsource.Product != "okta" || d.Description == "" ||
				!slices.ContainsFunc(d.Tags, func(s string) bool { return strings.HasPrefix(s, "attack.t") }) {
				t.Errorf("metadata: %+v", d)
			}
			if other, dup := ids[d.ID]; dup {
				t.Errorf("id %s also in %s", d.ID, other)
			}
			ids[d.ID] = f.Name
			for _, r := range d.Related {
				related[r.ID] = true
			}
			var m any
			if err := d.Match.Decode(&m); err != nil {
				t.Fatal(err)
			}
			pat, err := overlay.CompilePattern(m)
			if err != nil {
				t.Fatalf("match: %v", err)
			}
			if d.Correlation.Kind != 0 {
				c, err := sigma.CompileCorrelationBlock(&d.Correlation, sigma.Meta{ID: d.ID, Title: d.Title}, d.ID+"#base")
				if err != nil {
					t.Fatalf("correlation: %v", err)
				}
				if len(c.GroupPaths(d.ID+"#base")) != len(c.GroupBy) || c.Timespan <= 0 {
					t.Errorf("correlation: %+v", c)
				}
				if d.Suppress != nil && len(d.Suppress.By) > 0 && !slices.Equal(d.Suppress.By, c.GroupBy) {
					t.Errorf("suppress.by %v differs from group-by %v", d.Suppress.By, c.GroupBy)
				}
			}
			if d.Suppress == nil {
				t.Error("no suppress")
			} else if _, err := overlay.ParseSuppress(d.Suppress.For, d.Suppress.By, false); err != nil {
				t.Error(err)
			}
			tc, ok := cases[f.Name]
			if !ok || len(tc.match) == 0 || len(tc.noMatch) == 0 {
				t.Fatal("no test events (each rule needs a matching and a non-matching sequence)")
			}
			for i, e := range tc.match {
				env := &pattern.Envelope{Source: "aws.partner/okta.com/acme/okta", DetailType: "SystemLog", Detail: []byte(e)}
				if !pat.MatchEnvelope(env) {
					t.Errorf("match[%d] did not match: %s", i, e)
				}
			}
			for i, e := range tc.noMatch {
				env := &pattern.Envelope{Source: "aws.partner/okta.com/acme/okta", DetailType: "SystemLog", Detail: []byte(e)}
				if pat.MatchEnvelope(env) {
					t.Errorf("noMatch[%d] matched: %s", i, e)
				}
			}
		})
	}
	for name := range maps.Keys(cases) {
		if !slices.ContainsFunc(files, func(f sigma.File) bool { return f.Name == name }) {
			t.Errorf("test case for %s, which is not in the pack", name)
		}
	}
	for _, id := range splunkOnly {
		if !related[id] {
			t.Errorf("Okta's Splunk-only %s is re-expressed by no shipped rule", id)
		}
	}

	// The Sigma file: push fatigue followed by an accepted push.
	var sf []sigma.File
	for _, f := range files {
		if f.Name == "mfa_push_fatigue_then_success.yml" {
			sf = append(sf, f)
		}
	}
	sp := sigma.LoadFiles(sigma.Overlay{}, sf...)
	if len(sp.Refused) > 0 || len(sp.Rules) != 2 || len(sp.Correlations) != 2 {
		t.Fatalf("push fatigue then success: rules %d, correlations %d, refused %v", len(sp.Rules), len(sp.Correlations), sp.Refused)
	}
	last := sp.Correlations[1]
	if last.Type != sigma.TemporalOrdered || last.Depth != 2 || last.License != "Apache-2.0" {
		t.Errorf("got %+v", last)
	}
	var fe field.Event
	for _, tt := range []struct {
		rule, event string
		want        bool
	}{
		{"41aab921-055b-4e5c-a005-1a10f0d6b14d", pushSent, true},
		{"41aab921-055b-4e5c-a005-1a10f0d6b14d", pushDeny, true},
		{"41aab921-055b-4e5c-a005-1a10f0d6b14d", pushOK, false},
		{"96d8ca2c-740c-4770-974a-cf3298d35b27", pushOK, true},
		{"96d8ca2c-740c-4770-974a-cf3298d35b27", pushDeny, false},
		{"96d8ca2c-740c-4770-974a-cf3298d35b27", line(18), false},
	} {
		if err := fe.Reset([]byte(tt.event)); err != nil {
			t.Fatal(err)
		}
		if got := sp.Rule(tt.rule).Match(&fe); got != tt.want {
			t.Errorf("%s on %s: got %v, want %v", tt.rule, tt.event, got, tt.want)
		}
	}
}
