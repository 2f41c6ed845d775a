package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/disktest"
	"github.com/auditstream/auditstream/internal/event/eventtest"
	"github.com/auditstream/auditstream/internal/wait"
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

// The reviewer's disk-full run on a 64 MiB tmpfs with the defaults (which
// used to need about 15 GiB free to start): ingest until the disk is full,
// get 507 with Retry-After within seconds and /readyz 503, free the space,
// and ingest works again without a restart; every 202'd event is there.
func TestDiskFullRecovers(t *testing.T) {
	if disktest.Reexec(t) {
		return
	}
	mnt := disktest.Mount(t, 64<<20)
	s := startServer(t, filepath.Join(mnt, "data"))

	// Leave about 3 MiB free.
	filler := filepath.Join(mnt, "filler")
	disktest.Fill(t, filler, 3<<20)

	batch := func(prefix string, n int) ([][]byte, []string) {
		lines, ids := make([][]byte, n), make([]string, n)
		for i := range n {
			ids[i] = fmt.Sprintf("%s-%d", prefix, i)
			lines[i] = fmt.Appendf(nil, `{"eventType":"disk.fill","uuid":%q,"pad":%q}`, ids[i], eventtest.Noise(ids[i], 1000))
		}
		return lines, ids
	}
	var acked []string
	var code int
	var hdr http.Header
	var body []byte
	for i := 0; i < 100; i++ {
		lines, ids := batch(fmt.Sprintf("fill%d", i), 200)
		start := time.Now()
		code, body, hdr = s.do("POST", "/api/v1/events", adminToken, "application/x-ndjson", bytes.Join(lines, []byte("\n")))
		if took := time.Since(start); took > 10*time.Second {
			t.Fatalf("batch %d: answered %d after %s, want within seconds", i, code, took)
		}
		if code != 202 {
			break
		}
		acked = append(acked, ids...)
	}
	if code != http.StatusInsufficientStorage || hdr.Get("Retry-After") == "" {
		t.Fatalf("full disk: got %d Retry-After %q %s, want 507 with Retry-After", code, hdr.Get("Retry-After"), body)
	}
	for _, m := range regexp.MustCompile(`stored: event \d+ uuid (\S+?)"`).FindAllSubmatch(body, -1) {
		acked = append(acked, string(m[1]))
	}
	wait.Eventually(t, "readyz 503", func() bool { c, _, _ := s.do("GET", "/readyz", "", "", nil); return c == 503 }, wait.Within(5*time.Second), wait.Every(50*time.Millisecond))

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	wait.Eventually(t, "ingest to work again", func() bool {
		lines, ids := batch(fmt.Sprintf("after%d", time.Now().UnixNano()), 5)
		if code, _ := s.ingest(lines); code != 202 {
			return false
		}
		acked = append(acked, ids...)
		return true
	}, wait.Within(20*time.Second), wait.Every(50*time.Millisecond))
	wait.Eventually(t, "readyz 200", func() bool { c, _, _ := s.do("GET", "/readyz", "", "", nil); return c == 200 }, wait.Within(5*time.Second), wait.Every(50*time.Millisecond))
	s.stop()
	s = startServer(t, filepath.Join(mnt, "data"))
	for _, id := range []string{acked[0], acked[len(acked)/2], acked[len(acked)-1]} {
		code, body, _ := s.do("GET", "/api/v1/logs?limit=10&since=2020-01-01T00:00:00Z&filter="+queryEscape(`uuid eq "`+id+`"`), adminToken, "", nil)
		if code != 200 || !strings.Contains(string(body), id) {
			t.Errorf("acknowledged event %s: got %d %s, want it in the journal", id, code, body)
		}
	}
	// Every acknowledged event, read back page by page.
	have := map[string]bool{}
	q := url.Values{"since": {"2020-01-01T00:00:00Z"}, "until": {time.Now().UTC().Add(time.Minute).Format(time.RFC3339)}, "limit": {"1000"}}
	next := regexp.MustCompile(`<([^>]+)>; rel="next"`)
	for path := "/api/v1/logs?" + q.Encode(); path != ""; {
		code, body, h := s.do("GET", path, adminToken, "", nil)
		var evs []struct{ UUID string }
		if err := json.Unmarshal(body, &evs); code != 200 || err != nil {
			t.Fatalf("GET %s: got %d %v", path, code, err)
		}
		for _, e := range evs {
			have[e.UUID] = true
		}
		path = ""
		if m := next.FindStringSubmatch(strings.Join(h.Values("Link"), ", ")); m != nil && len(evs) > 0 {
			u, err := url.Parse(m[1])
			if err != nil {
				t.Fatal(err)
			}
			path = u.RequestURI()
		}
	}
	missing := 0
	for _, id := range acked {
		if !have[id] {
			missing++
		}
	}
	if missing > 0 {
		t.Errorf("journal: %d of the %d acknowledged events are missing", missing, len(acked))
	}
}
