package journal_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/journal/journaltest"
	"github.com/auditstream/auditstream/internal/wait"
)

// appendMsgs appends n messages of per events (each padded to about pad
// bytes) of org, with uuids starting with prefix.
func appendMsgs(t *testing.T, j *journal.Journal, org, prefix string, n, per, pad int) {
	t.Helper()
	fill := strings.Repeat("x", pad)
	for r := range n {
		evs := make([]event.Record, per)
		for i := range evs {
			ev, err := event.Parse(fmt.Appendf(nil, `{"uuid":"%s-%d-%d","eventType":"user.session.start","pad":%q}`, prefix, r, i, fill), org, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			evs[i] = ev
		}
		if _, err := j.Append(t.Context(), evs); err != nil {
			t.Fatal(err)
		}
	}
}

// lastOf is partition part's last stream sequence.
func lastOf(t *testing.T, j *journal.Journal, part int) uint64 {
	t.Helper()
	info, err := j.Partitions()[part].Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.LastSeq
}

// orgIn is an org whose events go to partition part of n.
func orgIn(part, n int) string {
	for i := 0; ; i++ {
		if org := fmt.Sprintf("org%d", i); journal.PartitionOfOrg(org, n) == part {
			return org
		}
	}
}

// follower reads a Sub in a goroutine, checking that every message comes
// once, in order, with no gap, and that its events decode.
type follower struct {
	sub  *journal.Sub
	last atomic.Uint64
	errc chan error
	// gate, when set, is waited for before each message (a slow
	// subscriber).
	gate chan struct{}
}

func follow(t *testing.T, ctx context.Context, sub *journal.Sub, after uint64, gate chan struct{}) *follower {
	t.Helper()
	f := &follower{sub: sub, errc: make(chan error, 1), gate: gate}
	f.last.Store(after)
	go func() {
		for {
			err := sub.Read(ctx, func(m journal.Message, _ uint64) error {
				if f.gate != nil {
					select {
					case <-f.gate:
					case <-ctx.Done():
						return ctx.Err()
					}
				}
				if want := f.last.Load() + 1; m.Seq != want {
					return fmt.Errorf("got message %d, want %d", m.Seq, want)
				}
				if _, err := journal.Decode(m, nil); err != nil {
					return fmt.Errorf("message %d: %w", m.Seq, err)
				}
				f.last.Store(m.Seq)
				return nil
			})
			if err != nil {
				f.errc <- err
				return
			}
		}
	}()
	return f
}

// stop ends the follower's reading (cancel ctx first) and checks it
// failed with nothing but the cancellation.
func (f *follower) stop(t *testing.T) {
	t.Helper()
	if err := <-f.errc; !errors.Is(err, context.Canceled) {
		t.Errorf("Read: got %v, want context.Canceled", err)
	}
	f.sub.Close(context.Background())
}

// publishForeign stores one event of org in partition 0 as another
// process's writer would: past this process's writer.
func publishForeign(t *testing.T, j *journal.Journal, org, uuid string) {
	t.Helper()
	ev, err := event.Parse(fmt.Appendf(nil, `{"uuid":%q,"eventType":"user.session.start"}`, uuid), org, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := j.JetStream().PublishMsg(t.Context(), journal.LegacyMessage(ev)); err != nil {
		t.Fatal(err)
	}
}

// runFanout runs fo until the test ends.
func runFanout(t *testing.T, fo *journal.Fanout) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fo.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: got %v, want nil", err)
		}
	})
}

