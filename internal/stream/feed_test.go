package stream

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/journal/journaltest"
	"github.com/auditstream/auditstream/internal/kvstore"
	"github.com/auditstream/auditstream/internal/wait"
)

// TestFeedResyncsAfterAGap: the consumer hands two messages to a pull
// whose answer never arrives (a stale pull, as a previous owner's or one
// answered while the connection was down), then the next two to the feed.
// The feed sees the gap in the consumer's sequence, queues nothing after
// it and reports it; resync restarts the consumer after the last message
// the feed queued (not at its ack floor, which a lost acknowledgement
// holds back) and the skipped messages come first, in journal order,
// once each, long before AckWait (5 minutes).
func TestFeedResyncsAfterAGap(t *testing.T) {
	t.Parallel()
	srv := journaltest.StartNATS(t, nil)
	j := journaltest.OpenWith(t, journal.Options{URL: srv.ClientURL()})
	ctx := t.Context()
	now := time.Now().UTC()
	d := Definition{Header: kvstore.Header{ID: "s1", Type: "test", Name: "s1", Status: StatusActive, Org: "*"},
		Stamps: kvstore.Stamps{Created: now, LastUpdated: now}}
	cons, err := ensureConsumer(ctx, j, d, 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	appendN := func(from, to int) {
		for i := from; i < to; i++ {
			ev, err := event.Parse(fmt.Appendf(nil, `{"uuid":"e-%03d","eventType":"x","published":"2026-01-02T03:04:05.000Z"}`, i), "acme", now)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := j.Append(ctx, []event.Record{ev}); err != nil {
				t.Fatal(err)
			}
		}
	}
	stream := j.PartitionFor("").Stream()
	f, err := startFeed(ctx, feedConfig{nc: j.Conn(), js: j.JetStream(), stream: stream, consumer: d.ConsumerName(),
		limit: 2, log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer f.close()

	appendN(0, 2)
	wait.Eventually(t, "the feed holds two messages", func() bool { return f.len() == 2 })
	// A pull the feed never sees: the consumer hands it the next two messages.
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	lost, err := nc.SubscribeSync(nc.NewInbox()) // read by no runner
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(pullRequest{Batch: 2, Expires: time.Minute})
	if err := nc.PublishRequest(f.subject, lost.Subject, body); err != nil {
		t.Fatal(err)
	}
	info := func() *jetstream.ConsumerInfo {
		i, err := cons.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return i
	}
	wait.Eventually(t, "the stale pull waits", func() bool { return info().NumWaiting == 1 })
	appendN(2, 4)
	wait.Eventually(t, "the stale pull took two messages", func() bool { return info().Delivered.Consumer == 4 })
	appendN(4, 6)

	var took []uint64
	takeOne := func() (jetstream.Msg, error) {
		m, err := f.next(ctx, 10*time.Second)
		if err != nil {
			return nil, err
		}
		md, _ := m.Metadata()
		took = append(took, md.Sequence.Stream)
		return m, nil
	}
	for i := range 2 {
		m, err := takeOne()
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			continue // its acknowledgement lost: the ack floor stays below it
		}
		if err := m.DoubleAck(ctx); err != nil {
			t.Fatal(err)
		}
	}
	_, err = takeOne()
	var gap *gapError
	if !errors.As(err, &gap) {
		t.Fatalf("after the stale pull: got %v (took %v), want the gap reported", err, took)
	}
	if err := f.resync(ctx, 5*time.Minute); err != nil {
		t.Fatal(err)
	}
	for range 4 {
		m, err := takeOne()
		if err != nil {
			t.Fatalf("after resync: %v (took %v)", err, took)
		}
		_ = m.DoubleAck(ctx)
	}
	if want := []uint64{1, 2, 3, 4, 5, 6}; fmt.Sprint(took) != fmt.Sprint(want) {
		t.Errorf("took journal sequences %v, want %v", took, want)
	}
}
