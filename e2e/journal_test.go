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
