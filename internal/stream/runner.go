package stream

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/pause"
	"github.com/auditstream/auditstream/internal/sink"
)

// Defaults for delivery, named with their reasons.
const (
	// DefaultMaxAge is how long a partial batch waits for more events: short
	// enough for near-real-time delivery (the p99 goal is 100 ms from
	// ingest to webhook), long enough to batch under load.
	DefaultMaxAge = 50 * time.Millisecond
	// DefaultBaseDelay is the first retry delay; it doubles up to MaxDelay.
	DefaultBaseDelay = 500 * time.Millisecond
	// DefaultMaxDelay caps the backoff, so a destination that comes back is
	// found again within half a minute.
	DefaultMaxDelay = 30 * time.Second
	// DefaultConfigDelay is the retry delay while the destination refuses
	// our configuration (401, 403, missing bucket): slow, since it needs a
	// person to fix it.
	DefaultConfigDelay = time.Minute
	// DefaultAckWait is how long JetStream waits for an ack before it
	// redelivers. The runner tells it every message it holds is in
	// progress (while a batch fills, is written or retried) every
	// AckWait/3, so this only matters for messages nobody holds: those of
	// a runner that died (a crashed or partitioned node), or whose acks
	// the journal lost. Seconds, so that those come back
	// promptly; not less, so that a pause of the process (GC, a loaded
	// machine) does not make held messages redeliver as duplicates. No
	// runner resets its consumer: another node may be reading it.
	DefaultAckWait = 30 * time.Second
	// ackTimeout bounds the confirmed acknowledgements of one batch.
	ackTimeout = 5 * time.Second
	// ackParallel is how many confirmed acknowledgements are in flight at
	// once: each waits for the server's reply, and a batch of small
	// messages must not pay a round trip per message in turn.
	ackParallel = 32
	// ackPoll is how often a runner waiting for events looks whether its
	// ack round in flight is done (see ackPending).
	ackPoll = 5 * time.Millisecond
	// DefaultStallAfter is how long a runner waits with nothing arriving
	// before it asks the consumer whether events are pending: three
	// heartbeats of its pull requests. Pull requests left on a consumer
	// leader that moved are never answered nor re-sent; only this finds
	// them (see watchdog).
	DefaultStallAfter = 3 * pullHeartbeat
	// DefaultStallError is how long a stream may be unable to make
	// progress before its status says so.
	DefaultStallError = 2 * time.Minute
	// maxFetch bounds the events of a batch when the sink sets no limit,
	// and how many filtered-out events wait for a common ack.
	maxFetch = 1000
	// maxThrottle caps a destination's Retry-After (sinks pass what the
	// destination asked for; the cap lives here only).
	maxThrottle = 15 * time.Minute
	// pullExpiry bounds how long a pull request waits in the server: a
	// pull left on a consumer leader that moved ends within it, and the
	// next goes to the new leader.
	pullExpiry = 2 * time.Second
	// pullHeartbeat is the idle heartbeat of a pull request, half its
	// expiry (the most JetStream allows).
	pullHeartbeat = pullExpiry / 2
	// pullBytes bounds the bytes of one pull request; it is the journal's
	// largest message (its server's max_payload, 8 MiB). All runners pull
	// over one connection: an external NATS server's max_pending must
	// hold (streams + 1) × 8 MiB (see README).
	pullBytes = 8 << 20
)

// Filter decides whether a record goes to the stream. A runner calls its
// filter from one goroutine; the record and its Data are only valid during
// the call.
type Filter func(r *event.Record) bool

// RunnerConfig is what a Runner needs.
type RunnerConfig struct {
	Def     Definition
	Sink    sink.Sink
	Filter  Filter // nil: every event
	Journal *journal.Journal
	Log     *slog.Logger
	Metrics *Metrics
	Status  *Status
	// Backoff settings; zero values take the defaults above.
	BaseDelay, MaxDelay, ConfigDelay, MaxAge time.Duration
	// AckWait is the consumer's ack wait (DefaultAckWait when zero).
	AckWait time.Duration
	// StallAfter and StallError set the watchdog (DefaultStallAfter and
	// DefaultStallError when zero).
	StallAfter, StallError time.Duration
	// Fenced reports that the runner's lease ran out or is about to: it
	// must not write to the destination any more (nil: never). Checked
	// before every write, so a runner paused past its lease delivers
	// nothing when it wakes, whatever runs first.
	Fenced func() bool
	// SystemOrg receives the System Log events of a stream of every org.
	SystemOrg string
}

