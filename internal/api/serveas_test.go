package api_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/auditstream/auditstream/internal/auth"
	"github.com/auditstream/auditstream/internal/httpapi"
)

// TestServeAs: the console's in-process calls get exactly the identity's
// scopes and org, and a bearer header on the request changes nothing.
func TestServeAs(t *testing.T) {
	s := newServer(t, httpapi.DefaultLimits)
	if r := s.call("POST", "/api/v1/logStreams", s.admin, map[string]any{"type": "test", "name": "other's", "org": "other",
		"settings": map[string]any{"url": "http://x"}}); r.status != http.StatusOK {
		t.Fatalf("create: %s", r)
	}
	tests := []struct {
		name   string
		who    auth.Token
		method string
		path   string
		header string // an Authorization header the request carries
		status int
		want   string
	}{
		{"scope held", auth.Token{ID: "sso:a", Name: "a", Org: "*", Scopes: []auth.Scope{auth.ScopeReadStreams}}, "GET", "/api/v1/logStreams", "", 200, "other's"},
		{"scope missing", auth.Token{ID: "sso:b", Name: "b", Org: "*", Scopes: []auth.Scope{auth.ScopeReadLogs}}, "GET", "/api/v1/logStreams", "", 403, "E0000006"},
		{"bearer ignored", auth.Token{ID: "sso:c", Name: "c", Org: "*", Scopes: []auth.Scope{auth.ScopeReadLogs}}, "GET", "/api/v1/tokens", "SSWS " + adminSecret, 403, "E0000006"},
		{"other org hidden", auth.Token{ID: "sso:d", Name: "d", Org: "acme", Scopes: []auth.Scope{auth.ScopeReadStreams}}, "GET", "/api/v1/logStreams", "", 200, "[]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequestWithContext(t.Context(), tt.method, tt.path, nil)
			if tt.header != "" {
				req.Header.Set("Authorization", tt.header)
			}
			rec := httptest.NewRecorder()
			s.api.ServeAs(rec, req, tt.who)
			if rec.Code != tt.status || !strings.Contains(rec.Body.String(), tt.want) {
				t.Fatalf("got %d %s, want %d with %q", rec.Code, rec.Body, tt.status, tt.want)
			}
		})
	}
}

// TestCreateStreamDryRun checks and verifies without storing.
func TestCreateStreamDryRun(t *testing.T) {
	s := newServer(t, httpapi.DefaultLimits)
	in := map[string]any{"type": "test", "name": "dry", "settings": map[string]any{"url": "http://x"}}
	if r := s.call("POST", "/api/v1/logStreams?dryRun=true", s.admin, in); r.status != http.StatusOK || !strings.Contains(string(r.body), `"valid":true`) {
		t.Fatalf("dry run: got %s, want 200 valid", r)
	}
	if r := s.call("GET", "/api/v1/logStreams", s.admin, nil); strings.Contains(string(r.body), `"dry"`) {
		t.Fatalf("dry run stored the stream: %s", r)
	}
	in["settings"] = map[string]any{"bogus": 1}
	if r := s.call("POST", "/api/v1/logStreams?dryRun=true", s.admin, in); r.status != http.StatusBadRequest {
		t.Fatalf("dry run of bad settings: got %s, want 400", r)
	}
}
