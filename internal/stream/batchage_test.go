package stream

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/sink"
)

// memMsg is a journal message held in memory: a version 1 message (the
// journal's own encoding, journal.LegacyMessage) with its metadata.
// Methods the runner does not call are left to the nil interface.
type memMsg struct {
	jetstream.Msg
	m  *nats.Msg
	md jetstream.MsgMetadata
}

func (m *memMsg) Metadata() (*jetstream.MsgMetadata, error) { return &m.md, nil }
func (m *memMsg) Data() []byte                              { return m.m.Data }
func (m *memMsg) Headers() nats.Header                      { return m.m.Header }
func (m *memMsg) Subject() string                           { return m.m.Subject }
func (m *memMsg) DoubleAck(context.Context) error           { return nil }
func (m *memMsg) InProgress() error                         { return nil }
func (m *memMsg) Nak() error                                { return nil }

// memIter stands in for the runner's feed of journal messages: next
// returns a queued message, at once when one is pushed, or
// context.DeadlineExceeded after the runner's wait on the bubble's clock.
type memIter struct {
	mu    sync.Mutex
	queue []jetstream.Msg
	seq   uint64
	wake  chan struct{}
}

func (it *memIter) push(ev event.Record) {
	it.pushWith(ev, func(m *memMsg) jetstream.Msg { return m })
}

// pushWith queues ev's message as wrap makes it (a message whose methods
// a test changes).
func (it *memIter) pushWith(ev event.Record, wrap func(*memMsg) jetstream.Msg) {
	it.mu.Lock()
	defer it.mu.Unlock()
	it.seq++
	it.queue = append(it.queue, wrap(&memMsg{m: journal.LegacyMessage(ev),
		md: jetstream.MsgMetadata{Sequence: jetstream.SequencePair{Stream: it.seq}, Timestamp: time.Now()}}))
	select {
	case it.wake <- struct{}{}:
	default:
	}
}

// memEvent is an event of org acme with uuid id.
func memEvent(id string) event.Record {
	return event.Record{UUID: id, Org: "acme", EventType: "user.session.start", Data: []byte(`{"uuid":"` + id + `"}`)}
}

// stepOnMem runs cfg's runner step by step (inside a synctest bubble) on
// a memIter it returns, until stop, which returns the loop's error.
func stepOnMem(t *testing.T, cfg RunnerConfig) (r *Runner, it *memIter, stop func() error) {
	cfg.Def, cfg.Log, cfg.StallAfter = Definition{}, slog.New(slog.DiscardHandler), time.Hour
	r = NewRunner(cfg)
	it = &memIter{wake: make(chan struct{}, 1)}
	ctx, cancel := context.WithCancel(t.Context())
	r.hard, r.feed = ctx, it
	r.wd.created(time.Now())
	done := make(chan error, 1)
	go func() {
		for ctx.Err() == nil {
			if err := r.step(ctx); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	return r, it, func() error { cancel(); return <-done }
}

func (it *memIter) next(ctx context.Context, wait time.Duration) (jetstream.Msg, error) {
	t := time.NewTimer(wait)
	defer t.Stop()
	for {
		it.mu.Lock()
		if len(it.queue) > 0 {
			m := it.queue[0]
			it.queue = it.queue[1:]
			it.mu.Unlock()
			return m, nil
		}
		it.mu.Unlock()
		select {
		case <-it.wake:
		case <-t.C:
			return nil, context.DeadlineExceeded
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (it *memIter) setLimit(int) {}

func (it *memIter) len() int {
	it.mu.Lock()
	defer it.mu.Unlock()
	return len(it.queue)
}

func (it *memIter) each(fn func(jetstream.Msg)) {
	it.mu.Lock()
	defer it.mu.Unlock()
	for _, m := range it.queue {
		fn(m)
	}
}

func (it *memIter) close() []jetstream.Msg {
	it.mu.Lock()
	defer it.mu.Unlock()
	q := it.queue
	it.queue = nil
	return q
}

// batchSink notes each write's size and time.
type batchSink struct {
	scriptedSink
	max   int
	sizes []int
}

func (s *batchSink) Limits() sink.Limits { return sink.Limits{MaxEvents: s.max} }
func (s *batchSink) Write(ctx context.Context, b sink.Batch) error {
	s.mu.Lock()
	s.sizes = append(s.sizes, len(b.Records))
	s.mu.Unlock()
	return s.scriptedSink.Write(ctx, b)
}

// TestBatchAgeOnTheClock runs the runner's batching (step, add, flush) in
// a testing/synctest bubble with the journal's messages in memory: a
// partial batch goes out exactly MaxAge after its first event, with what
// arrived meanwhile; a full batch goes out at once; an idle runner
// writes nothing.
func TestBatchAgeOnTheClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const maxAge = 200 * time.Millisecond
		s := &batchSink{max: 3}
		_, it, stop := stepOnMem(t, RunnerConfig{Sink: s, Metrics: NewMetrics(prometheus.NewRegistry()), Status: &Status{}, MaxAge: maxAge})
		ev := memEvent
		synctest.Wait()
		start := time.Now()
		it.push(ev("a"))
		time.Sleep(50 * time.Millisecond)
		it.push(ev("b"))
		time.Sleep(time.Second) // the partial batch is due at 200 ms
		it.push(ev("c"))
		it.push(ev("d"))
		it.push(ev("e")) // a full batch: out at once
		it.push(ev("f")) // waits its age
		time.Sleep(5 * time.Second)
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		var at []time.Duration
		for _, w := range s.times {
			at = append(at, w.Sub(start))
		}
		wantAt := []time.Duration{maxAge, time.Second + 50*time.Millisecond, time.Second + 50*time.Millisecond + maxAge}
		wantSizes := []int{2, 3, 1}
		if !slices.Equal(at, wantAt) || !slices.Equal(s.sizes, wantSizes) {
			t.Fatalf("writes at %v of %v events, want at %v of %v", at, s.sizes, wantAt, wantSizes)
		}
	})
}
