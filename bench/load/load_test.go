package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/client/clienttest"
)

func TestPercentile(t *testing.T) {
	ms := func(ns ...int) []time.Duration {
		var out []time.Duration
		for _, n := range ns {
			out = append(out, time.Duration(n)*time.Millisecond)
		}
		return out
	}
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one", ms(7), 50, 7 * time.Millisecond},
		{"one p99", ms(7), 99, 7 * time.Millisecond},
		{"p50 of 1..100", hundred, 50, 50 * time.Millisecond},
		{"p90 of 1..100", hundred, 90, 90 * time.Millisecond},
		{"p99 of 1..100", hundred, 99, 99 * time.Millisecond},
		{"p100 of 1..100", hundred, 100, 100 * time.Millisecond},
		{"p50 of four", ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{"p90 of four", ms(1, 2, 3, 4), 90, 4 * time.Millisecond},
		{"tiny p", ms(1, 2, 3), 0.001, 1 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentile(tt.sorted, tt.p); got != tt.want {
				t.Errorf("percentile(%v, %v) = %v, want %v", tt.sorted, tt.p, got, tt.want)
			}
		})
	}
}

func TestLatenciesAndRate(t *testing.T) {
	ds := []time.Duration{5 * time.Millisecond, time.Millisecond, 3 * time.Millisecond, 2 * time.Millisecond, 4 * time.Millisecond}
	got := latencies(ds)
	want := Latency{P50: 3, P90: 5, P99: 5, Max: 5}
	if got != want {
		t.Errorf("latencies = %+v, want %+v", got, want)
	}
	if got := latencies(nil); got != (Latency{}) {
		t.Errorf("latencies(nil) = %+v, want zero", got)
	}
	if got := rate(1000, 2*time.Second); got != 500 {
		t.Errorf("rate = %v, want 500", got)
	}
	if got := rate(1000, 0); got != 0 {
		t.Errorf("rate over 0s = %v, want 0", got)
	}
}

func TestGenerator(t *testing.T) {
	templates := [][]byte{
		[]byte(`{"actor":{"id":"x"},"uuid":"old","eventType":"user.session.start","published":"2024-01-01T00:00:00Z","n":[1, 2]}`),
		[]byte(`{"uuid":"only"}`),
	}
	g, err := newGenerator(templates)
	if err != nil {
		t.Fatal(err)
	}
	buf := g.appendEvent(nil, 0, "2025-01-02T03:04:05.678Z")
	buf = g.appendEvent(buf, 1, "2025-01-02T03:04:05.678Z")
	buf = g.appendEvent(buf, 1<<40+2, "2025-01-02T03:04:05.678Z")
	lines := strings.Split(strings.TrimSuffix(string(buf), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("got %d lines, want 3", len(lines))
	}
	wantSuffix := []string{
		`,"published":"2025-01-02T03:04:05.678Z","actor":{"id":"x"},"eventType":"user.session.start","n":[1,2]}`,
		`,"published":"2025-01-02T03:04:05.678Z"}`,
		`,"published":"2025-01-02T03:04:05.678Z","actor":{"id":"x"},"eventType":"user.session.start","n":[1,2]}`,
	}
	for i, line := range lines {
		var e struct{ UUID string }
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("line %d: %v: %s", i, err, line)
		}
		if !strings.HasSuffix(line, wantSuffix[i]) {
			t.Errorf("line %d = %s, want suffix %s", i, line, wantSuffix[i])
		}
		if e.UUID[14] != '4' {
			t.Errorf("uuid %s is not version 4", e.UUID)
		}
		idx, ok := g.index(e.UUID)
		want := []uint64{0, 1, 1<<40 + 2}[i]
		if !ok || idx != want {
			t.Errorf("index(%s) = %d, %v, want %d", e.UUID, idx, ok, want)
		}
	}
	if _, ok := g.index("dc9fd3c0-598c-11ef-8478-2b7584bf8d5a"); ok {
		t.Error("a foreign uuid was taken for one of the run's")
	}
}

// TestGeneratorNoise: with noise every event carries that many
// characters of its own in benchNoise, the same for the same index, and
// stays valid JSON.
func TestGeneratorNoise(t *testing.T) {
	g, err := newGenerator([][]byte{[]byte(`{"eventType":"a.b","actor":{"id":"x"}}`)})
	if err != nil {
		t.Fatal(err)
	}
	g.noise = 37
	noiseOf := func(idx uint64) string {
		var e struct{ BenchNoise string }
		line := g.appendEvent(nil, idx, "2025-01-02T03:04:05.678Z")
		if err := json.Unmarshal(line, &e); err != nil {
			t.Fatalf("event %d: %v: %s", idx, err, line)
		}
		return e.BenchNoise
	}
	a, b := noiseOf(1), noiseOf(2)
	if len(a) != 37 || len(b) != 37 || a == b {
		t.Errorf("noise of events 1 and 2: %q, %q; want 37 characters each, different", a, b)
	}
	if again := noiseOf(1); again != a {
		t.Errorf("noise of event 1 again: %q, want %q", again, a)
	}
	g.noise = 0
	if n := noiseOf(1); n != "" {
		t.Errorf("without noise: got benchNoise %q", n)
	}
}

