package detect

import (
	"encoding/json"
	"fmt"
	"path"
	"path/filepath"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/detect/correlate"
	"github.com/auditstream/auditstream/internal/detect/overlay"
	"github.com/auditstream/auditstream/internal/event"
)

// rawEvent is fixture line 1 (a real-shaped Okta sign-in) with patch merged
// in, its uuid and published time set.
func (o okta) raw(uuid string, at time.Time, patch string) event.Record {
	o.t.Helper()
	var m map[string]any
	if err := json.Unmarshal(o.lines[0], &m); err != nil {
		o.t.Fatal(err)
	}
	var p map[string]any
	if err := json.Unmarshal([]byte(patch), &p); err != nil {
		o.t.Fatalf("patch %s: %v", patch, err)
	}
	mergeJSON(m, p)
	mergeJSON(m, map[string]any{"uuid": uuid, "published": at.UTC().Format(time.RFC3339Nano)})
	b, err := json.Marshal(m)
	if err != nil {
		o.t.Fatal(err)
	}
	return event.Record{UUID: uuid, Org: o.org, EventType: m["eventType"].(string), Published: at, Source: oktaSource, Data: b}
}

// countRaised feeds recs to a fresh matcher of reg and counts the
// detections of rule id.
func countRaised(t *testing.T, reg *Registry, id string, recs []event.Record) int {
	t.Helper()
	m, err := NewMatcher(reg, correlate.Config{AllowedLateness: time.Hour}, Envelope{})
	if err != nil {
		t.Fatal(err)
	}
	var out []Raised
	for i := range recs {
		out = m.Feed(&recs[i], out)
	}
	n := 0
	for _, r := range out {
		if r.Info.ID == id {
			n++
		}
	}
	return n
}

// idOfFile finds the loaded rule of a file in reg.
func idOfFile(t *testing.T, reg *Registry, file string) string {
	t.Helper()
	for _, in := range reg.Infos() {
		if path.Base(in.File) == file && in.Status == StatusLoaded {
			return in.ID
		}
	}
	t.Fatalf("no loaded rule from %s", file)
	return ""
}

