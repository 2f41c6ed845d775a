package ebreceiver_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/auditstream/auditstream/internal/httpapi"
	"github.com/auditstream/auditstream/internal/source/ebreceiver"
)

func withKey(r *http.Request) { r.Header.Set("X-Auditstream-Key", apiKey) }

// TestRealEnvelope stores the real Okta partner event: the detail is the
// event, tagged with the envelope's source and account, and a retry of the
// same envelope is de-duplicated by uuid.
func TestRealEnvelope(t *testing.T) {
	h := newHarness(t, httpapi.Limits{})
	env := envelope(t)
	code, _, body := h.post("apikey", env, withKey)
	if code != 202 || !strings.Contains(body, `"accepted":1`) {
		t.Fatalf("post: got %d %s, want 202 accepted 1", code, body)
	}
	code, _, body = h.post("apikey", env, withKey) // EventBridge retries
	if code != 202 || !strings.Contains(body, `"duplicates":1`) {
		t.Fatalf("retry: got %d %s, want 202 duplicates 1", code, body)
	}
	msgs := h.messages()
	if len(msgs) != 1 {
		t.Fatalf("messages: got %d, want 1", len(msgs))
	}
	m := msgs[0]
	var in struct {
		Detail json.RawMessage `json:"detail"`
	}
	if err := json.Unmarshal(env, &in); err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	_ = json.Compact(&want, in.Detail)
	checks := []struct{ name, got, want string }{
		{"org", m.Org, "acme"},
		{"eventType", m.EventType, "user.session.access_admin_app"},
		{"uuid", m.UUID, "c6ed294a-fef4-11ed-a5b1-bbb7c1de1a4b"},
		{"source", m.Source, "aws.partner/okta.com/evership/evershipsecuritylake"},
		{"account", m.Account, "999999999999"},
		{"data", string(m.Data), want.String()},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Fatalf("%s: got %q, want %q", c.name, c.got, c.want)
		}
	}
}

// TestErrors maps bad requests like the ingest API, using the statuses
// EventBridge retries only where a retry helps.
func TestErrors(t *testing.T) {
	h := newHarness(t, httpapi.Limits{MaxBody: 8 << 10, MaxEvent: 4 << 10, MaxEvents: 3})
	env := envelope(t)
	var m map[string]any
	_ = json.Unmarshal(env, &m)
	mod := func(f func(map[string]any)) []byte {
		c := map[string]any{}
		b, _ := json.Marshal(m)
		_ = json.Unmarshal(b, &c)
		f(c)
		out, _ := json.Marshal(c)
		return out
	}
	big := strings.Repeat("x", 5<<10)
	tests := []struct {
		name string
		body []byte
		ct   string
		want int
		code string
	}{
		{"not JSON", []byte("hello"), "", 400, httpapi.CodeMalformed},
		{"truncated", env[:100], "", 400, httpapi.CodeValidation},
		{"truncated array", append([]byte("["), env[:100]...), "", 400, httpapi.CodeMalformed},
		{"no detail", mod(func(c map[string]any) { delete(c, "detail") }), "", 400, httpapi.CodeValidation},
		{"detail not an object", mod(func(c map[string]any) { c["detail"] = "x" }), "", 400, httpapi.CodeValidation},
		{"no source", mod(func(c map[string]any) { delete(c, "source") }), "", 400, httpapi.CodeValidation},
		{"detail without eventType", mod(func(c map[string]any) { delete(c["detail"].(map[string]any), "eventType") }), "", 400, httpapi.CodeValidation},
		{"empty array", []byte("[]"), "", 400, httpapi.CodeValidation},
		{"envelope with a duplicate member", bytes.Replace(mod(func(map[string]any) {}), []byte(`"detail":{`), []byte(`"source":"shadow","detail":{`), 1), "", 400, httpapi.CodeValidation},
		{"detail with a duplicate member", bytes.Replace(mod(func(map[string]any) {}), []byte(`"detail":{`), []byte(`"detail":{"eventType":"shadow.type",`), 1), "", 400, httpapi.CodeValidation},
		{"event too large", mod(func(c map[string]any) { c["detail"].(map[string]any)["pad"] = big }), "", 413, httpapi.CodeTooLarge},
		{"too many events", []byte("[" + strings.Repeat(string(env)+",", 3) + string(env) + "]"), "", 413, httpapi.CodeTooLarge},
		{"body too large", bytes.Repeat([]byte(" "), 9<<10), "", 413, httpapi.CodeTooLarge},
		{"not json media type", env, "text/plain", 415, httpapi.CodeUnsupported},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, body := h.post("apikey", tc.body, func(r *http.Request) {
				withKey(r)
				if tc.ct != "" {
					r.Header.Set("Content-Type", tc.ct)
				}
			})
			if code != tc.want {
				t.Fatalf("status: got %d %s, want %d", code, body, tc.want)
			}
			var e struct{ ErrorCode string }
			_ = json.Unmarshal([]byte(body), &e)
			if e.ErrorCode != tc.code {
				t.Fatalf("errorCode: got %q, want %q", e.ErrorCode, tc.code)
			}
		})
	}
	if n := len(h.messages()); n != 0 {
		t.Fatalf("messages: got %d, want 0 (nothing stored)", n)
	}
}

// TestArrayAndNoUUID posts an array: all events or none; an event without
// uuid takes the envelope's id, so a retry de-duplicates.
// inactiveKey authenticates the deactivated receiver of the harness.
const inactiveKey = "paused-receiver-key-0123456789"

