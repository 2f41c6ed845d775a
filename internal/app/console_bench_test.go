package app

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/activity"
	"github.com/auditstream/auditstream/internal/config"
	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/journal/journaltest"
	"github.com/nats-io/nats.go/jetstream"
)

// BenchmarkConsolePages times each console page, server side, over a
// journal of -console.events 1-KB events published over the 7 days before
// the journal was filled (-console.dir keeps and reuses it; reuse it
// within a day or two, since the pages' presets are relative to now). It
// runs the real serve (app.Run) on that data directory, signs in with the
// admin token and GETs each page over loopback HTTP: the time per op is
// the server's time plus one loopback round trip. -console.refold deletes
// the activity bucket of a kept directory first, so that serve folds the
// whole journal again (profiles written by an older release gain what
// the fold keeps now, e.g. dailyCounts), and waits for the fold to reach
// the journal's end before timing the pages. Pages that answer a POST
// (source Verify) are timed with the session's CSRF token.
var (
	consoleBenchEvents = flag.Int("console.events", 1_000_000, "events in the console benchmark journal")
	consoleBenchDir    = flag.String("console.dir", "", "keep the console benchmark journal here and reuse it")
	consoleBenchRefold = flag.Bool("console.refold", false, "delete the activity profiles so that serve folds the journal again")
	consoleBenchDets   = flag.Int("console.detections", 0, "raise this many detections (a native rule, events through the API) before timing the detection pages")
)

