package query

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/auditstream/auditstream/internal/api"
	"github.com/auditstream/auditstream/internal/auth"
	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/journal/journaltest"
)

// The benchmarks load a journal of -query.events 1-KB events published over
// 30 days (appended in published order with up to an hour of jitter, 50
// event types, 10,000 actors) once per process, or reuse -query.dir when it
// already holds them, and time queries through the real HTTP handler.
var (
	benchEvents = flag.Int("query.events", 1_000_000, "events in the benchmark journal")
	benchDir    = flag.String("query.dir", "", "keep the benchmark journal here and reuse it (default: a temporary directory)")
)

const benchDays = 30

var benchStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

type benchEnv struct {
	srv   *httptest.Server
	token string
	e     *Engine
}

var (
	// benchTmp is the journal directory the benchmarks made (none with
	// -query.benchdir): TestMain removes it (about 1.2 GB) at the end.
	benchTmp  string
	followTmp string // the same for BenchmarkIndexFollow's journal
	benchOnce sync.Once
	bench     *benchEnv
	benchErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	for _, dir := range []string{benchTmp, followTmp} {
		if dir != "" {
			_ = os.RemoveAll(dir)
		}
	}
	os.Exit(code)
}

func benchSetup(b *testing.B) *benchEnv {
	benchOnce.Do(func() { bench, benchErr = loadBench(b) })
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return bench
}

func loadBench(b *testing.B) (*benchEnv, error) {
	dir := *benchDir
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "querybench"); err != nil {
			return nil, err
		}
		benchTmp = dir
	}
	j, err := journal.Open(b.Context(), journal.Options{DataDir: dir, MaxBytes: -1, DuplicateWindow: time.Second}, discard)
	if err != nil {
		return nil, err
	}
	// Events, not messages: a record batch holds many.
	have := 0
	err = j.Scan(b.Context(), "", journal.ScanFrom{}, func(recs []event.Record, _ uint64, _ time.Time) bool {
		have += len(recs)
		return true
	})
	if err != nil {
		return nil, err
	}
	n := *benchEvents
	start := time.Now()
	if int(have) < n {
		if err := fillBench(b, j, int(have), n); err != nil {
			return nil, err
		}
		b.Logf("loaded %d events in %s", n-int(have), time.Since(start).Round(time.Second))
	}
	kv, err := j.KV(b.Context(), journal.BucketTokens)
	if err != nil {
		return nil, err
	}
	tokens, err := auth.NewStore(b.Context(), kv, discard)
	if err != nil {
		return nil, err
	}
	secret, _, err := tokens.Create(b.Context(), auth.Token{Name: "bench", Org: "acme", Scopes: []auth.Scope{auth.ScopeReadLogs}})
	if err != nil {
		return nil, err
	}
	start = time.Now()
	e, err := New(b.Context(), j, Config{RateLimit: -1}, discard)
	if err != nil {
		return nil, err
	}
	b.Cleanup(runEngine(b, e))
	last, err := j.LastSeq(b.Context())
	if err != nil {
		return nil, err
	}
	if err := e.ix.waitFor(b.Context(), last); err != nil {
		return nil, err
	}
	b.Logf("index rebuilt from %d journal messages in %s", last, time.Since(start).Round(time.Millisecond))
	srv := httptest.NewServer(api.New(api.Deps{Journal: j, Tokens: tokens, Log: discard, Registry: prometheus.NewRegistry(), Routes: e.Routes()}))
	return &benchEnv{srv: srv, token: secret, e: e}, nil
}

// benchPaired gives each actor.id one actor.alternateId, as Okta's users
// have; by default the two are drawn independently (every event a new
// pair: the worst case for the index's who tuples).
var benchPaired = flag.Bool("query.pairedactors", false, "benchmark events: one actor.alternateId per actor.id")

// altOf is the number in event i's actor.alternateId.
func altOf(i int, rng *rand.Rand) int {
	n := rng.IntN(10000) // drawn either way: the other values stay the same
	if *benchPaired {
		return i % 10000
	}
	return n
}

