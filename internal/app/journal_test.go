package app

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/disktest"
	"github.com/auditstream/auditstream/internal/event/eventtest"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/journal/journaltest"
	"github.com/auditstream/auditstream/internal/wait"
)

// snapshot lists the files under dir with size, mode and modification time.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		out[p] = fmt.Sprintf("%d %v %d", info.Size(), info.Mode(), info.ModTime().UnixNano())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func post(t *testing.T, addr, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://"+addr+"/api/v1/events", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "SSWS "+testAdmin)
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// A second serve on one data dir fails on the lock, naming the holder; a
// second serve on a taken port fails before it touches the data dir.
func TestSecondServe(t *testing.T) {
	dir := t.TempDir()
	first := startApp(t, testConfig(dir))
	resp := post(t, first.addr, `{"eventType":"twin.a","uuid":"twin-a1"}`)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("ingest: got %d, want 202", resp.StatusCode)
	}

	err := Run(t.Context(), testConfig(dir), Options{}, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("process %d holds the lock", os.Getpid())) {
		t.Fatalf("second serve on the same data dir: got %v, want the lock held by pid %d", err, os.Getpid())
	}
	if err := first.stop(); err != nil {
		t.Fatal(err)
	}

	before := snapshot(t, dir)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg := testConfig(dir)
	cfg.Listen = ln.Addr().String()
	err = Run(t.Context(), cfg, Options{AdminToken: testAdmin}, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("serve on a taken port: got %v, want address already in use", err)
	}
	after := snapshot(t, dir)
	for p, v := range before {
		if after[p] != v {
			t.Errorf("%s: got %q, want unchanged %q", p, after[p], v)
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			t.Errorf("%s: created by a serve that could not listen", p)
		}
	}
}