// DETECTIONS.md §8 cases 2-8, 12 and 13 through the runtime's registry and
// matcher (routing, prefilter pattern.Set, full evaluation, engine,
// detection events), on the rule files as published: each must-trigger
// event raises one detection of the rule, each must-not event none.
func TestPlanCasesThroughRuntime(t *testing.T) {
	o := newOkta(t)
	catalogFiles, err := ReadFiles(oktaCatalogDir)
	if err != nil {
		t.Fatal(err)
	}
	ov, err := overlay.Parse([]byte(`
placeholders: {legtimate_identifiers: ["@example.com"]}
filters:
  - title: Terraform creates API tokens
    id: 6c0c0b0e-1d5f-4a47-9a63-3f1f0d1d7e13
    logsource: {product: okta, service: okta}
    filter:
      rules: [19951c21-229d-4ccb-8774-b993c3ff3c5c]
      selection: {actor.alternateId: svc-terraform@example.com}
      condition: selection
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{"sigma", "sigma-r2026-01-01"} {
		t.Run(dir, func(t *testing.T) {
			files, err := ReadFiles(filepath.Join("..", "..", "testdata", "detections", dir))
			if err != nil {
				t.Fatal(err)
			}
			reg := NewRegistry(DefaultRoutes(), LoadPack(dir, "", files, ov), LoadPack("okta-catalog", "", catalogFiles, nil))
			type c struct {
				n         string
				file      string
				yes, no   []string
				loopCheck bool
			}
			behav := func(s string) string { return `"debugContext":{"debugData":{"behaviors":"` + s + `"}}` }
			cases := []c{
				{"2 admin console new behaviours", "okta_new_behaviours_admin_console.yml",
					[]string{
						`{"eventType":"policy.evaluate_sign_on","target":[{"displayName":"Okta Admin Console"}],` + behav("{New Geo-Location=NEGATIVE, New Device=POSITIVE, New IP=NEGATIVE}") + `}`,
						`{"eventType":"policy.evaluate_sign_on","target":[{"displayName":"x"},{"displayName":"Okta Admin Console"}],"debugContext":{"debugData":{"logOnlySecurityData":"{\"behaviors\":{\"New Device\":\"POSITIVE\"}}"}}}`,
					},
					[]string{
						`{"eventType":"policy.evaluate_sign_on","target":[{"displayName":"Okta Dashboard"}],` + behav("{New Geo-Location=NEGATIVE, New Device=POSITIVE, New IP=NEGATIVE}") + `}`,
						`{"eventType":"policy.evaluate_sign_on","target":[{"displayName":"Okta Admin Console"}],` + behav("{New Geo-Location=NEGATIVE, New Device=NEGATIVE, New IP=NEGATIVE}") + `}`,
						`{"eventType":"policy.evaluate_sign_on","target":[{"displayName":"Okta Admin Console"}],` + behav("{New Device=NEGATIVE}") + `,"client":{"userAgent":{"rawUserAgent":"New Device=POSITIVE"}}}`,
					}, false},
				{"3 password in alternateId", "okta_password_in_alternateid_field.yml",
					[]string{`{"eventType":"user.session.start","legacyEventType":"core.user_auth.login_failed","actor":{"alternateId":"Winter2026!"}}`},
					[]string{
						`{"eventType":"user.session.start","legacyEventType":"core.user_auth.login_failed","actor":{"alternateId":"jane.doe@example.com"}}`,
						`{"eventType":"user.session.start","legacyEventType":"core.user_auth.login_failed","actor":{"alternateId":"0oa1b2c3d4"}}`,
						`{"eventType":"user.session.start","legacyEventType":"core.user_auth.login_failed","actor":{"alternateId":"JANE@EXAMPLE.COM"}}`,
					}, false},
				{"4 session start via anonymising proxy", "okta_user_session_start_via_anonymised_proxy.yml",
					[]string{`{"eventType":"user.session.start","securityContext":{"isProxy":true}}`},
					[]string{
						`{"eventType":"user.session.start","securityContext":{"isProxy":false}}`,
						`{"eventType":"user.session.start","securityContext":{"isProxy":null}}`,
						`{"eventType":"user.session.start","securityContext":{"asNumber":1}}`,
						`{"eventType":"user.session.end","securityContext":{"isProxy":true}}`,
					}, false},
				{"5 impersonation granted (placeholder from the overlay)", "okta_session_impersonation_granted.yml",
					[]string{`{"eventType":"user.session.impersonation.grant","actor":{"alternateId":"mallory@evil.test"}}`},
					[]string{
						`{"eventType":"user.session.impersonation.grant","actor":{"alternateId":"system@okta.com"}}`,
						`{"eventType":"user.session.impersonation.grant","actor":{"alternateId":"admin@example.com"}}`,
					}, false},
				{"6 api token with excessive network access", "api_token_excessive_network_access.yml",
					[]string{`{"eventType":"system.api_token.update","debugContext":{"debugData":{"networkConnection":"ANYWHERE"}}}`},
					[]string{
						`{"eventType":"system.api_token.update","debugContext":{"debugData":{"networkConnection":"ZONE"}}}`,
						`{"eventType":"system.api_token.update","debugContext":{"debugData":{}}}`,
						`{"eventType":"system.api_token.revoke","debugContext":{"debugData":{"networkConnection":"ANYWHERE"}}}`,
					}, false},
				{"7 protected action: super admin password reset", "protected_action_super_admin_password_reset.yml",
					[]string{`{"eventType":"security.protected_action.attempt","target":[{"displayName":"Reset passwords for super admins","type":"ProtectedAction"},{"displayName":"Jane","type":"User"}]}`},
					[]string{
						`{"eventType":"security.protected_action.attempt","target":[{"displayName":"Jane","type":"User"},{"displayName":"Reset passwords for super admins"}]}`,
						`{"eventType":"user.session.start","target":[{"displayName":"Reset passwords for super admins"}]}`,
					}, false},
				{"8 authentication via new device and proxy", "successful_authentication_via_new_device_and_proxy.yml",
					[]string{`{"eventType":"user.authentication.sso","outcome":{"result":"SUCCESS"},"securityContext":{"isProxy":true},"actor":{"alternateId":"a@example.com"},` + behav("{New Geo-Location=POSITIVE, New Device=POSITIVE}") + `}`},
					[]string{
						`{"eventType":"user.authentication.sso","outcome":{"result":"SUCCESS"},"securityContext":{"isProxy":true},"actor":{"alternateId":"system@okta.com"},` + behav("{New Geo-Location=POSITIVE, New Device=POSITIVE}") + `}`,
						`{"eventType":"user.authentication.sso","outcome":{"result":"SUCCESS"},"securityContext":{"isProxy":false},"actor":{"alternateId":"a@example.com"},` + behav("{New Geo-Location=POSITIVE, New Device=POSITIVE}") + `}`,
						`{"eventType":"user.authentication.sso","outcome":{"result":"SUCCESS"},"securityContext":{"isProxy":true},"actor":{"alternateId":"a@example.com"},` + behav("{New Geo-Location=NEGATIVE, New Device=POSITIVE}") + `}`,
					}, false},
				{"12 log stream tampering, no loop", "log_stream_tampering.yml",
					[]string{`{"eventType":"system.log_stream.lifecycle.deactivate"}`},
					[]string{`{"eventType":"system.api_token.create"}`}, true},
				{"13 Sigma filter from the overlay", "okta_api_token_created.yml",
					[]string{`{"eventType":"system.api_token.create","actor":{"alternateId":"jane@example.com"}}`},
					[]string{`{"eventType":"system.api_token.create","actor":{"alternateId":"svc-terraform@example.com"}}`}, false},
			}
			for _, tc := range cases {
				if dir != "sigma" && tc.file == "okta_session_impersonation_granted.yml" {
					continue // the r2026-01-01 copy has no rules-placeholder folder
				}
				t.Run(tc.n, func(t *testing.T) {
					id := idOfFile(t, reg, tc.file)
					for i, y := range tc.yes {
						rec := o.raw(fmt.Sprintf("y%d", i), t0, y)
						if n := countRaised(t, reg, id, []event.Record{rec}); n != 1 {
							t.Errorf("must trigger %s: got %d detections, want 1", y, n)
						}
						if tc.loopCheck {
							// The detection event re-entering the runtime raises nothing.
							m, err := NewMatcher(reg, correlate.Config{}, Envelope{})
							if err != nil {
								t.Fatal(err)
							}
							out := m.Feed(&rec, nil)
							if len(out) == 0 {
								t.Fatal("no detection")
							}
							det := out[0].Record
							if again := m.Feed(&det, nil); len(again) != 0 {
								t.Errorf("the detection re-entering raised %d detections, want 0", len(again))
							}
						}
					}
					for i, n := range tc.no {
						rec := o.raw(fmt.Sprintf("n%d", i), t0, n)
						if got := countRaised(t, reg, id, []event.Record{rec}); got != 0 {
							t.Errorf("must not trigger %s: got %d detections, want 0", n, got)
						}
					}
				})
			}
		})
	}
}

// planCorrelations are §8 cases 9-11 as rules: push fatigue (5 denials by
// user in 10m, generate: false on the denial rule), chained with an
// accepted push (temporal_ordered, 10m); spray (more than 9 usernames by IP
// in 5m), brute force (20 failures by IP in 60m), lockouts (3 by user in
// 3h); session ASN change (2 ASNs by session in 1h).
const planCorrelations = `title: Push denied
id: plan-deny
name: deny
logsource: {product: okta, service: okta}
detection:
  a: {eventType: user.mfa.okta_verify.deny_push}
  b: {eventType: user.authentication.auth_via_mfa, debugContext.debugData.pushOnlyResponseType: OV_RESPONSE_DENY}
  condition: 1 of them
---
title: Push accepted
id: plan-accept
name: accept
logsource: {product: okta, service: okta}
detection:
  s: {eventType: user.authentication.auth_via_mfa, outcome.result: SUCCESS}
  condition: s
---
title: Push fatigue
id: plan-fatigue
name: fatigue
correlation: {type: event_count, rules: [deny], group-by: [actor.id], timespan: 10m, condition: {gte: 5}}
---
title: Push fatigue then success
id: plan-fatigue-success
correlation: {type: temporal_ordered, rules: [fatigue, accept], group-by: [actor.id], timespan: 10m, generate: true}
`

const planNative = `title: Spray
id: plan-spray
match: {detail: {eventType: [user.session.start], outcome: {result: [FAILURE]}}}
correlation: {type: value_count, group-by: [client.ipAddress], timespan: 5m, condition: {gt: 9, field: actor.alternateId}}
---
title: Brute force by IP
id: plan-brute
match: {detail: {eventType: [user.session.start], outcome: {result: [FAILURE]}}}
correlation: {type: event_count, group-by: [client.ipAddress], timespan: 60m, condition: {gte: 20}}
---
title: Lockouts
id: plan-lockouts
match: {detail: {eventType: [user.account.lock]}}
correlation: {type: event_count, group-by: [actor.alternateId], timespan: 3h, condition: {gte: 3}}
---
title: Session ASN change
id: plan-roaming
match: {detail: {eventType: [user.session.start, policy.evaluate_sign_on], outcome: {result: [SUCCESS, ALLOW]}}}
correlation: {type: value_count, group-by: [authenticationContext.externalSessionId], timespan: 1h, condition: {gte: 2, field: securityContext.asNumber}}
`

// §8 cases 9-11 through the runtime's matcher and engine (event time,
// fixture-shaped events): window edges, duplicates by uuid, out-of-order
// arrival within the lateness, chaining, generate: false, value_count vs
// event_count, gt vs gte, null values and an overlay exception.
func TestPlanCorrelationCasesThroughRuntime(t *testing.T) {
	o := newOkta(t)
	ov, err := overlay.Parse([]byte(`
rules:
  plan-roaming:
    exceptions: [{detail: {client: {id: [okta.b58d5b75-07d4-5f25-bf59-368a1261a405]}}}]
`))
	if err != nil {
		t.Fatal(err)
	}
	files := append(fileList("plan.yml", []byte(planCorrelations)), fileList("native.yml", []byte(planNative))...)
	p := LoadPack("plan", "", files, ov)
	reg := NewRegistry(DefaultRoutes(), p)
	for _, in := range reg.Infos() {
		if in.Status != StatusLoaded {
			t.Fatalf("%s: %s %s", in.ID, in.Status, in.Reason)
		}
	}
	deny := func(uuid, user string, at time.Duration) event.Record {
		return o.raw(uuid, t0.Add(at), `{"eventType":"user.mfa.okta_verify.deny_push","actor":{"id":"`+user+`"}}`)
	}
	accept := func(uuid, user string, at time.Duration) event.Record {
		return o.raw(uuid, t0.Add(at), `{"eventType":"user.authentication.auth_via_mfa","outcome":{"result":"SUCCESS"},"actor":{"id":"`+user+`"}}`)
	}
	ms := time.Millisecond
	five := func(last time.Duration) []event.Record {
		return []event.Record{deny("d1", "U", 0), deny("d2", "U", 150*time.Second), deny("d3", "U", 300*time.Second),
			deny("d4", "U", 450*time.Second), deny("d5", "U", last)}
	}
	fail := func(uuid, user, ip string, at time.Duration) event.Record {
		return o.raw(uuid, t0.Add(at), `{"eventType":"user.session.start","outcome":{"result":"FAILURE"},"actor":{"alternateId":"`+user+`"},"client":{"ipAddress":"`+ip+`"}}`)
	}
	failures := func(n int, users, ips int, step time.Duration) (out []event.Record) {
		for i := range n {
			out = append(out, fail(fmt.Sprintf("f%d", i), fmt.Sprintf("u%d@example.com", i%users), fmt.Sprintf("203.0.113.%d", i%ips), time.Duration(i)*step))
		}
		return out
	}
	lock := func(uuid string, at time.Duration) event.Record {
		return o.raw(uuid, t0.Add(at), `{"eventType":"user.account.lock","actor":{"alternateId":"v@example.com"}}`)
	}
	sess := func(uuid, session string, asn any, ip, client string, at time.Duration) event.Record {
		a, _ := json.Marshal(asn)
		return o.raw(uuid, t0.Add(at), `{"eventType":"user.session.start","outcome":{"result":"SUCCESS"},"authenticationContext":{"externalSessionId":"`+session+
			`"},"securityContext":{"asNumber":`+string(a)+`},"client":{"ipAddress":"`+ip+`","id":"`+client+`"}}`)
	}
	reorder := func(r []event.Record) []event.Record { return []event.Record{r[4], r[0], r[3], r[1], r[2]} }
	for _, tc := range []struct {
		name string
		rule string
		recs []event.Record
		want int
	}{
		{"9 five denials, last at 9:59.999", "plan-fatigue", five(10*time.Minute - ms), 1},
		{"9 last at exactly 10:00.000 (inclusive)", "plan-fatigue", five(10 * time.Minute), 1},
		{"9 last at 10:00.001", "plan-fatigue", five(10*time.Minute + ms), 0},
		{"9 five denials over two users", "plan-fatigue", []event.Record{deny("d1", "U", 0), deny("d2", "V", time.Minute), deny("d3", "U", 2*time.Minute), deny("d4", "V", 3*time.Minute), deny("d5", "U", 4*time.Minute)}, 0},
		{"9 one denial delivered 5 times (same uuid)", "plan-fatigue", []event.Record{deny("d1", "U", 0), deny("d1", "U", 0), deny("d1", "U", 0), deny("d1", "U", 0), deny("d1", "U", 0)}, 0},
		{"9 out of order within the lateness", "plan-fatigue", reorder(five(9 * time.Minute)), 1},
		{"9 the denials raise nothing alone (generate: false)", "plan-deny", five(9 * time.Minute), 0},
		{"9 fatigue then success at 12:00 (chaining)", "plan-fatigue-success", append(five(10*time.Minute-ms), accept("s1", "U", 12*time.Minute)), 1},
		{"9 4 denials and a success", "plan-fatigue-success", append(five(10 * time.Minute)[:4], accept("s1", "U", 12*time.Minute)), 0},
		{"10 10 usernames from one IP in 4m", "plan-spray", failures(10, 10, 1, 24*time.Second), 1},
		{"10 9 usernames from one IP in 5m", "plan-spray", failures(30, 9, 1, 10*time.Second), 0},
		{"10 10 users from 10 IPs", "plan-spray", failures(10, 10, 10, 10*time.Second), 0},
		{"10 20 failures from one IP in 50m", "plan-brute", failures(20, 1, 1, 150*time.Second), 1},
		{"10 19 failures in 60m", "plan-brute", failures(19, 1, 1, 3*time.Minute), 0},
		{"10 3 lockouts in 2h", "plan-lockouts", []event.Record{lock("l1", 0), lock("l2", time.Hour), lock("l3", 2*time.Hour)}, 1},
		{"10 3 lockouts in 4h", "plan-lockouts", []event.Record{lock("l1", 0), lock("l2", 2*time.Hour), lock("l3", 4*time.Hour)}, 0},
		{"11 ASN change within 40m", "plan-roaming", []event.Record{sess("a1", "S", 7922, "1.1.1.1", "c", 0), sess("a2", "S", 9009, "2.2.2.2", "c", 40*time.Minute)}, 1},
		{"11 same ASN, different IPs", "plan-roaming", []event.Record{sess("a1", "S", 7922, "1.1.1.1", "c", 0), sess("a2", "S", 7922, "2.2.2.2", "c", 40*time.Minute)}, 0},
		{"11 ASN change after 70m", "plan-roaming", []event.Record{sess("a1", "S", 7922, "1.1.1.1", "c", 0), sess("a2", "S", 9009, "2.2.2.2", "c", 70*time.Minute)}, 0},
		{"11 two sessions, one ASN each", "plan-roaming", []event.Record{sess("a1", "S", 7922, "1.1.1.1", "c", 0), sess("a2", "T", 9009, "2.2.2.2", "c", time.Minute)}, 0},
		{"11 asNumber null", "plan-roaming", []event.Record{sess("a1", "S", 7922, "1.1.1.1", "c", 0), sess("a2", "S", nil, "2.2.2.2", "c", time.Minute)}, 0},
		{"11 the Admin Console client (overlay exception)", "plan-roaming", []event.Record{sess("a1", "S", 7922, "1.1.1.1", "c", 0), sess("a2", "S", 9009, "2.2.2.2", "okta.b58d5b75-07d4-5f25-bf59-368a1261a405", time.Minute)}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := countRaised(t, reg, tc.rule, tc.recs); got != tc.want {
				t.Errorf("got %d detections of %s, want %d", got, tc.rule, tc.want)
			}
		})
	}
}
