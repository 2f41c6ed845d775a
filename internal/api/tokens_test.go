package api_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/auditstream/auditstream/internal/auth"
	"github.com/auditstream/auditstream/internal/httpapi"
	"github.com/auditstream/auditstream/internal/journal/journaltest"
)

func TestTokensLifecycle(t *testing.T) {
	t.Parallel()
	s := newServer(t, httpapi.Limits{})

	r := s.call("POST", "/api/v1/tokens", s.admin, map[string]any{"name": "producer", "org": "acme",
		"scopes": []string{"events.write"}})
	wantStatus(t, r, 201)
	var created map[string]any
	r.json(t, &created)
	secret, _ := created["token"].(string)
	id, _ := created["id"].(string)
	if !strings.HasPrefix(secret, "as_") || !strings.HasPrefix(id, "tok") || created["name"] != "producer" || created["org"] != "acme" {
		t.Fatalf("got %s, want the new token with its secret", r.body)
	}
	if _, ok := created["hash"]; ok {
		t.Errorf("got %s, want no hash", r.body)
	}
	if strings.Contains(string(r.body), auth.Hash(secret)) {
		t.Errorf("got the hash in %s", r.body)
	}

	// The secret is shown once: list and get show neither it nor its hash.
	for _, path := range []string{"/api/v1/tokens", "/api/v1/tokens/" + id} {
		r := s.call("GET", path, s.admin, nil)
		wantStatus(t, r, 200)
		body := string(r.body)
		if strings.Contains(body, secret) || strings.Contains(body, auth.Hash(secret)) ||
			strings.Contains(body, `"token"`) || strings.Contains(body, `"hash"`) {
			t.Errorf("GET %s: got %s, want no secret and no hash", path, body)
		}
		if !strings.Contains(body, id) {
			t.Errorf("GET %s: got %s, want token %s", path, body, id)
		}
	}
	var list []map[string]any
	s.call("GET", "/api/v1/tokens", s.admin, nil).json(t, &list)
	if len(list) != 2 { // the admin token and the new one
		t.Errorf("got %d tokens, want 2", len(list))
	}

	// The new token works, for its scope only.
	wantStatus(t, s.call("POST", "/api/v1/events", secret, `{"eventType":"x"}`), 202)
	wantError(t, s.call("GET", "/api/v1/tokens", secret, nil), 403, httpapi.CodeForbidden)

	// Delete revokes it.
	r = s.call("DELETE", "/api/v1/tokens/"+id, s.admin, nil)
	wantStatus(t, r, 204)
	if len(r.body) != 0 {
		t.Errorf("got body %s, want none with 204", r.body)
	}
	wantError(t, s.call("POST", "/api/v1/events", secret, `{"eventType":"x"}`), 401, httpapi.CodeInvalidToken)
	wantError(t, s.call("GET", "/api/v1/tokens/"+id, s.admin, nil), 404, httpapi.CodeNotFound)
	wantError(t, s.call("DELETE", "/api/v1/tokens/"+id, s.admin, nil), 404, httpapi.CodeNotFound)
}

func TestCreateTokenErrors(t *testing.T) {
	t.Parallel()
	s := newServer(t, httpapi.Limits{})
	acmeAdmin := s.token("acme", auth.ScopeAdmin)
	tests := []struct {
		name   string
		token  string
		body   string
		hdr    []string
		status int
		code   string
		causes []string
	}{
		{"no scopes", s.admin, `{"name":"n","org":"acme","scopes":[]}`, nil, 400, httpapi.CodeValidation,
			[]string{"scopes: at least one scope is required"}},
		{"every problem", s.admin, `{"name":"","org":"acme","scopes":["root"]}`, nil, 400, httpapi.CodeValidation,
			[]string{"name: must be 1 to 100 characters", `scopes: unknown scope "root"`}},
		{"unknown field", s.admin, `{"name":"n","org":"acme","scopes":["admin"],"hash":"x"}`, nil, 400, httpapi.CodeMalformed,
			[]string{"unknown field"}},
		{"not JSON", s.admin, `{"name":`, nil, 400, httpapi.CodeMalformed, nil},
		{"wrong media type", s.admin, `name=n`, []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, httpapi.CodeUnsupported, nil},
		{"org-bound admin for another org", acmeAdmin, `{"name":"n","org":"other","scopes":["admin"]}`, nil, 403, httpapi.CodeForbidden,
			[]string{"the token may not create tokens for org other"}},
		{"org-bound admin for all orgs", acmeAdmin, `{"name":"n","org":"*","scopes":["admin"]}`, nil, 403, httpapi.CodeForbidden, nil},
		{"the environment token's name", s.admin, `{"name":"AUDITSTREAM_ADMIN_TOKEN","org":"*","scopes":["admin"]}`, nil, 400, httpapi.CodeValidation,
			[]string{"AUDITSTREAM_ADMIN_TOKEN is reserved"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.call("POST", "/api/v1/tokens", tt.token, tt.body, tt.hdr...)
			wantError(t, r, tt.status, tt.code, tt.causes...)
		})
	}
}