func benchEvent(i, n int, rng *rand.Rand) (event.Record, error) {
	span := int64(benchDays * 24 * time.Hour)
	pub := benchStart.Add(time.Duration(span/int64(n)*int64(i)) + time.Duration(rng.Int64N(int64(time.Hour))))
	typ := fmt.Sprintf("app.family%d.action%d", rng.IntN(5), rng.IntN(10))
	raw := fmt.Sprintf(`{"uuid":"b-%09d","published":%q,"eventType":%q,"version":"0","severity":"INFO","displayMessage":"User did something",`+
		`"actor":{"id":"00u%d","type":"User","alternateId":"user%d@example.com","displayName":"User %d"},`+
		`"client":{"ipAddress":"10.0.%d.%d","userAgent":{"rawUserAgent":"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"}},`+
		`"outcome":{"result":"SUCCESS"},"transaction":{"id":"tx%d","type":"WEB"},"debugContext":{"debugData":{"requestUri":"/api/v1/things/%d","pad":%q}}}`,
		i, pub.Format(event.TimeFormat), typ, i%10000, altOf(i, rng), i%10000, i%256, i%200, i, i, strings.Repeat("p", 440))
	return event.Parse([]byte(raw), "acme", pub)
}

func fillBench(b *testing.B, j *journal.Journal, from, n int) error {
	return journaltest.Fill(b.Context(), j, from, n, func(int) func(int) (event.Record, error) {
		rng := rand.New(rand.NewPCG(uint64(from), 7))
		return func(i int) (event.Record, error) { return benchEvent(i, n, rng) }
	})
}

func (be *benchEnv) get(b *testing.B, rawURL string) (int, string) {
	req, _ := http.NewRequestWithContext(b.Context(), http.MethodGet, rawURL, nil)
	req.Header.Set("Authorization", "SSWS "+be.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("got %d: %s", resp.StatusCode, body)
	}
	n := strings.Count(string(body), `{"uuid"`)
	next := ""
	for _, l := range resp.Header.Values("Link") {
		if strings.Contains(l, `rel="next"`) {
			next = strings.Trim(strings.TrimSpace(strings.Split(l, ";")[0]), "<>")
		}
	}
	if next != "" {
		u, _ := url.Parse(next)
		next = be.srv.URL + u.RequestURI()
	}
	return n, next
}

// benchQuery times the first page of a query over a random window of
// width w, with filter (or keywords: "q=" and the keywords).
func benchQuery(b *testing.B, w time.Duration, filter func(rng *rand.Rand) string) {
	be := benchSetup(b)
	rng := rand.New(rand.NewPCG(3, 4))
	span := benchDays*24*time.Hour - w
	total := 0
	b.ResetTimer()
	for b.Loop() {
		since := benchStart.Add(time.Duration(rng.Int64N(int64(span))))
		p := url.Values{"since": {since.Format(time.RFC3339)}, "until": {since.Add(w).Format(time.RFC3339)}, "limit": {"100"}}
		if filter != nil {
			if f := filter(rng); strings.HasPrefix(f, "q=") {
				p.Set("q", f[2:])
			} else {
				p.Set("filter", f)
			}
		}
		n, _ := be.get(b, be.srv.URL+"/api/v1/logs?"+p.Encode())
		total += n
	}
	b.ReportMetric(float64(total)/float64(b.N), "events/page")
}

func BenchmarkBoundedHourFirstPage(b *testing.B) { benchQuery(b, time.Hour, nil) }

func BenchmarkFilteredDayEventType(b *testing.B) {
	benchQuery(b, 24*time.Hour, func(rng *rand.Rand) string {
		return fmt.Sprintf(`eventType eq "app.family%d.action%d"`, rng.IntN(5), rng.IntN(10))
	})
}

func BenchmarkFilteredDayActor(b *testing.B) {
	benchQuery(b, 24*time.Hour, func(rng *rand.Rand) string {
		return fmt.Sprintf(`actor.alternateId eq "user%d@example.com"`, rng.IntN(10000))
	})
}