// TestInactiveReceiverAsksForRetry: a deactivated receiver's own
// credentials get 503 with Retry-After, which EventBridge retries, not 401,
// which it would drop; nothing is stored.
func TestInactiveReceiverAsksForRetry(t *testing.T) {
	h := newHarness(t, httpapi.Limits{})
	code, hdr, body := h.post("paused", envelope(t), func(r *http.Request) { r.Header.Set("X-Paused-Key", inactiveKey) })
	if code != http.StatusServiceUnavailable || hdr.Get("Retry-After") == "" {
		t.Fatalf("got %d (Retry-After %q) %s, want 503 with Retry-After", code, hdr.Get("Retry-After"), body)
	}
	if n := len(h.messages()); n != 0 {
		t.Fatalf("journal: got %d messages, want 0", n)
	}
}

func TestArrayAndNoUUID(t *testing.T) {
	h := newHarness(t, httpapi.Limits{})
	a := `{"version":"0","id":"11111111-2222-3333-4444-555555555555","detail-type":"Custom","source":"acme.app","account":"123456789012","time":"2024-01-01T00:00:00Z","region":"us-east-1","resources":[],"detail":{"eventType":"app.thing.happened","n":1}}`
	b := `{"version":"0","id":"x-2","detail-type":"SystemLog","source":"aws.partner/okta.com/acme/s","account":"123456789012","detail":{"uuid":"u-2","eventType":"user.session.start","published":"2024-01-01T00:00:00.000Z"}}`
	bad := `{"id":"x-3","source":"s","detail":{"uuid":"u-3"}}`
	if code, _, body := h.post("apikey", []byte("["+a+","+bad+"]"), withKey); code != 400 || !strings.Contains(body, "index 1") {
		t.Fatalf("with a bad event: got %d %s, want 400 naming index 1", code, body)
	}
	if n := len(h.messages()); n != 0 {
		t.Fatalf("messages after a refused array: got %d, want 0", n)
	}
	for range 2 {
		if code, _, body := h.post("apikey", []byte("["+a+","+b+"]"), withKey); code != 202 {
			t.Fatalf("array: got %d %s, want 202", code, body)
		}
	}
	msgs := h.messages()
	if len(msgs) != 2 {
		t.Fatalf("messages: got %d, want 2", len(msgs))
	}
	if got := msgs[0].UUID; got != "11111111-2222-3333-4444-555555555555" {
		t.Fatalf("uuid of the event without one: got %q, want the envelope id", got)
	}
	if d := msgs[0].Data; !bytes.Contains(d, []byte(`"uuid":"11111111-2222-3333-4444-555555555555",`)) ||
		!bytes.HasPrefix(d, []byte(`{"published":`)) || !bytes.HasSuffix(d, []byte(`"eventType":"app.thing.happened","n":1}`)) {
		t.Fatalf("data: got %s, want uuid and published added in front of the detail", d)
	}
}

// TestJournalUnavailable answers 503 with Retry-After: EventBridge retries.
func TestJournalUnavailable(t *testing.T) {
	h := newHarness(t, httpapi.Limits{})
	h.j.Close()
	code, hdr, body := h.post("apikey", envelope(t), withKey)
	if code != 503 || hdr.Get("Retry-After") == "" {
		t.Fatalf("got %d (Retry-After %q) %s, want 503 with Retry-After", code, hdr.Get("Retry-After"), body)
	}
}

// TestPrepare checks receiver settings.
func TestPrepare(t *testing.T) {
	tests := []struct {
		name, in, old, wantErr string
	}{
		{name: "api key default header", in: `{"auth":{"type":"API_KEY","value":"` + apiKey + `"}}`},
		{name: "short key", in: `{"auth":{"type":"API_KEY","value":"short"}}`, wantErr: "at least 16"},
		{name: "bad header", in: `{"auth":{"type":"API_KEY","header":"a b","value":"` + apiKey + `"}}`, wantErr: "header"},
		{name: "basic without user", in: `{"auth":{"type":"BASIC","password":"` + password + `"}}`, wantErr: "username"},
		{name: "no secret", in: `{"auth":{"type":"OAUTH_CLIENT_CREDENTIALS","clientId":"c"}}`, wantErr: "clientSecret: required"},
		{name: "secret kept", in: `{"auth":{"type":"BASIC","username":"u"}}`, old: `{"auth":{"type":"BASIC","username":"u","secretSha256":"abc"}}`},
		{name: "bad ttl", in: `{"auth":{"type":"OAUTH_CLIENT_CREDENTIALS","clientId":"c","clientSecret":"` + clientSecret + `"},"tokenTtl":"1s"}`, wantErr: "tokenTtl"},
		{name: "unknown type", in: `{"auth":{"type":"DIGEST"}}`, wantErr: "settings.auth.type"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var old json.RawMessage
			if tc.old != "" {
				old = json.RawMessage(tc.old)
			}
			out, err := ebreceiver.Prepare(json.RawMessage(tc.in), old)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error: got %v, want one mentioning %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("error: got %v, want none", err)
			}
			for _, secret := range []string{apiKey, password, clientSecret} {
				if bytes.Contains(out, []byte(secret)) {
					t.Fatalf("stored settings %s: got the secret in the clear, want only its hash", out)
				}
			}
			if !bytes.Contains(out, []byte("secretSha256")) {
				t.Fatalf("stored settings %s: got no hash, want secretSha256", out)
			}
		})
	}
}
