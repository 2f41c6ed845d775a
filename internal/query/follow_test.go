package query

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/event/eventtest"
	"github.com/auditstream/auditstream/internal/journal/journaltest"
	"github.com/auditstream/auditstream/internal/wait"
)

// The follower reads only what lies lagBytes behind the journal's head
// until the head is quiet or a query waits (so that nats-server can reuse
// the cache of the block being written): with a quiet period longer than
// the test it stops short of the head, a query (waitFor) brings it to the
// head at once, and once at the head it reads each new message as it comes.
func TestFollowerLagsBehindHead(t *testing.T) {
	j := journaltest.Open(t)
	last := journaltest.AppendPadded(t, j, "acme", 20, 100, 1000) // 20 messages of 100 events, about 110 KB each
	ix := newIndex(discard)
	ix.quiet = time.Hour
	ix.lagBytes = 1 << 20 // about 9 of these messages
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		ix.follow(ctx, j, nil)
	}()
	t.Cleanup(func() { cancel(); <-done })

	wait.Eventually(t, "follower up to the lag", func() bool { return ix.HighWater()+12 >= last },
		wait.Within(20*time.Second), wait.Seen(func() string { return fmt.Sprintf("high water %d, last %d", ix.HighWater(), last) }))
	wait.Never(t, "follower within 1 MB of the head before it is quiet", 300*time.Millisecond,
		func() bool { return ix.HighWater()+5 > last })

	wctx, wcancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer wcancel()
	if err := ix.waitFor(wctx, last); err != nil {
		t.Fatalf("waitFor(%d): got %v (high water %d), want the follower woken up to the head", last, err, ix.HighWater())
	}

	if _, err := j.Append(t.Context(), []event.Record{eventtest.Parse(t, `{"uuid":"later","eventType":"x"}`)}); err != nil {
		t.Fatal(err)
	}
	wait.Eventually(t, "follower reads a new message at the head", func() bool { return ix.HighWater() == last+1 },
		wait.Within(5*time.Second), wait.Seen(func() string { return fmt.Sprintf("high water %d, want %d", ix.HighWater(), last+1) }))
}
