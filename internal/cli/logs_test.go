package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/auditstream/auditstream/internal/api"
	"github.com/auditstream/auditstream/internal/auth"
	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/event/eventtest"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/journal/journaltest"
	"github.com/auditstream/auditstream/internal/query"
	"github.com/auditstream/auditstream/internal/syncbuf"
	"github.com/auditstream/auditstream/internal/wait"
)

// logsServer is the real API with the query engine over an embedded
// journal holding n events of org acme, one a minute from t0.
func logsServer(t *testing.T, t0 time.Time, n int) (url, secret string, j *journal.Journal) {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	j = journaltest.Open(t)
	tokens, err := auth.NewStore(t.Context(), journaltest.KV(t, j, journal.BucketTokens), log)
	if err != nil {
		t.Fatal(err)
	}
	secret, _, err = tokens.Create(t.Context(), auth.Token{Name: "cli", Org: "acme", Scopes: []auth.Scope{auth.ScopeReadLogs}})
	if err != nil {
		t.Fatal(err)
	}
	e, err := query.New(t.Context(), j, query.Config{BaseURL: "http://public.invalid"}, log)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = e.Run(t.Context()) }()
	srv := httptest.NewServer(api.New(api.Deps{Journal: j, Tokens: tokens, Log: log, Registry: prometheus.NewRegistry(), Routes: e.Routes()}))
	t.Cleanup(func() {
		srv.Close()
		tokens.Close()
		j.Close()
	})
	appendLogs(t, j, "e", t0, n)
	return srv.URL, secret, j
}

func appendLogs(t *testing.T, j *journal.Journal, prefix string, t0 time.Time, n int) {
	t.Helper()
	var evs []event.Record
	for i := range n {
		typ := "user.session.start"
		if i%2 == 1 {
			typ = "user.session.end"
		}
		raw := fmt.Sprintf(`{"uuid":"%s%03d","published":%q,"eventType":%q,"displayMessage":"User login\nto Okta","actor":{"alternateId":"u%d@example.com"},"outcome":{"result":"SUCCESS"}}`,
			prefix, i, t0.Add(time.Duration(i)*time.Minute).Format(event.TimeFormat), typ, i%3)
		evs = append(evs, eventtest.Parse(t, raw))
	}
	if _, err := j.Append(t.Context(), evs); err != nil {
		t.Fatal(err)
	}
}

func TestLogsQuery(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	srvURL, secret, _ := logsServer(t, t0, 30)
	vars := map[string]string{envURL: srvURL, envToken: secret}
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantLines  int
		wantStdout []string
		wantStderr string
	}{
		{"json all pages", []string{"query", "--since", "2026-03-01", "--until", "2026-03-02", "--limit", "7", "-o", "json"}, 0, 30,
			[]string{`{"uuid":"e000",`, `{"uuid":"e029",`}, ""},
		{"table with filter", []string{"query", "--since", "2026-03-01T10:00:00Z", "--until", "2026-03-01T10:10:00Z", "--filter", `eventType eq "user.session.end"`}, 0, 5,
			[]string{"PUBLISHED", "2026-03-01T10:01:00.000Z  user.session.end  u1@example.com  SUCCESS  User login to Okta"}, ""},
		{"q and desc", []string{"query", "--since", "2026-03-01", "--until", "2026-03-02", "--q", "U2@example.com", "--desc", "-o", "json"}, 0, 10,
			[]string{`{"uuid":"e029"`}, ""},
		{"bad filter", []string{"query", "--filter", `eventType eqq "x"`}, 1, 0, nil, "400 E0000053: Invalid filter"},
		{"no verb", nil, 2, 0, nil, "logs needs query or tail"},
		{"bad verb", []string{"list"}, 2, 0, nil, "logs needs query or tail"},
		{"bad until", []string{"query", "--until", "soon"}, 2, 0, nil, "--until \"soon\""},
		{"tail until", []string{"tail", "--until", "1h"}, 2, 0, nil, "does not take --until"},
		{"bad limit", []string{"query", "--limit", "0"}, 2, 0, nil, "--limit 0"},
		{"bad output", []string{"query", "-o", "yaml"}, 2, 0, nil, "--output \"yaml\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := run(t, Logs, vars, "", tt.args...)
			if res.code != tt.wantCode {
				t.Fatalf("exit: got %d (stderr %q), want %d", res.code, res.stderr, tt.wantCode)
			}
			if !strings.Contains(res.stderr, tt.wantStderr) {
				t.Fatalf("stderr: got %q, want it to contain %q", res.stderr, tt.wantStderr)
			}
			if tt.wantCode != 0 {
				return
			}
			lines := strings.Split(strings.TrimSpace(res.stdout), "\n")
			if strings.HasPrefix(lines[0], "PUBLISHED") {
				lines = lines[1:]
			}
			if len(lines) != tt.wantLines {
				t.Fatalf("got %d lines, want %d:\n%s", len(lines), tt.wantLines, res.stdout)
			}
			for _, w := range tt.wantStdout {
				if !strings.Contains(res.stdout, w) {
					t.Fatalf("stdout: got\n%s\nwant it to contain %q", res.stdout, w)
				}
			}
		})
	}
}

func TestLogsTail(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	srvURL, secret, j := logsServer(t, t0, 5)
	vars := map[string]string{envURL: srvURL, envToken: secret}
	ctx, cancel := context.WithCancel(t.Context())
	var out, errOut syncbuf.Buffer
	done := make(chan int)
	go func() {
		done <- Logs(ctx, []string{"tail", "--interval", "20ms", "-o", "json"}, strings.NewReader(""), &out, &errOut,
			func(k string) string { return vars[k] })
	}()
	// Events published long ago but arriving now are new to a tail.
	time.Sleep(100 * time.Millisecond)
	appendLogs(t, j, "n", t0.Add(-time.Hour), 3)
	wait.Eventually(t, "3 lines of output", func() bool { return strings.Count(out.String(), "\n") >= 3 })
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit: got %d (stderr %q), want 0", code, errOut.String())
	}
	got := out.String()
	if strings.Count(got, "\n") != 3 || !strings.Contains(got, `"uuid":"n000"`) || strings.Contains(got, `"uuid":"e000"`) {
		t.Fatalf("got\n%s\nwant the 3 events that arrived while tailing", got)
	}
}
