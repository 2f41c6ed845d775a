package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/wait"
)

// TestTenantEgressAndFileStreams runs the binary with fileRoots and no
// egress allowance: an org-scoped token can aim neither a webhook at a
// loopback server nor a file stream at another org's directory; its file
// stream writes below <root>/<org>; the all-orgs token's webhook on
// loopback delivers as before.
func TestTenantEgressAndFileStreams(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "roots")
	if err := os.MkdirAll(filepath.Join(root, "beta", "exports"), 0o750); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf("fileRoots: [%s]\n", root)), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, "", "--config", cfg)
	rcv := newReceiver(t)
	var tok struct {
		Token string `json:"token"`
	}
	s.mustJSON("POST", "/api/v1/tokens", map[string]any{"name": "acme", "org": "acme",
		"scopes": []string{"logStreams.manage", "events.write"}}, 201, &tok)
	create := func(query string, in map[string]any) (int, string) {
		b, _ := json.Marshal(in)
		code, body, _ := s.do("POST", "/api/v1/logStreams"+query, tok.Token, "application/json", b)
		return code, string(body)
	}
	for _, q := range []string{"", "?verify=false"} {
		code, body := create(q, map[string]any{"type": "http", "name": "hook", "settings": map[string]any{"url": rcv.url()}})
		if code != http.StatusBadRequest || !strings.Contains(body, "loopback") {
			t.Fatalf("tenant webhook on loopback%s: got %d %s, want 400 naming loopback", q, code, body)
		}
	}
	for _, d := range []string{"../beta/exports", filepath.Join(root, "beta", "exports")} {
		code, body := create("", map[string]any{"type": "file", "name": "f", "settings": map[string]any{"dir": d}})
		if code != http.StatusBadRequest || !strings.Contains(body, "relative") {
			t.Fatalf("tenant file stream in %s: got %d %s, want 400", d, code, body)
		}
	}
	if code, body := create("", map[string]any{"type": "file", "name": "f", "settings": map[string]any{"dir": "exports", "maxAge": "1s"}}); code != http.StatusOK {
		t.Fatalf("tenant file stream: got %d %s, want 200", code, body)
	}
	s.createHTTPStream("operator hook", rcv.url(), nil, nil)
	if code, body := s.ingestWith(tok.Token, "application/json", []byte(`{"eventType":"user.session.start","uuid":"egress-1"}`)); code != http.StatusAccepted {
		t.Fatalf("ingest: got %d %s, want 202", code, body)
	}
	wait.Eventually(t, "the operator's webhook to get the event", func() bool { return rcv.has("egress-1") }, wait.Within(20*time.Second), wait.Every(50*time.Millisecond))
	wait.Eventually(t, "the event in acme's directory", func() bool {
		entries, _ := os.ReadDir(filepath.Join(root, "acme", "exports"))
		for _, e := range entries {
			if b, err := os.ReadFile(filepath.Join(root, "acme", "exports", e.Name())); err == nil && bytes.Contains(b, []byte("egress-1")) {
				return true
			}
		}
		return false
	}, wait.Within(20*time.Second), wait.Every(50*time.Millisecond))
	if entries, _ := os.ReadDir(filepath.Join(root, "beta", "exports")); len(entries) != 0 {
		t.Fatalf("beta's directory: got %d files, want none", len(entries))
	}
}
