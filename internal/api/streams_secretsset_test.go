package api_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/auditstream/auditstream/internal/httpapi"
)

// TestStreamViewNamesSetSecrets: the view says which write-only settings
// hold a value (never the value), a cleared secret is no longer named, and
// a client may PUT back the view it got.
func TestStreamViewNamesSetSecrets(t *testing.T) {
	s := newServer(t, httpapi.DefaultLimits)
	v := s.create(t, newStream("siem"))
	set := func(body []byte) []string {
		t.Helper()
		var out struct {
			SecretsSet []string `json:"secretsSet"`
		}
		if err := json.Unmarshal(body, &out); err != nil {
			t.Fatal(err)
		}
		return out.SecretsSet
	}
	r := s.call("GET", "/api/v1/logStreams/"+v.ID, s.admin, nil)
	wantStatus(t, r, 200)
	noSecret(t, r)
	if got := set(r.body); !slices.Equal(got, []string{"settings.password"}) {
		t.Fatalf("secretsSet: got %q, want [settings.password]", got)
	}
	// The view itself goes back unchanged: the secret is kept.
	var view map[string]any
	_ = json.Unmarshal(r.body, &view)
	r = s.call("PUT", "/api/v1/logStreams/"+v.ID, s.admin, view)
	wantStatus(t, r, 200)
	if pw := s.storedPassword(t, v.ID); pw != secretPassword {
		t.Fatalf("after PUT of the view: got stored password %q, want it kept", pw)
	}
	// Sending "" clears it: it is no longer named.
	r = s.call("PUT", "/api/v1/logStreams/"+v.ID, s.admin, map[string]any{"type": "test", "name": "siem",
		"settings": map[string]any{"url": "http://dest.example", "password": ""}})
	wantStatus(t, r, 200)
	if got := set(r.body); len(got) != 0 || strings.Contains(string(r.body), secretPassword) {
		t.Fatalf("after clearing: got secretsSet %q in %s, want none", got, r.body)
	}
}