// BenchmarkKeywordDay is a keyword search over a day that finds nothing
// in this journal (q=userN): every event of the day is read and tested,
// as for any keyword with few matches.
func BenchmarkKeywordDay(b *testing.B) {
	benchQuery(b, 24*time.Hour, func(rng *rand.Rand) string { return fmt.Sprintf("q=user%d", rng.IntN(10000)) })
}

// BenchmarkFilteredDayActorOrTarget is the user-activity filter: one
// user as actor or as target.
func BenchmarkFilteredDayActorOrTarget(b *testing.B) {
	benchQuery(b, 24*time.Hour, func(rng *rand.Rand) string {
		id := rng.IntN(10000)
		return fmt.Sprintf(`actor.id eq "00u%d" or target.id eq "00u%d"`, id, id)
	})
}

// BenchmarkPolling follows next links with pages of 1,000 from the start
// of the journal, as a poller catching up does.
func BenchmarkPolling(b *testing.B) {
	be := benchSetup(b)
	next := be.srv.URL + "/api/v1/logs?limit=1000&since=2000-01-01T00:00:00Z"
	total := 0
	b.ResetTimer()
	for b.Loop() {
		n, nx := be.get(b, next)
		total += n
		next = nx
		if n == 0 {
			next = be.srv.URL + "/api/v1/logs?limit=1000&since=2000-01-01T00:00:00Z"
		}
	}
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "events/s")
}

var benchFollowEvents = flag.Int("query.followevents", 100_000, "events in the index follower benchmark's journal")

var (
	followOnce sync.Once
	followJ    *journal.Journal
	followErr  error
)

// BenchmarkIndexFollow rebuilds the index from a journal of
// -query.followevents events (the follower's pass at start, the same code
// that then follows new events) and reports CPU per event and the
// process's heap allocations per event (the embedded server's included).
func BenchmarkIndexFollow(b *testing.B) {
	followOnce.Do(func() {
		dir, err := os.MkdirTemp("", "queryfollow")
		if err != nil {
			followErr = err
			return
		}
		followTmp = dir
		// Not b.Context(): the journal outlives this benchmark's first run.
		followJ, followErr = journal.Open(context.Background(), journal.Options{DataDir: dir, MaxBytes: -1, DuplicateWindow: time.Second}, discard)
		if followErr == nil {
			followErr = fillBench(b, followJ, 0, *benchFollowEvents)
		}
	})
	if followErr != nil {
		b.Fatal(followErr)
	}
	last, err := followJ.LastSeq(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	var ms0, ms1 runtime.MemStats
	var ru0, ru1 syscall.Rusage
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	events, entryBytes, peopleBytes, whos := 0, 0, 0, 0
	b.ResetTimer()
	for b.Loop() {
		ix := newIndex(discard)
		ctx, cancel := context.WithCancel(b.Context())
		done := make(chan struct{})
		go func() {
			defer close(done)
			ix.follow(ctx, followJ, nil)
		}()
		if err := ix.waitFor(b.Context(), last); err != nil {
			b.Fatal(err)
		}
		cancel()
		<-done
		if ix.Len() != *benchFollowEvents {
			b.Fatalf("index: got %d events, want %d", ix.Len(), *benchFollowEvents)
		}
		events += ix.Len()
		entryBytes = 0
		for _, bk := range ix.buckets {
			entryBytes += cap(bk) * int(unsafe.Sizeof(bk[0]))
		}
		peopleBytes, whos = ix.peopleBytes(), len(ix.people.whos)
	}
	b.StopTimer()
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	runtime.ReadMemStats(&ms1)
	cpu := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(events), "ns/event")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(events), "cpu-ns/event")
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/float64(events), "allocs/event")
	b.ReportMetric(float64(ms1.TotalAlloc-ms0.TotalAlloc)/float64(events), "B/event")
	// The index's own memory: its entries (with the slack of their slices).
	b.ReportMetric(float64(entryBytes)/float64(*benchFollowEvents), "index-B/event")
	// Its interned people (strings and who tuples, with their maps): per
	// distinct value, not per event, so this depends on the data.
	b.ReportMetric(float64(peopleBytes)/float64(*benchFollowEvents), "people-B/event")
	b.ReportMetric(float64(whos)/float64(*benchFollowEvents), "whos/event")
}