// Runner delivers one log stream. Run blocks until its context ends.
type Runner struct {
	cfg RunnerConfig
	// digestFailing is set while the sink's export digests fail
	// (exportdigests.go); the System Log hears of each run of failures once.
	digestFailing atomic.Bool
	id            string
	limits        sink.Limits
	log           *slog.Logger
	// decode is the journal's Decode (journal.Decode without a journal:
	// tests that feed the runner themselves).
	decode func(journal.Message, []event.Record) ([]event.Record, error)
	cons   jetstream.Consumer
	// pending holds journal messages fetched since the last completed
	// batch, in order, each with all its events taken (in the batch,
	// dead-lettered or filtered out); they are acked together once the
	// batch is done. The batch's records point into their data.
	pending []held
	// cur is the message whose events add is taking: while a flush in
	// the middle of it runs, it is not pending (not acked by that flush)
	// but kept in progress.
	cur jetstream.Msg
	// pendingSeq holds the journal sequences of pending and cur, so that
	// a redelivered copy of a message the runner already holds is dropped.
	pendingSeq map[uint64]struct{}
	// taken is, by journal partition, the highest journal sequence whose
	// message the runner took: a redelivered copy (NumDelivered > 1) at or
	// below it that the runner no longer holds was acknowledged already
	// (a copy queued while the runner held the original) and is dropped.
	taken map[int]uint64
	// recs is add's decoding buffer, reused.
	recs []event.Record
	// lastKeep is when pending messages were last marked in progress.
	lastKeep time.Time
	// feed pulls from the consumer while the runner runs (it is never
	// released: see feed), so the next batch is fetched while this one is
	// written.
	feed msgFeed
	// perMsg is a running average of the events per journal message,
	// which sizes the feed's read-ahead to about two batches.
	perMsg float64
	// unacked counts, by journal message sequence, the events delivered
	// from messages not yet acknowledged: they are counted delivered once
	// their message's acknowledgement is confirmed.
	unacked map[uint64]int
	// ackRetry holds delivered messages whose acknowledgement the journal
	// did not confirm; each ackPending sends them again (see ackPending).
	ackRetry []unconfirmed
	// acking is the ack round in flight (nil: none; see ackPending).
	acking *ackRound
	// wd is the watchdog's state.
	wd     watchdog
	batch  []event.Record
	bytes  int
	opened time.Time // when the first record of batch arrived
	// hard bounds writes; it outlives the soft context of Run so that a
	// graceful stop can finish the batch in flight.
	hard context.Context
}

// unconfirmed is a delivered message whose acknowledgement failed: n
// events of it wait to be counted, since is when it first failed.
type unconfirmed struct {
	h     held
	n     int
	since time.Time
}

// held is a journal message the runner holds until its events are done.
type held struct {
	msg jetstream.Msg
	seq uint64    // its stream sequence
	at  time.Time // when the journal stored it
}

// NewRunner prepares a runner.
func NewRunner(cfg RunnerConfig) *Runner {
	cfg.BaseDelay = cmp.Or(cfg.BaseDelay, DefaultBaseDelay)
	cfg.MaxDelay = cmp.Or(cfg.MaxDelay, DefaultMaxDelay)
	cfg.ConfigDelay = cmp.Or(cfg.ConfigDelay, DefaultConfigDelay)
	cfg.AckWait = cmp.Or(cfg.AckWait, DefaultAckWait)
	lim := cfg.Sink.Limits()
	cfg.MaxAge = cmp.Or(cfg.MaxAge, lim.MaxAge, DefaultMaxAge)
	if lim.MaxEvents <= 0 {
		lim.MaxEvents = maxFetch
	}
	cfg.StallAfter = cmp.Or(cfg.StallAfter, DefaultStallAfter)
	cfg.StallError = cmp.Or(cfg.StallError, DefaultStallError)
	r := &Runner{cfg: cfg, id: cfg.Def.ID, limits: lim, pendingSeq: map[uint64]struct{}{}, taken: map[int]uint64{}, unacked: map[uint64]int{},
		log: cfg.Log.With("stream", cfg.Def.ID, "sink", cfg.Def.Type), decode: journal.Decode}
	if cfg.Journal != nil {
		r.decode = cfg.Journal.Decode
	}
	if dr, ok := cfg.Sink.(sink.DigestReporter); ok {
		dr.ReportDigests(r.digestOutcome)
	}
	if df, ok := cfg.Sink.(sink.DigestFencer); ok && cfg.Fenced != nil {
		df.FenceDigests(cfg.Fenced)
	}
	return r
}

