package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// runServe runs a second `serve` that is expected to exit, and returns its
// exit code and output.
func runServe(t *testing.T, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, append([]string{"serve"}, args...)...)
	cmd.Env = append(os.Environ(), "AUDITSTREAM_ADMIN_TOKEN="+adminToken)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), string(out)
	}
	if err != nil {
		t.Fatalf("serve: %v\n%s", err, out)
	}
	return 0, string(out)
}

// Two processes on one data directory lose acknowledged events: the second
// is refused, naming the first. A second serve on a taken port does not
// touch its data directory.
func TestSecondServeRefused(t *testing.T) {
	s := startServer(t, "")
	code, out := runServe(t, "--data-dir", s.dataDir, "--listen", freeAddr(t))
	if code == 0 || !strings.Contains(out, fmt.Sprintf("process %d holds the lock", s.cmd.Process.Pid)) {
		t.Fatalf("second serve on the data dir: got exit %d\n%s\nwant a failure naming pid %d", code, out, s.cmd.Process.Pid)
	}
	fresh := filepath.Join(t.TempDir(), "data")
	code, out = runServe(t, "--data-dir", fresh, "--listen", s.addr)
	if code == 0 || !strings.Contains(out, "address already in use") {
		t.Fatalf("serve on a taken port: got exit %d\n%s\nwant address already in use", code, out)
	}
	if _, err := os.Stat(fresh); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("serve on a taken port: data dir %s exists (%v), want it untouched", fresh, err)
	}
	// The first server still works.
	if code, body := s.ingest([][]byte{[]byte(`{"eventType":"twin.a","uuid":"twin-a1"}`)}); code != 202 {
		t.Fatalf("ingest on the first server: got %d %s, want 202", code, body)
	}
}

// kill -9 while ingesting loses nothing and so reports no lost events; a
// truncated newest block after a clean stop is reported in /readyz until
// it is acknowledged.
func TestJournalLossReporting(t *testing.T) {
	dataDir := t.TempDir()
	s := startServer(t, dataDir)
	lines, _ := events("kill", 3000, constType("user.session.start"))
	for i := 0; i < len(lines); i += 500 {
		if code, body := s.ingest(lines[i : i+500]); code != 202 {
			t.Fatalf("ingest: got %d %s, want 202", code, body)
		}
	}
	s.kill()
	s = startServer(t, dataDir)
	if code, body, _ := s.do("GET", "/readyz", "", "", nil); code != 200 || strings.Contains(string(body), "journal.lost") {
		t.Fatalf("readyz after kill -9: got %d %s, want ready without journal.lost", code, body)
	}
	s.stop()

	blks, _ := filepath.Glob(filepath.Join(dataDir, "jetstream", "jetstream", "$G", "streams", "AUDIT", "msgs", "*.blk"))
	if len(blks) == 0 {
		t.Fatal("no message block")
	}
	fi, err := os.Stat(blks[len(blks)-1])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(blks[len(blks)-1], fi.Size()/2); err != nil {
		t.Fatal(err)
	}
	s = startServer(t, dataDir)
	code, body, _ := s.do("GET", "/readyz", "", "", nil)
	if code != 200 || !strings.Contains(string(body), "journal.lost") || !strings.Contains(string(body), "degraded") {
		t.Fatalf("readyz after truncation: got %d %s, want degraded with journal.lost", code, body)
	}
	if !strings.Contains(s.logs.String(), "level=ERROR msg=\"journal lost events") {
		t.Errorf("logs: want an ERROR line about lost events, got\n%s", tail(s.logs.String(), 4000))
	}
	if code, body, _ := s.do("POST", "/api/v1/journal/lost/acknowledge", adminToken, "", nil); code != 200 || !strings.Contains(string(body), `"count":`) {
		t.Fatalf("acknowledge: got %d %s, want 200 with the count", code, body)
	}
	if code, body, _ := s.do("GET", "/readyz", "", "", nil); code != 200 || strings.Contains(string(body), "journal.lost") {
		t.Fatalf("readyz after acknowledge: got %d %s, want no journal.lost", code, body)
	}
}
