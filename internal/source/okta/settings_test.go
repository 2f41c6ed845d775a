package okta_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/secret"
	"github.com/auditstream/auditstream/internal/source/okta"
)

func TestPrepare(t *testing.T) {
	_, pemKey := rsaKey(t)
	now := time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		in      string
		old     string
		wantErr string // "" for valid
		check   func(t *testing.T, s okta.Settings)
	}{
		{name: "https org with token", in: `{"baseUrl":"https://acme.okta.com/","auth":{"type":"SSWS","token":"t"}}`,
			check: func(t *testing.T, s okta.Settings) {
				if s.BaseURL != "https://acme.okta.com" {
					t.Fatalf("baseUrl: got %q, want https://acme.okta.com", s.BaseURL)
				}
			}},
		{name: "loopback http", in: `{"baseUrl":"http://127.0.0.1:8080","auth":{"type":"SSWS","token":"t"}}`},
		{name: "localhost http", in: `{"baseUrl":"http://localhost:8080","auth":{"type":"SSWS","token":"t"}}`},
		{name: "plain http elsewhere", in: `{"baseUrl":"http://acme.okta.com","auth":{"type":"SSWS","token":"t"}}`, wantErr: "must use https"},
		{name: "path in baseUrl", in: `{"baseUrl":"https://acme.okta.com/api/v1","auth":{"type":"SSWS","token":"t"}}`, wantErr: "settings.baseUrl"},
		{name: "no token", in: `{"baseUrl":"https://acme.okta.com","auth":{"type":"SSWS"}}`, wantErr: "settings.auth.token"},
		{name: "unknown auth", in: `{"baseUrl":"https://acme.okta.com","auth":{"type":"BASIC"}}`, wantErr: "settings.auth.type"},
		{name: "oauth", in: `{"baseUrl":"https://acme.okta.com","auth":{"type":"OAUTH","clientId":"c","privateKey":` + quote(pemKey) + `}}`},
		{name: "oauth bad key", in: `{"baseUrl":"https://acme.okta.com","auth":{"type":"OAUTH","clientId":"c","privateKey":"nope"}}`, wantErr: "settings.auth.privateKey"},
		{name: "share above 1", in: `{"baseUrl":"https://acme.okta.com","auth":{"type":"SSWS","token":"t"},"rateLimitShare":1.5}`, wantErr: "rateLimitShare"},
		{name: "bad poll interval", in: `{"baseUrl":"https://acme.okta.com","auth":{"type":"SSWS","token":"t"},"pollInterval":"soon"}`, wantErr: "pollInterval"},
		{name: "since beyond 90 days", in: `{"baseUrl":"https://acme.okta.com","auth":{"type":"SSWS","token":"t"},"since":"2400h"}`, wantErr: "settings.since"},
		{name: "relative since resolved", in: `{"baseUrl":"https://acme.okta.com","auth":{"type":"SSWS","token":"t"},"since":"48h"}`,
			check: func(t *testing.T, s okta.Settings) {
				if s.Since != "2026-01-08T00:00:00Z" {
					t.Fatalf("since: got %q, want 2026-01-08T00:00:00Z", s.Since)
				}
			}},
		{name: "unknown key", in: `{"baseUrl":"https://acme.okta.com","auth":{"type":"SSWS","token":"t"},"speed":1}`, wantErr: "unknown field"},
		{name: "every problem at once", in: `{"baseUrl":"ftp://x","auth":{"type":"SSWS"},"rateLimitShare":2}`, wantErr: "baseUrl"},
		{name: "secret kept on update", in: `{"baseUrl":"https://acme.okta.com","auth":{"type":"SSWS","token":"` + secret.Redacted + `"}}`,
			old: `{"baseUrl":"https://acme.okta.com","auth":{"type":"SSWS","token":"old-token"}}`,
			check: func(t *testing.T, s okta.Settings) {
				if s.Auth.Token != "old-token" {
					t.Fatalf("token: got %q, want old-token", s.Auth.Token)
				}
			}},
		{name: "token kept on a new path of the same org", in: `{"baseUrl":"https://ACME.okta.com:443/","auth":{"type":"SSWS"}}`,
			old: `{"baseUrl":"https://acme.okta.com","auth":{"type":"SSWS","token":"old-token"}}`,
			check: func(t *testing.T, s okta.Settings) {
				if s.Auth.Token != "old-token" {
					t.Fatalf("token: got %q, want old-token", s.Auth.Token)
				}
			}},
		{name: "token left out for a new host", in: `{"baseUrl":"https://evil.example.com","auth":{"type":"SSWS"}}`,
			old:     `{"baseUrl":"https://acme.okta.com","auth":{"type":"SSWS","token":"old-token"}}`,
			wantErr: "settings.auth.token must be sent again because settings.baseUrl changed host"},
		{name: "token redacted for a new port", in: `{"baseUrl":"http://127.0.0.1:19002","auth":{"type":"SSWS","token":"` + secret.Redacted + `"}}`,
			old:     `{"baseUrl":"http://127.0.0.1:19001","auth":{"type":"SSWS","token":"old-token"}}`,
			wantErr: "settings.auth.token must be sent again because settings.baseUrl changed port"},
		{name: "private key left out for a new host", in: `{"baseUrl":"https://evil.example.com","auth":{"type":"OAUTH","clientId":"c"}}`,
			old:     `{"baseUrl":"https://acme.okta.com","auth":{"type":"OAUTH","clientId":"c","privateKey":` + quote(pemKey) + `}}`,
			wantErr: "settings.auth.privateKey must be sent again because settings.baseUrl changed host"},
		{name: "new host with the token", in: `{"baseUrl":"https://other.okta.com","auth":{"type":"SSWS","token":"new-token"}}`,
			old: `{"baseUrl":"https://acme.okta.com","auth":{"type":"SSWS","token":"old-token"}}`,
			check: func(t *testing.T, s okta.Settings) {
				if s.Auth.Token != "new-token" {
					t.Fatalf("token: got %q, want new-token", s.Auth.Token)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var old json.RawMessage
			if tc.old != "" {
				old = json.RawMessage(tc.old)
			}
			out, err := okta.Prepare(json.RawMessage(tc.in), old, now)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error: got %v, want one mentioning %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("error: got %v, want none", err)
			}
			var s okta.Settings
			if err := json.Unmarshal(out, &s); err != nil {
				t.Fatal(err)
			}
			if tc.check != nil {
				tc.check(t, s)
			}
		})
	}
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
