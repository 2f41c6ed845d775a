package okta_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/auditstream/auditstream/internal/journal/journaltest"
	"github.com/auditstream/auditstream/internal/source"
	"github.com/auditstream/auditstream/internal/source/okta"
	"github.com/auditstream/auditstream/internal/source/okta/oktatest"
	"github.com/auditstream/auditstream/internal/wait"
)

// TestExactlyOnceAcrossRestarts crashes the poller between an append and
// its checkpoint again and again, and after pages, with events served in
// an order that differs from published and late events arriving while it
// polls: every event must end up in the journal exactly once.
func TestExactlyOnceAcrossRestarts(t *testing.T) {
	tests := []struct {
		name  string
		after int // crash after this many appends of each run
		// window is the journal's de-duplication window; when set, each
		// restart comes after it has passed, so only the poller's own
		// memory of what it stored can drop the page it reads again.
		window time.Duration
	}{
		// Each run checkpoints after-1 pages, then crashes between the
		// next append and its checkpoint.
		{"crash after the second append of each run", 2, 0},
		{"crash after the third append of each run", 3, 0},
		{"crash after the fifth append of each run", 5, 0},
		{"restarts later than the de-duplication window", 2, 200 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			all := fileEvents(t)
			early, late := all[:46], all[46:]
			// Late events are older than some served before them.
			for i := range late {
				late[i] = oktatest.WithPublished(late[i], time.Date(2019, 1, 1, 0, i, 0, 0, time.UTC))
			}
			o := newOrg(t, oktatest.Config{})
			o.Add(reversed(early)...) // persistence order ≠ published order
			e := newEnvWindow(t, tc.window)
			d := definition(t, o.URL, okta.Settings{})
			runs := 0
			crashes := 0
			for runs < 40 {
				runs++
				if runs == 4 {
					o.Add(late...)
				}
				time.Sleep(2 * tc.window)
				ctx, cancel := context.WithCancel(t.Context())
				app := &crashingAppender{j: e.j, after: tc.after, cancel: cancel}
				p, err := okta.New(d, source.RunnerDeps{Journal: app, Checkpoints: e.cp, Status: &source.Status{}, Log: discard}, fastOpts)
				if err != nil {
					t.Fatal(err)
				}
				// Without a crash, a run ends once it has caught up.
				stop := time.AfterFunc(time.Second, cancel)
				if err := p.Run(ctx); err != nil {
					t.Fatalf("run %d: %v", runs, err)
				}
				stop.Stop()
				cancel()
				if int(app.calls.Load()) >= tc.after {
					crashes++
				}
				if runs > 4 && len(e.stored()) == len(all) {
					break
				}
			}
			if crashes < 2 {
				t.Fatalf("crashes: got %d, want at least 2", crashes)
			}
			e.wantAll(all)
			entry, err := e.cp.Get(t.Context(), d.ID)
			if err != nil {
				t.Fatalf("checkpoint: %v", err)
			}
			var cp struct {
				Next string `json:"next"`
			}
			_ = json.Unmarshal(entry.Value(), &cp)
			if want := o.URL + "/api/v1/logs?"; len(cp.Next) < len(want) || cp.Next[:len(want)] != want {
				t.Fatalf("checkpoint next: got %q, want a next link of the org", cp.Next)
			}
		})
	}
}

// TestLateEventsWhilePolling adds events with an older published time
// after the poller caught up: polling mode still returns them.
func TestLateEventsWhilePolling(t *testing.T) {
	all := fileEvents(t)
	o := newOrg(t, oktatest.Config{})
	o.Add(all[:30]...)
	e := newEnv(t)
	st := &source.Status{}
	e.start(definition(t, o.URL, okta.Settings{}), fastOpts, nil, st, nil)
	wait.Eventually(t, "30 events", func() bool { return len(e.stored()) == 30 })
	late := slices.Clone(all[30:])
	for i := range late {
		late[i] = oktatest.WithPublished(late[i], time.Date(2018, 6, 1, 0, i, 0, 0, time.UTC))
	}
	o.Add(late...)
	wait.Eventually(t, "all events", func() bool { return len(e.stored()) == len(all) })
	e.wantAll(append(all[:30:30], late...))
	snap := st.Snapshot(time.Now())
	if snap.Events != uint64(len(all)) {
		t.Fatalf("status events: got %d, want %d", snap.Events, len(all))
	}
	if !snap.CaughtUp || snap.LastPollAt.IsZero() || snap.LastEventPublished.IsZero() {
		t.Fatalf("status: got %+v, want caught up with last poll and last published", snap)
	}
}