// Subscribers at different positions of a partitioned journal: one
// behind the feed (history appended before it started) catches up on its
// own Tail and then joins it; one at the head joins at once; both get every
// message once, in order, in each partition.
func TestFanoutSubscribersAtDifferentPositions(t *testing.T) {
	const parts = 2
	j := journaltest.OpenWith(t, journal.Options{Partitions: parts})
	for p := range parts {
		appendMsgs(t, j, orgIn(p, parts), "old", 10, 20, 200)
	}
	fo := journal.NewFanout(j, journal.FanoutConfig{Tail: journal.TailConfig{Quiet: 5 * time.Millisecond}})
	runFanout(t, fo)
	ctx, cancel := context.WithCancel(t.Context())
	var fs []*follower
	for p := range parts {
		// The feed starts at the head when Run starts.
		fs = append(fs, attachOne(t, ctx, fo, p, lastOf(t, j, p), nil))
		sub, err := fo.Subscribe(ctx, p, 3, journal.SubConfig{})
		if err != nil {
			t.Fatal(err)
		}
		if sub.Attached() {
			t.Fatalf("partition %d: a subscriber behind the feed attached at once", p)
		}
		fs = append(fs, follow(t, ctx, sub, 3, nil))
	}
	for p := range parts {
		appendMsgs(t, j, orgIn(p, parts), "new", 10, 20, 200)
	}
	for i, f := range fs {
		p := i / 2
		last := lastOf(t, j, p)
		wait.Eventually(t, "every message read", func() bool { return f.last.Load() == last },
			wait.Within(20*time.Second), wait.Seen(func() string {
				select {
				case err := <-f.errc:
					t.Fatalf("follower %d: %v", i, err)
				default:
				}
				return fmt.Sprintf("follower %d of partition %d at %d of %d", i, p, f.last.Load(), last)
			}))
		wait.Eventually(t, "the follower reads through the feed", f.sub.Attached, wait.Within(10*time.Second))
	}
	cancel()
	for _, f := range fs {
		f.stop(t)
	}
	if n := fo.Detached(); n != 0 {
		t.Errorf("Detached: got %d, want 0", n)
	}
}

// A slow subscriber does not hold the others: the feed waits SlowAfter for
// it, then it reads on its own Tail, losing nothing, and joins the feed
// again once it has caught up; a subscriber that stops and subscribes
// again from an older position (a restart from a checkpoint) reads from
// there.
func TestFanoutSlowAndRestartingSubscribers(t *testing.T) {
	j := journaltest.Open(t)
	fo := journal.NewFanout(j, journal.FanoutConfig{RingBytes: 64 << 10, SlowAfter: 200 * time.Millisecond,
		Tail: journal.TailConfig{Quiet: 5 * time.Millisecond}})
	runFanout(t, fo)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	gate := make(chan struct{})
	a, b := attachTwo(t, ctx, fo)
	fast, slow := follow(t, ctx, a, 0, nil), follow(t, ctx, b, 0, gate)

	appendMsgs(t, j, "acme", "a", 40, 10, 1000) // about 10 KB a message: the ring holds 6
	last := lastOf(t, j, 0)
	wait.Eventually(t, "the fast subscriber reads everything while the slow one waits",
		func() bool { return fast.last.Load() == last }, wait.Within(20*time.Second),
		wait.Seen(func() string {
			return fmt.Sprintf("fast at %d, slow at %d, of %d", fast.last.Load(), slow.last.Load(), last)
		}))
	if slow.last.Load() != 0 {
		t.Fatalf("the slow subscriber read %d messages through a closed gate", slow.last.Load())
	}
	if fo.Detached() == 0 {
		t.Fatal("Detached: got 0, want the slow subscriber detached")
	}
	close(gate) // the slow subscriber goes on: every message, in order
	wait.Eventually(t, "the slow subscriber reads everything", func() bool { return slow.last.Load() == last },
		wait.Within(20*time.Second), wait.Seen(func() string { return fmt.Sprintf("slow at %d of %d", slow.last.Load(), last) }))
	wait.Eventually(t, "the slow subscriber joins the feed again", slow.sub.Attached, wait.Within(10*time.Second))

	// A restart: the fast one stops and subscribes again from message 5.
	cancel()
	fast.stop(t)
	slow.stop(t)
	ctx, cancel = context.WithCancel(t.Context())
	defer cancel()
	sub, err := fo.Subscribe(ctx, 0, 5, journal.SubConfig{})
	if err != nil {
		t.Fatal(err)
	}
	again := follow(t, ctx, sub, 5, nil)
	appendMsgs(t, j, "acme", "b", 5, 10, 1000)
	last = lastOf(t, j, 0)
	wait.Eventually(t, "the restarted subscriber reads from its position", func() bool { return again.last.Load() == last },
		wait.Within(20*time.Second), wait.Seen(func() string { return fmt.Sprintf("at %d of %d", again.last.Load(), last) }))
	wait.Eventually(t, "the restarted subscriber joins the feed", sub.Attached, wait.Within(10*time.Second))
	cancel()
	again.stop(t)
}

