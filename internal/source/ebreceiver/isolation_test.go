package ebreceiver_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/auditstream/auditstream/internal/httpapi"
	"github.com/auditstream/auditstream/internal/kvstore"
	"github.com/auditstream/auditstream/internal/source"
	"github.com/auditstream/auditstream/internal/source/ebreceiver"
)

const (
	orgAKey  = "A-RECEIVER-KEY-0123456789"
	jsonType = "application/json; charset=utf-8"
)

// catchAll is org B's receiver of the review's repro (security.md C1),
// keyed on Content-Type: stored as it was before such headers were
// refused, since Prepare no longer lets anyone create it.
func catchAll() source.Definition {
	return source.Definition{Header: kvstore.Header{ID: "b-catch-all", Type: ebreceiver.Type, Name: "catch-all", Status: source.StatusActive, Org: "orgb", Settings: json.RawMessage(`{"auth":{"type":"API_KEY","header":"Content-Type","secretSha256":"` + ebreceiver.Hash(jsonType) + `"}}`)}}
}

// orgEvents counts the journal's events of org.
func (h *harness) orgEvents(org string) int {
	n := 0
	for _, m := range h.messages() {
		if m.Org == org {
			n++
		}
	}
	return n
}

// TestHostileTenantCapturesNothing is the review's repro (C1): org B
// registers Content-Type as its API key header, org A sets up its own
// receiver, and EventBridge delivers A's events with A's key and, once,
// without credentials. B gets none of them, A gets its own, and nothing
// unauthenticated is stored.
func TestHostileTenantCapturesNothing(t *testing.T) {
	a := receiverDef(t, "a-eb", "orga", `{"auth":{"type":"API_KEY","header":"X-Api-Key","value":"`+orgAKey+`"}}`)
	h := newHarnessWith(t, httpapi.Limits{}, catchAll(), a)
	withA := func(r *http.Request) { r.Header.Set("X-Api-Key", orgAKey) }
	meantForA := []byte(`{"id":"meant-for-a","source":"aws.partner/okta.com/orga","detail-type":"SystemLog","detail":{"eventType":"user.session.start"}}`)
	noCreds := []byte(`{"id":"no-credentials","source":"x","detail-type":"SystemLog","detail":{"eventType":"spam"}}`)

	steps := []struct {
		name, id string
		body     []byte
		auth     func(*http.Request)
		want     int
	}{
		{"A's delivery at the shared URL", "", meantForA, withA, http.StatusConflict},
		{"no credentials at the shared URL", "", noCreds, nil, http.StatusConflict},
		{"no credentials at B's URL", "b-catch-all", noCreds, nil, http.StatusUnauthorized},
		{"A's delivery at B's URL", "b-catch-all", meantForA, withA, http.StatusUnauthorized},
		{"no credentials at A's URL", "a-eb", noCreds, nil, http.StatusUnauthorized},
		{"A's delivery at A's URL", "a-eb", meantForA, withA, http.StatusAccepted},
	}
	for _, st := range steps {
		code, _, body := h.post(st.id, st.body, st.auth)
		if code != st.want {
			t.Fatalf("%s: got %d %s, want %d", st.name, code, body, st.want)
		}
		if code == http.StatusConflict && !strings.Contains(body, "/api/v1/eventbridge/{sourceId}") {
			t.Fatalf("%s: got %s, want a message naming the per-source URL", st.name, body)
		}
	}
	if n := h.orgEvents("orgb"); n != 0 {
		t.Fatalf("org B: got %d events, want 0", n)
	}
	if n := h.orgEvents("orga"); n != 1 {
		t.Fatalf("org A: got %d events, want its 1", n)
	}
	// And such a receiver can no longer be created.
	if _, err := ebreceiver.Prepare(json.RawMessage(`{"auth":{"type":"API_KEY","header":"Content-Type","value":"`+jsonType+`"}}`), nil); err == nil ||
		!strings.Contains(err.Error(), "settings.auth.header") {
		t.Fatalf("creating the catch-all: got %v, want an error naming settings.auth.header", err)
	}
}

