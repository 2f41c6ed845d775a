package e2e

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// recorder is a loopback destination (and a fake Okta org) that answers
// 200 to everything and records each request's Authorization header.
type recorder struct {
	srv  *httptest.Server
	mu   sync.Mutex
	auth []string
}

func newRecorder(t *testing.T) *recorder {
	t.Helper()
	r := &recorder{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.auth = append(r.auth, req.Header.Get("Authorization"))
		r.mu.Unlock()
		if strings.HasPrefix(req.URL.Path, "/api/v1/logs") {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte("[]"))
		}
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *recorder) seen() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.auth...)
}

// put sends a PUT with a token and returns status and body.
func (s *server) put(path, token string, in any) (int, string) {
	s.t.Helper()
	b, err := json.Marshal(in)
	if err != nil {
		s.t.Fatal(err)
	}
	code, out, _ := s.do("PUT", path, token, "application/json", b)
	return code, string(out)
}

// TestSecretsDoNotFollowANewHost is the review's H1 against the real
// binary: a *.manage token moves an http stream and an Okta source to a
// host it controls without sending the secret again. Both PUTs must be
// refused with the field named, change nothing and send nothing to the new
// host; a new path on the same host keeps the secret; the new host with
// the secret sent again is accepted.
func TestSecretsDoNotFollowANewHost(t *testing.T) {
	s := startServer(t, "")
	home, evil := newRecorder(t), newRecorder(t)
	var tok struct {
		Token string `json:"token"`
	}
	s.mustJSON("POST", "/api/v1/tokens", map[string]any{"name": "tenant", "org": "orga",
		"scopes": []string{"logStreams.manage", "sources.manage"}}, 201, &tok)

	// The http stream.
	var st streamObj
	s.mustJSON("POST", "/api/v1/logStreams", map[string]any{"type": "http", "name": "hook", "org": "orga",
		"settings": map[string]any{"url": home.srv.URL + "/in", "auth": map[string]any{"type": "basic", "username": "u", "password": "B-WEBHOOK-PASSWORD"}}}, 200, &st)
	code, body := s.put("/api/v1/logStreams/"+st.ID, tok.Token, map[string]any{"type": "http", "name": "hook",
		"settings": map[string]any{"url": evil.srv.URL + "/in", "auth": map[string]any{"type": "basic", "username": "u"}}})
	if code != 400 || !strings.Contains(body, "settings.auth.password must be sent again because settings.url changed port") {
		t.Fatalf("PUT stream to a new host without the password: got %d %s, want 400 naming settings.auth.password", code, body)
	}
	// The Okta source.
	var src sourceObj
	s.mustJSON("POST", "/api/v1/sources", map[string]any{"type": "okta", "name": "acme", "org": "orga",
		"settings": map[string]any{"baseUrl": home.srv.URL, "auth": map[string]any{"type": "SSWS", "token": "00-OKTA-API-TOKEN"}, "pollInterval": "200ms"}}, 200, &src)
	code, body = s.put("/api/v1/sources/"+src.ID, tok.Token, map[string]any{"type": "okta", "name": "acme",
		"settings": map[string]any{"baseUrl": evil.srv.URL, "auth": map[string]any{"type": "SSWS"}, "pollInterval": "200ms"}})
	if code != 400 || !strings.Contains(body, "settings.auth.token must be sent again because settings.baseUrl changed port") {
		t.Fatalf("PUT source to a new host without the token: got %d %s, want 400 naming settings.auth.token", code, body)
	}
	waitFor(t, 10*time.Second, "the source to poll its org", func() bool {
		for _, a := range home.seen() {
			if a == "SSWS 00-OKTA-API-TOKEN" {
				return true
			}
		}
		return false
	})
	time.Sleep(time.Second) // a poll or two at the old place, none at the new
	if got := evil.seen(); len(got) != 0 {
		t.Fatalf("the new host got requests %q, want none", got)
	}

	// Same host, new path: the password stays.
	code, body = s.put("/api/v1/logStreams/"+st.ID, tok.Token, map[string]any{"type": "http", "name": "hook",
		"settings": map[string]any{"url": home.srv.URL + "/other", "auth": map[string]any{"type": "basic", "username": "u"}}})
	if code != 200 {
		t.Fatalf("PUT stream to a new path: got %d %s, want 200", code, body)
	}
	// New host with the secrets sent again.
	code, body = s.put("/api/v1/logStreams/"+st.ID, tok.Token, map[string]any{"type": "http", "name": "hook",
		"settings": map[string]any{"url": evil.srv.URL + "/in", "auth": map[string]any{"type": "basic", "username": "u", "password": "NEW-PASSWORD"}}})
	if code != 200 {
		t.Fatalf("PUT stream to a new host with the password: got %d %s, want 200", code, body)
	}
	code, body = s.put("/api/v1/sources/"+src.ID, tok.Token, map[string]any{"type": "okta", "name": "acme",
		"settings": map[string]any{"baseUrl": evil.srv.URL, "auth": map[string]any{"type": "SSWS", "token": "NEW-TOKEN"}, "pollInterval": "200ms"}})
	if code != 200 {
		t.Fatalf("PUT source to a new host with the token: got %d %s, want 200", code, body)
	}
	waitFor(t, 10*time.Second, "the source to poll the new place with the new token", func() bool {
		for _, a := range evil.seen() {
			if a == "SSWS NEW-TOKEN" {
				return true
			}
		}
		return false
	})
	for _, a := range evil.seen() {
		if strings.Contains(a, "00-OKTA-API-TOKEN") || a == basicAuth("u", "B-WEBHOOK-PASSWORD") {
			t.Fatalf("the new host got an old secret: %q", a)
		}
	}
}