func TestReadStatus(t *testing.T) {
	p := filepath.Join(t.TempDir(), "status")
	content := "Name:\tauditstream\nVmPeak:\t  900000 kB\nVmHWM:\t   20480 kB\nVmRSS:\t   10240 kB\nThreads:\t12\n"
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	rss, hwm, err := readStatus(p)
	if err != nil || rss != 10<<20 || hwm != 20<<20 {
		t.Errorf("readStatus = %d, %d, %v, want 10 MiB, 20 MiB", rss, hwm, err)
	}
	// Our own process can be sampled.
	ctx, cancel := context.WithCancel(t.Context())
	s, err := startRSS(ctx, os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if peak, hwm := s.result(); peak <= 0 || hwm < peak {
		t.Errorf("own RSS: peak %d, hwm %d, want 0 < peak <= hwm", peak, hwm)
	}
	if _, err := startRSS(t.Context(), 1<<30); err == nil {
		t.Error("sampling a missing pid: got nil error")
	}
}

func TestValidateLoopbackOnly(t *testing.T) {
	base := config{server: "http://127.0.0.1:8080", token: "t", events: 1, batch: 1, concurrency: 1, receiver: "127.0.0.1:0", timeout: time.Second}
	if err := base.validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	s3 := base
	s3.sink, s3.versitygw, s3.s3MaxAge = sinkS3, "/bin/true", time.Second
	if err := s3.validate(); err != nil {
		t.Fatalf("valid s3 config: %v", err)
	}
	for _, tt := range []struct {
		name string
		mod  func(*config)
	}{
		{"remote server", func(c *config) { c.server = "http://example.com:8080" }},
		{"public receiver", func(c *config) { c.receiver = "0.0.0.0:9999" }},
		{"no token", func(c *config) { c.token = "" }},
		{"batch too big", func(c *config) { c.batch = 20000 }},
		{"unknown sink", func(c *config) { c.sink = "kafka" }},
		{"too many streams", func(c *config) { c.streams = maxStreams + 1 }},
		{"s3 without versitygw", func(c *config) { c.sink, c.s3MaxAge = sinkS3, time.Second }},
		{"s3 with several streams", func(c *config) { c.sink, c.versitygw, c.s3MaxAge, c.streams = sinkS3, "/bin/true", time.Second, 2 }},
		{"s3 without max age", func(c *config) { c.sink, c.versitygw = sinkS3, "/bin/true" }},
	} {
		c := base
		tt.mod(&c)
		if err := c.validate(); err == nil {
			t.Errorf("%s: got nil error", tt.name)
		}
	}
}

// TestRunAgainstFake runs the whole tool against the in-memory fake API,
// which forwards ingested events to the stream's webhook.
func TestRunAgainstFake(t *testing.T) {
	const token = "bench-token"
	srv := clienttest.New(t, token)
	wd, _ := os.Getwd()
	testdata, err := defaultTestdata(wd)
	if err != nil {
		t.Fatalf("no test data: %v", err)
	}
	for _, gz := range []bool{false, true} {
		cfg := config{
			server: srv.URL, token: token, events: 2500, batch: 200, concurrency: 3,
			receiver: "127.0.0.1:0", pid: os.Getpid(), testdata: testdata, timeout: time.Minute, gzip: gz, streams: 1,
		}
		var progress bytes.Buffer
		rep, err := run(t.Context(), cfg, &progress)
		if err != nil {
			t.Fatalf("run: %v", err)
		}
		if !rep.OK() || rep.Missing != 0 || rep.Sent != 2500 || rep.Received != 2500 || rep.Duplicates != 0 || rep.Foreign != 0 {
			t.Errorf("gzip %v: report %+v, want all 2500 sent and received once", gz, rep)
		}
		if rep.IngestAnswers["202"] != 13 || len(rep.IngestAnswers) != 1 {
			t.Errorf("gzip %v: got answers by status %v, want 13 of 202", gz, rep.IngestAnswers)
		}
		if rep.Requests != 13 || rep.Latency.Max <= 0 || rep.Latency.P50 > rep.Latency.P99 || rep.PeakRSSBytes <= 0 || rep.IngestPerSecond <= 0 {
			t.Errorf("gzip %v: report %+v, want 13 requests, latencies, RSS and rates", gz, rep)
		}
		var text bytes.Buffer
		rep.WriteText(&text)
		if !strings.Contains(text.String(), "missing            0") {
			t.Errorf("text report:\n%s", text.String())
		}
	}
	// Retried requests show in the answers by status.
	var refused atomic.Int32
	srv.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/api/v1/events" && refused.Add(1) <= 2 {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusServiceUnavailable)
			return true
		}
		return false
	})
	cfg := config{
		server: srv.URL, token: token, events: 1000, batch: 500, concurrency: 1,
		receiver: "127.0.0.1:0", testdata: testdata, timeout: time.Minute, streams: 1,
	}
	rep, err := run(t.Context(), cfg, &bytes.Buffer{})
	srv.Intercept(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.IngestAnswers["503"] != 2 || rep.IngestAnswers["202"] != 2 || len(rep.IngestAnswers) != 2 {
		t.Errorf("report %+v: got answers %v, want 2 of 503 then 2 of 202", rep, rep.IngestAnswers)
	}
	// The streams were deleted, and the events kept their template content.
	reqs := srv.Requests()
	deletes := 0
	for _, r := range reqs {
		if r.Method == "DELETE" {
			deletes++
		}
	}
	if deletes != 3 {
		t.Errorf("got %d stream deletes, want 3", deletes)
	}
	events := srv.Events()
	var e map[string]any
	if err := json.Unmarshal(events[0], &e); err != nil || e["eventType"] == nil || e["actor"] == nil {
		t.Errorf("stored event %s lacks the template's content", events[0])
	}
	if _, err := time.Parse(time.RFC3339, e["published"].(string)); err != nil || time.Since(mustTime(t, e["published"].(string))) > time.Minute {
		t.Errorf("published %v is not a recent RFC 3339 time", e["published"])
	}
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestFindVersitygw(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin", "versitygw")
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", t.TempDir()) // nothing on PATH
	envOf := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	for _, tt := range []struct {
		name, flag string
		env        func(string) string
		want       string
	}{
		{"flag wins", "/x/versitygw", envOf("VERSITYGW", "/y/versitygw"), "/x/versitygw"},
		{"VERSITYGW", "", envOf("VERSITYGW", "/y/versitygw", "GOPATH", dir), "/y/versitygw"},
		{"GOPATH", "", envOf("GOPATH", "/nope"+string(os.PathListSeparator)+dir), bin},
		{"nowhere", "", envOf("GOPATH", "/nope"), ""},
	} {
		got, err := findVersitygw(tt.flag, tt.env)
		if got != tt.want || (err != nil) != (tt.want == "") {
			t.Errorf("%s: got %q, %v, want %q", tt.name, got, err, tt.want)
		}
	}
	home := t.TempDir()
	homeBin := filepath.Join(home, "go", "bin", "versitygw")
	if err := os.MkdirAll(filepath.Dir(homeBin), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(homeBin, nil, 0o755); err != nil {
		t.Fatal(err)
	}
	if got, err := findVersitygw("", envOf("HOME", home)); err != nil || got != homeBin {
		t.Errorf("~/go/bin: got %q, %v, want %q", got, err, homeBin)
	}
}

func TestMainFlags(t *testing.T) {
	var out, errOut bytes.Buffer
	env := func(string) string { return "" }
	if code := mainErr(t.Context(), []string{"--server", "http://10.1.2.3:8080", "--token", "x"}, &out, &errOut, env); code != 2 {
		t.Errorf("remote server: exit %d, want 2; %s", code, errOut.String())
	}
	errOut.Reset()
	srv := clienttest.New(t, "tok")
	jsonEnv := func(k string) string {
		if k == "AUDITSTREAM_ADMIN_TOKEN" {
			return "tok"
		}
		return ""
	}
	if code := mainErr(t.Context(), []string{"--server", srv.URL, "--events", "300", "--batch", "100", "--rate", "3000", "--json"}, &out, &errOut, jsonEnv); code != 0 {
		t.Fatalf("json run: exit %d; %s", code, errOut.String())
	}
	var rep Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil || rep.Received != 300 || rep.Missing != 0 || rep.IngestSeconds < 0.05 {
		t.Errorf("json report %s: %v, want 300 received over at least 0.07s (paced)", out.String(), err)
	}
	if code := mainErr(t.Context(), []string{"--nope"}, &out, &errOut, env); code != 2 {
		t.Errorf("unknown flag: exit %d, want 2", code)
	}
}