// Run delivers until ctx is cancelled or the destination pauses the stream.
// When ctx ends, Run stops fetching, finishes the open batch (retrying as
// usual) and returns; hard bounds that: once it ends too, the batch is
// abandoned unacknowledged and will be delivered again by the next runner.
// A stop may duplicate, never drop.
func (r *Runner) Run(ctx, hard context.Context) error {
	r.hard = hard
	var err error
	for {
		r.cons, err = ensureConsumer(ctx, r.cfg.Journal, r.cfg.Def, r.cfg.AckWait)
		if err == nil {
			break
		}
		r.log.Warn("journal consumer unavailable", "err", err)
		if !sleep(ctx, time.Second) {
			return ctx.Err()
		}
	}
	// The stream has one owner (this runner): a feed resets the consumer
	// to its ack floor when another runner left messages delivered and not
	// acknowledged, so that they come again first, in order (see feed).
	r.cfg.Status.setState(StateActive)
	// A message holds up to journal.MaxBatchEvents events: the byte limit
	// bounds each pull (it must exceed the largest message).
	for {
		r.feed, err = startFeeds(ctx, r.cfg.Journal, r.cfg.Def, readAhead(r.limits.MaxEvents, journal.MaxBatchEvents), r.log, r.cfg.Fenced)
		if err == nil {
			break
		}
		r.log.Warn("journal consumer unavailable", "err", err)
		if !sleep(ctx, time.Second) {
			return ctx.Err()
		}
	}
	r.wd.created(time.Now())
	paused := false
	for ctx.Err() == nil {
		if err := r.step(ctx); err != nil {
			if errors.Is(err, errPaused) {
				paused = true
				break
			}
			if errors.Is(err, errFenced) {
				break
			}
			if ctx.Err() != nil {
				break
			}
			r.log.Warn("read journal", "err", err)
			sleep(ctx, time.Second)
		}
	}
	switch {
	case paused:
		// The destination refused the batch; it waits, unacknowledged,
		// for the runner that starts when the stream is activated again.
		r.nakPending()
	case len(r.batch) > 0:
		if err := r.flush(hard); err != nil {
			r.log.Warn("stopped with a batch undelivered; it will be delivered again", "events", len(r.batch))
			r.nakPending()
		}
	case len(r.pending) > 0:
		r.ackPending()
	}
	r.collectAcks(true)
	// Messages pulled but never taken are handed back at once (after the
	// batch's, to keep journal order).
	for _, m := range r.feed.close() {
		_ = m.Nak()
	}
	return nil
}

var errPaused = errors.New("stream paused by its destination")

// errFenced stops a runner whose lease ran out (see RunnerConfig.Fenced).
var errFenced = errors.New("the stream's lease ran out: not delivering")

// step takes the next message (waiting at most until the open batch is
// due, or a second) and flushes when a limit or the batch's age is reached.
func (r *Runner) step(ctx context.Context) error {
	r.collectAcks(false)
	if len(r.pending) > 0 && time.Since(r.lastKeep) > r.cfg.AckWait/3 {
		r.keepAlive() // a batch that fills slowly (S3's five minutes)
	}
	wait := time.Second
	if len(r.batch) > 0 {
		wait = r.cfg.MaxAge - time.Since(r.opened)
	}
	if len(r.pending) > 0 {
		// Wake in time to keep what the runner holds in progress.
		wait = min(wait, r.cfg.AckWait/3)
	}
	if r.acking != nil {
		// Count the round's events soon after it is confirmed, also
		// when nothing more arrives.
		wait = min(wait, ackPoll)
	}
	idle := false
	var gap *gapError
	if wait > 0 {
		// Waiting on the feed only reads its queue, so a deadline loses
		// nothing.
		m, err := r.feed.next(ctx, wait)
		switch {
		case err == nil:
			r.wd.arrived(r)
			if err := r.add(ctx, m); err != nil {
				return err
			}
		case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout):
			idle = true
			r.watch(ctx, false)
		case errors.Is(err, jetstream.ErrNoHeartbeat):
			r.watch(ctx, true)
		case errors.As(err, &gap):
			return r.resync(ctx, gap)
		case errors.Is(err, context.Canceled):
			return nil
		default:
			return err
		}
	}
	if len(r.batch) > 0 && time.Since(r.opened) >= r.cfg.MaxAge {
		return r.flush(r.hard)
	}
	if len(r.batch) == 0 && len(r.pending) > 0 && (idle || len(r.pending) >= maxFetch) {
		r.ackPending() // only filtered-out events since the last batch
	}
	return nil
}

