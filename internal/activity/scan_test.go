package activity

import (
	"fmt"
	"testing"
	"unsafe"
)

// TestParseEvent checks the direct JSON reading against what
// encoding/json would give: escapes, numbers and strings for asNumber,
// members of other types left out, an escaped member name.
func TestParseEvent(t *testing.T) {
	for _, tc := range []struct {
		name, data string
		ok         bool
		check      func(e *logEvent) string
	}{
		{"not an object", `[1,2]`, false, nil},
		{"broken", `{"uuid":"a`, false, nil},
		{"escapes", `{"actor":{"id":"00u\u0041","alternateId":"j\"d@example.com","type":"User"}}`, true, func(e *logEvent) string {
			if e.Actor.ID != "00uA" || e.Actor.AlternateID != `j"d@example.com` {
				return e.Actor.ID + " " + e.Actor.AlternateID
			}
			return ""
		}},
		{"escaped member name", `{"eventType":"x","\u0061ctor":{"id":"00uB"}}`, true, func(e *logEvent) string {
			if e.Actor.ID != "00uB" {
				return e.Actor.ID
			}
			return ""
		}},
		{"asNumber number and string", `{"securityContext":{"asNumber":7922,"asOrg":"comcast"}}`, true, func(e *logEvent) string {
			if e.Security.ASNumber != "7922" || e.Security.ASOrg != "comcast" {
				return e.Security.ASNumber
			}
			return ""
		}},
		{"asNumber string", `{"securityContext":{"asNumber":"7922"}}`, true, func(e *logEvent) string {
			if e.Security.ASNumber != "7922" {
				return e.Security.ASNumber
			}
			return ""
		}},
		{"other types left out", `{"uuid":5,"actor":"x","client":{"ipAddress":null},"target":[1,{"id":"00uT","type":"User"},"s"],"device":null}`, true, func(e *logEvent) string {
			if e.UUID != "" || e.Actor.ID != "" || e.Client.IPAddress != "" || len(e.Target) != 1 || e.Target[0].ID != "00uT" || e.Device != nil {
				return "got members of other types"
			}
			return ""
		}},
		{"debugData and detailEntry", `{"debugContext":{"debugData":{"factor":"OKTA_VERIFY_PUSH","groupBy":"actor.id=00uX"}},"target":[{"detailEntry":{"methodTypeUsed":"Password"}}]}`, true, func(e *logEvent) string {
			if e.Debug.Factor != "OKTA_VERIFY_PUSH" || e.Debug.GroupBy != "actor.id=00uX" || e.Target[0].MethodTypeUsed != "Password" {
				return "debugData/detailEntry not read"
			}
			return ""
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var e logEvent
			if got := parseEvent([]byte(tc.data), &e, nil); got != tc.ok {
				t.Fatalf("ok: got %v, want %v", got, tc.ok)
			}
			if tc.check != nil {
				if bad := tc.check(&e); bad != "" {
					t.Errorf("got %s (%+v)", bad, e)
				}
			}
		})
	}
}

// TestInterner checks that an interner gives the value read, the same
// string for a value seen before, decodes escaped values without keeping
// them, and starts over at maxInterned values.
func TestInterner(t *testing.T) {
	var in interner
	a := in.str([]byte(`"user.session.start"`))
	b := in.str([]byte(`"user.session.start"`))
	if a != "user.session.start" || unsafe.StringData(a) != unsafe.StringData(b) {
		t.Fatalf("got %q and %q (distinct copies: %v), want one interned string", a, b, unsafe.StringData(a) != unsafe.StringData(b))
	}
	if got := in.str([]byte(`"a\u0041"`)); got != "aA" {
		t.Errorf("escaped: got %q, want %q", got, "aA")
	}
	if got := in.str([]byte(`12`)); got != "" {
		t.Errorf("number: got %q, want %q", got, "")
	}
	if len(in.m) != 1 {
		t.Errorf("got %d interned values, want 1", len(in.m))
	}
	for i := range maxInterned + 1 {
		in.str([]byte(fmt.Sprintf(`"v%d"`, i)))
	}
	if len(in.m) > maxInterned {
		t.Errorf("got %d interned values, want at most %d", len(in.m), maxInterned)
	}
	var none *interner
	if got := none.str([]byte(`"x"`)); got != "x" {
		t.Errorf("nil interner: got %q, want %q", got, "x")
	}
}
