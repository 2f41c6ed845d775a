package activity

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/journal"
)

// The journal reading loops, kept apart from the fold: one per journal
// partition, each from its own cursor.

// Flush policy of Run: the profiles and the checkpoint are stored every
// flushEvery messages of a partition, and at least every flushAfter while
// anything changed (also once the fold has caught up and the journal is
// quiet), whichever comes first. Not at every message that catches up: at
// a steady rate the fold is caught up after nearly every message, and each
// flush encodes and stores every profile the message changed.
const (
	flushEvery = 1000
	flushAfter = time.Second
)

// Run folds the journal into the store from its checkpoint and then every
// new event, until ctx ends; it stores what it folded before it returns.
// Read errors are logged and the loop starts again from the checkpoint
// (what was folded after it is not folded twice).
func (s *Store) Run(ctx context.Context) error {
	backoff := 100 * time.Millisecond
	for {
		err := s.followOnce(ctx)
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		ferr := s.Flush(fctx)
		cancel()
		if ctx.Err() != nil {
			if ferr != nil {
				s.log.Error("activity: storing the profiles at shutdown", "err", ferr)
			}
			return nil
		}
		s.log.Warn("activity: following the journal", "err", err, "flushErr", ferr)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// followOnce follows every journal partition from the checkpoint, one
// follower per partition, until one of them fails or ctx ends; it returns
// the first error once every follower has stopped.
func (s *Store) followOnce(ctx context.Context) error {
	// From what the stored profiles cover: in-memory folds past it are
	// redone, and skipped by position.
	s.mu.Lock()
	clear(s.profiles)
	clear(s.dirty)
	from := make([]uint64, len(s.cursor))
	for i, c := range s.cursor {
		s.covered[i].Store(c)
		from[i] = c + 1
	}
	s.mu.Unlock()
	parts := s.deps.Journal.Partitions()
	if len(parts) != len(from) {
		return fmt.Errorf("activity: the journal has %d partitions, the store %d", len(parts), len(from))
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	flushed := make(chan struct{})
	defer func() { <-flushed }()
	go func() {
		defer close(flushed)
		s.flushPeriodically(ctx, flushAfter)
	}()
	errs := make(chan error, len(parts))
	for i, p := range parts {
		go func() { errs <- s.followPart(ctx, p, from[i]) }()
	}
	var first error
	for range parts {
		if err := <-errs; err != nil && first == nil {
			first = err
			cancel() // the others restart from the checkpoint with it
		}
	}
	return first
}

// flushPeriodically stores what changed every d until ctx ends: what the fold
// folded since its last flush, also when no message comes after it. A
// failure is logged; the fold's next flush returns it.
func (s *Store) flushPeriodically(ctx context.Context, d time.Duration) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := s.Flush(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("activity: storing the profiles", "err", err)
		}
	}
}

// followPart folds the messages of one journal partition from sequence
// from (in its stream) until ctx ends or reading fails.
func (s *Store) followPart(ctx context.Context, p *journal.Partition, from uint64) error {
	// Said loudly: messages the journal dropped (retention) before the
	// fold read them. The fold is not one of the consumers retention
	// waits for, like the query index.
	if u, err := p.Usage(ctx); err == nil && from > 1 && u.Msgs > 0 && u.FirstSeq > from {
		s.missed.Add(float64(u.FirstSeq - from))
		s.log.Error("activity: journal messages were removed before they were folded; their events are in no profile",
			"stream", p.Stream(), "fromSeq", from, "toSeq", u.FirstSeq-1)
	}
	// Through the followers' shared reader (journal.Fanout) or, behind
	// it, a Tail of its own, which stays behind a moving head (the
	// store's memory); a gap in the sequence ends this pass, and the next
	// one starts from the checkpoint.
	fo := s.deps.Fanout
	if fo == nil {
		fo = journal.NewFanout(s.deps.Journal, journal.FanoutConfig{Log: s.log}) // never run: a reader of its own
	}
	sub, err := fo.Subscribe(ctx, p.Index(), from-1, journal.SubConfig{})
	if err != nil {
		return fmt.Errorf("partition %d: %w", p.Index(), err)
	}
	defer sub.Close(ctx)
	var recs []event.Record
	n, last := 0, time.Now()
	fold := func(m journal.Message, _ uint64) error {
		var err error
		recs, err = journal.Decode(m, recs[:0])
		if err != nil {
			// Said loudly: the events of this message are not in any profile.
			s.log.Warn("activity: skipping an unreadable journal message", "stream", p.Stream(), "seq", m.Seq, "err", err)
			s.skipped.Inc()
		}
		err = s.Apply(ctx, p.Seq(m.Seq), recs)
		clear(recs)
		if err != nil {
			return err
		}
		n++
		if n >= flushEvery || time.Since(last) >= flushAfter {
			if err := s.Flush(ctx); err != nil {
				return err
			}
			n, last = 0, time.Now()
		}
		return nil
	}
	for {
		if err := sub.Read(ctx, fold); err != nil {
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				return err
			}
			return fmt.Errorf("partition %d: %w", p.Index(), err)
		}
	}
}