// TestUnknownReceiverLooksLikeWrongKey: an unknown id, another type's
// source and a wrong key get the same 401, so the answers do not tell
// which receiver ids exist.
func TestUnknownReceiverLooksLikeWrongKey(t *testing.T) {
	poller := source.Definition{Header: kvstore.Header{ID: "okta-poller", Type: "okta", Name: "poller", Status: source.StatusActive, Org: "acme", Settings: json.RawMessage(`{}`)}}
	h := newHarnessWith(t, httpapi.Limits{}, receiverDef(t, "apikey", "acme",
		`{"auth":{"type":"API_KEY","header":"X-Auditstream-Key","value":"`+apiKey+`"}}`), poller)
	wrong := func(r *http.Request) { r.Header.Set("X-Auditstream-Key", apiKey+"x") }
	c1, h1, b1 := h.post("apikey", envelope(t), wrong)
	c2, h2, b2 := h.post("0srNoSuchReceiver0000", envelope(t), wrong)
	c3, _, b3 := h.post("okta-poller", envelope(t), wrong)
	if c1 != 401 || c2 != 401 || c3 != 401 {
		t.Fatalf("status: got %d, %d and %d, want 401 for all", c1, c2, c3)
	}
	same := func(b string) string { // without the errorId, which differs per answer
		var m map[string]any
		_ = json.Unmarshal([]byte(b), &m)
		delete(m, "errorId")
		out, _ := json.Marshal(m)
		return string(out)
	}
	if same(b1) != same(b2) || same(b1) != same(b3) || h1.Get("Content-Type") != h2.Get("Content-Type") {
		t.Fatalf("bodies: got %q, %q and %q, want the same", b1, b2, b3)
	}
}

// TestSharedURL: the first version's URL serves while exactly one
// receiver exists, checking that receiver's credentials only.
func TestSharedURL(t *testing.T) {
	t.Run("one receiver", func(t *testing.T) {
		h := newHarnessWith(t, httpapi.Limits{}, receiverDef(t, "only", "acme",
			`{"auth":{"type":"API_KEY","header":"X-Auditstream-Key","value":"`+apiKey+`"}}`))
		if code, _, body := h.post("", envelope(t), func(r *http.Request) { r.Header.Set("X-Auditstream-Key", apiKey+"x") }); code != 401 {
			t.Fatalf("wrong key: got %d %s, want 401", code, body)
		}
		if code, _, body := h.post("", envelope(t), withKey); code != 202 {
			t.Fatalf("right key: got %d %s, want 202", code, body)
		}
		if n := h.orgEvents("acme"); n != 1 {
			t.Fatalf("events: got %d, want 1", n)
		}
	})
	t.Run("no receiver", func(t *testing.T) {
		h := newHarnessWith(t, httpapi.Limits{})
		if code, _, body := h.post("", envelope(t), withKey); code != 401 {
			t.Fatalf("got %d %s, want 401", code, body)
		}
	})
	t.Run("several receivers", func(t *testing.T) {
		h := newHarness(t, httpapi.Limits{})
		code, hdr, body := h.post("", envelope(t), withKey)
		if code != http.StatusConflict || !strings.Contains(body, "/api/v1/eventbridge/{sourceId}") {
			t.Fatalf("got %d %s, want 409 naming the per-source URL", code, body)
		}
		var e struct{ ErrorCode string }
		if json.Unmarshal([]byte(body), &e) != nil || e.ErrorCode != httpapi.CodeValidation || hdr.Get("Content-Type") != "application/json" {
			t.Fatalf("body: got %s (%s), want an Okta error", body, hdr.Get("Content-Type"))
		}
		if n := len(h.messages()); n != 0 {
			t.Fatalf("messages: got %d, want 0", n)
		}
	})
}

