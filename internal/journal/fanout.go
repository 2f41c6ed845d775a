package journal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// One reader for the followers (docs/journal.md, "One reader for the
// followers"): a Fanout reads each partition once, through one consumer
// and one Tail (a feed), and hands every message to the subscribers of the
// partition (the query index, the activity fold, the detection runtime),
// each at its own position. A subscriber behind the feed (a restart from
// an older checkpoint, a lease taken over) or left behind by it (too slow)
// reads on a Tail of its own until it reaches the feed again.

// Defaults of FanoutConfig.
const (
	// FanoutRingBytes bounds the messages a feed keeps for subscribers
	// that have not read them yet.
	FanoutRingBytes = 4 << 20
	// FanoutWatchBytes bounds the writer's batches a feed has not taken
	// yet (Partition.watchStored): 32 MiB is what a flood of 190 MB/s
	// (135,000 events/s of 1.4 KB) stores in 170 ms, so that a follower's
	// pause of that long does not send the feed to read the batches back
	// from the server, which costs more memory (nats-server's 8 MB block
	// buffers) and CPU than holding them. With 4.5 MB the feed read most
	// of a 200,000-event flood back (BENCHMARKS.md).
	FanoutWatchBytes = 32 << 20
	// FanoutSlowAfter is how long a feed waits for room in its ring
	// before it detaches the subscribers holding it.
	FanoutSlowAfter = 2 * time.Second
	// fanoutRetry bounds the wait before a failed feed starts again.
	fanoutRetry = 5 * time.Second
)

// FanoutConfig is how a Fanout reads and buffers.
type FanoutConfig struct {
	// RingBytes bounds each feed's ring (0: FanoutRingBytes).
	RingBytes int
	// WatchBytes bounds the writer's batches each feed holds before it
	// takes them into its ring (0: FanoutWatchBytes); while it reads from
	// a consumer it holds at most as much.
	WatchBytes int
	// SlowAfter is how long a feed waits for a slow subscriber before
	// detaching it (0: FanoutSlowAfter).
	SlowAfter time.Duration
	// Tail is the TailConfig of the feeds' and the subscribers' own
	// Tails (LagBytes and Quiet; Wanted and Wake are the subscribers').
	Tail TailConfig
	// Log receives detaching and feed failures (nil: slog.Default()).
	Log *slog.Logger
}

// Fanout shares one reader per journal partition among its subscribers.
// It is safe for concurrent use.
type Fanout struct {
	j        *Journal
	cfg      FanoutConfig
	log      *slog.Logger
	feeds    []*feed
	detached atomic.Uint64
	// fromServer counts the messages the feeds read from the server
	// (not taken from this process's writer).
	fromServer atomic.Uint64
	running    atomic.Bool
}

// NewFanout prepares the feeds of j's partitions; Run starts them. Until
// Run runs (or after it returned) subscribers read on their own Tails.
func NewFanout(j *Journal, cfg FanoutConfig) *Fanout {
	if cfg.RingBytes <= 0 {
		cfg.RingBytes = FanoutRingBytes
	}
	if cfg.SlowAfter <= 0 {
		cfg.SlowAfter = FanoutSlowAfter
	}
	if cfg.WatchBytes <= 0 {
		cfg.WatchBytes = FanoutWatchBytes
	}
	cfg.Tail.Wanted, cfg.Tail.Wake = nil, nil
	log := cfg.Log
	if log == nil {
		log = slog.Default()
	}
	f := &Fanout{j: j, cfg: cfg, log: log}
	for _, p := range j.Partitions() {
		f.feeds = append(f.feeds, &feed{f: f, p: p, changed: make(chan struct{}), room: make(chan struct{}, 1),
			wake: make(chan struct{}, 1), subs: map[*Sub]struct{}{}})
	}
	return f
}

// Detached counts the times a subscriber was left behind by a feed (too
// slow) or a feed failed under it; each went on reading on its own.
func (f *Fanout) Detached() uint64 { return f.detached.Load() }

// FromServer counts the messages the feeds read from nats-server: what
// this process's writer did not store (another writer's) or did not hand
// over (a feed that fell behind). On one node it stays 0 after start.
func (f *Fanout) FromServer() uint64 { return f.fromServer.Load() }