// TestRateShare counts the poller's calls per rate-limit window at the
// org: they never exceed the configured share, and the poller never gets a
// 429 on its own.
func TestRateShare(t *testing.T) {
	tests := []struct {
		name  string
		limit int
		share float64
		want  int // most calls in one window
	}{
		{"half of 6", 6, 0.5, 3},
		{"quarter of 8", 8, 0.25, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			all := fileEvents(t)[:20]
			o := newOrg(t, oktatest.Config{RateLimit: tc.limit, Window: 2 * time.Second})
			o.Add(all...)
			e := newEnv(t)
			opts := fastOpts
			opts.PageSize = 4
			e.start(definition(t, o.URL, okta.Settings{RateLimitShare: tc.share, PollInterval: "100ms"}), opts, nil, nil, nil)
			wait.Eventually(t, "all events", func() bool { return len(e.stored()) == len(all) }, wait.Within(30*time.Second))
			time.Sleep(2 * time.Second) // keep polling empty pages for a window more
			s := o.Stats()
			if s.MaxInWindow > tc.want {
				t.Fatalf("calls in one window: got %d, want at most %d (windows %v)", s.MaxInWindow, tc.want, o.Windows())
			}
			if s.RateLimited != 0 {
				t.Fatalf("429s: got %d, want 0", s.RateLimited)
			}
			e.wantAll(all)
		})
	}
}

