package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/wait"
)

func TestTenThousandEventsAllDelivered(t *testing.T) {
	s := startServer(t, "")
	rcv := newReceiver(t)
	id := s.createHTTPStream("all", rcv.url(), nil, nil)
	lines, ids := events("bulk", 10000, constType("user.session.start"))
	for i := 0; i < len(lines); i += 1000 {
		code, body := s.ingest(lines[i : i+1000])
		if code != 202 {
			t.Fatalf("ingest: got %d %s, want 202", code, body)
		}
		if !strings.Contains(string(body), `"accepted":1000`) {
			t.Fatalf("ingest body: got %s, want accepted 1000", body)
		}
	}
	wait.Eventually(t, "10,000 deliveries", func() bool { return rcv.count() == len(ids) }, wait.Within(60*time.Second), wait.Every(50*time.Millisecond))
	for _, u := range ids {
		if !rcv.has(u) {
			t.Fatalf("event %s not delivered", u)
		}
	}
	wait.Eventually(t, "status to catch up", func() bool {
		st := s.status(id)
		return st.Delivered == uint64(len(ids)) && st.LagEvents == 0
	}, wait.Every(50*time.Millisecond))
	// Sending the same events again stores nothing new.
	code, body := s.ingest(lines[:10])
	if code != 202 || !strings.Contains(string(body), `"duplicates":10`) {
		t.Fatalf("re-send: got %d %s, want 202 with 10 duplicates", code, body)
	}
}

func TestKillDuringIngestLosesNothingAcknowledged(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, dir)
	rcv := newReceiver(t)
	s.createHTTPStream("crash", rcv.url(), nil, nil)

	var mu sync.Mutex
	var acked []string
	var stop atomic.Bool
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for b := 0; !stop.Load(); b++ {
				lines, ids := events(fmt.Sprintf("crash-w%d-b%d", w, b), 200, constType("user.session.start"))
				req, _ := http.NewRequest("POST", s.url("/api/v1/events"), strings.NewReader(string(joinLines(lines))))
				req.Header.Set("Authorization", "SSWS "+adminToken)
				req.Header.Set("Content-Type", "application/x-ndjson")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					return // the server is gone
				}
				resp.Body.Close()
				if resp.StatusCode == 202 {
					mu.Lock()
					acked = append(acked, ids...)
					mu.Unlock()
				}
			}
		})
	}
	wait.Eventually(t, "some acknowledged events", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(acked) >= 4000
	}, wait.Within(30*time.Second), wait.Every(50*time.Millisecond))
	s.kill()
	stop.Store(true)
	wg.Wait()

	s2 := startServer(t, dir)
	_ = s2
	mu.Lock()
	want := append([]string(nil), acked...)
	mu.Unlock()
	wait.Eventually(t, fmt.Sprintf("all %d acknowledged events delivered after restart", len(want)), func() bool {
		for _, u := range want {
			if !rcv.has(u) {
				return false
			}
		}
		return true
	}, wait.Within(90*time.Second), wait.Every(50*time.Millisecond))
}

func joinLines(lines [][]byte) []byte {
	var b []byte
	for _, l := range lines {
		b = append(b, l...)
		b = append(b, '\n')
	}
	return b
}

func TestReceiverDownThenBack(t *testing.T) {
	s := startServer(t, "")
	rcv := newReceiver(t)
	id := s.createHTTPStream("flaky", rcv.url(), nil, nil)
	rcv.setDown(true)
	// More than one batch (the http sink's default is 500), so some events
	// wait in the runner's prefetch while it retries.
	lines, ids := events("down", 1500, constType("user.session.start"))
	if code, body := s.ingest(lines); code != 202 {
		t.Fatalf("ingest: got %d %s, want 202", code, body)
	}
	wait.Eventually(t, "status retrying with the error", func() bool {
		st := s.status(id)
		return st.State == "retrying" && st.LastError != "" && st.LagEvents > 0
	}, wait.Within(20*time.Second), wait.Every(50*time.Millisecond))
	time.Sleep(60 * time.Second) // the receiver is down for a minute
	if st := s.status(id); st.State != "retrying" || st.Retried == 0 {
		t.Fatalf("while down: got %+v, want retrying with retries", st)
	}
	rcv.setDown(false)
	wait.Eventually(t, "every event delivered", func() bool { return rcv.count() == len(ids) }, wait.Within(60*time.Second), wait.Every(50*time.Millisecond))
	wait.Eventually(t, "lag to drain to zero", func() bool {
		st := s.status(id)
		return st.LagEvents == 0 && st.State == "active"
	}, wait.Every(50*time.Millisecond))
	for _, u := range ids {
		if n := rcv.times(u); n != 1 {
			t.Fatalf("event %s delivered %d times, want once", u, n)
		}
	}
}

