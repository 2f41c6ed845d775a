package journal_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/event/eventtest"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/journal/journaltest"
	"github.com/auditstream/auditstream/internal/wait"
)

// A Tail reads only what lies LagBytes behind the journal's head until the
// head is quiet or its reader wants more (so that nats-server can hand the
// cache of the block being written on to the next block): with a quiet
// period longer than the test it stops short of the head, Wanted and Wake
// bring it to the head at once, and at the head it reads each new message
// as it comes.
func TestTailLagsBehindHead(t *testing.T) {
	j := journaltest.Open(t)
	last := journaltest.AppendPadded(t, j, "acme", 20, 100, 1000) // 20 messages of 100 events, about 110 KB each
	cons, err := j.JetStream().CreateConsumer(t.Context(), j.StreamName(), jetstream.ConsumerConfig{
		FilterSubjects: journal.OrgSubjects(""), AckPolicy: jetstream.AckNonePolicy, MemoryStorage: true})
	if err != nil {
		t.Fatal(err)
	}
	var read, want atomic.Uint64
	wake := make(chan struct{}, 1)
	tail := journal.NewTail(cons, journal.TailConfig{LagBytes: 1 << 20, Quiet: time.Hour, Wanted: want.Load, Wake: wake})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		for {
			err := tail.Read(ctx, func(_ jetstream.Msg, md *jetstream.MsgMetadata) error {
				if got := read.Load() + 1; md.Sequence.Stream != got {
					return fmt.Errorf("read message %d, want %d (in order)", md.Sequence.Stream, got)
				}
				read.Store(md.Sequence.Stream)
				return nil
			})
			if err != nil {
				done <- err
				return
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != context.Canceled {
			t.Errorf("Read: got %v, want context.Canceled", err)
		}
	})

	seen := wait.Seen(func() string { return fmt.Sprintf("read up to %d, last %d", read.Load(), last) })
	wait.Eventually(t, "tail up to the lag", func() bool { return read.Load()+12 >= last }, wait.Within(20*time.Second), seen)
	wait.Never(t, "tail within 1 MB of the head before it is quiet", 300*time.Millisecond,
		func() bool { return read.Load()+5 > last })

	want.Store(last)
	wake <- struct{}{}
	wait.Eventually(t, "tail woken up to the head", func() bool { return read.Load() == last }, wait.Within(5*time.Second), seen)

	if _, err := j.Append(t.Context(), []event.Record{eventtest.Parse(t, `{"uuid":"later","eventType":"x"}`)}); err != nil {
		t.Fatal(err)
	}
	wait.Eventually(t, "tail reads a new message at the head", func() bool { return read.Load() == last+1 },
		wait.Within(5*time.Second), seen)
}