func BenchmarkConsolePages(b *testing.B) {
	dir := *consoleBenchDir
	if dir == "" {
		dir = b.TempDir()
	}
	if err := fillConsoleBench(b, dir, *consoleBenchEvents, *consoleBenchRefold); err != nil {
		b.Fatal(err)
	}
	cfg := testConfig(dir)
	cfg.Journal.MaxBytes = -1
	cfg.Query.RateLimitPerMinute = -1
	if *consoleBenchDets > 0 {
		// Events ingested through the API are Okta's for the rules.
		cfg.Detections.Logsources = []config.DetectionLogsource{{Product: "okta", Sources: []string{"auditstream."}}}
	}
	start := time.Now()
	r := startBench(b, cfg)
	b.Logf("serve ready (query index rebuilt) in %s", time.Since(start).Round(time.Millisecond))

	c, csrf := benchSignIn(b, r.base)
	// A stream, so the streams pages have a row with a status.
	code, body := benchCall(b, r.base, "POST", "/api/v1/logStreams?verify=false",
		`{"type":"file","name":"bench-`+strconv.FormatInt(time.Now().UnixNano(), 36)+`","status":"INACTIVE","settings":{"dir":"`+b.TempDir()+`"}}`)
	if code != 200 {
		b.Fatalf("create stream: %d %s", code, body)
	}
	var stream struct{ ID string }
	if err := json.Unmarshal([]byte(body), &stream); err != nil || stream.ID == "" {
		b.Fatalf("create stream: no id in %s (%v)", body, err)
	}
	// A receiver, so the source pages have one to show.
	code, body = benchCall(b, r.base, "POST", "/api/v1/sources",
		`{"type":"eventbridge","name":"bench-`+strconv.FormatInt(time.Now().UnixNano(), 36)+`","org":"default","settings":{"auth":{"type":"API_KEY"}}}`)
	var src struct{ ID string }
	if err := json.Unmarshal([]byte(body), &src); err != nil || code != 200 || src.ID == "" {
		b.Fatalf("create source: %d %s", code, body)
	}
	var rules []struct {
		ID   string
		Pack string
	}
	if code, body := benchCall(b, r.base, "GET", "/api/v1/detections/rules?org=default", ""); code != 200 || json.Unmarshal([]byte(body), &rules) != nil || len(rules) == 0 {
		b.Fatalf("list rules: %d %s", code, body)
	}
	pattern := url.QueryEscape(`{"detail":{"eventType":[{"prefix":"app.family1."}]}}`)
	pages := []struct{ name, path string }{
		{"overview", "/console/"},
		{"streams", "/console/streams"},
		{"wizard-form", "/console/streams/new/http"},
		{"logs-24h", "/console/logs"},
		{"logs-7d-filter", "/console/logs?preset=7d&filter=" + url.QueryEscape(`eventType eq "app.family1.action3"`)},
		{"logs-7d-actor", "/console/logs?preset=7d&filter=" + url.QueryEscape(`actor.alternateId eq "user42@example.com"`)},
		{"logs-7d-actor-or-target", "/console/logs?preset=7d&filter=" + url.QueryEscape(`actor.id eq "00u42" or target.id eq "00u42"`)},
		{"logs-keyword", "/console/logs?preset=1h&q=user42"},
		{"filter-preview-100", "/console/filter?n=100&pattern=" + pattern},
		{"filter-preview-1000", "/console/filter?n=1000&pattern=" + pattern},
		{"sources", "/console/sources"},
		{"tokens", "/console/tokens"},
		{"stream-detail", "/console/streams/" + url.PathEscape(stream.ID)},
		{"detections", "/console/detections?org=default"},
		{"user-activity", "/console/users/00u42?org=default"},
		{"user-search-login", "/console/users?org=default&q=user42@example.com"},
		{"native-rule-new", "/console/detections/rules/new?org=default"},
		{"filter-preview-100-30d", "/console/filter/preview?n=100&range=30d&pattern=" + pattern},
		{"filter-preview-100-24h", "/console/filter/preview?n=100&range=24h&pattern=" + pattern},
		{"filter-preview-1000-7d", "/console/filter/preview?n=1000&range=7d&pattern=" + pattern},
		{"streams-new", "/console/streams/new"},
		{"stream-edit", "/console/streams/" + url.PathEscape(stream.ID) + "/edit"},
		{"logs-tail", "/console/logs/tail?since=" + url.QueryEscape(time.Now().Add(-time.Minute).UTC().Format(time.RFC3339Nano))},
		{"source-detail", "/console/sources/" + url.PathEscape(src.ID)},
		{"source-progress", "/console/sources/" + url.PathEscape(src.ID) + "/progress"},
		{"source-edit", "/console/sources/" + url.PathEscape(src.ID) + "/edit"},
		{"sources-new", "/console/sources/new?type=eventbridge"},
		{"rule-detail", "/console/detections/rules/" + url.PathEscape(rules[0].ID) + "?org=default"},
		{"user-search-id", "/console/users?org=default&q=00u42"},
	}
	// The presets are relative to now; a kept journal ends when it was
	// filled: the keyword search also over the last hour of the fill.
	if st, err := os.ReadFile(dir + "/console-bench-end"); err == nil {
		if end, err := time.Parse(time.RFC3339, string(st)); err == nil {
			pages = append(pages, struct{ name, path string }{"logs-keyword-fill-last-hour", "/console/logs?q=user42&since=" +
				url.QueryEscape(end.Add(-time.Hour).Format(time.RFC3339)) + "&until=" + url.QueryEscape(end.Format(time.RFC3339))})
		}
	}
	if n := *consoleBenchDets; n > 0 {
		pages = append(pages, benchDetections(b, r.base, n)...)
	}
	// A backtest job's page: a job of the whole journal, cancelled at once
	// (a running one would compete with the pages for the CPU).
	code, body = benchCall(b, r.base, "POST", "/api/v1/detections/backtests?org=default", `{"pack":"auditstream-okta"}`)
	var job struct{ ID string }
	if err := json.Unmarshal([]byte(body), &job); err != nil || code != 202 {
		b.Fatalf("start a backtest: %d %s", code, body)
	}
	if code, body := benchCall(b, r.base, "POST", "/api/v1/detections/backtests/"+job.ID+"/cancel?org=default", ""); code != 200 {
		b.Fatalf("cancel the backtest: %d %s", code, body)
	}
	pages = append(pages, struct{ name, path string }{"backtest-job", "/console/detections/backtests/" + job.ID + "?org=default"},
		struct{ name, path string }{"backtest-progress", "/console/detections/backtests/" + job.ID + "/progress?org=default"})
	// The user pages need the activity fold to have read the journal; a
	// refold waits for its end: the last actor of the fill (each of the
	// 10,000 actors has events/10,000 events) has all of them.
	foldStart := time.Now()
	user, want := "00u42", `"asActor":0,`
	if *consoleBenchRefold {
		user, want = "00u9999", `"asActor":`+strconv.Itoa(*consoleBenchEvents/10000)+`,`
	}
	for {
		code, body := benchCall(b, r.base, "GET", "/api/v1/activity/users/"+user+"?org=default", "")
		if code == 200 && strings.Contains(body, want) == *consoleBenchRefold {
			break
		}
		if time.Since(foldStart) > 30*time.Minute {
			b.Fatalf("the activity fold did not reach user 00u42: %d %s", code, body)
		}
		time.Sleep(time.Second)
	}
	b.Logf("activity fold reached user %s after %s", user, time.Since(foldStart).Round(time.Millisecond))
	if _, body := benchCall(b, r.base, "GET", "/api/v1/activity/users/00u42?org=default", ""); !strings.Contains(body, `"dailyCounts"`) {
		b.Logf("user 00u42's profile has no dailyCounts (folded by an older release): its page reads the user's events for the chart")
	}
	for _, p := range pages {
		b.Run(p.name, func(b *testing.B) {
			var body []byte
			for b.Loop() {
				resp, err := c.Get(r.base + p.path)
				if err != nil {
					b.Fatal(err)
				}
				body, _ = io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || strings.Contains(string(body), `role="alert"`) {
					b.Fatalf("%s: %d %s", p.path, resp.StatusCode, body)
				}
			}
			// What a System Log page showed: rows, and whether its search
			// stopped at the table's budget or left the chart out.
			if strings.HasPrefix(p.path, "/console/logs?") {
				b.Logf("%s: %d rows, search stopped: %t, chart left out: %t", p.name, strings.Count(string(body), "<tr><td>"),
					strings.Contains(string(body), `id="search-stopped"`), strings.Contains(string(body), `id="histogram-slow"`))
			}
		})
	}
	// Source Verify: the add form posted with step=verify (the API's dry
	// run; a receiver's settings are checked, nothing is stored).
	b.Run("source-verify", func(b *testing.B) {
		form := url.Values{"csrf": {csrf}, "type": {"eventbridge"}, "name": {"bench-verify"}, "org": {"default"},
			"s.auth.type": {"API_KEY"}, "step": {"verify"}}
		for b.Loop() {
			resp, err := c.PostForm(r.base+"/console/sources/new", form)
			if err != nil {
				b.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !strings.Contains(string(body), "Nothing was stored") {
				b.Fatalf("verify: %d %s", resp.StatusCode, body)
			}
		}
	})
}

// startBench is startApp for a benchmark.
func startBench(b *testing.B, cfg config.Config) *running {
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, cfg, Options{AdminToken: testAdmin, Ready: func(a string) { ready <- a }}, slog.New(slog.DiscardHandler))
	}()
	b.Cleanup(func() { cancel(); <-done })
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		b.Fatal(err)
	}
	base := "http://" + addr
	for {
		code, body := benchCall(b, base, "GET", "/readyz", "")
		if code == 200 && !strings.Contains(body, "query.index") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	return &running{addr: addr, base: base}
}