// A feed that fails (its consumer removed) detaches its subscribers, which
// go on on their own Tails without losing anything and join the feed once
// it has started again.
func TestFanoutFeedFailure(t *testing.T) {
	j := journaltest.Open(t)
	fo := journal.NewFanout(j, journal.FanoutConfig{Tail: journal.TailConfig{Quiet: 5 * time.Millisecond}})
	runFanout(t, fo)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	f := attachOne(t, ctx, fo, 0, 0, nil)
	appendMsgs(t, j, "acme", "a", 5, 10, 100)
	wait.Eventually(t, "first messages", func() bool { return f.last.Load() == 5 }, wait.Within(10*time.Second))
	// The feed takes what this process's writer stored from the writer
	// and reads from a consumer only what another writer stored: store
	// one message as another writer would, so the feed reads from one.
	js := j.JetStream()
	publishForeign(t, j, "acme", "other-1")
	wait.Eventually(t, "the other writer's message", func() bool { return f.last.Load() == 6 }, wait.Within(10*time.Second))

	// Remove every consumer of the stream: the feed's only.
	st, err := js.Stream(t.Context(), j.StreamName())
	if err != nil {
		t.Fatal(err)
	}
	names := st.ConsumerNames(t.Context())
	for name := range names.Name() {
		if err := js.DeleteConsumer(t.Context(), j.StreamName(), name); err != nil {
			t.Fatal(err)
		}
	}
	wait.Eventually(t, "the subscriber is detached", func() bool { return fo.Detached() > 0 }, wait.Within(20*time.Second))
	appendMsgs(t, j, "acme", "b", 5, 10, 100)
	last := lastOf(t, j, 0)
	wait.Eventually(t, "every message read", func() bool { return f.last.Load() == last }, wait.Within(20*time.Second),
		wait.Seen(func() string { return fmt.Sprintf("at %d of %d", f.last.Load(), last) }))
	wait.Eventually(t, "the subscriber joins the restarted feed", f.sub.Attached, wait.Within(20*time.Second))
	appendMsgs(t, j, "acme", "c", 3, 10, 100)
	last = lastOf(t, j, 0)
	wait.Eventually(t, "every message read after rejoining", func() bool { return f.last.Load() == last }, wait.Within(20*time.Second))
	cancel()
	f.stop(t)
}

