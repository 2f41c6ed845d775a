package stream

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/sink"
)

// deliver writes recs, retrying as their errors say, until each record is
// delivered or dead-lettered. It returns only ctx's error or errPaused.
func (r *Runner) deliver(ctx context.Context, recs []event.Record, depth int) error {
	attempt := 0
	for {
		err := r.write(ctx, recs)
		now := time.Now()
		if err == nil {
			r.delivered(recs, now)
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, errFenced) {
			return err
		}
		if c, _ := sink.ClassOf(err); c != sink.ClassThrottled {
			// A destination pacing us is not failing.
			r.cfg.Metrics.Failed.WithLabelValues(r.id).Inc()
		}
		var pe *sink.PartialError
		if errors.As(err, &pe) {
			var again []event.Record
			var dead []event.Record
			var deadErr, retryErr error
			for i, rec := range recs {
				ferr, failed := pe.Failed[i]
				if !failed {
					continue
				}
				if c, _ := sink.ClassOf(ferr); c == sink.ClassPermanent {
					dead = append(dead, rec)
					deadErr = ferr
				} else {
					again = append(again, rec)
					retryErr = ferr
				}
			}
			ok := make([]event.Record, 0, len(recs)-len(again)-len(dead))
			for i, rec := range recs {
				if _, failed := pe.Failed[i]; !failed {
					ok = append(ok, rec)
				}
			}
			r.delivered(ok, now)
			if len(dead) > 0 {
				if err := r.deadLetter(ctx, dead, deadErr); err != nil {
					return err
				}
			}
			if len(again) == 0 {
				return nil
			}
			recs, err = again, retryErr
		}
		class, delay := sink.ClassOf(err)
		switch class {
		case sink.ClassPermanent:
			if len(recs) > 1 && depth < 32 {
				// Isolate the event the destination refuses: split and
				// deliver each half on its own.
				half := len(recs) / 2
				if err := r.deliver(ctx, recs[:half], depth+1); err != nil {
					return err
				}
				return r.deliver(ctx, recs[half:], depth+1)
			}
			r.cfg.Status.failure(now, StateActive, err, noRetry)
			return r.deadLetter(ctx, recs, err)
		case sink.ClassPaused:
			r.cfg.Status.failure(now, StatePaused, err, noRetry)
			r.log.Error("destination asked to stop delivery; the stream is paused until it is activated again", "err", err)
			return errPaused
		case sink.ClassConfig:
			r.cfg.Status.failure(now, StateError, err, willRetry)
			r.log.Error("destination refuses the stream's configuration; retrying slowly", "err", err)
		case sink.ClassThrottled:
			r.cfg.Status.throttled(err, now)
			r.log.Info("destination is throttling; waiting as asked", "err", err, "retryAfter", delay)
		default:
			r.cfg.Status.failure(now, StateRetrying, err, willRetry)
			r.log.Warn("write failed; retrying", "err", err, "class", class.String(), "attempt", attempt+1)
		}
		delay = r.retryDelay(class, delay, attempt)
		r.cfg.Metrics.Retried.WithLabelValues(r.id).Inc()
		if class != sink.ClassThrottled {
			// Throttling is the destination pacing us, not failing: it
			// does not grow the backoff.
			attempt++
		}
		// Nothing new is taken while retrying; what the feed queued stays
		// the runner's, kept in progress (it stops pulling when full).
		r.keepAlive()
		if !sleep(ctx, delay) {
			return ctx.Err()
		}
		r.keepAlive()
	}
}

// backoff is capped exponential backoff with full jitter above half.
// retryDelay is how long to wait before writing again after an error of
// class that asked for delay (zero: it did not say), at attempt: slow for
// config errors; what a throttling destination asked for, or the longest
// backoff when it did not say; otherwise the backoff of attempt, or the
// asked delay when longer. A destination's delay is capped at maxThrottle
// here, and only here.
func (r *Runner) retryDelay(class sink.Class, delay time.Duration, attempt int) time.Duration {
	switch class {
	case sink.ClassConfig:
		return r.cfg.ConfigDelay
	case sink.ClassThrottled:
		if delay <= 0 {
			delay = r.cfg.MaxDelay
		}
		return min(delay, maxThrottle)
	default:
		return min(max(delay, r.backoff(attempt)), maxThrottle)
	}
}

func (r *Runner) backoff(attempt int) time.Duration {
	d := r.cfg.BaseDelay << min(attempt, 20)
	if d <= 0 || d > r.cfg.MaxDelay {
		d = r.cfg.MaxDelay
	}
	return d/2 + rand.N(d/2+1)
}

// keepAlive tells JetStream the pending messages are still being worked on,
// so a long batch or retry does not make them redeliver.
func (r *Runner) keepAlive() {
	for _, h := range r.pending {
		_ = h.msg.InProgress()
	}
	if r.cur != nil {
		_ = r.cur.InProgress()
	}
	r.feed.each(inProgress)
	r.lastKeep = time.Now()
}

// write is one Sink.Write, during which the pending messages are kept in
// progress, however long the destination takes (a Splunk ack, a large
// upload).
func (r *Runner) write(ctx context.Context, recs []event.Record) error {
	if r.cfg.Fenced != nil && r.cfg.Fenced() {
		return errFenced
	}
	held := make([]jetstream.Msg, 0, len(r.pending)+1)
	for _, h := range r.pending {
		held = append(held, h.msg)
	}
	if r.cur != nil {
		held = append(held, r.cur)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(r.cfg.AckWait / 3)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				for _, m := range held {
					_ = m.InProgress()
				}
				// A long write: what the feed queued meanwhile is
				// kept in progress too (it is the runner's).
				r.feed.each(inProgress)
			}
		}
	}()
	err := r.cfg.Sink.Write(ctx, sink.Batch{Records: recs})
	close(stop)
	<-done
	return err
}

// deadLetter stores recs in the stream's dead letters with the reason. It
// retries until they are stored: a full dead-letter store holds the batch
// (and so the stream's journal position) rather than lose letters, and
// says so in the status.
func (r *Runner) deadLetter(ctx context.Context, recs []event.Record, reason error) error {
	left := recs
	var lastLog time.Time
	for {
		n, err := writeDeadLetters(ctx, r.cfg.Journal, r.id, left, reason)
		left = left[n:]
		if err == nil {
			break
		}
		if errors.Is(err, journal.ErrDeadLettersFull) {
			r.cfg.Status.deadLettersRefused(err, time.Now())
		}
		if time.Since(lastLog) > time.Minute {
			r.log.Error("store dead letters; retrying", "err", err, "events", len(left))
			lastLog = time.Now()
		}
		if !sleep(ctx, time.Second) {
			return ctx.Err()
		}
	}
	r.cfg.Status.deadLettersStored()
	r.cfg.Status.deadLetter(len(recs), reason, time.Now())
	r.cfg.Metrics.DeadLettered.WithLabelValues(r.id).Add(float64(len(recs)))
	r.log.Warn("events dead-lettered", "count", len(recs), "reason", reason)
	return nil
}
