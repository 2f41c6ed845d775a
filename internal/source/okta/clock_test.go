package okta_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/source"
	"github.com/auditstream/auditstream/internal/source/okta"
	"github.com/auditstream/auditstream/internal/source/okta/oktatest"
)

// These tests run the poller in a testing/synctest bubble, so its waits
// (poll interval, backoff, credential retries, rate-limit windows) pass on
// a fake clock and are checked to the tick. The embedded journal cannot
// run in a bubble (its NATS server's goroutines wait on sync.Cond and
// I/O, which the fake clock does not count as idle), nor can a loopback
// server: the org answers in-process (oktatest's Transport) and events go
// to memJournal. The tests with the real journal and server stay in
// poller_test.go.

// memJournal is an in-memory source.Appender that stores an event once by
// uuid, as the journal's de-duplication window does.
type memJournal struct {
	mu     sync.Mutex
	stored map[string]bool
	health []string // the event types of the sources' own events
}

func (m *memJournal) Append(_ context.Context, evs []event.Record) (journal.Result, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var r journal.Result
	for _, ev := range evs {
		if strings.HasPrefix(ev.EventType, "system.log_source.") {
			m.health = append(m.health, ev.EventType)
		}
		if m.stored[ev.UUID] {
			r.Duplicates++
			continue
		}
		m.stored[ev.UUID] = true
		r.Stored++
	}
	return r, nil
}

func (m *memJournal) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.stored)
}

func (m *memJournal) healthEvents() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.health)
}

// clocked records the fake time of each call to /api/v1/logs since start.
type clocked struct {
	next  http.RoundTripper
	start time.Time
	mu    sync.Mutex
	at    []time.Duration
}

func (c *clocked) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Path == "/api/v1/logs" {
		c.mu.Lock()
		c.at = append(c.at, time.Since(c.start))
		c.mu.Unlock()
	}
	return c.next.RoundTrip(r)
}

func (c *clocked) calls() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.at)
}

