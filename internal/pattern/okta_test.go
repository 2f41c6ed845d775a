package pattern

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// oktaEvent is one Okta LogEvent of the shared test data, with the envelope auditstream
// puts around it (PATTERNS.md §1), in both forms.
type oktaEvent struct {
	detail []byte
	env    *Envelope
	json   []byte // the envelope as JSON
}

func loadOkta(t testing.TB) []oktaEvent {
	path := filepath.Join("..", "..", "testdata", "okta", "logevents.ndjson")
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("Okta test data not found at %s: %v", path, err)
	}
	defer f.Close()
	var out []oktaEvent
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		detail := append([]byte(nil), line...)
		var head struct {
			UUID      string `json:"uuid"`
			Published string `json:"published"`
		}
		if err := json.Unmarshal(detail, &head); err != nil {
			t.Fatalf("logevents.ndjson: %v", err)
		}
		ts := "1970-01-01T00:00:00Z"
		if pt, err := time.Parse(time.RFC3339Nano, head.Published); err == nil {
			ts = pt.UTC().Truncate(time.Second).Format(time.RFC3339)
		}
		env := &Envelope{Version: "0", ID: head.UUID, DetailType: "SystemLog",
			Source: "aws.partner/okta.com/acme/auditstream", Account: "000000000000",
			Time: ts, Region: "us-east-1", Resources: []string{}, Detail: detail}
		out = append(out, oktaEvent{detail: detail, env: env, json: envelopeJSON(env)})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func envelopeJSON(env *Envelope) []byte {
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	res, _ := json.Marshal(env.Resources)
	if env.Resources == nil {
		res = []byte("[]")
	}
	return []byte(fmt.Sprintf(`{"version":%s,"id":%s,"detail-type":%s,"source":%s,"account":%s,"time":%s,"region":%s,"resources":%s,"detail":%s}`,
		q(env.Version), q(env.ID), q(env.DetailType), q(env.Source), q(env.Account), q(env.Time), q(env.Region), res, env.Detail))
}

// oktaEventTypes are the eventType values of the shared data, plus a few that do not
// occur (as real log-stream filters would list).
var oktaEventTypes = []string{
	"user.session.start", "user.session.access_admin_app", "user.session.impersonation.grant",
	"system.mfa.factor.deactivate", "user.account.privilege.grant", "system.api_token.create",
	"system.api_token.revoke", "app.oauth2.authorize.code", "app.oauth2.token.detect_reuse",
	"app.generic.unauth_app_access_attempt", "group.privilege.grant", "user.authentication.auth_via_mfa",
	"system.idp.lifecycle.create", "user.authentication.auth_via_IDP", "system.org.rate_limit.warning",
	"policy.evaluate_sign_on", "application.lifecycle.update", "application.user_membership.show_password",
	"security.threat.detected", "user.account.lock", "user.mfa.factor.suspend", "user.account.reset_password",
	"user.session.end", "user.authentication.verify", "user.lifecycle.create", "user.lifecycle.deactivate",
}

// genStreamPattern returns a pattern typical of a log stream or alert rule over Okta
// events: mostly eventType lists and prefixes, combined with outcome, actor, severity,
// numeric and cidr conditions, some anything-but and $or.
func genStreamPattern(r *rand.Rand) string {
	pick := func(xs []string) string { return xs[r.IntN(len(xs))] }
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	var detail []string
	switch r.IntN(10) {
	case 0, 1, 2, 3:
		n := 1 + r.IntN(5)
		var vs []string
		for i := 0; i < n; i++ {
			vs = append(vs, q(pick(oktaEventTypes)))
		}
		detail = append(detail, `"eventType":[`+strings.Join(vs, ",")+`]`)
	case 4, 5:
		detail = append(detail, `"eventType":[{"prefix":`+q(pick([]string{"user.session.", "user.", "system.", "app.", "policy.", "user.account.", "security."}))+`}]`)
	case 6:
		detail = append(detail, `"eventType":[{"anything-but":{"prefix":"system."}}]`)
	case 7:
		detail = append(detail, `"eventType":[{"wildcard":"user.*.start"}]`)
	}
	if r.IntN(3) == 0 {
		detail = append(detail, `"outcome":{"result":[`+q(pick([]string{"SUCCESS", "FAILURE", "DENY", "ALLOW"}))+`]}`)
	}
	if r.IntN(5) == 0 {
		detail = append(detail, `"actor":{"alternateId":[{"suffix":`+q(pick([]string{"@example.com", "@evership.biz", ".com"}))+`}]}`)
	}
	if r.IntN(8) == 0 {
		detail = append(detail, `"actor":{"alternateId":[{"equals-ignore-case":"JOHN.DOE@EXAMPLE.COM"}]}`)
	}
	if r.IntN(6) == 0 {
		detail = append(detail, `"severity":[{"anything-but":["DEBUG","INFO"]}]`)
	}
	if r.IntN(6) == 0 {
		lo := r.IntN(400000)
		detail = append(detail, fmt.Sprintf(`"securityContext":{"asNumber":[{"numeric":[">=",%d,"<",%d]}]}`, lo, lo+r.IntN(400000)+1))
	}
	if r.IntN(6) == 0 {
		detail = append(detail, `"client":{"ipAddress":[{"cidr":`+q(pick([]string{"10.0.0.0/8", "127.0.0.0/8", "192.168.0.0/16", "1.2.3.0/24"}))+`}]}`)
	}
	if r.IntN(10) == 0 {
		detail = append(detail, `"target":{"type":["AppInstance"],"alternateId":[{"prefix":"Okta"}]}`)
	}
	if r.IntN(12) == 0 {
		detail = append(detail, `"client":{"zone":[null,{"exists":false}]}`)
	}
	if r.IntN(12) == 0 {
		detail = append(detail, `"$or":[{"outcome":{"result":["FAILURE"]}},{"securityContext":{"isProxy":[true]}}]`)
	}
	if len(detail) == 0 {
		detail = append(detail, `"eventType":[{"exists":true}]`)
	}
	top := []string{`"detail":{` + strings.Join(detail, ",") + `}`}
	if r.IntN(3) == 0 {
		top = append(top, `"detail-type":["SystemLog"]`)
	}
	if r.IntN(4) == 0 {
		top = append(top, `"source":[{"prefix":"aws.partner/okta.com/"}]`)
	}
	return "{" + strings.Join(top, ",") + "}"
}

