package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/wait"
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
	// The tenant's destinations are loopback recorders: the operator allows
	// loopback, so that only the secret rule is under test here.
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfg, []byte("egress: {allow: [127.0.0.0/8]}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, "", "--config", cfg)
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
	var gotStream, gotSource sourceObj
	s.mustJSON("GET", "/api/v1/logStreams/"+st.ID, nil, 200, &gotStream)
	s.mustJSON("GET", "/api/v1/sources/"+src.ID, nil, 200, &gotSource)
	if gotStream.Settings["url"] != home.srv.URL+"/in" || gotSource.Settings["baseUrl"] != home.srv.URL {
		t.Fatalf("after the refused PUTs: got stream %v and source %v, want both unchanged", gotStream.Settings, gotSource.Settings)
	}
	wait.Eventually(t, "the source to poll its org", func() bool {
		for _, a := range home.seen() {
			if a == "SSWS 00-OKTA-API-TOKEN" {
				return true
			}
		}
		return false
	}, wait.Every(50*time.Millisecond))
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
	wait.Eventually(t, "the source to poll the new place with the new token", func() bool {
		for _, a := range evil.seen() {
			if a == "SSWS NEW-TOKEN" {
				return true
			}
		}
		return false
	}, wait.Every(50*time.Millisecond))
	for _, a := range evil.seen() {
		if strings.Contains(a, "00-OKTA-API-TOKEN") || a == basicAuth("u", "B-WEBHOOK-PASSWORD") {
			t.Fatalf("the new host got an old secret: %q", a)
		}
	}
}

// keyFile writes a secret key file and a config naming it, and returns
// the config's path.
func keyConfig(t *testing.T, dir, name string, keys ...string) string {
	t.Helper()
	kf := filepath.Join(dir, name+".keys")
	if err := os.WriteFile(kf, []byte(strings.Join(keys, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, name+".yaml")
	if err := os.WriteFile(cfg, []byte("secrets:\n  keyFile: "+kf+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func keyLine(id string, b byte) string {
	return id + ":" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b}, 32))
}

// filesWith lists the files under dir that contain s.
func filesWith(t *testing.T, dir, s string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if bytes.Contains(b, []byte(s)) {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// runBinary runs auditstream to completion and returns its exit code and
// output.
func runBinary(t *testing.T, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append(os.Environ(), "AUDITSTREAM_ADMIN_TOKEN="+adminToken)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, string(out)
}

// TestSecretsEncryptedAtRest follows an install from clear secrets to an
// encrypted journal and through a key rotation, against the real binary:
// records written through the API with a key are not in the journal's
// files, secrets rotate encrypts the old clear records and purges their
// copies, a start without the key (or without the key a record names) is
// refused naming the record and key id, and after a rotation the new key
// alone is enough.
func TestSecretsEncryptedAtRest(t *testing.T) {
	const (
		streamPassword = "E2E-STREAM-PASSWORD-0001"
		oktaToken1     = "E2E-OKTA-API-TOKEN-0001"
	)
	dir, data := t.TempDir(), t.TempDir()
	okta := newRecorder(t)
	k1 := keyConfig(t, dir, "k1", keyLine("k1", 1))
	rotated := keyConfig(t, dir, "rotated", keyLine("k2", 2), keyLine("k1", 1))
	only2 := keyConfig(t, dir, "only2", keyLine("k2", 2))

	// Without a key: a WARN, and the stream's password is in clear.
	s := startServer(t, data)
	st := s.createHTTPStream("hook", okta.srv.URL+"/hook", nil,
		map[string]any{"auth": map[string]any{"type": "basic", "username": "u", "password": streamPassword}})
	s.stop()
	if !strings.Contains(s.logs.String(), "stored in clear") {
		t.Fatalf("start without a key: got logs %s, want a WARN that secrets are stored in clear", s.logs.String())
	}
	if len(filesWith(t, data, streamPassword)) == 0 {
		t.Fatal("the clear password is not in the journal's files; the test cannot show it is encrypted later")
	}

	// With a key: records written through the API are sealed; the old
	// clear record is reported.
	s = startServer(t, data, "--config", k1)
	var src sourceObj
	s.mustJSON("POST", "/api/v1/sources", map[string]any{"type": "okta", "name": "acme", "org": "acme",
		"settings": map[string]any{"baseUrl": okta.srv.URL, "auth": map[string]any{"type": "SSWS", "token": oktaToken1}, "pollInterval": "200ms"}}, 200, &src)
	code, body, _ := s.do("GET", "/api/v1/sources/"+src.ID, adminToken, "", nil)
	if code != 200 || strings.Contains(string(body), oktaToken1) {
		t.Fatalf("GET source: got %d %s, want 200 without the token", code, body)
	}
	s.stop()
	if !strings.Contains(s.logs.String(), "still stored in clear") {
		t.Fatalf("start with a key over clear records: got logs %s, want a WARN naming them", s.logs.String())
	}
	if files := filesWith(t, data, oktaToken1); len(files) != 0 {
		t.Fatalf("the Okta token written with a key is in clear in %v", files)
	}

	// Rotate with the same key: the clear record is encrypted and its old
	// copy purged.
	code, out := runBinary(t, "secrets", "rotate", "--data-dir", data, "--config", k1)
	if code != 0 || !strings.Contains(out, "auditstream_streams: 1 records encrypted with key k1 (1 were in clear)") {
		t.Fatalf("secrets rotate: got %d %s, want 0 and one stream record encrypted", code, out)
	}
	if files := filesWith(t, data, streamPassword); len(files) != 0 {
		t.Fatalf("after secrets rotate the password is still in clear in %v", files)
	}

	// No key, or only a key the records do not name: refused, naming the
	// record and the key id.
	for _, args := range [][]string{{}, {"--config", only2}} {
		code, out := runBinary(t, append([]string{"serve", "--data-dir", data, "--listen", freeAddr(t)}, args...)...)
		if code == 0 || !strings.Contains(out, `key id \"k1\"`) || !(strings.Contains(out, st) || strings.Contains(out, src.ID)) {
			t.Fatalf("serve %v over encrypted records: got %d %s, want a refusal naming a record and key k1", args, code, out)
		}
	}

	// Rotate to k2 (the key file still holds k1), then k2 alone works and
	// the source polls with its token.
	code, out = runBinary(t, "secrets", "rotate", "--data-dir", data, "--config", rotated)
	if code != 0 || !strings.Contains(out, "auditstream_sources: 1 records encrypted with key k2 (0 were in clear)") {
		t.Fatalf("secrets rotate to k2: got %d %s, want 0", code, out)
	}
	before := len(okta.seen())
	s = startServer(t, data, "--config", only2)
	var got streamObj
	s.mustJSON("GET", "/api/v1/logStreams/"+st, nil, 200, &got)
	wait.Eventually(t, "the source to poll with its token after the rotation", func() bool {
		for _, a := range okta.seen()[before:] {
			if a == "SSWS "+oktaToken1 {
				return true
			}
		}
		return false
	}, wait.Every(50*time.Millisecond))
	s.stop()
	for _, secretValue := range []string{streamPassword, oktaToken1} {
		if files := filesWith(t, data, secretValue); len(files) != 0 {
			t.Fatalf("%s in clear in %v", secretValue, files)
		}
	}
}