// resync answers a feed that saw a gap in its consumer's sequence: it
// delivers and acknowledges what it took before the gap, then has the
// feed reset the consumer to its ack floor (see feed).
func (r *Runner) resync(ctx context.Context, gap *gapError) error {
	if len(r.batch) > 0 {
		if err := r.flush(r.hard); err != nil {
			return err
		}
	}
	r.ackPending()
	r.collectAcks(true)
	if err := gap.f.resync(ctx, r.cfg.AckWait); err != nil {
		return err
	}
	r.cfg.Metrics.Resyncs.WithLabelValues(r.id).Inc()
	return nil
}

// add takes the events of one journal message into the open batch,
// flushing it when an event does not fit. The message is acked with the
// batch that holds its last event. A message a newer release wrote waits
// for this node's upgrade until stop ends (waitForUpgrade).
func (r *Runner) add(stop context.Context, m jetstream.Msg) error {
	ctx := r.hard
	md, err := m.Metadata()
	if err == nil {
		if _, dup := r.pendingSeq[msgKey(m, md)]; dup {
			return nil // a redelivered copy of a message this runner holds
		}
		part := journal.PartitionOfSubject(m.Subject())
		if md.NumDelivered > 1 && md.Sequence.Stream <= r.taken[part] {
			_ = m.Ack() // a copy of one acknowledged since it was queued
			return nil
		}
		r.taken[part] = max(r.taken[part], md.Sequence.Stream)
		// The journal's Decode: the other streams' runners read the same
		// messages, and a compressed batch is decompressed once for all.
		r.recs, err = r.decode(journal.Message{Subject: m.Subject(), Header: m.Headers(), Data: m.Data(),
			Seq: md.Sequence.Stream}, r.recs[:0])
	}
	if errors.Is(err, journal.ErrNewer) {
		return r.waitForUpgrade(stop, m, err)
	}
	if err != nil {
		// Unreadable messages cannot happen for messages we wrote; keep
		// going rather than wedge the stream, but say so loudly.
		r.log.Error("skipping unreadable journal message", "err", err)
		_ = m.Ack()
		return nil
	}
	r.perMsg = cmp.Or(r.perMsg, float64(len(r.recs)))
	r.perMsg += (float64(len(r.recs)) - r.perMsg) / 16
	r.feed.setLimit(readAhead(r.limits.MaxEvents, r.perMsg))
	h := held{msg: m, seq: msgKey(m, md), at: md.Timestamp}
	if len(r.pending) == 0 {
		r.lastKeep = time.Now()
	}
	r.pendingSeq[h.seq] = struct{}{}
	r.cur = m
	filtered := 0
	for i := range r.recs {
		rec := &r.recs[i]
		if r.cfg.Filter != nil && !r.cfg.Filter(rec) {
			filtered++
			continue
		}
		size := r.cfg.Sink.EncodedSize(*rec)
		if r.limits.MaxEventBytes > 0 && size > r.limits.MaxEventBytes {
			err := r.deadLetter(ctx, r.recs[i:i+1],
				fmt.Errorf("event is %d bytes, larger than the destination's limit of %d", size, r.limits.MaxEventBytes))
			if err != nil {
				return r.abandon(h, err)
			}
			continue
		}
		if len(r.batch) > 0 && (len(r.batch)+1 > r.limits.MaxEvents || (r.limits.MaxBytes > 0 && r.bytes+size > r.limits.MaxBytes)) {
			// This event belongs to the next batch: flush the earlier
			// ones; the message stays held (it is not pending yet).
			if err := r.flush(ctx); err != nil {
				return r.abandon(h, err)
			}
		}
		if len(r.batch) == 0 {
			r.opened = time.Now()
		}
		r.batch = append(r.batch, *rec)
		r.bytes += size
	}
	if filtered > 0 {
		r.cfg.Metrics.Filtered.WithLabelValues(r.id).Add(float64(filtered))
	}
	r.cur = nil
	r.pending = append(r.pending, h)
	r.pendingSeq[h.seq] = struct{}{} // a flush above cleared it
	if len(r.batch) >= r.limits.MaxEvents {
		return r.flush(ctx)
	}
	return nil
}

