package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/app"
	asconfig "github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/sink/s3/s3test"
)

// serverAdmin is the admin token of the service the tests run.
const serverAdmin = "bench-test-admin-token-0123456789abcdef"

// startServer runs the real service (app.Run, as `auditstream serve`
// does) in this process on 127.0.0.1 with a fresh data directory, until
// the test ends, and returns its base URL.
func startServer(t *testing.T) string {
	t.Helper()
	cfg := asconfig.Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0"}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- app.Run(ctx, cfg, app.Options{AdminToken: serverAdmin, Ready: func(a string) { ready <- a }}, slog.New(slog.DiscardHandler))
	}()
	select {
	case addr := <-ready:
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("server: %v", err)
			}
		})
		return "http://" + addr
	case err := <-done:
		cancel()
		t.Fatalf("server ended at start: %v", err)
	case <-time.After(60 * time.Second):
		cancel()
		t.Fatal("server did not start in 60s")
	}
	return ""
}

func testdataPath(t *testing.T) string {
	t.Helper()
	wd, _ := os.Getwd()
	p, err := defaultTestdata(wd)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestRunStreamsAgainstServer runs 10 filtered http streams against the
// real service: each stream must deliver exactly the events its filter
// selects, and together every event once.
func TestRunStreamsAgainstServer(t *testing.T) {
	base := startServer(t)
	cfg := config{
		server: base, token: serverAdmin, events: 3000, batch: 500, concurrency: 2,
		receiver: "127.0.0.1:0", pid: os.Getpid(), testdata: testdataPath(t), timeout: 20 * time.Second,
		streams: 10, sink: sinkHTTP,
	}
	rep, err := run(t.Context(), cfg, &strings.Builder{})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if !rep.OK() || rep.Received != 3000 || rep.Misrouted != 0 || rep.Foreign != 0 || rep.Duplicates != 0 {
		t.Fatalf("report %+v, want all 3000 delivered once through their own stream", rep)
	}
	if len(rep.Streams) != 10 {
		t.Fatalf("got %d streams in the report, want 10", len(rep.Streams))
	}
	var total int64
	for i, s := range rep.Streams {
		if s.Expected == 0 || s.Received != s.Expected || s.Missing != 0 || len(s.Filter) == 0 {
			t.Errorf("stream %d: %+v, want a filter and every selected event received", i, s)
		}
		if s.Status == nil || int64(s.Status.Delivered) < s.Expected || s.ID == "" {
			t.Errorf("stream %d: id %q, server status %+v, want it read, with at least %d delivered", i, s.ID, s.Status, s.Expected)
		}
		total += s.Expected
	}
	if total != 3000 {
		t.Errorf("streams expect %d events in all, want 3000 (each event selected once)", total)
	}
	if rep.ServerCPUSeconds <= 0 || rep.ServerCPUPerMillion <= 0 || rep.ClockTicks <= 0 || rep.CPUWindowSeconds <= 0 || rep.EndToEndPerSecond <= 0 {
		t.Errorf("report %+v, want CPU figures and rates", rep)
	}
}

// TestRunIngestOnlyAgainstServer: --streams 0 sends every event, creates
// no stream on the server and waits for no delivery.
func TestRunIngestOnlyAgainstServer(t *testing.T) {
	base := startServer(t)
	cfg := config{
		server: base, token: serverAdmin, events: 2000, batch: 500, concurrency: 2,
		receiver: "127.0.0.1:0", pid: os.Getpid(), testdata: testdataPath(t), timeout: 20 * time.Second,
		streams: 0, sink: sinkHTTP,
	}
	var text strings.Builder
	rep, err := run(t.Context(), cfg, &text)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if !rep.OK() || !rep.IngestOnly || rep.Accepted != 2000 || rep.Received != 0 || rep.TimedOut || len(rep.Streams) != 0 {
		t.Fatalf("report %+v, want 2000 accepted, no stream, nothing awaited", rep)
	}
	if rep.ServerCPUSeconds <= 0 || rep.IngestPerSecond <= 0 {
		t.Errorf("report %+v, want the CPU and ingest figures", rep)
	}
	var out strings.Builder
	rep.WriteText(&out)
	if !strings.Contains(out.String(), "ingest only") {
		t.Errorf("report text %q, want it to say the run was ingest only", out.String())
	}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, base+"/api/v1/logStreams", nil)
	req.Header.Set("Authorization", "SSWS "+serverAdmin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var streams []json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&streams); err != nil || len(streams) != 0 {
		t.Errorf("log streams on the server: %d (%v), want none", len(streams), err)
	}
}

// TestRunS3AgainstServer runs the s3 sink against the real service and a
// versitygw the tool starts itself, and reads every event back from the
// objects.
func TestRunS3AgainstServer(t *testing.T) {
	bin, err := s3test.Binary()
	if err != nil {
		t.Fatal(err)
	}
	base := startServer(t)
	cfg := config{
		server: base, token: serverAdmin, events: 2500, batch: 500, concurrency: 2,
		receiver: "127.0.0.1:0", pid: os.Getpid(), testdata: testdataPath(t), timeout: 20 * time.Second,
		sink: sinkS3, versitygw: bin, s3MaxAge: time.Second,
	}
	rep, err := run(t.Context(), cfg, &strings.Builder{})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if !rep.OK() || rep.Received != 2500 || rep.Foreign != 0 || rep.BadDeliveries != 0 || rep.Objects < 1 {
		t.Fatalf("report %+v, want all 2500 read back from at least one object", rep)
	}
	if rep.Latency.P50 <= 0 || rep.ServerCPUPerMillion <= 0 || rep.EndToEndPerSecond <= 0 {
		t.Errorf("report %+v, want latencies, CPU and rate", rep)
	}
	var text strings.Builder
	rep.WriteText(&text)
	for _, want := range []string{"s3 objects", "versitygw", "CPU-s per million events"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, text.String())
		}
	}
}