func readyz(t *testing.T, addr string) int {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// A full disk answers 507 with Retry-After within seconds, /readyz says
// not ready, a partial store is listed, and once space is back ingest
// works again without a restart; every acknowledged event is kept.
func TestDiskFullIngest(t *testing.T) {
	if disktest.Reexec(t) {
		return
	}
	mnt := disktest.Mount(t, 64<<20)
	dir := filepath.Join(mnt, "data")
	app := startApp(t, testConfig(dir)) // the 10 GiB default starts on 64 MiB
	filler := filepath.Join(mnt, "filler")
	disktest.Fill(t, filler, 3<<20)

	acked := map[string]bool{}
	batch := func(name string, n int) (string, []string) {
		var b strings.Builder
		var uuids []string
		for i := range n {
			u := fmt.Sprintf("%s-%d", name, i)
			uuids = append(uuids, u)
			fmt.Fprintf(&b, "{\"eventType\":\"disk.fill\",\"uuid\":%q,\"pad\":%q}\n", u, eventtest.Noise(u, 1000))
		}
		return b.String(), uuids
	}
	var failed *http.Response
	var failBody []byte
	for i := 0; i < 200 && failed == nil; i++ {
		body, uuids := batch(fmt.Sprintf("fill%d", i), 200)
		start := time.Now()
		resp := post(t, app.addr, body)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if took := time.Since(start); took > 8*time.Second {
			t.Fatalf("batch %d: answered %d after %s, want an answer within seconds", i, resp.StatusCode, took)
		}
		if resp.StatusCode == http.StatusAccepted {
			for _, u := range uuids {
				acked[u] = true
			}
			continue
		}
		failed, failBody = resp, b
	}
	if failed == nil {
		t.Fatal("the disk never filled")
	}
	if failed.StatusCode != http.StatusInsufficientStorage || failed.Header.Get("Retry-After") == "" {
		t.Fatalf("full disk: got %d Retry-After %q %s, want 507 with Retry-After", failed.StatusCode, failed.Header.Get("Retry-After"), failBody)
	}
	var eb struct {
		ErrorCauses []struct{ ErrorSummary string } `json:"errorCauses"`
	}
	if err := json.Unmarshal(failBody, &eb); err != nil || len(eb.ErrorCauses) == 0 {
		t.Fatalf("full disk body: got %s, want Okta's error with causes", failBody)
	}
	for _, c := range eb.ErrorCauses {
		if u, ok := strings.CutPrefix(c.ErrorSummary, "stored: event "); ok {
			acked[u[strings.Index(u, "uuid ")+5:]] = true
		}
	}
	t.Logf("%d events acknowledged; failure: %d %s", len(acked), failed.StatusCode, bytes.TrimSpace(failBody)[:min(200, len(failBody))])
	wait.Eventually(t, "readyz 503", func() bool { return readyz(t, app.addr) == http.StatusServiceUnavailable }, wait.Within(5*time.Second), wait.Every(200*time.Millisecond))
	start := time.Now()
	body, _ := batch("during", 5)
	resp := post(t, app.addr, body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusInsufficientStorage || time.Since(start) > time.Second {
		t.Fatalf("ingest on a full disk: got %d after %s, want 507 at once", resp.StatusCode, time.Since(start))
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	wait.Eventually(t, "ingest to work again", func() bool {
		body, uuids := batch(fmt.Sprintf("after%d", time.Now().UnixNano()), 5)
		resp := post(t, app.addr, body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			return false
		}
		for _, u := range uuids {
			acked[u] = true
		}
		return true
	}, wait.Within(20*time.Second), wait.Every(200*time.Millisecond))
	wait.Eventually(t, "readyz 200", func() bool { return readyz(t, app.addr) == http.StatusOK }, wait.Within(5*time.Second), wait.Every(200*time.Millisecond))
	if err := app.stop(); err != nil {
		t.Fatal(err)
	}

	j := journaltest.OpenWith(t, journal.Options{DataDir: dir})
	have := map[string]bool{}
	for _, r := range journaltest.Records(t, j) {
		have[r.UUID] = true
	}
	for u := range acked {
		if !have[u] {
			t.Errorf("acknowledged event %s is missing", u)
		}
	}
}

// The reviewer's repro: 3,000 events, bytes flipped in the newest block,
// restart. The loss is reported in /readyz, the metric and the System Log
// until an operator acknowledges it.
func TestLostEventsReportedAndAcknowledged(t *testing.T) {
	dir := t.TempDir()
	// No cap: the 3,000 events fit in one block of record batches, and
	// with a cap a loss at the block's start counts as retention.
	cfg := testConfig(dir)
	cfg.Journal.MaxBytes = -1
	app := startApp(t, cfg)
	pad := strings.Repeat("y", 300)
	for b := range 6 {
		var body strings.Builder
		for i := range 500 {
			fmt.Fprintf(&body, "{\"eventType\":\"cor.test\",\"uuid\":\"cor-%d-%d\",\"pad\":%q}\n", b, i, pad)
		}
		resp := post(t, app.addr, body.String())
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("ingest: got %d, want 202", resp.StatusCode)
		}
	}
	// How many messages hold them (record batches of up to 100 events).
	var recorded int
	var encoded, stored float64
	_, before := app.call("GET", "/metrics", testAdmin, nil)
	for _, line := range strings.Split(before, "\n") {
		fmt.Sscanf(line, "auditstream_journal_messages %d", &recorded)
		fmt.Sscanf(line, `auditstream_journal_written_bytes_total{form="batch"} %g`, &encoded)
		fmt.Sscanf(line, `auditstream_journal_written_bytes_total{form="stored"} %g`, &stored)
	}
	// The padding repeats: the batches are stored compressed.
	if stored == 0 || encoded < 3*stored {
		t.Errorf("written bytes: %g encoded, %g stored; want the stored a fraction of the encoded", encoded, stored)
	}
	if err := app.stop(); err != nil {
		t.Fatal(err)
	}
	blks, _ := filepath.Glob(filepath.Join(dir, "jetstream", "jetstream", "$G", "streams", "AUDIT", "msgs", "*.blk"))
	if len(blks) == 0 {
		t.Fatal("no message block")
	}
	blk := blks[len(blks)-1]
	b, err := os.ReadFile(blk)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []int{len(b) / 3, len(b) / 2, 2 * len(b) / 3} {
		// 1 KiB at each place: wider than a record, so a record header is hit
		// wherever the records fall (16 bytes may land in a payload, which
		// JetStream only checks when it reads that record).
		for k := range 1024 {
			b[o+k] ^= 0xFF
		}
	}
	if err := os.WriteFile(blk, b, 0o600); err != nil {
		t.Fatal(err)
	}

	app = startApp(t, cfg)
	code, body := app.call("GET", "/readyz", testAdmin, nil)
	if code != http.StatusOK || !strings.Contains(body, `"degraded"`) || !strings.Contains(body, journal.ConditionLost) {
		t.Fatalf("readyz: got %d %s, want 200 degraded with %s", code, body, journal.ConditionLost)
	}
	_, metrics := app.call("GET", "/metrics", testAdmin, nil)
	var lost, msgs int
	for _, line := range strings.Split(metrics, "\n") {
		fmt.Sscanf(line, "auditstream_journal_lost_events_total %d", &lost)
		fmt.Sscanf(line, "auditstream_journal_messages %d", &msgs)
	}
	// Before the restart the journal held the messages of the 3,000 events
	// and the admin token's system.api_token.create; the service's own
	// lost_events event is one of the messages now.
	if lost == 0 || lost != recorded-(msgs-1) {
		t.Fatalf("metric: got %d lost with %d messages, want %d - %d", lost, msgs, recorded, msgs-1)
	}
	// An org's admin may not acknowledge a loss that concerns every org.
	treq, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://"+app.addr+"/api/v1/tokens",
		strings.NewReader(`{"name":"acme admin","org":"acme","scopes":["admin"]}`))
	treq.Header.Set("Authorization", "SSWS "+testAdmin)
	treq.Header.Set("Content-Type", "application/json")
	tresp, err := http.DefaultClient.Do(treq)
	if err != nil {
		t.Fatal(err)
	}
	var created struct{ Token string }
	if err := json.NewDecoder(tresp.Body).Decode(&created); err != nil || created.Token == "" {
		t.Fatalf("create org token: %d %v", tresp.StatusCode, err)
	}
	tresp.Body.Close()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://"+app.addr+"/api/v1/journal/lost/acknowledge", nil)
	req.Header.Set("Authorization", "SSWS "+created.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("acknowledge with an org admin token: got %d, want 403", resp.StatusCode)
	}
	req, _ = http.NewRequestWithContext(t.Context(), http.MethodPost, "http://"+app.addr+"/api/v1/journal/lost/acknowledge", nil)
	req.Header.Set("Authorization", "SSWS "+testAdmin)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	ack, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(ack), fmt.Sprintf(`"count":%d`, lost)) {
		t.Fatalf("acknowledge: got %d %s, want 200 with the count %d", resp.StatusCode, ack, lost)
	}
	if code, body := app.call("GET", "/readyz", testAdmin, nil); code != http.StatusOK || strings.Contains(body, journal.ConditionLost) {
		t.Fatalf("readyz after acknowledge: got %d %s, want ready without %s", code, body, journal.ConditionLost)
	}
	if err := app.stop(); err != nil {
		t.Fatal(err)
	}
	j := journaltest.OpenWith(t, journal.Options{DataDir: dir})
	for _, typ := range []string{"system.journal.lost_events", "system.journal.lost_events.acknowledge"} {
		m, ok := journaltest.Last(t, j, "default", typ)
		if !ok {
			t.Fatalf("%s event: none in the journal", typ)
		}
		if typ == "system.journal.lost_events" && !strings.Contains(string(m.Data), fmt.Sprintf(`"lostEvents":%d`, lost)) {
			t.Errorf("%s event: got %s, want lostEvents %d", typ, m.Data, lost)
		}
	}
}