// waitForUpgrade holds m, a journal message a newer release wrote (another
// node of a cluster being upgraded), instead of skipping it, which would
// lose its events for this stream. It delivers and acknowledges what it
// took before m, says in the status (error, retrying) and the log why the
// stream does not move, and keeps m and what follows it in progress until
// stop ends; it then hands m back, and a runner of the newer release
// delivers it.
func (r *Runner) waitForUpgrade(stop context.Context, m jetstream.Msg, err error) error {
	if len(r.batch) > 0 {
		if ferr := r.flush(r.hard); ferr != nil {
			_ = m.Nak()
			return ferr
		}
	}
	r.ackPending()
	r.cfg.Status.failure(time.Now(), StateError, fmt.Errorf("this node cannot read the journal any more: %w; upgrade it", err), willRetry)
	r.log.Error("journal message written by a newer release: the stream waits until this node runs it", "err", err)
	r.cur = m
	defer func() { r.cur = nil }()
	for sleep(stop, r.cfg.AckWait/3) {
		r.keepAlive()
		r.collectAcks(false)
	}
	_ = m.Nak()
	return stop.Err()
}

// abandon gives up on message h when taking its events failed (the hard
// context ended, or the destination paused the stream): it is handed back
// whole, and its events already in the batch may be delivered twice, never
// lost.
func (r *Runner) abandon(h held, err error) error {
	r.cur = nil
	delete(r.pendingSeq, h.seq)
	delete(r.unacked, h.seq)
	_ = h.msg.Nak()
	return err
}

// flush writes the open batch until every record is delivered or
// dead-lettered, then acks the batch's journal messages.
func (r *Runner) flush(ctx context.Context) error {
	// Redelivered messages (after a stop) can arrive out of order; a batch
	// always goes out in journal order.
	slices.SortFunc(r.batch, func(a, b event.Record) int { return cmp.Compare(a.Seq, b.Seq) })
	if err := r.deliver(ctx, r.batch, 0); err != nil {
		return err
	}
	r.ackPending()
	clear(r.batch) // let go of the messages' data
	r.batch = r.batch[:0]
	r.bytes = 0
	return nil
}

// nakPending hands pending messages back for redelivery. Their events
// delivered so far are not counted: they will be delivered again.
func (r *Runner) nakPending() {
	for _, h := range r.pending {
		_ = h.msg.Nak()
		delete(r.unacked, h.seq)
	}
	r.clearPending()
}

func (r *Runner) clearPending() {
	clear(r.pending)
	r.pending = r.pending[:0]
	clear(r.pendingSeq)
}

// ackPending acknowledges the pending messages with confirmed acks, and
// only then counts their delivered events in the status and metrics. The
// acks go out in the background (an ackRound) while the runner reads and
// delivers the next batch: waiting for the journal's confirmations of each
// batch before the next one's write was a third of a runner's time under
// load. The round is collected (its events counted, its failures kept)
// before the next one starts, when it is done and the runner waits for
// events, and before the runner resets its consumer or stops.
//
// A message whose ack the server does not confirm may be delivered again
// (at least once); its events are not counted now, but when its ack is
// confirmed or it is delivered and acknowledged again. Its ack is sent
// again with every later batch's, for up to AckWait (the journal then
// hands the message out again anyway): an unconfirmed ack left alone
// holds the consumer's ack floor below it, and a next owner that resets
// the consumer to its ack floor would deliver again everything
// acknowledged since.
func (r *Runner) ackPending() {
	r.collectAcks(true)
	if len(r.pending) == 0 && len(r.ackRetry) == 0 {
		return
	}
	now := time.Now()
	a := &ackRound{done: make(chan struct{})}
	a.todo = make([]unconfirmed, 0, len(r.pending)+len(r.ackRetry))
	for _, u := range r.ackRetry {
		if now.Sub(u.since) < r.cfg.AckWait {
			a.todo = append(a.todo, u)
		}
	}
	a.retried = len(a.todo)
	r.ackRetry = r.ackRetry[:0]
	for _, h := range r.pending {
		a.todo = append(a.todo, unconfirmed{h: h, n: r.unacked[h.seq], since: now})
		delete(r.unacked, h.seq)
	}
	r.clearPending()
	r.acking = a
	go a.send(context.WithoutCancel(r.hard))
}