func TestOrgBoundAdminSeesOnlyItsTokens(t *testing.T) {
	t.Parallel()
	s := newServer(t, httpapi.Limits{})
	acmeAdmin := s.token("acme", auth.ScopeAdmin)
	r := s.call("POST", "/api/v1/tokens", acmeAdmin, `{"name":"n","scopes":["events.write"]}`)
	wantStatus(t, r, 201)
	var mine map[string]any
	r.json(t, &mine)
	if mine["org"] != "acme" {
		t.Errorf("got org %v, want the creator's org acme by default", mine["org"])
	}
	_, other, err := s.tokens.Create(t.Context(), auth.Token{Name: "o", Org: "other", Scopes: []auth.Scope{auth.ScopeAdmin}})
	if err != nil {
		t.Fatal(err)
	}
	var list []map[string]any
	s.call("GET", "/api/v1/tokens", acmeAdmin, nil).json(t, &list)
	for _, tok := range list {
		if tok["org"] != "acme" {
			t.Errorf("got token %v of another org, want only acme's", tok)
		}
	}
	if len(list) != 2 {
		t.Errorf("got %d tokens, want 2 (the acme admin and its new token)", len(list))
	}
	wantError(t, s.call("GET", "/api/v1/tokens/"+other.ID, acmeAdmin, nil), 404, httpapi.CodeNotFound)
	wantError(t, s.call("DELETE", "/api/v1/tokens/"+other.ID, acmeAdmin, nil), 404, httpapi.CodeNotFound)
	if _, ok := s.tokens.Get(other.ID); !ok {
		t.Error("got the other org's token deleted, want it kept")
	}
}

// TestCreateTokenValidatesOrg checks that a token cannot be bound to an
// org name no event can carry.
func TestCreateTokenValidatesOrg(t *testing.T) {
	t.Parallel()
	s := newServer(t, httpapi.Limits{})
	for _, org := range []string{"bad org", "a.b", "a>"} {
		r := s.call("POST", "/api/v1/tokens", s.admin, map[string]any{"name": "n", "org": org, "scopes": []string{"events.write"}})
		wantError(t, r, 400, httpapi.CodeValidation, "org")
	}
}

// TestTokenChangesAreAudited checks that creating and revoking a token
// writes Okta's system.api_token.create and .revoke to the token's org
// (the default org for an all-orgs token), with the calling token as actor
// and the token as target, and never the secret.
func TestTokenChangesAreAudited(t *testing.T) {
	t.Parallel()
	s := newServer(t, httpapi.Limits{})
	orgAdmin := s.token("acme", auth.ScopeAdmin)
	orgAdminTok, _ := s.tokens.Authenticate(orgAdmin)
	allAdminTok, _ := s.tokens.Authenticate(s.admin)
	tests := []struct {
		name, caller, org, wantOrg string
		actor                      auth.Token
	}{
		{"org admin, own org", orgAdmin, "acme", "acme", orgAdminTok},
		{"all-orgs admin, an org", s.admin, "globex", "globex", allAdminTok},
		{"all-orgs admin, all orgs", s.admin, "*", "default", allAdminTok},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.call("POST", "/api/v1/tokens", tt.caller, map[string]any{"name": "audited " + tt.name, "org": tt.org,
				"scopes": []string{"events.write"}})
			wantStatus(t, r, 201)
			var created struct{ ID, Token string }
			r.json(t, &created)
			wantStatus(t, s.call("DELETE", "/api/v1/tokens/"+created.ID, tt.caller, nil), 204)
			for _, action := range []string{"create", "revoke"} {
				typ := "system.api_token." + action
				m, ok := journaltest.Last(t, s.j, tt.wantOrg, typ)
				if !ok {
					t.Fatalf("%s: got none, want an audit event %s of org %s", action, typ, tt.wantOrg)
				}
				var ev struct {
					EventType string `json:"eventType"`
					Actor     struct{ ID, Type string }
					Target    []struct{ ID, Type, DisplayName string }
					Outcome   struct{ Result string }
				}
				if err := json.Unmarshal(m.Data, &ev); err != nil {
					t.Fatal(err)
				}
				if ev.EventType != "system.api_token."+action || ev.Actor.ID != tt.actor.ID || ev.Actor.Type != "Token" ||
					len(ev.Target) != 1 || ev.Target[0].ID != created.ID || ev.Target[0].Type != "Token" ||
					ev.Target[0].DisplayName != "audited "+tt.name || ev.Outcome.Result != "SUCCESS" {
					t.Errorf("%s: got %s, want actor %s and target %s", action, m.Data, tt.actor.ID, created.ID)
				}
				if strings.Contains(string(m.Data), created.Token) || strings.Contains(string(m.Data), auth.Hash(created.Token)) {
					t.Errorf("%s: got %s, want neither the secret nor its hash", action, m.Data)
				}
			}
		})
	}
}
