package stream

import (
	"context"
	"fmt"
	"time"
)

// watchdog finds a runner whose journal reader stopped receiving: pull
// requests left on a consumer leader that moved (a server crash, pause or
// step-down) are neither answered nor re-sent, and the pull waits for
// them for good. The runner's feed ends each pull within its expiry and
// pulls anew; the watchdog makes such stalls, and longer ones (the journal
// has events the runner does not get), visible: when nothing arrived for
// StallAfter, the runner asks the consumer (at most once per StallAfter)
// whether events are waiting for it, and counts and logs a stall if so.
type watchdog struct {
	last    time.Time // a message arrived, or the feed started
	checked time.Time // the consumer was last asked
	since   time.Time // the current stall began (zero: none)
	shown   bool      // the status says the current stall is long
}

// created notes a new feed.
func (w *watchdog) created(now time.Time) { w.last = now }

// arrived notes a message: a stall, if any, is over.
func (w *watchdog) arrived(r *Runner) {
	now := time.Now()
	w.last = now
	if !w.since.IsZero() {
		r.log.Info("journal delivery resumed", "stalledFor", now.Sub(w.since).Round(time.Millisecond))
		w.since, w.shown = time.Time{}, false
	}
}

// watch runs when the runner waited for a message in vain; noHeartbeat
// says the feed found a pull's heartbeats missing.
func (r *Runner) watch(ctx context.Context, noHeartbeat bool) {
	w := &r.wd
	now := time.Now()
	var pending uint64
	var ackPending, waiting int
	if !noHeartbeat {
		if now.Sub(w.last) < r.cfg.StallAfter || now.Sub(w.checked) < r.cfg.StallAfter {
			return
		}
		w.checked = now
		info, err := r.cons.Info(ctx)
		if err != nil {
			return // the journal is unreachable: its health says so
		}
		// Messages the runner holds are pending acks, not a stall; one
		// given to a pull request (ours, or another node's) that is
		// still waiting comes back after AckWait.
		pending, ackPending, waiting = info.NumPending, info.NumAckPending, info.NumWaiting
		held := len(r.pending) + r.acksInFlight() + r.feed.len()
		if pending == 0 && (ackPending <= held || waiting > 0) {
			return
		}
	}
	if w.since.IsZero() {
		w.since = now
		r.cfg.Metrics.Stalls.WithLabelValues(r.id).Inc()
		r.log.Warn("journal delivery stalled: events are pending but none arrive; pulling anew",
			"pending", pending, "ackPending", ackPending, "waitingPulls", waiting, "missedHeartbeats", noHeartbeat,
			"idleFor", now.Sub(w.last).Round(time.Millisecond))
	} else if !w.shown && now.Sub(w.since) >= r.cfg.StallError {
		w.shown = true
		err := fmt.Errorf("no progress for %v: events are pending in the journal but none arrive", now.Sub(w.since).Round(time.Second))
		r.cfg.Status.stalled(err, now)
		r.log.Error("journal delivery stalled for long", "err", err)
	}
}