// TestRateLimited429 lets another client use up the window: the poller
// gets a 429, waits for the reset, retries with X-Okta-Retry-Count, and
// goes on.
func TestRateLimited429(t *testing.T) {
	all := fileEvents(t)[:12]
	o := newOrg(t, oktatest.Config{RateLimit: 4, Window: 2 * time.Second})
	// Another integration exhausts the window before the poller starts.
	for range 4 {
		req, _ := http.NewRequest("GET", o.URL+"/api/v1/logs", nil)
		req.Header.Set("Authorization", "SSWS "+apiToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	o.Add(all...)
	e := newEnv(t)
	reg := prometheus.NewRegistry()
	m := source.NewMetrics(reg)
	opts := fastOpts
	opts.MaxBackoff = 5 * time.Second
	e.start(definition(t, o.URL, okta.Settings{RateLimitShare: 1}), opts, nil, nil, m)
	wait.Eventually(t, "all events", func() bool { return len(e.stored()) == len(all) }, wait.Within(20*time.Second))
	s := o.Stats()
	if s.RateLimited < 1 {
		t.Fatalf("429s: got %d, want at least 1", s.RateLimited)
	}
	if !slices.Contains(s.RetryHeaders, "1") {
		t.Fatalf("X-Okta-Retry-Count: got %v, want a retry counted 1", s.RetryHeaders)
	}
	if got := value(m.Errors.WithLabelValues("src1", source.KindRateLimited)); got < 1 {
		t.Fatalf("rate_limited errors: got %v, want at least 1", got)
	}
	e.wantAll(all)
}

// TestTransientFailures serves 5xx bursts and a stalled call (a client
// timeout): the poller backs off and loses nothing.
func TestTransientFailures(t *testing.T) {
	all := fileEvents(t)
	o := newOrg(t, oktatest.Config{})
	o.Add(all...)
	o.FailNext(3, http.StatusServiceUnavailable)
	e := newEnv(t)
	reg := prometheus.NewRegistry()
	m := source.NewMetrics(reg)
	opts := fastOpts
	opts.RequestTimeout = 300 * time.Millisecond
	st := &source.Status{}
	e.start(definition(t, o.URL, okta.Settings{}), opts, nil, st, m)
	wait.Eventually(t, "10 events", func() bool { return len(e.stored()) >= 10 })
	o.StallNext(1, time.Second)
	o.FailNext(2, http.StatusInternalServerError)
	wait.Eventually(t, "all events", func() bool { return len(e.stored()) == len(all) }, wait.Within(20*time.Second))
	wait.Eventually(t, "5 server errors and a timeout", func() bool {
		return value(m.Errors.WithLabelValues("src1", source.KindServer)) == 5 &&
			value(m.Errors.WithLabelValues("src1", source.KindNetwork)) == 1
	})
	e.wantAll(all)
	wait.Eventually(t, "state active", func() bool { return st.Snapshot(time.Now()).State == source.StateActive }, wait.Within(5*time.Second))
}

// TestRevokedTokenAndHealthEvents revokes the API token: the status and
// metrics show the credential error, one failing event is raised (not one
// per poll), and once the token works again polling resumes and a
// recovered event follows.
func TestRevokedTokenAndHealthEvents(t *testing.T) {
	all := fileEvents(t)
	o := newOrg(t, oktatest.Config{})
	o.Add(all[:10]...)
	e := newEnv(t)
	reg := prometheus.NewRegistry()
	m := source.NewMetrics(reg)
	st := &source.Status{}
	e.start(definition(t, o.URL, okta.Settings{AlertAfter: "300ms", SilentAfter: "0s"}), fastOpts, nil, st, m)
	wait.Eventually(t, "10 events", func() bool { return len(e.stored()) == 10 })
	o.SetAPIToken("")
	wait.Eventually(t, "state error", func() bool {
		s := st.Snapshot(time.Now())
		return s.State == source.StateError && s.LastErrorKind == source.KindAuth
	})
	if got := value(m.Failing.WithLabelValues("src1")); got != 2 {
		t.Fatalf("failing gauge: got %v, want 2 (credential refused)", got)
	}
	wait.Eventually(t, "a failing event", func() bool { return len(e.healthEvents()) == 1 })
	time.Sleep(500 * time.Millisecond) // more failed polls
	if got := e.healthEvents(); !slices.Equal(got, []string{source.EventFailing}) {
		t.Fatalf("health events: got %v, want one %s", got, source.EventFailing)
	}
	o.Add(all[10:]...)
	o.SetAPIToken(apiToken)
	wait.Eventually(t, "all events", func() bool { return len(e.stored()) == len(all) })
	wait.Eventually(t, "a recovered event", func() bool { return len(e.healthEvents()) == 2 })
	if got := e.healthEvents(); !slices.Equal(got, []string{source.EventFailing, source.EventRecovered}) {
		t.Fatalf("health events: got %v, want failing then recovered", got)
	}
	if got := value(m.Failing.WithLabelValues("src1")); got != 0 {
		t.Fatalf("failing gauge: got %v, want 0", got)
	}
	e.wantAll(all)
}

// TestSilentEvent raises one silent event when no new event arrives.
func TestSilentEvent(t *testing.T) {
	o := newOrg(t, oktatest.Config{})
	o.Add(fileEvents(t)[:3]...)
	e := newEnv(t)
	e.start(definition(t, o.URL, okta.Settings{SilentAfter: "400ms"}), fastOpts, nil, nil, nil)
	wait.Eventually(t, "a silent event", func() bool { return len(e.healthEvents()) == 1 })
	time.Sleep(600 * time.Millisecond)
	if got := e.healthEvents(); !slices.Equal(got, []string{source.EventSilent}) {
		t.Fatalf("health events: got %v, want one %s", got, source.EventSilent)
	}
}

// TestCursorRejected makes the org refuse the stored cursor: the poller
// restarts from the newest published time minus the overlap and the
// re-read events are de-duplicated.
func TestCursorRejected(t *testing.T) {
	all := fileEvents(t)
	o := newOrg(t, oktatest.Config{})
	o.Add(all[:20]...)
	e := newEnv(t)
	reg := prometheus.NewRegistry()
	m := source.NewMetrics(reg)
	r := e.start(definition(t, o.URL, okta.Settings{}), fastOpts, nil, nil, m)
	wait.Eventually(t, "20 events", func() bool { return len(e.stored()) == 20 })
	r.stop()
	o.RejectCursors(1)
	o.Add(all[20:]...)
	e.start(definition(t, o.URL, okta.Settings{}), fastOpts, nil, nil, m)
	wait.Eventually(t, "all events", func() bool { return len(e.stored()) == len(all) })
	if got := value(m.Errors.WithLabelValues("src1", source.KindCursor)); got != 1 {
		t.Fatalf("cursor errors: got %v, want 1", got)
	}
	e.wantAll(all)
}

// TestBackfill pulls one published window with a bounded query and leaves
// the live cursor alone.
func TestBackfill(t *testing.T) {
	all := fileEvents(t)
	o := newOrg(t, oktatest.Config{})
	o.Add(all...)
	since, until := time.Date(2022, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var want []json.RawMessage
	for _, raw := range all {
		var h struct {
			Published time.Time `json:"published"`
		}
		_ = json.Unmarshal(raw, &h)
		if !h.Published.Before(since) && h.Published.Before(until) {
			want = append(want, raw)
		}
	}
	if len(want) < 6 {
		t.Fatalf("window holds %d events, want a window with more than a page", len(want))
	}
	e := newEnv(t)
	st := &source.Status{}
	st.StartBackfill(source.Backfill{Since: since, Until: until})
	p, err := okta.New(definition(t, o.URL, okta.Settings{}), source.RunnerDeps{Journal: e.j, Checkpoints: e.cp, Status: st, Log: discard}, fastOpts)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Backfill(t.Context(), since, until); err != nil {
		t.Fatalf("backfill: %v", err)
	}
	e.wantAll(want)
	if _, err := e.cp.Get(t.Context(), "src1"); err == nil {
		t.Fatal("checkpoint: got one, want none (a backfill must not move the live cursor)")
	}
	if got := st.Snapshot(time.Now()).Backfill.Events; got != uint64(len(want)) {
		t.Fatalf("backfill events: got %d, want %d", got, len(want))
	}
	// Its progress: the newest published time it read.
	var newest time.Time
	for _, raw := range want {
		var h struct {
			Published time.Time `json:"published"`
		}
		_ = json.Unmarshal(raw, &h)
		if h.Published.After(newest) {
			newest = h.Published
		}
	}
	if got := st.Snapshot(time.Now()).Backfill.Reached; !got.Equal(newest) {
		t.Fatalf("backfill reached: got %v, want %v (the newest event of the window)", got, newest)
	}
}

// TestEnvelopeSource checks the envelope source of polled events.
func TestEnvelopeSource(t *testing.T) {
	o := newOrg(t, oktatest.Config{})
	o.Add(fileEvents(t)[:1]...)
	e := newEnv(t)
	e.start(definition(t, o.URL, okta.Settings{EventSourceName: "siem"}), fastOpts, nil, nil, nil)
	wait.Eventually(t, "1 event", func() bool { return len(e.stored()) == 1 })
	recs := journaltest.Records(t, e.j)
	if len(recs) == 0 {
		t.Fatal("no event in the journal")
	}
	if got, want := recs[0].Source, "aws.partner/okta.com/127-0-0-1/siem"; got != want {
		t.Fatalf("source: got %q, want %q", got, want)
	}
	if got := recs[0].Org + " " + recs[0].EventType; got != "acme user.session.start" {
		t.Fatalf("org and type: got %q, want acme user.session.start", got)
	}
}

// value reads a counter or gauge.
func value(m prometheus.Metric) float64 {
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		return -1
	}
	if d.Counter != nil {
		return d.Counter.GetValue()
	}
	return d.Gauge.GetValue()
}

// TestOldSinceStartsInsideOktaRetention: an absolute since older than Okta
// keeps (which the org would refuse with E0000053 forever) starts at the
// oldest day it does keep, and events arrive.
func TestOldSinceStartsInsideOktaRetention(t *testing.T) {
	o := newOrg(t, oktatest.Config{})
	o.Add(fileEvents(t)[:3]...)
	e := newEnv(t)
	e.start(definition(t, o.URL, okta.Settings{Since: "2019-01-01T00:00:00Z"}), fastOpts, nil, nil, nil)
	wait.Eventually(t, "3 events", func() bool { return len(e.stored()) == 3 })
}
