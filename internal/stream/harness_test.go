package stream_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/goleak"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/event/eventtest"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/journal/journaltest"
	"github.com/auditstream/auditstream/internal/kvstore"
	"github.com/auditstream/auditstream/internal/sink"
	"github.com/auditstream/auditstream/internal/stream"
	"github.com/auditstream/auditstream/internal/wait"
)

// TestMain checks that supervisors, runners and stores leave no goroutine
// behind once stopped and their journal is closed.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var discard = slog.New(slog.DiscardHandler)

// answerFunc scripts a fakeSink: n counts Write calls from 0.
type answerFunc func(ctx context.Context, n int, b sink.Batch) error

func acceptAll(context.Context, int, sink.Batch) error { return nil }

// fakeSink is a sink.Sink whose answers a test scripts. It records every
// attempt and every record it accepted.
type fakeSink struct {
	limits sink.Limits

	mu        sync.Mutex
	answer    answerFunc
	calls     int
	attempts  [][]event.Record
	times     []time.Time
	delivered []event.Record
	closed    int
}

var _ sink.Sink = (*fakeSink)(nil)

func newFakeSink(limits sink.Limits, answer answerFunc) *fakeSink {
	if answer == nil {
		answer = acceptAll
	}
	return &fakeSink{limits: limits, answer: answer}
}

func (f *fakeSink) Limits() sink.Limits { return f.limits }

// EncodedSize counts a record as an NDJSON line.
func (f *fakeSink) EncodedSize(r event.Record) int { return len(r.Data) + 1 }

func (f *fakeSink) Write(ctx context.Context, b sink.Batch) error {
	recs := make([]event.Record, len(b.Records))
	for i, r := range b.Records {
		r.Data = append([]byte(nil), r.Data...) // the runner owns b
		recs[i] = r
	}
	f.mu.Lock()
	n := f.calls
	f.calls++
	f.attempts = append(f.attempts, recs)
	f.times = append(f.times, time.Now())
	answer := f.answer
	f.mu.Unlock()

	err := answer(ctx, n, b)

	f.mu.Lock()
	defer f.mu.Unlock()
	if err == nil {
		f.delivered = append(f.delivered, recs...)
		return nil
	}
	if pe, ok := err.(*sink.PartialError); ok {
		for i, r := range recs {
			if _, failed := pe.Failed[i]; !failed {
				f.delivered = append(f.delivered, r)
			}
		}
	}
	return err
}

func (f *fakeSink) Verify(context.Context) error { return nil }

func (f *fakeSink) Close(context.Context) error {
	f.mu.Lock()
	f.closed++
	f.mu.Unlock()
	return nil
}

func (f *fakeSink) setAnswer(a answerFunc) {
	f.mu.Lock()
	f.answer = a
	f.mu.Unlock()
}

func (f *fakeSink) deliveredIDs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ids []string
	for _, r := range f.delivered {
		ids = append(ids, r.UUID)
	}
	return ids
}

func (f *fakeSink) deliveredRecords() []event.Record {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.delivered)
}

func (f *fakeSink) attemptIDs() [][]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out [][]string
	for _, a := range f.attempts {
		var ids []string
		for _, r := range a {
			ids = append(ids, r.UUID)
		}
		out = append(out, ids)
	}
	return out
}

func (f *fakeSink) attemptTimes() []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.times)
}

func (f *fakeSink) numCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

func (f *fakeSink) numClosed() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.closed
}

// waitDelivered waits until at least n records were accepted.
func (f *fakeSink) waitDelivered(t *testing.T, n int) []string {
	t.Helper()
	wait.Eventually(t, fmt.Sprintf("%d records delivered", n), func() bool { return len(f.deliveredIDs()) >= n })
	return f.deliveredIDs()
}

// env is an embedded journal with a stream store, and a build function
// that hands each stream the test's fake sink and filter.
type env struct {
	t       *testing.T
	j       *journal.Journal
	store   *stream.Store
	reg     *prometheus.Registry
	metrics *stream.Metrics

	mu      sync.Mutex
	sinks   map[string]*fakeSink
	filters map[string]stream.Filter
	builds  map[string]int
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvWith(t, journal.Options{})
}

// newEnvAt is newEnv on dir, for tests that restart on the same data.
func newEnvAt(t *testing.T, dir string) *env {
	t.Helper()
	return newEnvWith(t, journal.Options{DataDir: dir})
}

// newEnvWith is newEnv over a journal opened with opts.
func newEnvWith(t *testing.T, opts journal.Options) *env {
	t.Helper()
	j := journaltest.OpenWith(t, opts)
	store, err := stream.NewStore(t.Context(), journaltest.KV(t, j, journal.BucketStreams), nil, discard)
	if err != nil {
		t.Fatalf("stream store: %v", err)
	}
	t.Cleanup(store.Close)
	reg := prometheus.NewRegistry()
	return &env{t: t, j: j, store: store, reg: reg, metrics: stream.NewMetrics(reg),
		sinks: map[string]*fakeSink{}, filters: map[string]stream.Filter{}, builds: map[string]int{}}
}

// setSink makes id's streams use f (on every build, so restarts keep it).
func (e *env) setSink(id string, f *fakeSink) {
	e.mu.Lock()
	e.sinks[id] = f
	e.mu.Unlock()
}