// ackRound is one batch's confirmed acknowledgements, sent in the
// background: todo holds the messages (those retried first), errs their
// outcomes once done is closed.
type ackRound struct {
	todo    []unconfirmed
	retried int
	errs    []error
	done    chan struct{}
}

// send acknowledges the round's messages, ackParallel at a time, each
// waiting for the server's confirmation for at most ackTimeout.
func (a *ackRound) send(ctx context.Context) {
	defer close(a.done)
	a.errs = make([]error, len(a.todo))
	ctx, cancel := context.WithTimeout(ctx, ackTimeout)
	defer cancel()
	var wg sync.WaitGroup
	sem := make(chan struct{}, ackParallel)
	for i, u := range a.todo {
		sem <- struct{}{}
		wg.Go(func() {
			a.errs[i] = u.h.msg.DoubleAck(ctx)
			<-sem
		})
	}
	wg.Wait()
}

// acksInFlight is how many messages the open ack round holds.
func (r *Runner) acksInFlight() int {
	if r.acking == nil {
		return 0
	}
	return len(r.acking.todo)
}

// collectAcks counts the open ack round's confirmed messages delivered and
// keeps its unconfirmed ones for the next round. With wait it waits for
// the round; without, it collects only a round that is done.
func (r *Runner) collectAcks(wait bool) {
	a := r.acking
	if a == nil {
		return
	}
	if wait {
		<-a.done
	} else {
		select {
		case <-a.done:
		default:
			return
		}
	}
	r.acking = nil
	now := time.Now()
	lat := r.cfg.Metrics.Latency.WithLabelValues(r.id)
	delivered, failed, confirmedLate := 0, 0, 0
	var firstErr error
	for i, u := range a.todo {
		if a.errs[i] != nil {
			if i >= a.retried {
				failed++
				firstErr = cmp.Or(firstErr, a.errs[i])
			}
			r.ackRetry = append(r.ackRetry, u)
			continue
		}
		if i < a.retried {
			confirmedLate++
		}
		lat.Observe(now.Sub(u.h.at).Seconds())
		delivered += u.n
	}
	if confirmedLate > 0 {
		r.log.Info("journal confirmed acknowledgements on a retry", "messages", confirmedLate)
	}
	if delivered > 0 {
		r.cfg.Status.addDelivered(delivered, now)
		r.cfg.Metrics.Delivered.WithLabelValues(r.id).Add(float64(delivered))
	}
	if failed > 0 {
		r.cfg.Metrics.AckFailures.WithLabelValues(r.id).Add(float64(failed))
		r.log.Warn("journal did not confirm acknowledgements; sent again with the next batch's, those events may be delivered again",
			"messages", failed, "err", firstErr)
	}
}

// delivered notes recs as written: they are counted delivered when their
// journal messages' acknowledgements are confirmed (ackPending).
func (r *Runner) delivered(recs []event.Record, now time.Time) {
	for _, rec := range recs {
		r.unacked[journal.MsgOf(rec.Seq)]++
	}
	r.cfg.Status.success(0, now)
}

// readAhead is how many journal messages of perMsg events hold about two
// batches of maxEvents: at least 2, at most 4000.
func readAhead(maxEvents int, perMsg float64) int {
	return int(min(max(2*float64(maxEvents)/max(perMsg, 1), 2), 4000))
}

func inProgress(m jetstream.Msg) { _ = m.InProgress() }

func sleep(ctx context.Context, d time.Duration) bool { return pause.For(ctx, d) == nil }
