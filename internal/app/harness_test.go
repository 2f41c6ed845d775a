package app

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/query"
	"github.com/auditstream/auditstream/internal/wait"
)

// testAdmin is the AUDITSTREAM_ADMIN_TOKEN of the services the tests run.
const testAdmin = "app-test-admin-token-0123456789abcdef"

// running is one app.Run serving on loopback for a test.
type running struct {
	t    *testing.T
	addr string // host:port it listens on
	base string // "http://" + addr
	// stop cancels Run, waits for it and returns its error; calling it
	// again returns the same error. The test's cleanup calls it too.
	stop func() error
}

// launch runs the service with cfg (on 127.0.0.1:0, in a fresh data
// directory when cfg has none) and the admin token admin until stop or
// the end of the test. It returns Run's error when Run ends before
// serving, and fails the test if it neither serves nor ends in 60s.
func launch(t *testing.T, cfg config.Config, admin string) (*running, error) {
	t.Helper()
	cfg.Listen = "127.0.0.1:0"
	return launchListen(t, cfg, admin)
}

// launchListen is launch on cfg.Listen as given (a test that must know
// the address before the service starts, such as an OIDC redirect URL).
func launchListen(t *testing.T, cfg config.Config, admin string) (*running, error) {
	t.Helper()
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, cfg, Options{AdminToken: admin, Ready: func(a string) { ready <- a }}, slog.New(slog.DiscardHandler))
	}()
	select {
	case addr := <-ready:
		stopped := false
		var runErr error
		r := &running{t: t, addr: addr, base: "http://" + addr}
		r.stop = func() error {
			if !stopped {
				stopped = true
				cancel()
				runErr = <-done
			}
			return runErr
		}
		t.Cleanup(func() { _ = r.stop() })
		return r, nil
	case err := <-done:
		cancel()
		return nil, err
	case <-time.After(60 * time.Second):
		cancel()
		t.Fatal("the service did not start in 60s")
		return nil, nil
	}
}

// startApp is launch with testAdmin; it fails the test if Run ends
// before serving.
func startApp(t *testing.T, cfg config.Config) *running {
	t.Helper()
	r, err := launch(t, cfg, testAdmin)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	// The query index reads the journal at start (query.index on
	// /readyz): tests begin once it has. A test's journal of 250,000
	// events took over 20 s under -race on a busy CI machine.
	wait.Eventually(t, "the query index to catch up", func() bool {
		_, body := r.call("GET", "/readyz", testAdmin, nil)
		return !strings.Contains(body, query.ConditionIndex)
	}, wait.Within(90*time.Second), wait.Every(20*time.Millisecond))
	return r
}

// call sends in (when not nil) as JSON with token and returns the status
// and body.
func (r *running) call(method, path, token string, in any) (int, string) {
	r.t.Helper()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			r.t.Fatal(err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(r.t.Context(), method, r.base+path, body)
	if err != nil {
		r.t.Fatal(err)
	}
	req.Header.Set("Authorization", "SSWS "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// testConfig is the default configuration on dir ("": a fresh directory
// per service), listening on 127.0.0.1:0, with a short shutdown deadline.
func testConfig(dir string) config.Config {
	cfg := config.Default()
	cfg.DataDir = dir
	cfg.Listen = "127.0.0.1:0"
	cfg.ShutdownTimeout = config.Duration(5 * time.Second)
	return cfg
}

// With listen port 0 and no query.publicUrl, the links in answers name
// the port the service is bound to (they named port 0).
func TestLinksNameTheBoundPort(t *testing.T) {
	r := startApp(t, testConfig(""))
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, r.base+"/api/v1/logs?limit=1", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "SSWS "+testAdmin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	links := strings.Join(resp.Header.Values("Link"), ", ")
	if !strings.Contains(links, "<"+r.base+"/api/v1/logs") {
		t.Errorf("links: got %q, want them under %s", links, r.base)
	}
}
