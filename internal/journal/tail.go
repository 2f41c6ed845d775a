package journal

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Readers that follow the journal (the query index, the activity fold,
// detections) read through a Tail, which stays behind the journal's head
// while the head moves fast. The embedded nats-server keeps each 8 MB
// message block's cache in memory for 10 s after its last read or write,
// and hands the cache of a block it has just filled to the next block
// only when nothing read from it while it was being written. A follower
// reading at the head therefore kept every block written in the last 10 s
// in memory: a whole 200,000-event flood, 280 MB (BENCHMARKS.md, "Peak
// memory of a flood"). A Tail reads only what lies TailLagBytes behind the
// head, and the rest once the head has not moved for TailQuiet or its
// reader asks (TailConfig.Wanted).
const (
	// TailLagBytes is three of nats-server's 8 MB blocks.
	TailLagBytes = 24 << 20
	// TailQuiet is how long the head must stay still before a Tail reads
	// up to it; it is also how often a Tail within the lag looks.
	TailQuiet = 20 * time.Millisecond
	// tailIdleWait bounds one wait for a message at the head.
	tailIdleWait = 5 * time.Second
	// tailPullBytes and tailMaxMsgs bound one pull; tailMinMsgBytes is
	// the message size assumed for the byte bound until one was measured.
	tailPullBytes   = 2 << 20
	tailMaxMsgs     = 2000
	tailMinMsgBytes = 16 << 10
)

// TailConfig is how a Tail follows its consumer.
type TailConfig struct {
	// LagBytes is how far behind a moving head the Tail stays (0:
	// TailLagBytes).
	LagBytes int
	// Quiet is how long the head must stay still before the Tail reads
	// up to it (0: TailQuiet).
	Quiet time.Duration
	// Wanted, when set, is the highest stream sequence the Tail's reader
	// waits for: while it is above the last sequence read, the Tail reads
	// up to the head at once. Wake, when set, tells the Tail that Wanted
	// rose (a buffered channel the reader signals without blocking).
	Wanted func() uint64
	Wake   <-chan struct{}
}

// Tail reads a pull consumer's messages in order, staying LagBytes behind
// the journal's head while the head moves (see TailLagBytes). It is not
// safe for concurrent use: one goroutine calls Read.
type Tail struct {
	cons    jetstream.Consumer
	cfg     TailConfig
	quiet   *time.Timer
	pending uint64 // messages after the last one read, as last known
	last    uint64 // stream sequence of the last message read
	avg     int    // moving average of a message's size in bytes (0: none read)
}

// NewTail follows cons (a pull consumer of a journal stream, created by
// the caller, which acks if its policy needs it and deletes it when done).
func NewTail(cons jetstream.Consumer, cfg TailConfig) *Tail {
	if cfg.LagBytes <= 0 {
		cfg.LagBytes = TailLagBytes
	}
	if cfg.Quiet <= 0 {
		cfg.Quiet = TailQuiet
	}
	t := time.NewTimer(cfg.Quiet)
	t.Stop()
	return &Tail{cons: cons, cfg: cfg, quiet: t, pending: cons.CachedInfo().NumPending}
}

// Pending is how many messages the consumer had left after the last one
// read (as last known: the head may have moved since).
func (t *Tail) Pending() uint64 { return t.pending }

// Read waits for the next messages the Tail may read and calls fn with
// each, in order; fn's error ends Read with it. Read returns after one
// pull (or a look at a head within the lag that moved, or an idle wait of
// a few seconds at the head), so callers loop; it returns ctx's error when
// ctx ends.
func (t *Tail) Read(ctx context.Context, fn func(jetstream.Msg, *jetstream.MsgMetadata) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	switch lag := t.lagMsgs(); {
	case t.pending == 0:
		// At the head: the next messages come from the block being
		// written, which is what the lag avoids only while the head
		// moves fast. One pull takes them as they come (no latency) up
		// to its bound, so a steady trickle costs a pull per pull's worth
		// of messages, not per message; after it the Tail looks again.
		return t.read(ctx, tailMaxMsgs, tailIdleWait, fn)
	case t.avg == 0:
		return t.read(ctx, 1, time.Second, fn) // measure a message
	case lag > 0 && t.pending > lag:
		return t.read(ctx, t.pending-lag, time.Second, fn)
	case t.wanted():
		return t.read(ctx, t.pending, time.Second, fn)
	}
	// Within the lag: look again after Quiet, or at once when woken.
	t.quiet.Reset(t.cfg.Quiet)
	defer t.quiet.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.cfg.Wake:
	case <-t.quiet.C:
	}
	info, err := t.cons.Info(ctx)
	if err != nil {
		return err
	}
	if info.NumPending == t.pending || t.wanted() {
		return t.read(ctx, info.NumPending, time.Second, fn)
	}
	t.pending = info.NumPending
	return nil
}

// wanted reports whether the reader waits for a message not read yet.
func (t *Tail) wanted() bool { return t.cfg.Wanted != nil && t.cfg.Wanted() > t.last }

// lagMsgs is LagBytes in messages of the average size (0 before any
// message was read).
func (t *Tail) lagMsgs() uint64 {
	if t.avg == 0 {
		return 0
	}
	return uint64(t.cfg.LagBytes / t.avg)
}

// read pulls the next n messages (fewer when one pull would bring more
// than tailPullBytes), waiting at most wait for them.
func (t *Tail) read(ctx context.Context, n uint64, wait time.Duration,
	fn func(jetstream.Msg, *jetstream.MsgMetadata) error) error {
	limit := uint64(max(1, tailPullBytes/max(t.avg, tailMinMsgBytes)))
	n = max(1, min(n, limit, tailMaxMsgs))
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	batch, err := t.cons.Fetch(int(n), jetstream.FetchContext(wctx))
	if err != nil {
		return err
	}
	for msg := range batch.Messages() {
		md, err := msg.Metadata()
		if err != nil {
			continue
		}
		size := len(msg.Data()) + len(msg.Subject())
		for k, v := range msg.Headers() {
			size += len(k)
			for _, s := range v {
				size += len(s)
			}
		}
		if t.avg == 0 {
			t.avg = size
		} else {
			t.avg += (size - t.avg) / 8
		}
		t.avg = max(t.avg, 1)
		t.pending, t.last = md.NumPending, md.Sequence.Stream
		if err := fn(msg, md); err != nil {
			return err
		}
	}
	if err := batch.Error(); err != nil && ctx.Err() == nil &&
		!errors.Is(err, nats.ErrTimeout) && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return ctx.Err()
}
