package api_test

import (
	"net/http"
	"testing"

	"github.com/auditstream/auditstream/internal/api"
	"github.com/auditstream/auditstream/internal/auth"
)

// TestStreamBodyIsStrict: a misspelt member is refused, not ignored (a
// stream without its filter would get every event), while the read-only
// members of a LogStream object may be sent back on PUT.
func TestStreamBodyIsStrict(t *testing.T) {
	s := newServer(t, api.Limits{})
	tok := s.token(auth.AllOrgs, auth.ScopeAdmin)
	r := s.call("POST", "/api/v1/logStreams", tok, map[string]any{"type": "test", "name": "typo",
		"settings": map[string]any{"url": "http://x"}, "filtr": map[string]any{"detail": map[string]any{"eventType": []string{"x"}}}})
	wantError(t, r, http.StatusBadRequest, "E0000003", "filtr")

	r = s.call("POST", "/api/v1/logStreams", tok, map[string]any{"type": "test", "name": "ok", "settings": map[string]any{"url": "http://x"}})
	wantStatus(t, r, http.StatusOK)
	var got map[string]any
	r.json(t, &got)
	got["name"] = "renamed"
	r = s.call("PUT", "/api/v1/logStreams/"+got["id"].(string), tok, got)
	wantStatus(t, r, http.StatusOK)
}

// TestWriteOnceSettings: a write-once setting may be sent back unchanged on
// PUT, but not changed.
func TestWriteOnceSettings(t *testing.T) {
	s := newServer(t, api.Limits{})
	tok := s.token(auth.AllOrgs, auth.ScopeAdmin)
	r := s.call("POST", "/api/v1/logStreams", tok, map[string]any{"type": "test", "name": "once",
		"settings": map[string]any{"url": "http://x", "region": "us-east-1"}})
	wantStatus(t, r, http.StatusOK)
	var got struct {
		ID string `json:"id"`
	}
	r.json(t, &got)
	r = s.call("PUT", "/api/v1/logStreams/"+got.ID, tok, map[string]any{"type": "test", "name": "renamed",
		"settings": map[string]any{"url": "http://y", "region": "us-east-1"}})
	wantStatus(t, r, http.StatusOK)
	r = s.call("PUT", "/api/v1/logStreams/"+got.ID, tok, map[string]any{"type": "test", "name": "renamed",
		"settings": map[string]any{"url": "http://y", "region": "eu-west-1"}})
	wantError(t, r, http.StatusBadRequest, "E0000001", "settings.region: is set when the log stream is created and cannot be changed")
}
