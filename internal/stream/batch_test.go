package stream_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/journal/journaltest"
	"github.com/auditstream/auditstream/internal/sink"
	"github.com/auditstream/auditstream/internal/wait"
)

func (e *env) mkEvents(org, typ string, from, to int) []event.Record {
	var evs []event.Record
	for i := from; i < to; i++ {
		evs = append(evs, mkEvent(e.t, org, typ, idOf(i), 0))
	}
	return evs
}

// ackFloor is the stream sequence below which consumer name acknowledged
// everything.
func (e *env) ackFloor(name string) uint64 {
	e.t.Helper()
	c, err := e.j.JetStream().Consumer(e.t.Context(), e.j.StreamName(), name)
	if err != nil {
		e.t.Fatalf("consumer %s: %v", name, err)
	}
	info, err := c.Info(e.t.Context())
	if err != nil {
		e.t.Fatalf("consumer %s: %v", name, err)
	}
	return info.AckFloor.Stream
}

// TestMessageStraddlesBatches: a record batch larger than the sink's batch
// is delivered in order across sink batches, and acknowledged only by the
// flush that completes it, not by the one that delivered its first events.
func TestMessageStraddlesBatches(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	gate := make(chan struct{})
	f := newFakeSink(sink.Limits{MaxEvents: 4}, func(ctx context.Context, n int, _ sink.Batch) error {
		if n == 1 {
			select {
			case <-gate:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	})
	e.setSink("s1", f)
	// e-003 and e-007 are filtered out; the record batch's 10 events
	// make sink batches of 4, 4 and 1 with the v1 event that follows it.
	e.setFilter("s1", func(r *event.Record) bool { return r.UUID != idOf(3) && r.UUID != idOf(7) })
	d := def("s1")
	e.put(d)
	e.start(time.Second)
	wait.Eventually(t, "the stream's consumer", func() bool {
		_, err := e.j.JetStream().Consumer(t.Context(), e.j.StreamName(), d.ConsumerName())
		return err == nil
	})
	e.appendEvents("acme", "user.session.start", 0, 10)
	journaltest.AppendLegacy(t, e.j, e.mkEvents("acme", "user.session.start", 10, 11))
	pos := e.positions()
	seq := journal.MsgSeqOf(pos[idOf(0)])
	for i := range 10 {
		if got := journal.MsgSeqOf(pos[idOf(i)]); got != seq {
			t.Fatalf("event %d in message %d, want all ten in one record batch (message %d)", i, got, seq)
		}
	}

	f.waitDelivered(t, 4)
	wait.Eventually(t, "the runner in the second write", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.calls >= 2
	})
	if got := e.ackFloor(d.ConsumerName()); got >= seq {
		t.Fatalf("ack floor after the first of the message's batches: got %d, want below the message (%d)", got, seq)
	}
	close(gate)
	got := f.waitDelivered(t, 9)
	want := slices.Concat(ids(0, 3), ids(4, 7), ids(8, 11))
	if !equalIDs(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	var last uint64
	for _, r := range f.deliveredRecords() {
		if r.Seq <= last || (r.UUID != idOf(10) && journal.MsgSeqOf(r.Seq) != seq) {
			t.Errorf("record %s: got seq %d (after %d), want a position in message %d", r.UUID, r.Seq, last, seq)
		}
		last = r.Seq
	}
	wait.Eventually(t, "the message and the v1 event acknowledged", func() bool { return e.ackFloor(d.ConsumerName()) >= seq+1 })
	if n := counterValue(e.metrics.Filtered.WithLabelValues("s1")); n != 2 {
		t.Errorf("filtered metric: got %v, want 2", n)
	}
	e.wantDeliveredMetric(t, "s1", 9)
}

// TestOldConsumerWidened: a durable consumer created by the previous
// release filters on audit.<org>.> only. The runner widens it to both
// formats without moving it: what the old release acknowledged is not
// delivered again, and the version 1 and record batch events after it
// are delivered.
func TestOldConsumerWidened(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	f := newFakeSink(sink.Limits{}, nil)
	e.setSink("s1", f)
	d := def("s1")
	d.Org = "acme"
	js := e.j.JetStream()
	c, err := js.CreateConsumer(t.Context(), e.j.StreamName(), jetstream.ConsumerConfig{
		Durable: d.ConsumerName(), FilterSubject: "audit.acme.>", AckPolicy: jetstream.AckExplicitPolicy,
		AckWait: time.Minute, MaxDeliver: -1, DeliverPolicy: jetstream.DeliverAllPolicy})
	if err != nil {
		t.Fatal(err)
	}
	journaltest.AppendLegacy(t, e.j, e.mkEvents("acme", "user.session.start", 0, 3))
	batch, err := c.Fetch(3, jetstream.FetchMaxWait(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for m := range batch.Messages() {
		if err := m.DoubleAck(t.Context()); err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 3 {
		t.Fatalf("old consumer: got %d messages, want 3", n)
	}
	journaltest.AppendLegacy(t, e.j, e.mkEvents("other", "user.session.start", 3, 4)) // another org's
	journaltest.AppendLegacy(t, e.j, e.mkEvents("acme", "user.session.start", 4, 6))
	e.appendEvents("acme", "user.session.start", 6, 9) // record batches from here
	e.appendEvents("other", "user.session.start", 9, 10)
	e.appendEvents("acme", "user.session.start", 10, 11)

	e.put(d)
	e.start(time.Second)
	got := f.waitDelivered(t, 6)
	time.Sleep(200 * time.Millisecond) // nothing more comes
	if want := slices.Concat(ids(4, 9), ids(10, 11)); !equalIDs(f.deliveredIDs(), want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	info, err := c.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := info.Config.FilterSubjects, journal.OrgSubjects("acme"); !slices.Equal(got, want) || info.Config.FilterSubject != "" {
		t.Errorf("consumer filter: got %q %v, want %v", info.Config.FilterSubject, got, want)
	}
}