func TestRejectedEventsDeadLetteredAndRedriven(t *testing.T) {
	s := startServer(t, "")
	rcv := newReceiver(t)
	rcv.setReject("app.bad.event")
	id := s.createHTTPStream("dlq", rcv.url(), nil, nil)
	lines, ids := events("dlq", 40, func(i int) string {
		if i%10 == 3 {
			return "app.bad.event"
		}
		return "user.session.start"
	})
	if code, body := s.ingest(lines); code != 202 {
		t.Fatalf("ingest: got %d %s, want 202", code, body)
	}
	wait.Eventually(t, "good events delivered and bad dead-lettered", func() bool {
		st := s.status(id)
		return rcv.count() == 36 && st.DeadLettered == 4
	}, wait.Within(30*time.Second), wait.Every(50*time.Millisecond))
	var dls []struct {
		UUID   string `json:"uuid"`
		Reason string `json:"reason"`
	}
	s.mustJSON("GET", "/api/v1/logStreams/"+id+"/deadLetters", nil, 200, &dls)
	if len(dls) != 4 {
		t.Fatalf("dead letters: got %d, want 4", len(dls))
	}
	for _, d := range dls {
		if !strings.Contains(d.Reason, "400") {
			t.Errorf("dead letter %s reason: got %q, want it to name the 400", d.UUID, d.Reason)
		}
	}
	rcv.setReject("")
	var out struct {
		Redriven int `json:"redriven"`
	}
	s.mustJSON("POST", "/api/v1/logStreams/"+id+"/deadLetters/redrive", nil, 200, &out)
	if out.Redriven != 4 {
		t.Fatalf("redrive: got %d, want 4", out.Redriven)
	}
	for _, u := range ids {
		if !rcv.has(u) {
			t.Fatalf("event %s not delivered after redrive", u)
		}
	}
	s.mustJSON("GET", "/api/v1/logStreams/"+id+"/deadLetters", nil, 200, &dls)
	if len(dls) != 0 {
		t.Fatalf("dead letters after redrive: got %d, want 0", len(dls))
	}
}

func TestTwoStreamsWithFiltersAndReplay(t *testing.T) {
	s := startServer(t, "")
	logins, failures := newReceiver(t), newReceiver(t)
	loginID := s.createHTTPStream("logins", logins.url(),
		map[string]any{"detail": map[string]any{"eventType": []string{"user.session.start"}}}, nil)
	s.createHTTPStream("failures", failures.url(),
		map[string]any{"detail-type": []string{"SystemLog"}, "detail": map[string]any{"outcome": map[string]any{"result": []string{"FAILURE"}}}}, nil)
	lines, ids := events("filter", 100, func(i int) string {
		if i%4 == 0 {
			return "user.session.start"
		}
		return "user.account.update_profile"
	})
	start := time.Now()
	if code, body := s.ingest(lines); code != 202 {
		t.Fatalf("ingest: got %d %s, want 202", code, body)
	}
	// Event i is a login when i%4==0 and a failure when i is odd.
	var wantLogins, wantFailures []string
	for i, u := range ids {
		if i%4 == 0 {
			wantLogins = append(wantLogins, u)
		}
		if i%2 == 1 {
			wantFailures = append(wantFailures, u)
		}
	}
	wait.Eventually(t, "both subsets", func() bool {
		return logins.count() == len(wantLogins) && failures.count() == len(wantFailures)
	}, wait.Within(30*time.Second), wait.Every(50*time.Millisecond))
	for _, u := range wantLogins {
		if !logins.has(u) {
			t.Fatalf("login stream is missing %s", u)
		}
	}
	for _, u := range wantFailures {
		if !failures.has(u) {
			t.Fatalf("failure stream is missing %s", u)
		}
	}
	time.Sleep(500 * time.Millisecond) // nothing more arrives
	if logins.count() != len(wantLogins) || failures.count() != len(wantFailures) {
		t.Fatalf("extra events: got %d and %d, want %d and %d", logins.count(), failures.count(), len(wantLogins), len(wantFailures))
	}

	s.mustJSON("POST", "/api/v1/logStreams/"+loginID+"/replay",
		map[string]string{"since": start.Add(-time.Second).UTC().Format(time.RFC3339Nano)}, 202, nil)
	wait.Eventually(t, "replay to re-deliver every login", func() bool {
		for _, u := range wantLogins {
			if logins.times(u) < 2 {
				return false
			}
		}
		return true
	}, wait.Within(30*time.Second), wait.Every(50*time.Millisecond))
}
