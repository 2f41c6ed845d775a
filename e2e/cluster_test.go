package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/wait"
)

// TestSecondNodeSharesJournalAndState runs two serve processes on one
// journal: the first embeds NATS and exposes it, the second joins with
// --nats-url. Streams and tokens made on one are live on the other, and
// events sent to either are delivered.
func TestSecondNodeSharesJournalAndState(t *testing.T) {
	natsAddr := freeAddr(t)
	cfg := filepath.Join(t.TempDir(), "a.yaml")
	const natsToken = "e2e-nats-token-0123456789"
	if err := os.WriteFile(cfg, []byte("journal:\n  natsListen: "+natsAddr+"\n  natsToken: "+natsToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a := startServer(t, "", "--config", cfg)
	b := startServer(t, "", "--nats-url", "nats://"+natsToken+"@"+natsAddr)

	rcv := newReceiver(t)
	id := a.createHTTPStream("shared", rcv.url(), nil, nil)
	wait.Eventually(t, "the stream to appear on the second node", func() bool {
		code, _, _ := b.do("GET", "/api/v1/logStreams/"+id, adminToken, "", nil)
		return code == 200
	}, wait.Every(50*time.Millisecond))

	var tok struct {
		Token string `json:"token"`
	}
	a.mustJSON("POST", "/api/v1/tokens", map[string]any{"name": "producer", "org": "acme", "scopes": []string{"events.write"}}, 201, &tok)
	lines, ids := events("node", 200, constType("user.session.start"))
	wait.Eventually(t, "the token to work on the second node", func() bool {
		code, _ := b.ingestWith(tok.Token, "application/x-ndjson", joinLines(lines[:100]))
		return code == 202
	}, wait.Every(50*time.Millisecond))
	if code, body := a.ingest(lines[100:]); code != 202 {
		t.Fatalf("ingest on the first node: got %d %s, want 202", code, body)
	}
	wait.Eventually(t, "all events from both nodes delivered", func() bool {
		for _, u := range ids {
			if !rcv.has(u) {
				return false
			}
		}
		return true
	}, wait.Within(30*time.Second), wait.Every(50*time.Millisecond))
	wait.Eventually(t, "status readable on both nodes", func() bool {
		sa, sb := a.status(id), b.status(id)
		return sa.LagEvents == 0 && sb.LagEvents == 0 && sa.Delivered+sb.Delivered >= uint64(len(ids))
	}, wait.Every(50*time.Millisecond))
}

func TestConfigFileStreamsAreReadOnly(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "export")
	cfg := filepath.Join(dir, "config.yaml")
	yaml := fmt.Sprintf(`streams:
  - id: archive
    name: archive
    type: file
    org: "*"
    settings:
      dir: %s
      maxAge: 1s
    filter:
      detail:
        eventType: [{prefix: "user."}]
`, out)
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, "", "--config", cfg)
	var st struct {
		ID       string `json:"id"`
		ReadOnly bool   `json:"readOnly"`
		Status   string `json:"status"`
	}
	s.mustJSON("GET", "/api/v1/logStreams/archive", nil, 200, &st)
	if !st.ReadOnly || st.Status != "ACTIVE" {
		t.Fatalf("config stream: got %+v, want read-only and ACTIVE", st)
	}
	if code, body, _ := s.do("DELETE", "/api/v1/logStreams/archive", adminToken, "", nil); code != 403 {
		t.Fatalf("delete config stream: got %d %s, want 403", code, body)
	}
	lines, ids := events("cfg", 20, func(i int) string {
		if i%2 == 0 {
			return "user.session.start"
		}
		return "app.other.thing"
	})
	if code, body := s.ingest(lines); code != 202 {
		t.Fatalf("ingest: got %d %s", code, body)
	}
	want := map[string]bool{}
	for i, u := range ids {
		if i%2 == 0 {
			want[u] = true
		}
	}
	wait.Eventually(t, "the file stream to write the user.* events", func() bool {
		got := map[string]bool{}
		files, _ := filepath.Glob(filepath.Join(out, "*"))
		for _, f := range files {
			if info, err := os.Stat(f); err == nil && info.IsDir() {
				continue // _digest/: the stream's signed digests
			}
			b, err := os.ReadFile(f)
			if err != nil {
				return false
			}
			for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
				var ev struct {
					UUID string `json:"uuid"`
				}
				if json.Unmarshal([]byte(line), &ev) == nil && ev.UUID != "" {
					got[ev.UUID] = true
				}
			}
		}
		if len(got) != len(want) {
			return false
		}
		for u := range want {
			if !got[u] {
				return false
			}
		}
		return true
	}, wait.Within(20*time.Second), wait.Every(50*time.Millisecond))
}
