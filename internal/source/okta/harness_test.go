package okta_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/journal/journaltest"
	"github.com/auditstream/auditstream/internal/kvstore"
	"github.com/auditstream/auditstream/internal/source"
	"github.com/auditstream/auditstream/internal/source/okta"
	"github.com/auditstream/auditstream/internal/source/okta/oktatest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"))
}

const (
	testdata = "../../../testdata/okta/logevents.ndjson"
	apiToken = "ssws-test-token-0123456789"
	org      = "acme"
)

var discard = slog.New(slog.DiscardHandler)

// fileEvents are the shared test LogEvents, made unique.
func fileEvents(t *testing.T) []json.RawMessage {
	t.Helper()
	evs, err := oktatest.LoadEvents(testdata)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 56 {
		t.Fatalf("loaded %d events, want 56", len(evs))
	}
	return evs
}

func reversed(evs []json.RawMessage) []json.RawMessage {
	out := make([]json.RawMessage, len(evs))
	for i, e := range evs {
		out[len(evs)-1-i] = e
	}
	return out
}

// env is a journal and checkpoint bucket for pollers.
type env struct {
	t  *testing.T
	j  *journal.Journal
	cp jetstream.KeyValue
}

func newEnv(t *testing.T) *env { return newEnvWindow(t, 0) }

// newEnvWindow opens the journal with a de-duplication window (0: the
// default).
func newEnvWindow(t *testing.T, window time.Duration) *env {
	t.Helper()
	j := journaltest.OpenWith(t, journal.Options{DuplicateWindow: window})
	return &env{t: t, j: j, cp: journaltest.KV(t, j, source.BucketCheckpoints)}
}

// stored counts the journal's messages by uuid, leaving out the sources'
// own health events.
func (e *env) stored() map[string]int {
	e.t.Helper()
	out := map[string]int{}
	for _, r := range journaltest.Records(e.t, e.j) {
		if strings.HasPrefix(r.EventType, "system.log_source.") {
			continue
		}
		out[r.UUID]++
	}
	return out
}

// healthEvents returns the event types of the health events stored.
func (e *env) healthEvents() []string {
	e.t.Helper()
	var out []string
	for _, r := range journaltest.Records(e.t, e.j) {
		if strings.HasPrefix(r.EventType, "system.log_source.") {
			out = append(out, r.EventType)
		}
	}
	return out
}

// wantAll checks that every event of evs is in the journal exactly once.
func (e *env) wantAll(evs []json.RawMessage) {
	e.t.Helper()
	got := e.stored()
	for _, raw := range evs {
		ev, err := event.Parse(raw, org, time.Now())
		if err != nil {
			e.t.Fatal(err)
		}
		if got[ev.UUID] != 1 {
			e.t.Logf("journal has %v", got)
			e.t.Fatalf("event %s: got %d copies in the journal, want 1", ev.UUID, got[ev.UUID])
		}
	}
	if len(got) != len(evs) {
		e.t.Fatalf("journal: got %d distinct events, want %d", len(got), len(evs))
	}
}

// definition builds an okta source definition for o.
func definition(t *testing.T, baseURL string, s okta.Settings) source.Definition {
	t.Helper()
	s.BaseURL = baseURL
	if s.Auth.Type == "" {
		s.Auth = okta.Auth{Type: okta.AuthSSWS, Token: apiToken}
	}
	if s.PollInterval == "" {
		s.PollInterval = "100ms"
	}
	if s.Since == "" {
		s.Since = "1h"
	}
	raw, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := okta.Prepare(raw, nil, time.Now())
	if err != nil {
		t.Fatalf("prepare: %v", err)
	}
	return source.Definition{Header: kvstore.Header{ID: "src1", Type: "okta", Name: "acme okta", Status: source.StatusActive, Org: org, Settings: stored},
		Stamps: kvstore.Stamps{Created: time.Now()}}
}

var fastOpts = okta.Options{PageSize: 5, MinBackoff: 10 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
	AuthRetry: 100 * time.Millisecond, RequestTimeout: 2 * time.Second, ResetMargin: 50 * time.Millisecond}

// running is a poller running in the background.
type running struct {
	cancel context.CancelFunc
	done   chan struct{}
	status *source.Status
}

func (r *running) stop() {
	r.cancel()
	<-r.done
}

func (e *env) start(d source.Definition, opts okta.Options, app source.Appender, st *source.Status, m *source.Metrics) *running {
	e.t.Helper()
	if app == nil {
		app = e.j
	}
	if st == nil {
		st = &source.Status{}
	}
	p, err := okta.New(d, source.RunnerDeps{Journal: app, Checkpoints: e.cp, Status: st, Metrics: m, Log: discard}, opts)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(e.t.Context())
	r := &running{cancel: cancel, done: make(chan struct{}), status: st}
	go func() {
		defer close(r.done)
		if err := p.Run(ctx); err != nil {
			e.t.Errorf("run: %v", err)
		}
	}()
	e.t.Cleanup(r.stop)
	return r
}

// crashingAppender stores through the journal, then, after the n-th
// successful append, cancels the poller (a crash between the append and
// the checkpoint).
type crashingAppender struct {
	j      *journal.Journal
	after  int
	calls  atomic.Int32
	mu     sync.Mutex
	cancel context.CancelFunc
}

func (c *crashingAppender) Append(ctx context.Context, evs []event.Record) (journal.Result, error) {
	res, err := c.j.Append(ctx, evs)
	if err == nil && int(c.calls.Add(1)) == c.after {
		c.mu.Lock()
		c.cancel()
		c.mu.Unlock()
	}
	return res, err
}

// RecentUUIDs passes through to the journal, as the real one offers it.
func (c *crashingAppender) RecentUUIDs(ctx context.Context, org, src string, since time.Time, max int) ([]string, error) {
	return c.j.RecentUUIDs(ctx, org, src, since, max)
}

func newOrg(t *testing.T, cfg oktatest.Config) *oktatest.Org {
	if cfg.APIToken == "" {
		cfg.APIToken = apiToken
	}
	o := oktatest.New(cfg)
	t.Cleanup(o.Close)
	return o
}
