package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/wait"
)

// orgToken creates a token of org with scopes and returns it.
func (s *server) orgToken(org string, scopes ...string) string {
	s.t.Helper()
	var tok struct {
		Token string `json:"token"`
	}
	s.mustJSON("POST", "/api/v1/tokens", map[string]any{"name": org + "-" + strings.Join(scopes, "-"), "org": org,
		"scopes": scopes}, 201, &tok)
	return tok.Token
}

// asJSON sends in as JSON with token and host (the Host header, "" for
// the default) and returns the status and body.
func (s *server) asJSON(method, path, token, host string, in any) (int, []byte) {
	s.t.Helper()
	b, _ := json.Marshal(in)
	req, err := http.NewRequest(method, s.url(path), bytes.NewReader(b))
	if err != nil {
		s.t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	req.Header.Set("Authorization", "SSWS "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out bytes.Buffer
	_, _ = out.ReadFrom(resp.Body)
	return resp.StatusCode, out.Bytes()
}

// logUUIDs returns the uuids of the events token may read.
func (s *server) logUUIDs(token string) string {
	s.t.Helper()
	code, body, _ := s.do("GET", "/api/v1/logs?since=2020-01-01T00:00:00Z&limit=1000", token, "", nil)
	if code != 200 {
		s.t.Fatalf("logs: got %d %s, want 200", code, body)
	}
	var evs []struct {
		UUID string `json:"uuid"`
	}
	_ = json.Unmarshal(body, &evs)
	var ids []string
	for _, e := range evs {
		ids = append(ids, e.UUID)
	}
	return strings.Join(ids, " ")
}

// TestEventBridgeTenantIsolation is the review's repro (security.md C1)
// against the real binary: org B, a tenant, tries to register
// Content-Type as its receiver's API key header and is refused; its
// receiver gets a generated key, shown once, and a URL of its own built
// from query.publicUrl (never the Host header). Org A's deliveries, sent
// with A's key to A's URL, reach org A only; neither they nor
// unauthenticated requests reach org B; the shared URL refuses with 409
// once two receivers exist.
func TestEventBridgeTenantIsolation(t *testing.T) {
	cfg := t.TempDir() + "/auditstream.yaml"
	if err := os.WriteFile(cfg, []byte("query:\n  publicUrl: https://audit.example.com\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, "", "--config", cfg)
	aSrc, aRead := s.orgToken("orga", "sources.manage"), s.orgToken("orga", "logs.read")
	bSrc := s.orgToken("orgb", "sources.manage", "sources.read", "logs.read")

	code, body := s.asJSON("POST", "/api/v1/sources", bSrc, "", map[string]any{"type": "eventbridge", "name": "catch-all",
		"settings": map[string]any{"auth": map[string]any{"type": "API_KEY", "header": "Content-Type", "value": "application/json; charset=utf-8"}}})
	if code != 400 || !bytes.Contains(body, []byte("settings.auth.header")) {
		t.Fatalf("catch-all receiver: got %d %s, want 400 naming settings.auth.header", code, body)
	}

	// B's receiver with a generated key, created through a forged Host.
	code, body = s.asJSON("POST", "/api/v1/sources", bSrc, "evil.example", map[string]any{"type": "eventbridge", "name": "b-eb",
		"settings": map[string]any{"auth": map[string]any{"type": "API_KEY"}}})
	var b sourceObj
	if code != 200 || json.Unmarshal(body, &b) != nil {
		t.Fatalf("b's receiver: got %d %s, want 200", code, body)
	}
	bAuth, _ := b.Settings["auth"].(map[string]any)
	bKey, _ := bAuth["value"].(string)
	if len(bKey) < 43 || bAuth["header"] != "x-api-key" {
		t.Fatalf("b's receiver settings: got %v, want a generated key of 43+ characters under x-api-key", b.Settings)
	}
	if got, want := b.Links["receiver"].Href, "https://audit.example.com/api/v1/eventbridge/"+b.ID; got != want || b.Links["receiver"].Method != "POST" {
		t.Fatalf("_links.receiver: got %+v, want POST %s", b.Links["receiver"], want)
	}
	code, body = s.asJSON("GET", "/api/v1/sources/"+b.ID, bSrc, "", nil)
	if code != 200 || bytes.Contains(body, []byte(bKey)) || !bytes.Contains(body, []byte("/api/v1/eventbridge/"+b.ID)) {
		t.Fatalf("GET b's receiver: got %d %s, want its URL and no key (shown once)", code, body)
	}

	const aKey = "A-RECEIVER-KEY-0123456789"
	code, body = s.asJSON("POST", "/api/v1/sources", aSrc, "", map[string]any{"type": "eventbridge", "name": "a-eb",
		"settings": map[string]any{"auth": map[string]any{"type": "API_KEY", "header": "X-Api-Key", "value": aKey}}})
	var a sourceObj
	if code != 200 || json.Unmarshal(body, &a) != nil {
		t.Fatalf("a's receiver: got %d %s, want 200", code, body)
	}
	if auth, _ := a.Settings["auth"].(map[string]any); auth["value"] != nil {
		t.Fatalf("a's receiver settings: got %v, want the key it chose not shown", a.Settings)
	}

	meantForA := []byte(`{"id":"meant-for-a","source":"aws.partner/okta.com/orga","detail-type":"SystemLog","detail":{"eventType":"user.session.start"}}`)
	noCreds := []byte(`{"id":"no-credentials","source":"x","detail-type":"SystemLog","detail":{"eventType":"spam"}}`)
	forB := []byte(`{"id":"for-b","source":"x","detail-type":"SystemLog","detail":{"eventType":"b.thing"}}`)
	aURL, bURL, shared := s.url("/api/v1/eventbridge/"+a.ID), s.url("/api/v1/eventbridge/"+b.ID), s.url("/api/v1/eventbridge")
	steps := []struct {
		name, url   string
		body        []byte
		header, key string
		want        int
	}{
		{"A's delivery at the shared URL", shared, meantForA, "X-Api-Key", aKey, 409},
		{"no credentials at the shared URL", shared, noCreds, "", "", 409},
		{"A's delivery at B's URL", bURL, meantForA, "X-Api-Key", aKey, 401},
		{"no credentials at B's URL", bURL, noCreds, "", "", 401},
		{"no credentials at A's URL", aURL, noCreds, "", "", 401},
		{"B's key at A's URL", aURL, noCreds, "X-Api-Key", bKey, 401},
		{"unknown receiver", s.url("/api/v1/eventbridge/0srUnknown"), meantForA, "X-Api-Key", aKey, 401},
		{"A's delivery at A's URL", aURL, meantForA, "X-Api-Key", aKey, 202},
		{"B's delivery with its generated key", bURL, forB, "x-api-key", bKey, 202},
	}
	for _, st := range steps {
		if code := postTo(t, st.url, st.body, st.header, st.key); code != st.want {
			t.Fatalf("%s: got %d, want %d", st.name, code, st.want)
		}
	}
	wait.Eventually(t, "A's event in org A's logs", func() bool { return strings.Contains(s.logUUIDs(aRead), "meant-for-a") }, wait.Every(50*time.Millisecond))
	wait.Eventually(t, "B's event in org B's logs", func() bool { return strings.Contains(s.logUUIDs(bSrc), "for-b") }, wait.Every(50*time.Millisecond))
	if got := s.logUUIDs(bSrc); strings.Contains(got, "meant-for-a") || strings.Contains(got, "no-credentials") {
		t.Fatalf("org B's logs: got %s, want neither A's event nor the unauthenticated one", got)
	}
	if got := s.logUUIDs(aRead); strings.Contains(got, "no-credentials") {
		t.Fatalf("org A's logs: got %s, want no unauthenticated event", got)
	}
}

// TestEventBridgeInvalidEnvelope: a field that can never be stored is a
// 400 naming it (it used to be a 503, which EventBridge retries for a
// day), and an array with one such envelope stores none of them.
func TestEventBridgeInvalidEnvelope(t *testing.T) {
	s := startServer(t, "")
	var src sourceObj
	s.mustJSON("POST", "/api/v1/sources", map[string]any{"type": "eventbridge", "name": "eb", "org": "acme",
		"settings": map[string]any{"auth": map[string]any{"type": "API_KEY"}}}, 200, &src)
	key, _ := src.Settings["auth"].(map[string]any)["value"].(string)
	good := `{"id":"eb-part-1","source":"acme.app","account":"123456789012","detail-type":"x","detail":{"eventType":"app.thing"}}`
	bad := `{"id":"eb-part-2","source":"acme.app","account":"` + strings.Repeat("9", 70000) + `","detail-type":"x","detail":{"eventType":"app.thing"}}`
	req, _ := http.NewRequest("POST", s.url("/api/v1/eventbridge/"+src.ID), strings.NewReader("["+good+","+bad+"]"))
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("X-Api-Key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	_, _ = out.ReadFrom(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(out.String(), "index 1: account is 70000 bytes") {
		t.Fatalf("[good, huge account]: got %d %s, want 400 naming index 1 and account", resp.StatusCode, out.String())
	}
	if got := s.logUUIDs(adminToken); strings.Contains(got, "eb-part-1") {
		t.Fatalf("logs: got %s, want the good envelope of the refused request not stored", got)
	}
	if code := postTo(t, s.url("/api/v1/eventbridge/"+src.ID), []byte(good), "X-Api-Key", key); code != 202 {
		t.Fatalf("good alone: got %d, want 202", code)
	}
	wait.Eventually(t, "the good envelope in the logs", func() bool { return strings.Contains(s.logUUIDs(adminToken), "eb-part-1") }, wait.Every(50*time.Millisecond))
}