// A subscriber that fails (its fold returns an error and it stops
// reading, without closing its Sub yet) does not stop the others: they
// read everything, and the failed one subscribes again from its position.
func TestFanoutFailingSubscriber(t *testing.T) {
	j := journaltest.Open(t)
	fo := journal.NewFanout(j, journal.FanoutConfig{RingBytes: 64 << 10, SlowAfter: 200 * time.Millisecond,
		Tail: journal.TailConfig{Quiet: 5 * time.Millisecond}})
	runFanout(t, fo)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	a, bad := attachTwo(t, ctx, fo)
	ok := follow(t, ctx, a, 0, nil)
	failed := make(chan error, 1)
	var badLast uint64
	go func() {
		for {
			err := bad.Read(ctx, func(m journal.Message, _ uint64) error {
				if m.Seq == 3 {
					return errors.New("the fold failed")
				}
				badLast = m.Seq
				return nil
			})
			if err != nil {
				failed <- err
				return
			}
		}
	}()
	appendMsgs(t, j, "acme", "a", 30, 10, 1000) // about 10 KB a message: the ring holds 6
	if err := <-failed; err == nil || err.Error() != "the fold failed" {
		t.Fatalf("the failing subscriber's Read: got %v, want its fold's error", err)
	}
	last := lastOf(t, j, 0)
	wait.Eventually(t, "the other subscriber reads everything", func() bool { return ok.last.Load() == last },
		wait.Within(20*time.Second), wait.Seen(func() string { return fmt.Sprintf("at %d of %d", ok.last.Load(), last) }))
	bad.Close(ctx)
	sub, err := fo.Subscribe(ctx, 0, badLast, journal.SubConfig{})
	if err != nil {
		t.Fatal(err)
	}
	again := follow(t, ctx, sub, badLast, nil)
	wait.Eventually(t, "the failed subscriber, subscribed again, reads everything", func() bool { return again.last.Load() == last },
		wait.Within(20*time.Second), wait.Seen(func() string { return fmt.Sprintf("at %d of %d", again.last.Load(), last) }))
	cancel()
	ok.stop(t)
	again.stop(t)
}

// attachTwo subscribes two subscribers to partition 0 from its start,
// again until both read through the shared feed (a subscriber that came
// before the feed had read reads on its own).
func attachTwo(t *testing.T, ctx context.Context, fo *journal.Fanout) (*journal.Sub, *journal.Sub) {
	t.Helper()
	var a, b *journal.Sub
	wait.Eventually(t, "both subscribers attach", func() bool {
		var err error
		if a, err = fo.Subscribe(ctx, 0, 0, journal.SubConfig{}); err != nil {
			t.Fatal(err)
		}
		if b, err = fo.Subscribe(ctx, 0, 0, journal.SubConfig{}); err != nil {
			t.Fatal(err)
		}
		if a.Attached() && b.Attached() {
			return true
		}
		a.Close(ctx)
		b.Close(ctx)
		return false
	}, wait.Within(10*time.Second))
	return a, b
}

// consumers is the number of consumers of partition 0's stream.
func consumers(t *testing.T, j *journal.Journal) int {
	t.Helper()
	info, err := j.Partitions()[0].Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Consumers
}

// attachOne subscribes to partition part after after until the
// subscriber reads through the feed, and follows it.
func attachOne(t *testing.T, ctx context.Context, fo *journal.Fanout, part int, after uint64, gate chan struct{}) *follower {
	t.Helper()
	var f *follower
	wait.Eventually(t, "the subscriber attaches", func() bool {
		sub, err := fo.Subscribe(ctx, part, after, journal.SubConfig{})
		if err != nil {
			t.Fatal(err)
		}
		if sub.Attached() {
			f = follow(t, ctx, sub, after, gate)
			return true
		}
		sub.Close(ctx)
		return false
	}, wait.Within(10*time.Second))
	return f
}

// On one node the feed takes every batch from this process's writer: the
// stream has no consumer while the subscriber reads them all, in order.
func TestFanoutTakesWhatTheWriterStored(t *testing.T) {
	j := journaltest.Open(t)
	appendMsgs(t, j, "acme", "old", 3, 10, 100)
	fo := journal.NewFanout(j, journal.FanoutConfig{Tail: journal.TailConfig{Quiet: 5 * time.Millisecond}})
	runFanout(t, fo)
	ctx, cancel := context.WithCancel(t.Context())
	f := attachOne(t, ctx, fo, 0, lastOf(t, j, 0), nil)
	for r := range 20 {
		appendMsgs(t, j, "acme", fmt.Sprintf("r%d", r), 5, 20, 300)
		if n := consumers(t, j); n != 0 {
			t.Fatalf("after round %d: the stream has %d consumers, want 0 (the feed reads from the writer)", r, n)
		}
	}
	last := lastOf(t, j, 0)
	wait.Eventually(t, "every message read", func() bool { return f.last.Load() == last }, wait.Within(10*time.Second),
		wait.Seen(func() string { return fmt.Sprintf("at %d of %d", f.last.Load(), last) }))
	if n := consumers(t, j); n != 0 {
		t.Errorf("the stream has %d consumers, want 0", n)
	}
	if n := fo.FromServer(); n != 0 {
		t.Errorf("FromServer: got %d, want 0", n)
	}
	cancel()
	f.stop(t)
	if n := fo.Detached(); n != 0 {
		t.Errorf("Detached: got %d, want 0", n)
	}
}

