package journal

import (
	"log/slog"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/auditstream/auditstream/internal/event"
)

// slowConsumer answers one of its fetches with nothing, as a busy server
// does within the fetch's wait while messages are still pending.
type slowConsumer struct {
	jetstream.Consumer
	fetches, empty int
}

func (c *slowConsumer) Fetch(n int, opts ...jetstream.FetchOpt) (jetstream.MessageBatch, error) {
	c.fetches++
	if c.fetches == c.empty {
		return emptyBatch{}, nil
	}
	return c.Consumer.Fetch(n, opts...)
}

type emptyBatch struct{}

func (emptyBatch) Messages() <-chan jetstream.Msg {
	ch := make(chan jetstream.Msg)
	close(ch)
	return ch
}

func (emptyBatch) Error() error { return nats.ErrTimeout }

// A read of the journal goes on past a fetch that brought nothing while
// the consumer still has messages pending: it used to end there, and a
// scan (a backtest, a source's re-read uuids) took part of its range for
// all of it.
func TestReadGoesOnPastAnEmptyFetch(t *testing.T) {
	j, err := Open(t.Context(), Options{DataDir: t.TempDir(), MaxBytes: -1}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	// One event per append: 1,200 messages, more than one fetch (500).
	for i := range 1200 {
		if _, err := j.Append(t.Context(), []event.Record{padded(t, "acme", i)}); err != nil {
			t.Fatal(err)
		}
	}
	p := j.Partitions()[0]
	info, err := p.stream.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	c, err := j.js.OrderedConsumer(t.Context(), p.name, jetstream.OrderedConsumerConfig{FilterSubjects: p.Subjects("acme")})
	if err != nil {
		t.Fatal(err)
	}
	slow := &slowConsumer{Consumer: c, empty: 2}
	read := 0
	err = ReadConsumer(t.Context(), slow, 500, func(_ jetstream.Msg, md *jetstream.MsgMetadata) bool {
		read++
		return md.Sequence.Stream != info.State.LastSeq
	})
	if err != nil || read != 1200 {
		t.Errorf("got %d messages read (%v), want all 1200", read, err)
	}
	if slow.fetches < 4 {
		t.Errorf("got %d fetches, want the empty one and more after it", slow.fetches)
	}
}