// TestStandardHeadersRefused: a header every request may carry cannot be
// an API key header; the error names the field. Authorization stays
// allowed, as in EventBridge connections ("Authorization: Bearer …").
func TestStandardHeadersRefused(t *testing.T) {
	refused := []string{"Content-Type", "content-type", "User-Agent", "Host", "Accept", "Accept-Encoding", "Content-Length",
		"Content-Encoding", "Transfer-Encoding", "Connection", "Cookie", "Range", "X-Forwarded-For", "X-Forwarded-Proto",
		"X-Amz-Date", "X-Amzn-Trace-Id", "Forwarded", "Traceparent", "Proxy-Authorization"}
	for _, hdr := range refused {
		t.Run(hdr, func(t *testing.T) {
			_, err := ebreceiver.Prepare(json.RawMessage(`{"auth":{"type":"API_KEY","header":"`+hdr+`","value":"`+apiKey+`"}}`), nil)
			if err == nil || !strings.Contains(err.Error(), "settings.auth.header") || !strings.Contains(err.Error(), hdr) {
				t.Fatalf("got %v, want an error naming settings.auth.header and %q", err, hdr)
			}
		})
	}
	for _, hdr := range []string{"X-Api-Key", "Authorization", "X-Auditstream-Key", "DD-API-KEY"} {
		t.Run(hdr, func(t *testing.T) {
			if _, err := ebreceiver.Prepare(json.RawMessage(`{"auth":{"type":"API_KEY","header":"`+hdr+`","value":"`+apiKey+`"}}`), nil); err != nil {
				t.Fatalf("got %v, want none", err)
			}
		})
	}
}

// TestGenerate: a secret left out is generated (256 bits, returned once
// for the answer, stored hashed); one given or kept from the receiver
// being updated is not replaced.
func TestGenerate(t *testing.T) {
	tests := []struct {
		name, in, old, wantPath string
	}{
		{name: "api key left out", in: `{"auth":{"type":"API_KEY","header":"X-Api-Key"}}`, wantPath: "auth.value"},
		{name: "api key empty", in: `{"auth":{"type":"API_KEY","value":""}}`, wantPath: "auth.value"},
		{name: "basic password", in: `{"auth":{"type":"BASIC","username":"eb"}}`, wantPath: "auth.password"},
		{name: "oauth client secret", in: `{"auth":{"type":"OAUTH_CLIENT_CREDENTIALS","clientId":"c"}}`, wantPath: "auth.clientSecret"},
		{name: "api key given", in: `{"auth":{"type":"API_KEY","value":"` + apiKey + `"}}`},
		{name: "kept on update", in: `{"auth":{"type":"API_KEY"}}`, old: `{"auth":{"type":"API_KEY","header":"x-api-key","secretSha256":"abc"}}`},
		{name: "kept on update, sent redacted", in: `{"auth":{"type":"API_KEY","value":"********"}}`, old: `{"auth":{"type":"API_KEY","secretSha256":"abc"}}`},
		{name: "type changed on update", in: `{"auth":{"type":"API_KEY"}}`, old: `{"auth":{"type":"BASIC","username":"u","secretSha256":"abc"}}`, wantPath: "auth.value"},
		{name: "unknown type", in: `{"auth":{"type":"DIGEST"}}`},
		{name: "not JSON", in: `{`},
	}
	seen := map[string]bool{}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var old json.RawMessage
			if tc.old != "" {
				old = json.RawMessage(tc.old)
			}
			out, gen := ebreceiver.Generate(json.RawMessage(tc.in), old)
			if tc.wantPath == "" {
				if len(gen) != 0 || string(out) != tc.in {
					t.Fatalf("got %s and %v, want the settings unchanged and nothing generated", out, gen)
				}
				return
			}
			key := gen[tc.wantPath]
			if len(gen) != 1 || len(key) < 43 || seen[key] {
				t.Fatalf("generated: got %v, want one fresh value of at least 43 characters (256 bits) at %s", gen, tc.wantPath)
			}
			seen[key] = true
			stored, err := ebreceiver.Prepare(out, old)
			if err != nil {
				t.Fatalf("prepare: got %v, want none", err)
			}
			if strings.Contains(string(stored), key) || !strings.Contains(string(stored), ebreceiver.Hash(key)) {
				t.Fatalf("stored: got %s, want the hash of the generated value only", stored)
			}
		})
	}
}