func TestSetDifferentialOkta(t *testing.T) {
	events := loadOkta(t)
	r := rand.New(rand.NewPCG(1, 2))
	s := NewSet()
	var ids []ID
	var pats []*Pattern
	for i := 0; i < 600; i++ {
		src := genStreamPattern(r)
		p, err := Compile([]byte(src))
		if err != nil {
			t.Fatalf("generated pattern %s: %v", src, err)
		}
		id := ID(fmt.Sprintf("p%03d", i))
		s.Add(id, p)
		ids, pats = append(ids, id), append(pats, p)
	}
	total := 0
	check := func(t *testing.T) {
		for ei, ev := range events {
			var want []ID
			for i, p := range pats {
				m := p.Match(ev.json)
				if me := p.MatchEnvelope(ev.env); me != m {
					t.Fatalf("event %d pattern %s: Match=%v MatchEnvelope=%v", ei, p, m, me)
				}
				if m {
					want = append(want, ids[i])
				}
			}
			total += len(want)
			got := s.MatchAll(ev.json, nil)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("event %d: MatchAll = %v, want %v", ei, got, want)
			}
			got = s.MatchAllEnvelope(ev.env, got[:0])
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("event %d: MatchAllEnvelope = %v, want %v", ei, got, want)
			}
		}
	}
	check(t)
	if total == 0 {
		t.Fatalf("no pattern matched any event; the generator is useless")
	}
	// Remove every third pattern and check again.
	var keptIDs []ID
	var keptPats []*Pattern
	for i := range ids {
		if i%3 == 0 {
			if !s.Remove(ids[i]) {
				t.Fatalf("Remove(%s) = false", ids[i])
			}
			continue
		}
		keptIDs, keptPats = append(keptIDs, ids[i]), append(keptPats, pats[i])
	}
	ids, pats = keptIDs, keptPats
	if s.Len() != len(ids) {
		t.Fatalf("Len = %d, want %d", s.Len(), len(ids))
	}
	check(t)
	t.Logf("%d patterns x %d events: %d matches", len(pats), len(events), total)
}

func TestOktaExamples(t *testing.T) {
	events := loadOkta(t)
	p := MustCompile(`{"detail-type":["SystemLog"],"source":[{"prefix":"aws.partner/okta.com/"}],
		"detail":{"eventType":["user.session.start"],"outcome":{"result":["FAILURE"]}}}`)
	n := 0
	for _, ev := range events {
		if p.MatchEnvelope(ev.env) {
			n++
		}
	}
	if n == 0 {
		t.Fatalf("no failed user.session.start among the Okta events")
	}
	// The published envelope file matches as it is.
	env, err := os.ReadFile(filepath.Join("..", "..", "testdata", "okta", "eventbridge-envelope.json"))
	if err != nil {
		t.Fatal(err)
	}
	q := MustCompile(`{"source":[{"prefix":"aws.partner/okta.com/"}],"detail":{"eventType":[{"prefix":"user.session."}],"securityContext":{"asNumber":[{"numeric":[">",6000]}]},"client":{"ipAddress":[{"cidr":"127.0.0.0/8"}]},"target":{"type":["AppUser"],"alternateId":[{"suffix":"@evership.biz"}]}}}`)
	if !q.Match(env) {
		t.Fatalf("eventbridge-envelope.json does not match %s", q)
	}
}

func TestSetConcurrent(t *testing.T) {
	events := loadOkta(t)
	r := rand.New(rand.NewPCG(3, 4))
	s := NewSet()
	for i := 0; i < 100; i++ {
		s.Add(ID(fmt.Sprint(i)), MustCompile(genStreamPattern(r)))
	}
	want := make([]string, len(events))
	for i, ev := range events {
		want[i] = fmt.Sprint(s.MatchAll(ev.json, nil))
	}
	done := make(chan string)
	for g := 0; g < 4; g++ {
		go func() {
			var buf []ID
			for k := 0; k < 20; k++ {
				for i, ev := range events {
					buf = s.MatchAllEnvelope(ev.env, buf[:0])
					if got := fmt.Sprint(buf); got != want[i] {
						done <- fmt.Sprintf("event %d: got %s, want %s", i, got, want[i])
						return
					}
				}
			}
			done <- ""
		}()
	}
	for g := 0; g < 4; g++ {
		if msg := <-done; msg != "" {
			t.Error(msg)
		}
	}
}