// bubblePoller runs a poller of o with s and opts inside the calling
// bubble, until the bubble's test ends.
func bubblePoller(t *testing.T, o *oktatest.Org, s okta.Settings, opts okta.Options) (*memJournal, *clocked, *source.Status) {
	t.Helper()
	mem := &memJournal{stored: map[string]bool{}}
	calls := &clocked{next: o.Transport(), start: time.Now()}
	opts.HTTPClient = &http.Client{Transport: calls, Timeout: opts.RequestTimeout}
	st := &source.Status{}
	p, err := okta.New(definition(t, o.URL, s), source.RunnerDeps{Journal: mem, Status: st, Log: discard}, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := p.Run(ctx); err != nil {
			t.Errorf("run: %v", err)
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return mem, calls, st
}

// clockOpts are the defaults' shape at a scale the fake clock makes free.
var clockOpts = okta.Options{PageSize: 5, MinBackoff: time.Second, MaxBackoff: 8 * time.Second,
	AuthRetry: time.Minute, RequestTimeout: 30 * time.Second, ResetMargin: time.Second}

// TestPollIntervalOnTheClock: a caught-up poller asks again exactly one
// poll interval after each answer, and a page of events is followed at
// once by the next.
func TestPollIntervalOnTheClock(t *testing.T) {
	o := newOrg(t, oktatest.Config{})
	all := fileEvents(t)
	synctest.Test(t, func(t *testing.T) {
		o.Add(all[:3]...)
		mem, calls, _ := bubblePoller(t, o, okta.Settings{PollInterval: "30s"}, clockOpts)
		time.Sleep(95 * time.Second)
		synctest.Wait()
		if got, want := calls.calls(), []time.Duration{0, 30 * time.Second, 60 * time.Second, 90 * time.Second}; !slices.Equal(got, want) {
			t.Errorf("calls: got %v, want %v", got, want)
		}
		// Eleven new events: at 120s two full pages follow one another
		// at once, and the third, short, ends the round.
		o.Add(all[3:14]...)
		time.Sleep(30 * time.Second)
		synctest.Wait()
		if got, want := calls.calls()[4:], []time.Duration{120 * time.Second, 120 * time.Second, 120 * time.Second}; !slices.Equal(got, want) {
			t.Errorf("calls after new events: got %v, want %v", got, want)
		}
		if got := mem.count(); got != 14 {
			t.Errorf("got %d events stored, want 14", got)
		}
	})
}

// TestBackoffOnTheClock: after each 5xx the poller waits the backoff of
// that failure: MinBackoff doubling to MaxBackoff, with jitter in the
// upper half, and polls normally once the org answers.
func TestBackoffOnTheClock(t *testing.T) {
	o := newOrg(t, oktatest.Config{})
	synctest.Test(t, func(t *testing.T) {
		o.FailNext(6, http.StatusServiceUnavailable)
		_, calls, st := bubblePoller(t, o, okta.Settings{PollInterval: "10m"}, clockOpts)
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		at := calls.calls()
		if len(at) != 7 {
			t.Fatalf("got %d calls %v, want 6 failures and a success", len(at), at)
		}
		for i, d := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second, 8 * time.Second} {
			if gap := at[i+1] - at[i]; gap < d/2 || gap > d {
				t.Errorf("wait after failure %d: got %v, want between %v and %v", i+1, gap, d/2, d)
			}
		}
		if s := st.Snapshot(time.Now()); s.State != source.StateActive {
			t.Errorf("state: got %s, want active after the org answered", s.State)
		}
	})
}

// TestAlertAfterOnTheClock: a refused credential is retried every
// AuthRetry; the failing event comes at the first poll at least
// alertAfter after the failures began, once, and the recovered event at
// the first poll that works.
func TestAlertAfterOnTheClock(t *testing.T) {
	o := newOrg(t, oktatest.Config{})
	synctest.Test(t, func(t *testing.T) {
		o.SetAPIToken("")
		mem, calls, st := bubblePoller(t, o, okta.Settings{AlertAfter: "5m", SilentAfter: "0s", PollInterval: "1m"}, clockOpts)
		time.Sleep(5*time.Minute - time.Second)
		synctest.Wait()
		if got := mem.healthEvents(); len(got) != 0 {
			t.Fatalf("before alertAfter: got %v, want no health event", got)
		}
		if s := st.Snapshot(time.Now()); s.State != source.StateError || s.LastErrorKind != source.KindAuth {
			t.Errorf("state: got %s %s, want error auth", s.State, s.LastErrorKind)
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if got := mem.healthEvents(); !slices.Equal(got, []string{source.EventFailing}) {
			t.Fatalf("at alertAfter: got %v, want one %s", got, source.EventFailing)
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		if got := mem.healthEvents(); len(got) != 1 {
			t.Fatalf("an hour later: got %v, want still one event", got)
		}
		if got := len(calls.calls()); got != 66 {
			t.Errorf("got %d calls in 65 minutes, want one a minute (AuthRetry), 66", got)
		}
		o.SetAPIToken(apiToken)
		time.Sleep(time.Minute)
		synctest.Wait()
		if got := mem.healthEvents(); !slices.Equal(got, []string{source.EventFailing, source.EventRecovered}) {
			t.Fatalf("after the token works again: got %v, want failing then recovered", got)
		}
	})
}

// TestRateShareOnTheClock runs a poller for ten rate-limit windows of a
// busy org: it uses its share of each window, never more, and never
// gets a 429.
func TestRateShareOnTheClock(t *testing.T) {
	o := newOrg(t, oktatest.Config{RateLimit: 6, Window: time.Minute})
	synctest.Test(t, func(t *testing.T) {
		// Wait for the start of a window, so that ten fit in the run.
		time.Sleep(time.Until(time.Now().Truncate(time.Minute).Add(time.Minute)))
		_, calls, _ := bubblePoller(t, o, okta.Settings{RateLimitShare: 0.5, PollInterval: "100ms"}, clockOpts)
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		s := o.Stats()
		if s.RateLimited != 0 {
			t.Errorf("429s: got %d, want 0", s.RateLimited)
		}
		if s.MaxInWindow != 3 {
			t.Errorf("most calls in one window: got %d, want 3 (half of 6) (windows %v)", s.MaxInWindow, o.Windows())
		}
		if got := len(calls.calls()); got < 30 || got > 33 {
			t.Errorf("got %d calls in ten windows, want 3 in each", got)
		}
	})
}