// TestEnvelopeFields: every field is checked before anything is stored. A
// field that can never be stored (a 70,000-character account used to
// answer 503, which EventBridge retries for a day) is a 400 naming the
// field and the index, and an array with one bad envelope stores none.
// (Posted to the shared URL of a single receiver, as before per-source
// URLs.)
func TestEnvelopeFields(t *testing.T) {
	h := newHarnessWith(t, httpapi.Limits{}, receiverDef(t, "apikey", "acme",
		`{"auth":{"type":"API_KEY","header":"X-Auditstream-Key","value":"`+apiKey+`"}}`))
	good := `{"version":"0","id":"good-1","detail-type":"SystemLog","source":"aws.partner/okta.com/acme/s","account":"123456789012",` +
		`"time":"2024-01-01T00:00:00Z","region":"us-east-1","resources":[],"detail":{"eventType":"user.session.start"}}`
	bad := func(field, value string) string {
		return strings.Replace(good, `"detail-type"`, `"`+field+`":`+value+`,"detail-type"`, 1)
	}
	long := func(n int) string { return `"` + strings.Repeat("x", n) + `"` }
	withField := func(field, value string) string {
		var m map[string]any
		_ = json.Unmarshal([]byte(good), &m)
		var v any
		_ = json.Unmarshal([]byte(value), &v)
		m[field] = v
		b, _ := json.Marshal(m)
		return string(b)
	}
	many := make([]string, 101)
	for i := range many {
		many[i] = `"arn:aws:x"`
	}
	tests := []struct {
		name, env, want string
	}{
		{"huge account", withField("account", long(70000)), "account is 70000 bytes"},
		{"huge region", withField("region", long(300)), "region is 300 bytes"},
		{"huge detail-type", withField("detail-type", long(300)), "detail-type is 300 bytes"},
		{"huge id", withField("id", long(300)), "id is 300 bytes"},
		{"huge version", withField("version", long(300)), "version is 300 bytes"},
		{"huge time", withField("time", long(100)), "time is 100 bytes"},
		{"huge source", withField("source", long(300)), "source is 300 bytes"},
		{"too many resources", withField("resources", "["+strings.Join(many, ",")+"]"), "resources has 101 entries"},
		{"huge resource", withField("resources", "["+long(3000)+"]"), "resources[0] is 3000 bytes"},
		{"header injection in account", withField("account", `"1\r\nAudit-Org: orgb"`), "account holds control characters"},
		{"control character in source", withField("source", `"a\u0000b"`), "source holds control characters"},
		{"duplicate key", bad("source", `"evil"`), `duplicate key \"source\"`},
		{"duplicate key in another case", bad("Source", `"evil"`), `duplicate key \"source\"`},
		{"account not a string", withField("account", "5"), "not an EventBridge event"},
		{"invalid UTF-8", strings.Replace(good, "acme/s", "acme/\xff", 1), "not valid UTF-8"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, body := range []struct{ text, where string }{{"[" + good + "," + tc.env + "]", "index 1: "}, {tc.env, "event: "}} {
				code, _, resp := h.post("", []byte(body.text), withKey)
				if code != 400 || !strings.Contains(resp, body.where) || !strings.Contains(resp, tc.want) {
					t.Fatalf("got %d %.300s, want 400 naming %q%q", code, resp, body.where, tc.want)
				}
			}
			if n := len(h.messages()); n != 0 {
				t.Fatalf("messages: got %d, want 0 (the good envelope not stored either)", n)
			}
		})
	}
	// The good one alone is stored: the checks refuse only what they should.
	if code, _, resp := h.post("", []byte(good), withKey); code != 202 {
		t.Fatalf("good envelope: got %d %s, want 202", code, resp)
	}
}