func benchCall(b *testing.B, base, method, path, body string) (int, string) {
	req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
	req.Header.Set("Authorization", "SSWS "+testAdmin)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}

func benchSignIn(b *testing.B, base string) (*http.Client, string) {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	resp, err := c.PostForm(base+"/console/signin", url.Values{"token": {testAdmin}})
	if err != nil {
		b.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		b.Fatalf("sign in: %d", resp.StatusCode)
	}
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(page)
	if m == nil {
		b.Fatalf("sign in: no CSRF token in %s", page)
	}
	return c, string(m[1])
}

// fillConsoleBench appends events up to n into the journal in dir (the
// default org), published over the 7 days before now; refold deletes the
// activity bucket (the profiles and the fold's checkpoint).
func fillConsoleBench(b *testing.B, dir string, n int, refold bool) error {
	j, err := journal.Open(b.Context(), journal.Options{DataDir: dir, MaxBytes: -1, DuplicateWindow: time.Second}, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer j.Close()
	if refold {
		if err := j.JetStream().DeleteKeyValue(b.Context(), activity.Bucket); err != nil && !errors.Is(err, jetstream.ErrBucketNotFound) {
			return fmt.Errorf("delete the activity bucket: %w", err)
		}
		b.Logf("activity bucket %s deleted: serve folds the journal again", activity.Bucket)
	}
	msgs, _, err := j.Info(b.Context())
	if err != nil {
		return err
	}
	have, read := 0, uint64(0)
	if err := j.Scan(b.Context(), "", journal.ScanFrom{}, func(recs []event.Record, _ uint64, _ time.Time) bool {
		have += len(recs)
		read++
		return true
	}); err != nil {
		return err
	}
	// Scan can end early without an error (a fetch that got no message
	// within its wait, on a loaded machine): appending then would add
	// events to a journal that already has them all.
	if read < msgs {
		return fmt.Errorf("the scan of the journal read %d of its %d messages (%d events): not appending to it", read, msgs, have)
	}
	if have >= n {
		b.Logf("journal in %s holds %d events", dir, have)
		return nil
	}
	start := time.Now()
	end := start
	if st, err := os.ReadFile(dir + "/console-bench-end"); err == nil {
		end, _ = time.Parse(time.RFC3339, string(st))
	} else {
		_ = os.WriteFile(dir+"/console-bench-end", []byte(end.UTC().Format(time.RFC3339)), 0o644)
	}
	span := 7 * 24 * time.Hour
	err = journaltest.Fill(b.Context(), j, have, n, func(w int) func(int) (event.Record, error) {
		rng := rand.New(rand.NewPCG(uint64(have+w), 9))
		return func(i int) (event.Record, error) {
			pub := end.Add(-span + time.Duration(int64(span)/int64(n)*int64(i)) - time.Duration(rng.Int64N(int64(time.Minute))))
			typ := fmt.Sprintf("app.family%d.action%d", rng.IntN(5), rng.IntN(10))
			raw := fmt.Sprintf(`{"uuid":"cb-%09d","published":%q,"eventType":%q,"version":"0","severity":"INFO","displayMessage":"User did something",`+
				`"actor":{"id":"00u%d","type":"User","alternateId":"user%d@example.com","displayName":"User %d"},`+
				`"client":{"ipAddress":"10.0.%d.%d","geographicalContext":{"country":"Germany"}},`+
				`"outcome":{"result":"SUCCESS"},"target":[{"id":"0oa%d","type":"AppInstance","alternateId":"app%d","displayName":"App %d"}],`+
				`"debugContext":{"debugData":{"requestUri":"/api/v1/things/%d","pad":%q}}}`,
				i, pub.UTC().Format(event.TimeFormat), typ, i%10000, rng.IntN(10000), i%10000, i%256, i%200, i%50, i%50, i%50, i, strings.Repeat("p", 440))
			return event.Parse([]byte(raw), "default", pub)
		}
	})
	if err != nil {
		return err
	}
	b.Logf("loaded %d events in %s", n-have, time.Since(start).Round(time.Second))
	return nil
}

// benchDetections raises n detections in the default org (a native rule
// of its own, one event each through POST /api/v1/events), waits for
// them and returns the detection pages to time: the list's second page
// and a detection's page.
func benchDetections(b *testing.B, base string, n int) []struct{ name, path string } {
	id := "bench-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	rule := "title: Bench detection\nid: " + id + "\nlevel: low\nmatch: {detail: {eventType: [bench.detect]}}\nsuppress: {for: '0'}\n"
	req, _ := http.NewRequest("POST", base+"/api/v1/detections/rules?org=default", strings.NewReader(rule))
	req.Header.Set("Authorization", "SSWS "+testAdmin)
	req.Header.Set("Content-Type", "application/yaml")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		b.Fatalf("upload the rule: %d %s", resp.StatusCode, out)
	}
	start := time.Now()
	now := time.Now().UTC()
	for i := 0; i < n; i += 100 {
		var evs []string
		for k := i; k < min(n, i+100); k++ {
			evs = append(evs, fmt.Sprintf(`{"uuid":"%s-%06d","eventType":"bench.detect","published":%q,"actor":{"id":"00u%d","type":"User","alternateId":"user%d@example.com"},"outcome":{"result":"SUCCESS"}}`,
				id, k, now.Add(-time.Duration(n-k)*time.Second).Format(time.RFC3339Nano), k%10000, k%10000))
		}
		if code, body := benchCall(b, base, "POST", "/api/v1/events", "["+strings.Join(evs, ",")+"]"); code != 202 {
			b.Fatalf("ingest: %d %s", code, body)
		}
	}
	var dets []struct{ ID string }
	for {
		code, body := benchCall(b, base, "GET", "/api/v1/detections?org=default&limit=1000&rule="+id, "")
		dets = nil
		if code == 200 && json.Unmarshal([]byte(body), &dets) == nil && len(dets) >= n {
			break
		}
		if time.Since(start) > 10*time.Minute {
			b.Fatalf("%d of %d detections after 10 minutes", len(dets), n)
		}
		time.Sleep(time.Second)
	}
	b.Logf("%d detections raised in %s", n, time.Since(start).Round(time.Millisecond))
	req, _ = http.NewRequest("GET", base+"/api/v1/detections?org=default&limit=100", nil)
	req.Header.Set("Authorization", "SSWS "+testAdmin)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	after := nextAfterLink(resp.Header)
	if after == "" {
		b.Fatalf("the detections list has no next page: %v", resp.Header)
	}
	return []struct{ name, path string }{
		{"detections-with-" + strconv.Itoa(n), "/console/detections?org=default"},
		{"detections-page-2", "/console/detections?org=default&after=" + url.QueryEscape(after)},
		{"detection-detail", "/console/detections/alerts/" + url.PathEscape(dets[n/2].ID) + "?org=default"},
		{"rule-detail-with-detections", "/console/detections/rules/" + url.PathEscape(id) + "?org=default"},
	}
}

// nextAfterLink is the after parameter of h's rel="next" link.
func nextAfterLink(h http.Header) string {
	for _, l := range h.Values("Link") {
		target, rel, _ := strings.Cut(l, ";")
		if !strings.Contains(rel, `rel="next"`) {
			continue
		}
		if u, err := url.Parse(strings.Trim(strings.TrimSpace(target), "<>")); err == nil {
			return u.Query().Get("after")
		}
	}
	return ""
}