// pausable attaches a subscriber to partition 0 at its head that reads
// while reading is set; readAll waits until it read the partition's last
// message.
func pausable(t *testing.T, ctx context.Context, j *journal.Journal, fo *journal.Fanout) (f *follower, reading *atomic.Bool, readAll func(what string)) {
	t.Helper()
	reading = new(atomic.Bool)
	reading.Store(true)
	gate := make(chan struct{})
	go func() {
		for ctx.Err() == nil {
			if !reading.Load() {
				time.Sleep(5 * time.Millisecond)
				continue
			}
			select {
			case gate <- struct{}{}:
			case <-ctx.Done():
			}
		}
	}()
	f = attachOne(t, ctx, fo, 0, lastOf(t, j, 0), gate)
	readAll = func(what string) {
		t.Helper()
		last := lastOf(t, j, 0)
		wait.Eventually(t, what, func() bool { return f.last.Load() == last }, wait.Within(30*time.Second),
			wait.Seen(func() string {
				select {
				case err := <-f.errc:
					t.Fatal(err)
				default:
				}
				return fmt.Sprintf("at %d of %d", f.last.Load(), last)
			}))
	}
	return f, reading, readAll
}

// A subscriber that pauses while the writer stores less than the feed's
// watch holds (by bytes: here 80 batches, more than the 32 the watch held
// by number before) costs no read from the server: the feed takes the
// batches from its watch once the subscriber reads again.
func TestFanoutWatchHoldsAPause(t *testing.T) {
	j := journaltest.Open(t)
	fo := journal.NewFanout(j, journal.FanoutConfig{RingBytes: 8 << 10, SlowAfter: time.Minute,
		Tail: journal.TailConfig{Quiet: 5 * time.Millisecond}})
	runFanout(t, fo)
	ctx, cancel := context.WithCancel(t.Context())
	f, reading, readAll := pausable(t, ctx, j, fo)
	appendMsgs(t, j, "acme", "before", 3, 5, 100)
	readAll("the first messages")
	reading.Store(false)
	time.Sleep(20 * time.Millisecond) // let the subscriber finish its round
	appendMsgs(t, j, "acme", "pause", 80, 1, 300)
	reading.Store(true)
	readAll("every message read after the pause")
	if n := fo.FromServer(); n != 0 {
		t.Errorf("FromServer: got %d, want 0 (the watch held the batches stored during the pause)", n)
	}
	cancel()
	f.stop(t)
}

