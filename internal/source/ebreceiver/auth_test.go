package ebreceiver_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/auth"
	"github.com/auditstream/auditstream/internal/httpapi"
)

var zeroToken auth.Token

// TestAuthTypes posts the real Okta envelope with each connection
// authorization type: the right credentials store the event for the
// receiver's org, wrong ones get 401 and store nothing.
func TestAuthTypes(t *testing.T) {
	h := newHarness(t, httpapi.Limits{})
	_, tok := h.token("eb-client", clientSecret, true)
	if tok == "" {
		t.Fatal("token: got none, want one")
	}
	_, tokForm := h.token("eb-client", clientSecret, false)
	tests := []struct {
		name    string
		id      string
		auth    func(*http.Request)
		want    int
		wantOrg string
	}{
		{"api key", "apikey", func(r *http.Request) { r.Header.Set("X-Auditstream-Key", apiKey) }, 202, "acme"},
		{"api key header case-insensitive", "apikey", func(r *http.Request) { r.Header.Set("x-auditstream-key", apiKey) }, 202, "acme"},
		{"wrong api key", "apikey", func(r *http.Request) { r.Header.Set("X-Auditstream-Key", apiKey+"x") }, 401, ""},
		{"api key in another header", "apikey", func(r *http.Request) { r.Header.Set("X-Api-Key", apiKey) }, 401, ""},
		{"api key at another receiver", "basic", func(r *http.Request) { r.Header.Set("X-Auditstream-Key", apiKey) }, 401, ""},
		{"basic", "basic", func(r *http.Request) { r.SetBasicAuth("eventbridge", password) }, 202, "globex"},
		{"basic wrong password", "basic", func(r *http.Request) { r.SetBasicAuth("eventbridge", password+"x") }, 401, ""},
		{"basic wrong user", "basic", func(r *http.Request) { r.SetBasicAuth("other", password) }, 401, ""},
		{"basic at another receiver", "apikey", func(r *http.Request) { r.SetBasicAuth("eventbridge", password) }, 401, ""},
		{"oauth bearer", "oauth", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }, 202, "initech"},
		{"oauth bearer from form credentials", "oauth", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tokForm) }, 202, "initech"},
		{"oauth bearer at another receiver", "basic", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }, 401, ""},
		{"forged bearer", "oauth", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok[:len(tok)-2]+"xx") }, 401, ""},
		{"no credentials", "apikey", nil, 401, ""},
		{"unknown receiver", "nosuchid", func(r *http.Request) { r.Header.Set("X-Auditstream-Key", apiKey) }, 401, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(h.messages())
			// A uuid of its own, or the journal drops it as a duplicate.
			env := bytes.Replace(envelope(t), []byte("c6ed294a-fef4-11ed-a5b1-bbb7c1de1a4b"), []byte("uuid-"+strings.ReplaceAll(tc.name, " ", "-")), 1) // uuids have no spaces
			code, _, body := h.post(tc.id, env, tc.auth)
			if code != tc.want {
				t.Fatalf("status: got %d %s, want %d", code, body, tc.want)
			}
			msgs := h.messages()
			if tc.want != 202 {
				if len(msgs) != before {
					t.Fatalf("messages: got %d, want %d (nothing stored)", len(msgs), before)
				}
				var e struct{ ErrorCode string }
				_ = json.Unmarshal([]byte(body), &e)
				if e.ErrorCode != "E0000011" {
					t.Fatalf("errorCode: got %q, want E0000011", e.ErrorCode)
				}
				return
			}
			found := false
			for _, m := range msgs {
				if m.Org == tc.wantOrg {
					found = true
				}
			}
			if !found {
				t.Fatalf("journal: got no event for org %s, want one", tc.wantOrg)
			}
		})
	}
}

// TestTokenEndpoint: each receiver has its own token endpoint, which
// checks the client credentials against that receiver only; the shared one
// refuses when several receivers exist.
func TestTokenEndpoint(t *testing.T) {
	h := newHarness(t, httpapi.Limits{})
	const own = "/api/v1/eventbridge/oauth/token"
	tests := []struct {
		name, path, id, secret string
		basic                  bool
		want                   int
	}{
		{"basic credentials", own, "eb-client", clientSecret, true, 200},
		{"form credentials", own, "eb-client", clientSecret, false, 200},
		{"wrong secret", own, "eb-client", "nope-nope-nope-nope", true, 401},
		{"unknown client", own, "other", clientSecret, false, 401},
		{"api key receiver is no client", "/api/v1/eventbridge/apikey/token", "apikey", apiKey, true, 401},
		{"another receiver's endpoint", "/api/v1/eventbridge/basic/token", "eb-client", clientSecret, true, 401},
		{"unknown receiver", "/api/v1/eventbridge/nosuchid/token", "eb-client", clientSecret, true, 401},
		{"shared endpoint with several receivers", "/api/v1/eventbridge/token", "eb-client", clientSecret, true, 409},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, tok := h.tokenAt(tc.path, tc.id, tc.secret, tc.basic)
			if code != tc.want {
				t.Fatalf("status: got %d, want %d", code, tc.want)
			}
			if (tok != "") != (tc.want == 200) {
				t.Fatalf("token: got %q, want one only on 200", tok)
			}
		})
	}
}

// TestTokenSecretInQuery: a client secret in the URL (kept by access
// logs) is refused, RFC 6749 §2.3.1.
func TestTokenSecretInQuery(t *testing.T) {
	h := newHarness(t, httpapi.Limits{})
	q := url.Values{"grant_type": {"client_credentials"}, "client_id": {"eb-client"}, "client_secret": {clientSecret}}
	code, tok := h.tokenAt("/api/v1/eventbridge/oauth/token?"+q.Encode(), "", "", false)
	if code != 400 || tok != "" {
		t.Fatalf("got %d %q, want 400 and no token", code, tok)
	}
}

// TestTokenExpires checks that an issued token stops working after its
// lifetime (EventBridge then fetches a new one on the 401).
func TestTokenExpires(t *testing.T) {
	h := newHarness(t, httpapi.Limits{})
	_, tok := h.token("eb-client", clientSecret, true)
	bearer := func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
	if code, _, body := h.post("oauth", envelope(t), bearer); code != 202 {
		t.Fatalf("fresh token: got %d %s, want 202", code, body)
	}
	h.skew.Store(int64(6 * time.Minute))
	if code, _, _ := h.post("oauth", envelope(t), bearer); code != 401 {
		t.Fatalf("expired token: got %d, want 401", code)
	}
}
