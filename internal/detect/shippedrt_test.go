package detect

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/detect/correlate"
	"github.com/auditstream/auditstream/internal/detect/shipped"
	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/journal/journaltest"
)

// fixtureLines reads testdata/okta/logevents.ndjson (real-shaped Okta
// LogEvents; sources in testdata/okta/SOURCES.md).
func fixtureLines(t testing.TB) [][]byte {
	t.Helper()
	data, err := os.ReadFile("../../testdata/okta/logevents.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Split(bytes.TrimSpace(data), []byte("\n"))
}

// mergeJSON overlays patch onto base, recursively for objects.
func mergeJSON(base, patch map[string]any) {
	for k, v := range patch {
		if pm, ok := v.(map[string]any); ok {
			if bm, ok := base[k].(map[string]any); ok {
				mergeJSON(bm, pm)
				continue
			}
		}
		base[k] = v
	}
}

// okta is a builder of real-shaped Okta events: fixture line n (1-based)
// with a patch, a uuid, an actor, a client IP and a time.
type okta struct {
	t     testing.TB
	lines [][]byte
	org   string
}

func newOkta(t testing.TB) okta { return okta{t: t, lines: fixtureLines(t), org: "acme"} }

func (o okta) event(line int, patch, uuid, user, ip string, at time.Time) event.Record {
	o.t.Helper()
	var m map[string]any
	if err := json.Unmarshal(o.lines[line-1], &m); err != nil {
		o.t.Fatal(err)
	}
	if patch != "" {
		var p map[string]any
		if err := json.Unmarshal([]byte(patch), &p); err != nil {
			o.t.Fatal(err)
		}
		mergeJSON(m, p)
	}
	mergeJSON(m, map[string]any{"uuid": uuid, "published": at.UTC().Format(time.RFC3339Nano),
		"actor":  map[string]any{"id": "00u" + user, "alternateId": user + "@example.com"},
		"client": map[string]any{"ipAddress": ip}})
	b, err := json.Marshal(m)
	if err != nil {
		o.t.Fatal(err)
	}
	return event.Record{UUID: uuid, Org: o.org, EventType: m["eventType"].(string), Published: at, Source: oktaSource, Data: b}
}

// Line 9 is a failed password sign-in (INVALID_CREDENTIALS); line 18 an
// MFA verification, patched into Okta Verify pushes.
const (
	lineFailedPassword = 9
	lineMFA            = 18
	patchPushSent      = `{"eventType":"system.push.send_factor_verify_push","displayMessage":"Push notification sent","outcome":{"result":"SUCCESS"}}`
	patchPushAccepted  = `{"outcome":{"result":"SUCCESS"},"debugContext":{"debugData":{"factor":"OKTA_VERIFY_PUSH"}}}`
)

func (o okta) failure(uuid, user, ip string, at time.Time) event.Record {
	return o.event(lineFailedPassword, "", uuid, user, ip, at)
}

func (o okta) pushSent(uuid, user string, at time.Time) event.Record {
	return o.event(lineMFA, patchPushSent, uuid, user, "198.51.100.9", at)
}

func (o okta) pushAccepted(uuid, user string, at time.Time) event.Record {
	return o.event(lineMFA, patchPushAccepted, uuid, user, "198.51.100.9", at)
}

func shippedRegistry(t testing.TB) *Registry {
	t.Helper()
	p := LoadPack(shipped.OktaPack, "", shipped.OktaFiles(), nil)
	reg := NewRegistry(DefaultRoutes(), p)
	reg.Check(correlate.Config{})
	return reg
}

// The shipped pack loads through the runtime without a refusal, every rule
// listed with its status.
func TestShippedPackLoads(t *testing.T) {
	reg := shippedRegistry(t)
	n := 0
	for _, in := range reg.Infos() {
		n++
		if in.Status != StatusLoaded || in.Pack != shipped.OktaPack {
			t.Errorf("%s (%s): got status %q (%s) pack %s, want loaded in %s", in.ID, in.File, in.Status, in.Reason, in.Pack, shipped.OktaPack)
		}
	}
	// 20 native rules and the Sigma file's 4 documents.
	if n != 24 {
		t.Errorf("got %d rule documents, want 24", n)
	}
}

// byType counts the journal's detections by eventType suffix.
func byType(recs []event.Record) map[string]int {
	out := map[string]int{}
	for _, r := range recs {
		out[r.EventType[len(EventTypePrefix):]]++
	}
	return out
}

// The shipped rules raise detections through the runtime (journal, reader,
// matcher, engine, detection events) on real-shaped Okta events: each case
// has a sequence that must trigger the rule once and one that must not.
func TestShippedRulesThroughRuntime(t *testing.T) {
	o := newOkta(t)
	type seq func(start time.Time) []event.Record
	for _, tc := range []struct {
		name, slug string
		level      string
		trigger    seq
		not        seq
	}{
		{"brute force by user", "brute_force_by_user", "medium",
			func(s time.Time) (out []event.Record) {
				for i := range 10 { // 10 failures of one user from 10 IPs
					out = append(out, o.failure(fmt.Sprintf("bu-%d", i), "jane", fmt.Sprintf("203.0.113.%d", i+1), s.Add(time.Duration(i)*time.Second)))
				}
				return out
			},
			func(s time.Time) (out []event.Record) {
				for i := range 9 { // 9 failures, then a success
					out = append(out, o.failure(fmt.Sprintf("bn-%d", i), "jane", "203.0.113.1", s.Add(time.Duration(i)*time.Second)))
				}
				out = append(out, o.event(1, "", "bn-ok", "jane", "203.0.113.1", s.Add(10*time.Second)))
				return out
			}},
		{"password spray by IP", "password_spray_by_ip", "high",
			func(s time.Time) (out []event.Record) {
				for i := range 10 { // 10 users from one IP
					out = append(out, o.failure(fmt.Sprintf("su-%d", i), fmt.Sprintf("user%d", i), "192.0.2.66", s.Add(time.Duration(i)*time.Second)))
				}
				return out
			},
			func(s time.Time) (out []event.Record) {
				for i := range 12 { // 9 users from one IP (some twice), 3 from others
					user, ip := fmt.Sprintf("user%d", i%9), "192.0.2.66"
					if i >= 9 {
						user, ip = fmt.Sprintf("other%d", i), fmt.Sprintf("192.0.2.%d", i)
					}
					out = append(out, o.failure(fmt.Sprintf("sn-%d", i), user, ip, s.Add(time.Duration(i)*time.Second)))
				}
				return out
			}},
		{"MFA push fatigue", "mfa_push_fatigue", "high",
			func(s time.Time) (out []event.Record) {
				for i := range 5 {
					out = append(out, o.pushSent(fmt.Sprintf("pu-%d", i), "jane", s.Add(time.Duration(i)*time.Second)))
				}
				return out
			},
			func(s time.Time) (out []event.Record) {
				for i := range 4 { // 4 pushes to jane, 4 to john
					out = append(out, o.pushSent(fmt.Sprintf("pn-%d", i), "jane", s.Add(time.Duration(i)*time.Second)),
						o.pushSent(fmt.Sprintf("pm-%d", i), "john", s.Add(time.Duration(i)*time.Second)))
				}
				return out
			}},
		{"push fatigue followed by success", "okta_push_fatigue_then_success", "critical",
			func(s time.Time) (out []event.Record) {
				for i := range 3 {
					out = append(out, o.pushSent(fmt.Sprintf("fu-%d", i), "jane", s.Add(time.Duration(i)*time.Second)))
				}
				return append(out, o.pushAccepted("fu-ok", "jane", s.Add(5*time.Second)))
			},
			func(s time.Time) (out []event.Record) {
				// The accepted push comes first (temporal_ordered), and
				// another user's accepted push does not complete jane's burst.
				out = append(out, o.pushAccepted("fn-ok", "jane", s))
				for i := range 3 {
					out = append(out, o.pushSent(fmt.Sprintf("fn-%d", i), "jane", s.Add(time.Duration(i+1)*time.Second)))
				}
				return append(out, o.pushAccepted("fn-john", "john", s.Add(5*time.Second)))
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, want := range []int{1, 0} {
				j := journaltest.Open(t)
				svc, stop := startService(t, j, shippedRegistry(t), Config{}, nil)
				recs := tc.trigger(recent())
				if want == 0 {
					recs = tc.not(recent())
				}
				appendAll(t, j, recs)
				if want == 1 {
					waitRaised(t, svc, 1)
				}
				caughtUp(t, j, svc)
				stop()
				ds := detections(t, j)
				if got := byType(ds)[tc.slug]; got != want {
					t.Fatalf("must-%s sequence: got %d %s detections (all: %v), want %d", map[int]string{1: "trigger", 0: "not"}[want], got, tc.slug, byType(ds), want)
				}
				for _, d := range ds {
					if d.EventType != EventTypePrefix+tc.slug {
						continue
					}
					var ev struct {
						Target []struct {
							Type        string
							DetailEntry map[string]string
						}
					}
					if err := json.Unmarshal(d.Data, &ev); err != nil {
						t.Fatal(err)
					}
					if de := ev.Target[0].DetailEntry; de["pack"] != shipped.OktaPack || de["level"] != tc.level || de["author"] != "auditstream" {
						t.Errorf("rule target: got %v, want pack %s level %s author auditstream", de, shipped.OktaPack, tc.level)
					}
				}
			}
		})
	}
}

// Window edges of a shipped rule, on the engine (event time, no wall clock):
// brute force by user counts 10 failures within 10 minutes inclusive.
func TestShippedBruteForceWindowEdge(t *testing.T) {
	o := newOkta(t)
	for _, tc := range []struct {
		name string
		step time.Duration
		want int
	}{
		{"10 failures spanning exactly 10m", 10 * time.Minute / 9, 1},
		{"10 failures spanning 10m9s", 10*time.Minute/9 + time.Second, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := NewMatcher(shippedRegistry(t), correlate.Config{AllowedLateness: time.Hour}, Envelope{})
			if err != nil {
				t.Fatal(err)
			}
			var out []Raised
			for i := range 10 {
				r := o.failure(fmt.Sprintf("w-%d", i), "jane", "203.0.113.1", t0.Add(time.Duration(i)*tc.step))
				out = m.Feed(&r, out)
			}
			n := 0
			for _, d := range out {
				if d.Info.Slug == "brute_force_by_user" {
					n++
				}
			}
			if n != tc.want {
				t.Errorf("got %d detections, want %d", n, tc.want)
			}
		})
	}
}
