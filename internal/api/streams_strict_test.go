package api_test

import (
	"net/http"
	"slices"
	"testing"

	"github.com/auditstream/auditstream/internal/auth"
	"github.com/auditstream/auditstream/internal/httpapi"
)

// TestStreamBodyIsStrict: a misspelt member is refused, not ignored (a
// stream without its filter would get every event), while the read-only
// members of a LogStream object may be sent back on PUT.
func TestStreamBodyIsStrict(t *testing.T) {
	s := newServer(t, httpapi.Limits{})
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
	s := newServer(t, httpapi.Limits{})
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

// TestSecretDoesNotFollowANewHost is the review's H1 for log streams: a
// PUT that moves the destination to another host without sending the
// password again is refused and changes nothing; a new path on the same
// host keeps the password; a new host with the password is accepted.
func TestSecretDoesNotFollowANewHost(t *testing.T) {
	s := newServer(t, httpapi.Limits{})
	manage := s.token(auth.AllOrgs, auth.ScopeManageStreams)
	v := s.create(t, newStream("webhook"))
	before, _ := s.store.Get(v.ID)

	for _, settings := range []map[string]any{
		{"url": "http://attacker.example"},
		{"url": "http://attacker.example", "password": "********"},
		{"url": "https://dest.example"},
		{"url": "http://dest.example:8080"},
	} {
		r := s.call("PUT", "/api/v1/logStreams/"+v.ID, manage, map[string]any{"type": "test", "name": "webhook", "settings": settings})
		wantError(t, r, http.StatusBadRequest, httpapi.CodeValidation, "settings.password must be sent again because settings.url changed")
		after, _ := s.store.Get(v.ID)
		if string(after.Settings) != string(before.Settings) || after.LastUpdated != before.LastUpdated {
			t.Fatalf("after refused PUT %v: got %s, want %s unchanged", settings, after.Settings, before.Settings)
		}
	}
	r := s.call("PUT", "/api/v1/logStreams/"+v.ID, manage, map[string]any{"type": "test", "name": "webhook",
		"settings": map[string]any{"url": "http://attacker.example"}})
	e := wantError(t, r, http.StatusBadRequest, httpapi.CodeValidation)
	if got, want := e.causes(), []string{"settings.password must be sent again because settings.url changed host"}; !slices.Equal(got, want) {
		t.Errorf("got causes %q, want %q", got, want)
	}

	r = s.call("PUT", "/api/v1/logStreams/"+v.ID, manage, map[string]any{"type": "test", "name": "webhook",
		"settings": map[string]any{"url": "http://DEST.example:80/other/path"}})
	wantStatus(t, r, http.StatusOK)
	if pw := s.storedPassword(t, v.ID); pw != secretPassword {
		t.Errorf("same host, new path: got stored password %q, want it kept", pw)
	}

	r = s.call("PUT", "/api/v1/logStreams/"+v.ID, manage, map[string]any{"type": "test", "name": "webhook",
		"settings": map[string]any{"url": "http://new-home.example", "password": "new-password"}})
	wantStatus(t, r, http.StatusOK)
	if pw := s.storedPassword(t, v.ID); pw != "new-password" {
		t.Errorf("new host with the password: got stored password %q, want new-password", pw)
	}
}