// Messages this process's writer did not store (another writer's) and
// batches the feed's watch missed (the feed held up by a slow subscriber)
// are read from the server: the subscriber gets every message once, in
// order, and the feed goes back to the writer's batches afterwards.
func TestFanoutReadsWhatTheWriterDidNotHandOver(t *testing.T) {
	j := journaltest.Open(t)
	fo := journal.NewFanout(j, journal.FanoutConfig{RingBytes: 8 << 10, WatchBytes: 8 << 10, SlowAfter: time.Minute,
		Tail: journal.TailConfig{Quiet: 5 * time.Millisecond}})
	runFanout(t, fo)
	ctx, cancel := context.WithCancel(t.Context())
	f, reading, readAll := pausable(t, ctx, j, fo)

	// Another writer's messages between this writer's batches.
	for r := range 5 {
		appendMsgs(t, j, "acme", fmt.Sprintf("own%d", r), 2, 5, 100)
		publishForeign(t, j, "acme", fmt.Sprintf("other-%d", r))
	}
	readAll("every message read, the other writer's too")
	if fo.FromServer() == 0 {
		t.Error("FromServer: got 0, want the other writer's messages read from the server")
	}

	// The subscriber stops reading: the feed fills its ring and waits, the
	// writer's batches overflow its watch (more than its 8 KB).
	reading.Store(false)
	time.Sleep(20 * time.Millisecond) // let the subscriber finish its round
	before := fo.FromServer()
	appendMsgs(t, j, "acme", "flood", 80, 1, 300)
	reading.Store(true)
	readAll("every message read after the overflow")
	if fo.FromServer() == before {
		t.Error("FromServer did not grow: the watch's missed batches were not read from the server")
	}

	// Back to the writer's batches: what is appended now is not read from
	// the server.
	wait.Eventually(t, "the feed takes the writer's batches again", func() bool {
		before := fo.FromServer()
		appendMsgs(t, j, "acme", fmt.Sprintf("after-%d", time.Now().UnixNano()), 3, 5, 100)
		readAll("every message read at the end")
		return fo.FromServer() == before
	}, wait.Within(20*time.Second))
	cancel()
	f.stop(t)
	if n := fo.Detached(); n != 0 {
		t.Errorf("Detached: got %d, want 0", n)
	}
}

// Two processes' writers append to one stream at the same time (two nodes
// on one nats-server): each process's feed takes its own writer's batches
// and reads the other's from the server, and its subscriber gets every
// message of the stream once, in order, whichever wrote it.
func TestFanoutsOfTwoWriters(t *testing.T) {
	ns := journaltest.StartNATS(t, nil)
	a := journaltest.OpenWith(t, journal.Options{URL: ns.ClientURL()})
	b := journaltest.OpenWith(t, journal.Options{URL: ns.ClientURL()})
	ctx, cancel := context.WithCancel(t.Context())
	var fs []*follower
	var fos []*journal.Fanout
	for _, j := range []*journal.Journal{a, b} {
		fo := journal.NewFanout(j, journal.FanoutConfig{Tail: journal.TailConfig{Quiet: 5 * time.Millisecond}})
		runFanout(t, fo)
		fos = append(fos, fo)
		fs = append(fs, attachOne(t, ctx, fo, 0, lastOf(t, j, 0), nil))
	}
	const rounds = 30
	var wg sync.WaitGroup
	for w, j := range []*journal.Journal{a, b} {
		wg.Go(func() {
			for r := range rounds {
				evs := events(t, "acme", fmt.Sprintf("w%d-%03d", w, r), 120, 50)
				for try := 0; ; try++ { // a fenced append is sent again, as a client would
					if _, err := j.Append(t.Context(), evs); err == nil {
						break
					} else if try == 20 {
						t.Errorf("writer %d round %d: %v", w, r, err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	last := lastOf(t, a, 0)
	for i, f := range fs {
		wait.Eventually(t, "every message read", func() bool { return f.last.Load() == last }, wait.Within(30*time.Second),
			wait.Seen(func() string {
				select {
				case err := <-f.errc:
					t.Fatalf("follower %d: %v", i, err)
				default:
				}
				return fmt.Sprintf("follower %d at %d of %d", i, f.last.Load(), last)
			}))
		if fos[i].FromServer() == 0 {
			t.Errorf("follower %d: FromServer 0, want the other writer's messages read from the server", i)
		}
	}
	cancel()
	for _, f := range fs {
		f.stop(t)
	}
	for i, fo := range fos {
		if n := fo.Detached(); n != 0 {
			t.Errorf("fanout %d: Detached %d, want 0", i, n)
		}
	}
}