func (e *env) setFilter(id string, f stream.Filter) {
	e.mu.Lock()
	e.filters[id] = f
	e.mu.Unlock()
}

func (e *env) buildCount(id string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.builds[id]
}

func (e *env) build(d stream.Definition) (sink.Sink, stream.Filter, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.builds[d.ID]++
	s, ok := e.sinks[d.ID]
	if !ok {
		return nil, nil, fmt.Errorf("no sink for stream %s", d.ID)
	}
	return s, e.filters[d.ID], nil
}

// fast are runner settings that keep tests quick.
var fast = stream.RunnerConfig{BaseDelay: 10 * time.Millisecond, MaxDelay: 40 * time.Millisecond,
	ConfigDelay: 150 * time.Millisecond, MaxAge: 20 * time.Millisecond}

// supervisor is a running Supervisor and the means to stop it.
type supervisor struct {
	*stream.Supervisor
	cancel context.CancelFunc
	done   chan struct{}
}

// stop cancels the supervisor and waits for Run to return.
func (s *supervisor) stop() {
	s.cancel()
	<-s.done
}

// start runs a supervisor until the test ends (or stop).
func (e *env) start(stopTimeout time.Duration) *supervisor {
	e.t.Helper()
	sup := stream.NewSupervisor(stream.SupervisorConfig{Store: e.store, Journal: e.j, Build: e.build, Log: discard,
		Metrics: e.metrics, StopTimeout: stopTimeout, Runner: fast})
	ctx, cancel := context.WithCancel(context.WithoutCancel(e.t.Context()))
	s := &supervisor{Supervisor: sup, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		sup.Run(ctx)
	}()
	e.t.Cleanup(s.stop)
	return s
}

// def returns an active definition reading every org from the start of
// the journal.
func def(id string) stream.Definition {
	now := time.Now().UTC()
	return stream.Definition{Header: kvstore.Header{ID: id, Type: "test", Name: id, Status: stream.StatusActive, Org: "*", Settings: json.RawMessage(`{}`)},
		Stamps: kvstore.Stamps{Created: now, LastUpdated: now}}
}

func (e *env) put(d stream.Definition) {
	e.t.Helper()
	if err := e.store.Put(e.t.Context(), d); err != nil {
		e.t.Fatalf("put %s: %v", d.ID, err)
	}
}

// mkEvent builds an event with a fixed uuid and, when pad > 0, a padding
// member so that its size can be controlled (pseudo-random, so that it is
// also its size in the journal, which compresses repeated bytes).
func mkEvent(t *testing.T, org, typ, id string, pad int) event.Record {
	t.Helper()
	raw := fmt.Sprintf(`{"uuid":%q,"eventType":%q,"published":"2026-01-02T03:04:05.000Z","pad":%q}`,
		id, typ, eventtest.Noise(id, pad))
	ev, err := event.Parse([]byte(raw), org, time.Now())
	if err != nil {
		t.Fatalf("parse %s: %v", raw, err)
	}
	return ev
}

// appendEvents stores events e-<from> … e-<to-1> of type typ for org.
func (e *env) appendEvents(org, typ string, from, to int) []event.Record {
	e.t.Helper()
	var evs []event.Record
	for i := from; i < to; i++ {
		evs = append(evs, mkEvent(e.t, org, typ, idOf(i), 0))
	}
	e.appendAll(evs)
	return evs
}

func (e *env) appendAll(evs []event.Record) {
	e.t.Helper()
	res, err := e.j.Append(e.t.Context(), evs)
	if err != nil {
		e.t.Fatalf("append: %v", err)
	}
	if res.Stored != len(evs) {
		e.t.Fatalf("append: got %+v, want %d stored", res, len(evs))
	}
}

func idOf(i int) string { return fmt.Sprintf("e-%03d", i) }

func ids(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, idOf(i))
	}
	return out
}

func (e *env) deadLetters(id string) []stream.DeadLetter {
	e.t.Helper()
	dls, err := stream.ListDeadLetters(e.t.Context(), e.j, id, 1000)
	if err != nil {
		e.t.Fatalf("list dead letters: %v", err)
	}
	return dls
}

func equalIDs(a, b []string) bool { return slices.Equal(a, b) }

type eventT = event.Record

// counterValue reads a counter without the testutil package.
func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	return m.GetCounter().GetValue()
}

// positions reads the journal and returns every event's position
// (event.Record.Seq) by uuid, whatever format the journal wrote it in.
func (e *env) positions() map[string]uint64 {
	e.t.Helper()
	out := map[string]uint64{}
	for _, r := range journaltest.Records(e.t, e.j) {
		out[r.UUID] = r.Seq
	}
	return out
}

// wantDeliveredMetric waits until stream id's delivered metric reaches n
// (events count once the journal confirms their acks, which the runner
// collects after the write) and checks it is exactly n.
func (e *env) wantDeliveredMetric(t *testing.T, id string, n int) {
	t.Helper()
	c := e.metrics.Delivered.WithLabelValues(id)
	wait.Eventually(t, fmt.Sprintf("%d events counted delivered", n), func() bool { return counterValue(c) >= float64(n) })
	if got := counterValue(c); got != float64(n) {
		t.Errorf("delivered metric: got %v, want %d", got, n)
	}
}
