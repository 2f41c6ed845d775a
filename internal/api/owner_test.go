package api_test

import (
	"net/http"
	"testing"

	"github.com/auditstream/auditstream/internal/auth"
	"github.com/auditstream/auditstream/internal/httpapi"
)

// TestStreamOwnerFollowsSettings: a stream's destination is the operator's
// (Operator set) when an all-orgs token set its settings; an org token's
// change of the settings makes it the tenant's, a change of the name only
// does not.
func TestStreamOwnerFollowsSettings(t *testing.T) {
	s := newServer(t, httpapi.Limits{})
	acme := s.token("acme", auth.ScopeManageStreams)
	var v struct {
		ID string `json:"id"`
	}
	r := s.call("POST", "/api/v1/logStreams", s.admin, map[string]any{"type": "test", "name": "op", "org": "acme",
		"settings": map[string]any{"url": "http://127.0.0.1:9"}})
	if r.status != http.StatusOK {
		t.Fatalf("create: got %s, want 200", r)
	}
	r.json(t, &v)
	operator := func() bool {
		d, ok := s.store.Get(v.ID)
		if !ok {
			t.Fatal("stream gone")
		}
		return d.Operator
	}
	if !operator() {
		t.Fatal("created by the all-orgs token: got Operator false, want true")
	}
	for _, step := range []struct {
		name     string
		settings map[string]any
		want     bool
	}{
		{"rename by the tenant", map[string]any{"url": "http://127.0.0.1:9"}, true},
		{"new url by the tenant", map[string]any{"url": "http://127.0.0.1:10"}, false},
		{"saved again by the operator", map[string]any{"url": "http://127.0.0.1:10"}, true},
	} {
		tok := acme
		if step.name == "saved again by the operator" {
			tok = s.admin
		}
		r := s.call("PUT", "/api/v1/logStreams/"+v.ID, tok, map[string]any{"type": "test", "name": step.name, "settings": step.settings})
		if r.status != http.StatusOK {
			t.Fatalf("%s: got %s, want 200", step.name, r)
		}
		if got := operator(); got != step.want {
			t.Fatalf("%s: got Operator %v, want %v", step.name, got, step.want)
		}
	}
	r = s.call("POST", "/api/v1/logStreams", acme, map[string]any{"type": "test", "name": "tenant's", "settings": map[string]any{"url": "http://x"}})
	if r.status != http.StatusOK {
		t.Fatalf("tenant create: got %s, want 200", r)
	}
	r.json(t, &v)
	if operator() {
		t.Fatal("created by an org token: got Operator true, want false")
	}
}