func TestNewRoute(t *testing.T) {
	gen, err := newGenerator(templatesOf(t, "a.x", "b.y", "a.x", "c.z", "a.x", "b.y", "d"))
	if err != nil {
		t.Fatal(err)
	}
	one, err := newRoute(gen, 1)
	if err != nil || one.streams() != 1 || one.filters[0] != nil {
		t.Fatalf("one stream: %+v, %v, want one unfiltered stream", one, err)
	}
	r, err := newRoute(gen, 3)
	if err != nil {
		t.Fatal(err)
	}
	// Largest first to the least loaded: a.x (3) alone, b.y (2) alone,
	// then c.z and d both to the third stream.
	want := []string{`{"detail":{"eventType":["a.x"]}}`, `{"detail":{"eventType":["b.y"]}}`, `{"detail":{"eventType":["c.z","d"]}}`}
	for i, f := range r.filters {
		if string(f) != want[i] {
			t.Errorf("filter %d: got %s, want %s", i, f, want[i])
		}
	}
	// Each template goes to the stream whose filter lists its type.
	for i, typ := range gen.types {
		var f struct{ Detail struct{ EventType []string } }
		if err := json.Unmarshal(r.filters[r.byTemplate[i]], &f); err != nil || !slices.Contains(f.Detail.EventType, typ) {
			t.Errorf("template %d (%s): got stream %d with filter %s", i, typ, r.byTemplate[i], r.filters[r.byTemplate[i]])
		}
	}
	if _, err := newRoute(gen, 5); err == nil {
		t.Error("5 streams over 4 event types: got nil error")
	}
	noType, _ := newGenerator(templatesOf(t, "a", ""))
	if _, err := newRoute(noType, 2); err == nil {
		t.Error("a template without eventType: got nil error")
	}
}

func templatesOf(t *testing.T, types ...string) [][]byte {
	t.Helper()
	var out [][]byte
	for _, typ := range types {
		m := map[string]any{"uuid": "x", "published": "y", "actor": map[string]any{"id": "a"}}
		if typ != "" {
			m["eventType"] = typ
		}
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// TestReceiverRoutes: events count only through the stream that must
// deliver them, by path; others are misrouted, unknown paths 404.
func TestReceiverRoutes(t *testing.T) {
	gen, err := newGenerator(templatesOf(t, "a", "b"))
	if err != nil {
		t.Fatal(err)
	}
	rt, err := newRoute(gen, 2)
	if err != nil {
		t.Fatal(err)
	}
	rc := newReceiver(gen, rt, 4, time.Now())
	srv := httptest.NewServer(rc)
	defer srv.Close()
	post := func(path string, idx ...uint64) int {
		var ids []string
		for _, i := range idx {
			ids = append(ids, `{"uuid":"`+gen.uuid(i).String()+`"}`)
		}
		resp, err := http.Post(srv.URL+path, "application/json", strings.NewReader("["+strings.Join(ids, ",")+"]"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	s0, s1 := rt.stream(gen, 0), rt.stream(gen, 1) // templates a and b
	if s0 == s1 {
		t.Fatalf("templates a and b on the same stream %d", s0)
	}
	path := func(s int) string { return "/hook/" + string(rune('0'+s)) }
	for _, tt := range []struct {
		path string
		idx  []uint64
		code int
	}{
		{path(s0), []uint64{0, 2}, 200}, // both of template a
		{path(s0), []uint64{1}, 200},    // template b through a's stream
		{path(s1), []uint64{1, 1}, 200}, // once, then a duplicate
		{"/hook/7", []uint64{3}, 404},
		{"/hook", []uint64{3}, 404},
	} {
		if got := post(tt.path, tt.idx...); got != tt.code {
			t.Errorf("POST %s: got %d, want %d", tt.path, got, tt.code)
		}
	}
	if got := []int64{rc.received.Load(), rc.misrouted.Load(), rc.duplicates.Load(), rc.perStream[s0].Load(), rc.perStream[s1].Load()}; !slices.Equal(got, []int64{3, 1, 1, 2, 1}) {
		t.Errorf("got received, misrouted, duplicates, per stream %v, want [3 1 1 2 1]", got)
	}
}

func TestLineUUID(t *testing.T) {
	const id = "0a1b2c3d-0000-4000-8000-000000000001"
	for _, tt := range []struct {
		line, want string
		wantErr    bool
	}{
		{`{"uuid":"` + id + `","published":"x"}`, id, false},
		{`{"published":"x","uuid":"` + id + `"}`, id, false},
		{`{"uuid": "` + id + `"}`, id, false},
		{`{"uuid":"short"}`, "short", false},
		{`not json`, "", true},
	} {
		got, err := lineUUID([]byte(tt.line))
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("lineUUID(%s) = %q, %v, want %q, error %v", tt.line, got, err, tt.want, tt.wantErr)
		}
	}
}
