package app

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/wait"
)

// TestActivityThroughServe ingests events through the API of a running
// service, reads the user's profile, restarts the service on the same
// data directory and checks that nothing was counted twice.
func TestActivityThroughServe(t *testing.T) { testActivityThroughServe(t, 1, "acme") }

// TestActivityThroughServePartitioned is TestActivityThroughServe on a
// journal of three partitions, with an org of partition 2.
func TestActivityThroughServePartitioned(t *testing.T) {
	org := ""
	for i := 0; org == ""; i++ {
		if o := fmt.Sprintf("org%d", i); journal.PartitionOfOrg(o, 3) == 2 {
			org = o
		}
	}
	testActivityThroughServe(t, 3, org)
}

func testActivityThroughServe(t *testing.T, partitions int, org string) {
	dir := t.TempDir()
	cfg := testConfig(dir)
	cfg.Journal.Partitions = partitions
	ev := func(uuid, ip string) map[string]any {
		return map[string]any{"uuid": uuid, "eventType": "user.session.start", "published": "2026-12-01T10:00:00.000Z",
			"actor":   map[string]any{"id": "00uZED", "type": "User", "alternateId": "zed@example.com"},
			"client":  map[string]any{"ipAddress": ip},
			"outcome": map[string]any{"result": "SUCCESS"}}
	}
	asActor := func(r *running, token string) func() (int64, int) {
		return func() (int64, int) {
			code, body := r.call("GET", "/api/v1/activity/users/00uZED", token, nil)
			var p struct{ AsActor int64 }
			_ = json.Unmarshal([]byte(body), &p)
			return p.AsActor, code
		}
	}
	r := startApp(t, cfg)
	tok := r.token(org, "events.write", "activity.read")
	other := r.token("other", "activity.read")
	if code, body := r.call("POST", "/api/v1/events", tok, []any{ev("z-1", "192.0.2.1"), ev("z-2", "192.0.2.2")}); code != http.StatusAccepted {
		t.Fatalf("ingest: got %d %s, want 202", code, body)
	}
	get := asActor(r, tok)
	wait.Eventually(t, "the profile to count 2 events", func() bool { n, _ := get(); return n == 2 },
		wait.Within(20*time.Second), wait.Seen(func() string { n, c := get(); return fmt.Sprintf("%d (status %d)", n, c) }))
	if _, code := asActor(r, other)(); code != http.StatusNotFound {
		t.Errorf("another org's token: got %d, want 404", code)
	}
	if err := r.stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}

	r2 := startApp(t, cfg)
	get2 := asActor(r2, tok)
	if code, body := r2.call("POST", "/api/v1/events", tok, []any{ev("z-3", "192.0.2.3")}); code != http.StatusAccepted {
		t.Fatalf("ingest after restart: got %d %s, want 202", code, body)
	}
	wait.Eventually(t, "the profile to count 3 events after the restart", func() bool { n, _ := get2(); return n == 3 },
		wait.Within(20*time.Second), wait.Seen(func() string { n, c := get2(); return fmt.Sprintf("%d (status %d)", n, c) }))
	// A fold that counted again would pass 3 on its way to 5.
	wait.Never(t, "the profile to count more than 3 events", time.Second, func() bool { n, _ := get2(); return n > 3 })
}
