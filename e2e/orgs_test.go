package e2e

import (
	"strings"
	"testing"
)

// TestSameUUIDInTwoOrgs: de-duplication is per org, so one tenant's uuid
// can never stand in for (or suppress) another tenant's event.
func TestSameUUIDInTwoOrgs(t *testing.T) {
	s := startServer(t, "")
	tokens := map[string]string{}
	for _, org := range []string{"acme", "beta"} {
		var tok struct {
			Token string `json:"token"`
		}
		s.mustJSON("POST", "/api/v1/tokens", map[string]any{"name": org, "org": org,
			"scopes": []string{"events.write", "logs.read"}}, 201, &tok)
		tokens[org] = tok.Token
	}
	ev := []byte(`{"uuid":"shared-uuid-1","eventType":"user.session.start","published":"2026-01-01T00:00:00.000Z"}`)
	for _, org := range []string{"acme", "beta"} {
		code, body := s.ingestWith(tokens[org], "application/json", ev)
		if code != 202 || !strings.Contains(string(body), `"accepted":1`) {
			t.Fatalf("%s: got %d %s, want 202 with 1 accepted", org, code, body)
		}
		code, body, _ = s.do("GET", "/api/v1/logs?since=2025-12-31T00:00:00Z&until=2026-01-02T00:00:00Z", tokens[org], "", nil)
		if code != 200 || !strings.Contains(string(body), "shared-uuid-1") {
			t.Fatalf("%s logs: got %d %s, want its own event", org, code, body)
		}
	}
	// Within one org the uuid still de-duplicates.
	code, body := s.ingestWith(tokens["beta"], "application/json", ev)
	if code != 202 || !strings.Contains(string(body), `"duplicates":1`) {
		t.Fatalf("beta again: got %d %s, want 1 duplicate", code, body)
	}
}