// Run reads every partition through its feed until ctx ends; it returns
// nil then. A feed that fails starts again at its partition's head after
// a backoff (its subscribers read on their own meanwhile).
func (f *Fanout) Run(ctx context.Context) error {
	if !f.running.CompareAndSwap(false, true) {
		return errors.New("journal: fanout already running")
	}
	defer f.running.Store(false)
	var wg sync.WaitGroup
	for _, fd := range f.feeds {
		wg.Go(func() { fd.run(ctx) })
	}
	wg.Wait()
	return nil
}

// Subscribe delivers partition part's messages after stream sequence
// after, in order, through the partition's feed when after is within what
// it keeps and on a Tail of the subscriber's own otherwise. Close it when
// done.
func (f *Fanout) Subscribe(ctx context.Context, part int, after uint64, cfg SubConfig) (*Sub, error) {
	if part < 0 || part >= len(f.feeds) {
		return nil, fmt.Errorf("journal: no partition %d", part)
	}
	s := &Sub{fd: f.feeds[part], cfg: cfg, last: after}
	if s.tryAttach() {
		return s, nil
	}
	if err := s.openOwn(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// SubConfig is what a subscriber asks of its reading.
type SubConfig struct {
	// Wanted and Wake are as in TailConfig: the highest sequence the
	// subscriber waits for (the feed reads up to the head at once while
	// it is above what it read), and a signal that it rose.
	Wanted func() uint64
	Wake   <-chan struct{}
}

// feedMsg is one message in a feed's ring.
type feedMsg struct {
	m       Message
	pending uint64 // messages of the partition after it, when read
	size    int
}

// feed is one partition's shared reader and its ring.
type feed struct {
	f *Fanout
	p *Partition

	mu sync.Mutex
	// running is set while the feed reads; subscribers attach only then.
	running bool
	// ring holds the messages after floor up to last, in order; ring[0]
	// has the absolute index base (subscribers' cursors are absolute).
	ring    []feedMsg
	base    uint64
	bytes   int
	floor   uint64
	last    uint64
	pending uint64 // the feed's Tail's pending after last
	subs    map[*Sub]struct{}
	// changed is closed (and replaced) when the ring grows or a
	// subscriber is detached; room is signalled when a subscriber moves.
	changed chan struct{}
	room    chan struct{}
	wake    chan struct{}
}

// broadcast wakes every subscriber waiting on the ring (under mu).
func (fd *feed) broadcast() {
	close(fd.changed)
	fd.changed = make(chan struct{})
}

// detachLocked makes s read on its own Tail from its position (under mu).
func (fd *feed) detachLocked(s *Sub, why string) {
	if !s.attached {
		return
	}
	s.attached = false
	delete(fd.subs, s)
	fd.f.detached.Add(1)
	fd.f.log.Warn("journal: a follower reads on its own Tail", "stream", fd.p.Stream(), "why", why, "afterSeq", s.lastSeen)
}

// wanted is the highest sequence an attached subscriber waits for.
func (fd *feed) wanted() uint64 {
	fd.mu.Lock()
	defer fd.mu.Unlock()
	var w uint64
	for s := range fd.subs {
		if s.cfg.Wanted != nil {
			w = max(w, s.cfg.Wanted())
		}
	}
	return w
}

// run reads the partition until ctx ends, starting again at the head
// after a failure.
func (fd *feed) run(ctx context.Context) {
	backoff := 100 * time.Millisecond
	for {
		err := fd.readOnce(ctx)
		fd.stop(err)
		if ctx.Err() != nil {
			return
		}
		fd.f.log.Warn("journal: the followers' shared reader failed; it starts again at the head", "stream", fd.p.Stream(), "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, fanoutRetry)
	}
}

// stop detaches every subscriber and empties the ring.
func (fd *feed) stop(err error) {
	fd.mu.Lock()
	defer fd.mu.Unlock()
	fd.running = false
	why := "the shared reader stopped"
	if err != nil && !errors.Is(err, context.Canceled) {
		why = "the shared reader failed: " + err.Error()
	}
	for s := range fd.subs {
		fd.detachLocked(s, why)
	}
	clear(fd.ring)
	fd.ring, fd.bytes = nil, 0
	fd.broadcast()
}

// readOnce reads the partition from its head until ctx ends or reading
// fails (feedReader).
func (fd *feed) readOnce(ctx context.Context) error {
	stored, unwatch := fd.p.watchStored(fd.f.cfg.WatchBytes)
	defer unwatch()
	info, err := fd.p.Info(ctx)
	if err != nil {
		return err
	}
	head := info.State.LastSeq
	fd.mu.Lock()
	fd.running = true
	fd.floor, fd.last, fd.pending = head, head, 0
	fd.base += uint64(len(fd.ring))
	fd.ring, fd.bytes = nil, 0
	fd.mu.Unlock()
	r := &feedReader{fd: fd, stored: stored, covered: head}
	defer r.closeConsumer(ctx)
	return r.run(ctx)
}

// How a feed reads (docs/journal.md, "The feed takes what this process
// stored").
const (
	// feedCheckEvery is how often a feed that received nothing from the
	// writer asks the server whether another writer stored something.
	feedCheckEvery = 250 * time.Millisecond
	// feedConsumerFor is how long a feed reads from a consumer at least,
	// once it found messages this process did not store: another writer
	// (a cluster) writes on, and a consumer per gap would cost more.
	feedConsumerFor = 2 * time.Second
)

// feedReader is a feed's reading. It takes the batches this process's
// writer stored from the writer (Partition.watchStored) while they follow
// one another without a gap, which on one node is always: the followers
// then cost nats-server nothing. A gap (another writer's messages, a batch
// the watch missed) or a head that moved without the writer has it read
// from a consumer through a Tail (as every reader did before) for at
// least feedConsumerFor, until it is at the head or where the writer's
// batches go on.
type feedReader struct {
	fd     *feed
	stored *storedWatch
	// covered is the last sequence pushed, or known not to exist.
	covered uint64
	// lastStored is when the writer's last batch arrived.
	lastStored time.Time
	// held are the writer's batches received while reading from a
	// consumer, one run without a gap after covered.
	held []Message
	// heldBytes is the Data of held.
	heldBytes int
	// The consumer while reading from one, its Tail, its last delivery
	// number and when it may end.
	cons  jetstream.Consumer
	tail  *Tail
	cseq  uint64
	until time.Time
}

// run reads until ctx ends or reading fails.
func (r *feedReader) run(ctx context.Context) error {
	fd := r.fd
	tick := time.NewTicker(feedCheckEvery)
	defer tick.Stop()
	for {
		if r.tail != nil {
			if err := r.readConsumer(ctx); err != nil {
				return err
			}
			continue
		}
		if len(r.held) > 0 {
			m := r.held[0]
			r.dropHeld()
			if err := r.takeStored(ctx, m); err != nil {
				return err
			}
			continue
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case m := <-r.stored.ch:
			r.stored.take(m)
			if err := r.takeStored(ctx, m); err != nil {
				return err
			}
		case <-tick.C:
			if time.Since(r.lastStored) < feedCheckEvery {
				continue
			}
			if err := r.checkHead(ctx, 0); err != nil {
				return err
			}
		case <-fd.wake:
			if w := fd.wanted(); w > r.covered {
				if err := r.checkHead(ctx, w); err != nil {
					return err
				}
			}
		}
	}
}

// takeStored pushes the writer's batch m when it follows covered, and
// reads from a consumer when messages lie between them.
func (r *feedReader) takeStored(ctx context.Context, m Message) error {
	switch {
	case m.Seq <= r.covered:
		return nil // read from the server already
	case m.Seq > r.covered+1:
		return r.openConsumer(ctx)
	}
	r.lastStored = time.Now()
	r.covered = m.Seq
	return r.fd.push(ctx, feedMsg{m: m, pending: uint64(len(r.stored.ch)), size: len(m.Data) + len(m.Subject)})
}

// checkHead reads from a consumer when the partition holds messages after
// covered (another writer's; or, with want, up to want) that the writer
// did not hand over.
func (r *feedReader) checkHead(ctx context.Context, want uint64) error {
	info, err := r.fd.p.Info(ctx)
	if err != nil {
		return err
	}
	if info.State.LastSeq <= r.covered || (want > 0 && len(r.stored.ch) > 0) {
		return nil // nothing new, or the writer's batches are on their way
	}
	return r.openConsumer(ctx)
}

// openConsumer starts reading from a consumer after covered.
func (r *feedReader) openConsumer(ctx context.Context) error {
	fd := r.fd
	js := fd.f.j.JetStream()
	cons, err := js.CreateConsumer(ctx, fd.p.Stream(), readerConsumer(fd.p, r.covered+1))
	if err != nil {
		return err
	}
	tcfg := fd.f.cfg.Tail
	tcfg.Wanted, tcfg.Wake = r.wanted, fd.wake
	r.cons, r.tail, r.cseq = cons, NewTail(cons, tcfg), 0
	r.until = time.Now().Add(feedConsumerFor)
	return nil
}

// wanted is the Tail's Wanted while reading from a consumer: what the
// subscribers wait for, and the sequence before the writer's held batches
// (so the Tail reads up to them at once instead of staying behind).
func (r *feedReader) wanted() uint64 {
	w := r.fd.wanted()
	if len(r.held) > 0 {
		w = max(w, r.held[0].Seq-1)
	}
	return w
}

// readConsumer reads one round from the consumer, keeps the writer's
// batches that arrived meanwhile, and goes back to them once the consumer
// has read up to them (or to the head) and feedConsumerFor has passed.
func (r *feedReader) readConsumer(ctx context.Context) error {
	fd := r.fd
	err := r.tail.Read(ctx, func(msg jetstream.Msg, md *jetstream.MsgMetadata) error {
		m, err := inOrder(&r.cseq, msg, md)
		if err != nil || m.Seq <= r.covered {
			return err
		}
		r.covered = m.Seq
		fd.f.fromServer.Add(1)
		return fd.push(ctx, feedMsg{m: m, pending: md.NumPending, size: len(m.Data) + len(m.Subject)})
	})
	if err != nil {
		return err
	}
	fd.mu.Lock()
	fd.pending = r.tail.Pending()
	fd.mu.Unlock()
	r.holdStored()
	atStored := len(r.held) > 0 && r.held[0].Seq <= r.covered+1
	if (r.tail.Pending() == 0 || atStored) && time.Now().After(r.until) {
		r.closeConsumer(ctx)
	}
	return nil
}

// holdStored keeps the writer's batches that arrived while reading from a
// consumer: the newest run without a gap after covered, at most what a
// watch holds (WatchBytes).
func (r *feedReader) holdStored() {
	for {
		select {
		case m := <-r.stored.ch:
			r.stored.take(m)
			if m.Seq <= r.covered {
				continue
			}
			if n := len(r.held); n > 0 && m.Seq != r.held[n-1].Seq+1 {
				clear(r.held)
				r.held, r.heldBytes = r.held[:0], 0
			}
			for len(r.held) > 0 && (len(r.held) == storedWatchLen || r.heldBytes+len(m.Data) > r.fd.f.cfg.WatchBytes) {
				r.dropHeld()
			}
			r.held = append(r.held, m)
			r.heldBytes += len(m.Data)
		default:
			for len(r.held) > 0 && r.held[0].Seq <= r.covered {
				r.dropHeld()
			}
			return
		}
	}
}

// dropHeld lets go of the oldest held batch.
func (r *feedReader) dropHeld() {
	r.heldBytes -= len(r.held[0].Data)
	r.held[0] = Message{}
	r.held = r.held[1:]
}

// closeConsumer ends reading from a consumer.
func (r *feedReader) closeConsumer(ctx context.Context) {
	if r.cons == nil {
		return
	}
	deleteConsumer(ctx, r.fd.f.j.JetStream(), r.fd.p.Stream(), r.cons)
	r.cons, r.tail = nil, nil
}

// push appends e to the ring, first making room: messages every attached
// subscriber has read are dropped; for one still needed it waits up to
// SlowAfter, then detaches the subscribers that need it.
func (fd *feed) push(ctx context.Context, e feedMsg) error {
	fd.mu.Lock()
	defer fd.mu.Unlock()
	var deadline time.Time
	for len(fd.ring) > 0 && fd.bytes+e.size > fd.f.cfg.RingBytes {
		if !fd.neededLocked() {
			fd.evictLocked()
			deadline = time.Time{} // the slowest moved: wait for it again
			continue
		}
		if deadline.IsZero() {
			deadline = time.Now().Add(fd.f.cfg.SlowAfter)
		}
		wait := time.Until(deadline)
		if wait <= 0 {
			for s := range fd.subs {
				if s.next == fd.base {
					fd.detachLocked(s, fmt.Sprintf("too slow: the shared reader waited %s for it", fd.f.cfg.SlowAfter))
				}
			}
			fd.broadcast()
			continue
		}
		fd.mu.Unlock()
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			fd.mu.Lock()
			return ctx.Err()
		case <-fd.room:
		case <-t.C:
		}
		t.Stop()
		fd.mu.Lock()
	}
	fd.ring = append(fd.ring, e)
	fd.bytes += e.size
	fd.last, fd.pending = e.m.Seq, e.pending
	fd.broadcast()
	return nil
}

// neededLocked reports whether an attached subscriber has not read the
// ring's oldest message.
func (fd *feed) neededLocked() bool {
	for s := range fd.subs {
		if s.next == fd.base {
			return true
		}
	}
	return false
}

// evictLocked drops the ring's oldest message.
func (fd *feed) evictLocked() {
	fd.floor = fd.ring[0].m.Seq
	fd.bytes -= fd.ring[0].size
	fd.ring[0] = feedMsg{}
	fd.ring = fd.ring[1:]
	fd.base++
}

// Sub is one subscriber's reading of a partition (Fanout.Subscribe). One
// goroutine calls Read, and Close once it no longer reads.
type Sub struct {
	fd  *feed
	cfg SubConfig

	// last is the stream sequence of the last message delivered, pending
	// the partition's messages after it as last known (read by Read's
	// goroutine only).
	last    uint64
	pending uint64
	// attached and next (the absolute ring index of the next message)
	// are under fd.mu; lastSeen is last as the feed logs it.
	attached bool
	next     uint64
	lastSeen uint64
	// own is the subscriber's own consumer and Tail while detached.
	cons   jetstream.Consumer
	tail   *Tail
	cseq   uint64
	batch  []feedMsg
	closed bool
}

// Pending is how many messages of the partition remained after the last
// one delivered (as last known: the head may have moved since).
func (s *Sub) Pending() uint64 { return s.pending }

// Attached reports whether s reads through the shared feed (for tests
// and status).
func (s *Sub) Attached() bool {
	s.fd.mu.Lock()
	defer s.fd.mu.Unlock()
	return s.attached
}

// Read waits for the next messages and calls fn with each, in order, with
// the number of the partition's messages after it; fn's error ends Read
// with it. Like Tail.Read it returns after a round (callers loop) and
// returns ctx's error when ctx ends.
func (s *Sub) Read(ctx context.Context, fn func(m Message, pending uint64) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.tryAttach() {
		s.closeOwn(ctx)
		return s.readRing(ctx, fn)
	}
	if s.tail == nil {
		if err := s.openOwn(ctx); err != nil {
			return err
		}
	}
	return s.tail.Read(ctx, func(msg jetstream.Msg, md *jetstream.MsgMetadata) error {
		m, err := inOrder(&s.cseq, msg, md)
		if err != nil {
			return err
		}
		s.last, s.pending = m.Seq, md.NumPending
		return fn(m, md.NumPending)
	})
}

// inOrder is msg as a Message when its consumer delivery number follows
// *cseq (which it then becomes), and an error when one was skipped: a
// follower's consumer has no acks, so a message lost in transit would not
// come again.
func inOrder(cseq *uint64, msg jetstream.Msg, md *jetstream.MsgMetadata) (Message, error) {
	if md.Sequence.Consumer != *cseq+1 {
		return Message{}, fmt.Errorf("consumer sequence %d after %d: a message was lost in transit", md.Sequence.Consumer, *cseq)
	}
	*cseq = md.Sequence.Consumer
	return Message{Subject: msg.Subject(), Header: msg.Headers(), Data: msg.Data(), Seq: md.Sequence.Stream}, nil
}

// tryAttach attaches s to the feed when its position lies within the
// ring; it reports whether s is attached.
func (s *Sub) tryAttach() bool {
	fd := s.fd
	fd.mu.Lock()
	defer fd.mu.Unlock()
	if s.attached {
		return true
	}
	if !fd.running || s.closed || s.last < fd.floor || s.last > fd.last {
		return false
	}
	// The first message of the ring after s.last.
	i := sort.Search(len(fd.ring), func(i int) bool { return fd.ring[i].m.Seq > s.last })
	s.attached, s.next, s.lastSeen = true, fd.base+uint64(i), s.last
	s.pending = uint64(len(fd.ring)-i) + fd.pending
	fd.subs[s] = struct{}{}
	return true
}

// readRing delivers what the ring holds after s's cursor, waiting for
// the feed when it holds nothing new.
func (s *Sub) readRing(ctx context.Context, fn func(Message, uint64) error) error {
	fd := s.fd
	fd.mu.Lock()
	for s.attached && s.next >= fd.base+uint64(len(fd.ring)) {
		ch := fd.changed
		fd.mu.Unlock()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		case <-s.cfg.Wake:
			select {
			case fd.wake <- struct{}{}:
			default:
			}
		}
		fd.mu.Lock()
	}
	if !s.attached {
		fd.mu.Unlock()
		return nil // the next Read goes on with a Tail of its own
	}
	s.batch = append(s.batch[:0], fd.ring[s.next-fd.base:]...)
	fd.mu.Unlock()
	defer clear(s.batch) // do not keep the messages alive
	for _, e := range s.batch {
		s.last, s.pending = e.m.Seq, e.pending
		fd.mu.Lock()
		if s.attached {
			s.next++
			s.lastSeen = s.last
		}
		fd.mu.Unlock()
		select {
		case fd.room <- struct{}{}:
		default:
		}
		if err := fn(e.m, e.pending); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// openOwn creates s's own consumer after its position.
func (s *Sub) openOwn(ctx context.Context) error {
	js := s.fd.f.j.JetStream()
	cons, err := js.CreateConsumer(ctx, s.fd.p.Stream(), readerConsumer(s.fd.p, s.last+1))
	if err != nil {
		return fmt.Errorf("partition %d: %w", s.fd.p.Index(), err)
	}
	tcfg := s.fd.f.cfg.Tail
	tcfg.Wanted, tcfg.Wake = s.cfg.Wanted, s.cfg.Wake
	s.cons, s.tail, s.cseq = cons, NewTail(cons, tcfg), 0
	s.pending = s.tail.Pending()
	return nil
}

// closeOwn deletes s's own consumer, if any.
func (s *Sub) closeOwn(ctx context.Context) {
	if s.cons == nil {
		return
	}
	deleteConsumer(ctx, s.fd.f.j.JetStream(), s.fd.p.Stream(), s.cons)
	s.cons, s.tail = nil, nil
}

// Close ends s: it leaves the feed and deletes its own consumer.
func (s *Sub) Close(ctx context.Context) {
	fd := s.fd
	fd.mu.Lock()
	s.closed = true
	if s.attached {
		s.attached = false
		delete(fd.subs, s)
	}
	fd.mu.Unlock()
	select {
	case fd.room <- struct{}{}:
	default:
	}
	s.closeOwn(ctx)
}

// readerConsumer is the consumer of a follower's Tail: every org's
// messages of the partition from sequence from, without acks, its state in
// memory, removed by the server a minute after its reader is gone.
func readerConsumer(p *Partition, from uint64) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		FilterSubjects:    p.Subjects(""),
		DeliverPolicy:     jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:       max(from, 1),
		AckPolicy:         jetstream.AckNonePolicy,
		InactiveThreshold: time.Minute,
		MemoryStorage:     true,
		Replicas:          1,
	}
}

// deleteConsumer removes a follower's consumer (within a second, also
// when ctx has ended).
func deleteConsumer(ctx context.Context, js jetstream.JetStream, stream string, cons jetstream.Consumer) {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	_ = js.DeleteConsumer(dctx, stream, cons.CachedInfo().Name)
}
