package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/event/eventtest"
	"github.com/auditstream/auditstream/internal/wait"
)

// TestJournalFullProtectsUndeliveredEvents is the security review's H2
// repro against the real binary: a 1 MiB journal, a webhook that is down,
// 5 × 2,000 events of ~400 bytes. It used to accept all 10,000 and
// deliver 1,946 once the webhook was back, with lagEvents 0 and no word
// in status, metrics or logs. Now ingest answers 507 naming the stream,
// every accepted event is delivered after the webhook recovers, and
// ingest is accepted again.
func TestJournalFullProtectsUndeliveredEvents(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "auditstream.yaml")
	if err := os.WriteFile(cfg, []byte("journal: {maxBytes: 1048576}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, "", "--config", cfg)
	rcv := newReceiver(t)
	id := s.createHTTPStream("down", rcv.url(), nil, nil)
	rcv.setDown(true)

	var accepted []string
	var code int
	var body []byte
	for b := range 5 {
		var lines [][]byte
		var ids []string
		for i := range 2000 {
			u := fmt.Sprintf("ret-%d-%d", b, i)
			ids = append(ids, u)
			lines = append(lines, fmt.Appendf(nil, `{"eventType":"ret.test","uuid":%q,"pad":%q}`, u, eventtest.Noise(u, 400)))
		}
		if code, body = s.ingest(lines); code != 202 {
			break
		}
		accepted = append(accepted, ids...)
	}
	if code != 507 || !strings.Contains(string(body), id) || !strings.Contains(string(body), `"errorCauses"`) {
		t.Fatalf("got %d %s after %d accepted, want 507 naming stream %s", code, body, len(accepted), id)
	}
	var st struct {
		LagEvents         uint64 `json:"lagEvents"`
		RetentionBlocking bool   `json:"retentionBlocking"`
	}
	s.mustJSON("GET", "/api/v1/logStreams/"+id+"/status", nil, 200, &st)
	if !st.RetentionBlocking || st.LagEvents == 0 {
		t.Errorf("got status %+v, want retentionBlocking and a lag", st)
	}
	code, body, _ = s.do("GET", "/readyz", "", "", nil)
	if code != 200 || !strings.Contains(string(body), "journal.retention") {
		t.Errorf("got /readyz %d %s, want 200 degraded with journal.retention", code, body)
	}

	rcv.setDown(false)
	wait.Eventually(t, fmt.Sprintf("all %d accepted events delivered", len(accepted)), func() bool {
		for _, u := range accepted {
			if !rcv.has(u) {
				return false
			}
		}
		return true
	}, wait.Within(90*time.Second), wait.Every(50*time.Millisecond))
	wait.Eventually(t, "ingest accepted again", func() bool {
		code, _ := s.ingest([][]byte{[]byte(`{"eventType":"ret.test","uuid":"after"}`)})
		return code == 202
	}, wait.Within(30*time.Second), wait.Every(50*time.Millisecond))
	var raw map[string]json.RawMessage
	s.mustJSON("GET", "/api/v1/logStreams/"+id+"/status", nil, 200, &raw)
	if _, ok := raw["droppedByRetention"]; ok {
		t.Errorf("got status with droppedByRetention %s, want nothing dropped", raw["droppedByRetention"])
	}
}
