package okta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/source"
	"github.com/auditstream/auditstream/internal/supervise"
	"github.com/auditstream/auditstream/internal/sysevent"
)

// recentSize is how many recent uuids a poller remembers, to drop re-read
// events before they reach the journal (OKTA.md §1.3 step 6).
const recentSize = 10000

// Run polls until ctx ends.
func (pl *Poller) Run(ctx context.Context) error {
	st := pl.deps.Status
	st.Started(pl.opts.Now())
	var cp checkpoint
	for n := 1; ; n++ {
		var err error
		if cp, err = pl.loadCheckpoint(ctx); err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		pl.failed(source.StateRetrying, source.KindJournal, err)
		if !sleep(ctx, pl.backoff(n)) {
			return nil
		}
	}
	cur := cp.Next
	fromCursor := cur != "" // cur came from the org, not from us
	if cur == "" {
		cur = pl.pollURL(pl.p.since)
		pl.log.Info("polling from since", "since", pl.p.since)
	} else {
		pl.log.Info("polling from checkpoint", "saved", cp.Saved)
		pl.rememberRecent(ctx, cp.Saved)
	}
	var retry retryInfo
	failures := 0
	authRetried := false
	for ctx.Err() == nil {
		pg, err := pl.fetch(ctx, cur, &retry)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			failures++
			var wait time.Duration
			var next string
			wait, next, authRetried = pl.onError(err, failures, cur, fromCursor, cp, authRetried)
			if next != cur {
				cur, fromCursor = next, false
			}
			pl.health(ctx)
			if !sleep(ctx, wait) {
				return nil
			}
			continue
		}
		authRetried = false
		evs, newest := pl.events(pg.events)
		res, ok := pl.appendAll(ctx, evs)
		if !ok {
			return nil
		}
		next := pg.next
		if next == "" {
			next = cur // polling mode always has one; ask again
		}
		if !pl.sameOrigin(next) {
			failures++
			pl.failed(source.StateError, source.KindRequest, fmt.Errorf("next link %q leaves the org %s; not followed", next, pl.p.base))
			pl.health(ctx)
			if !sleep(ctx, pl.opts.AuthRetry) {
				return nil
			}
			continue
		}
		if newest.After(cp.LastPublished) {
			cp.LastPublished = newest
		}
		// The journal has the page: only now may the cursor move. An empty
		// page leaves it where it is and needs no write.
		if next != cp.Next || len(pg.events) > 0 {
			c := cp
			c.Next = next
			if err := pl.saveCheckpoint(ctx, c); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				pl.log.Warn("checkpoint not saved; the page will be read again after a restart", "err", err)
			} else {
				cp = c
			}
		}
		cur, fromCursor = next, true
		failures = 0
		caughtUp := len(pg.events) < pl.opts.PageSize
		now := pl.opts.Now()
		st.Polled(now, source.Page{Stored: res.Stored, Duplicates: res.Duplicates, Newest: newest, CaughtUp: caughtUp})
		if m := pl.deps.Metrics; m != nil {
			m.Events.WithLabelValues(pl.def.ID).Add(float64(res.Stored))
			m.Duplicates.WithLabelValues(pl.def.ID).Add(float64(res.Duplicates))
			m.LastPoll.WithLabelValues(pl.def.ID).Set(float64(now.UnixNano()) / 1e9)
			m.Lag.WithLabelValues(pl.def.ID).Set(st.Lag(now))
			m.Failing.WithLabelValues(pl.def.ID).Set(0)
		}
		pl.health(ctx)
		if caughtUp && !sleep(ctx, pl.p.pollInterval) {
			return nil
		}
	}
	return nil
}

// onError decides what a failed call means: how long to wait, which URL to
// ask next, and whether an OAuth token was just renewed after a 401.
func (pl *Poller) onError(err error, failures int, cur string, fromCursor bool, cp checkpoint, authRetried bool) (time.Duration, string, bool) {
	var ce *callError
	if !errors.As(err, &ce) {
		ce = &callError{kind: source.KindNetwork, err: err}
	}
	pl.log.Warn("poll failed", "kind", ce.kind, "status", ce.status, "request_id", ce.requestID, "err", ce.err)
	switch ce.kind {
	case source.KindRateLimited:
		pl.failed(source.StateThrottled, ce.kind, ce)
		if ce.wait > 0 {
			return ce.wait, cur, false
		}
		return pl.backoff(failures), cur, false
	case source.KindAuth:
		if pl.tokens != nil && ce.status == 401 && !authRetried {
			// The access token may have expired or been revoked: get a
			// new one and try again at once.
			pl.tokens.Invalidate()
			pl.countError(ce.kind)
			return 0, cur, true
		}
		pl.failed(source.StateError, ce.kind, ce)
		if pl.tokens != nil {
			pl.tokens.Invalidate()
		}
		return pl.opts.AuthRetry, cur, false
	case source.KindRequest:
		if ce.status == 400 && fromCursor {
			// The org refused our cursor: restart from the newest event
			// seen minus the overlap; uuids drop what is read twice.
			since := pl.p.since
			if !cp.LastPublished.IsZero() {
				since = cp.LastPublished.Add(-pl.p.overlap)
			}
			pl.failed(source.StateRetrying, source.KindCursor, fmt.Errorf("cursor refused, restarting from %s: %w",
				since.UTC().Format(time.RFC3339), ce))
			return pl.opts.MinBackoff, pl.pollURL(since), false
		}
		pl.failed(source.StateError, ce.kind, ce)
		return pl.opts.AuthRetry, cur, false
	}
	pl.failed(source.StateRetrying, ce.kind, ce)
	return pl.backoff(failures), cur, false
}

func (pl *Poller) countError(kind string) {
	if m := pl.deps.Metrics; m != nil {
		m.Errors.WithLabelValues(pl.def.ID, kind).Inc()
	}
}

func (pl *Poller) failed(state supervise.State, kind string, err error) {
	now := pl.opts.Now()
	pl.deps.Status.Failed(now, state, kind, err)
	pl.countError(kind)
	if m := pl.deps.Metrics; m != nil {
		v := 1.0
		if state == source.StateError {
			v = 2
		}
		m.Failing.WithLabelValues(pl.def.ID).Set(v)
		m.LastPoll.WithLabelValues(pl.def.ID).Set(float64(now.UnixNano()) / 1e9)
		m.Lag.WithLabelValues(pl.def.ID).Set(pl.deps.Status.Lag(now))
	}
}

// events turns a page into journal events, dropping uuids seen lately. An
// event the journal cannot take is skipped and counted: one bad event must
// not stop the source.
func (pl *Poller) events(raws []json.RawMessage) ([]event.Record, time.Time) {
	now := pl.opts.Now()
	var newest time.Time
	out := make([]event.Record, 0, len(raws))
	for i, raw := range raws {
		ev, err := event.Parse(raw, pl.def.Org, now)
		if err != nil {
			pl.countError(source.KindInvalid)
			pl.deps.Status.Invalid(now, source.KindInvalid, fmt.Errorf("event %d of a page skipped: %w", i, err))
			pl.log.Warn("event skipped", "err", err)
			continue
		}
		if ev.Published.After(newest) {
			newest = ev.Published
		}
		if pl.seen.has(ev.UUID) {
			continue
		}
		ev.Source = pl.src
		out = append(out, ev)
	}
	return out, newest
}

// appendAll stores evs, retrying while the journal is unavailable. It
// reports false when ctx ended first.
func (pl *Poller) appendAll(ctx context.Context, evs []event.Record) (res appendResult, ok bool) {
	if len(evs) == 0 {
		return appendResult{}, true
	}
	for n := 1; ; n++ {
		r, err := pl.deps.Journal.Append(ctx, evs)
		if err == nil {
			for _, ev := range evs {
				pl.seen.add(ev.UUID)
			}
			return appendResult{Stored: r.Stored, Duplicates: r.Duplicates}, true
		}
		if ctx.Err() != nil {
			return appendResult{}, false
		}
		pl.failed(source.StateRetrying, source.KindJournal, err)
		if !sleep(ctx, pl.backoff(n)) {
			return appendResult{}, false
		}
	}
}

type appendResult struct{ Stored, Duplicates int }

// health raises a health event when the source's health changed.
func (pl *Poller) health(ctx context.Context) {
	now := pl.opts.Now()
	h := pl.deps.Status.CheckHealth(now, pl.p.alertAfter, pl.p.silentAfter)
	if h == "" {
		return
	}
	snap := pl.deps.Status.Snapshot(now)
	var detail string
	switch h {
	case source.HealthFailing:
		detail = fmt.Sprintf("failing since %s: %s", snap.FailingSince.UTC().Format(time.RFC3339), snap.LastError)
	case source.HealthSilent:
		detail = fmt.Sprintf("no new event for %v", pl.p.silentAfter)
	default:
		detail = "polling normally again"
	}
	if err := sysevent.Write(ctx, pl.deps.Journal, source.HealthEvent(pl.def, h, detail, snap), now); err != nil {
		pl.log.Warn("health event not stored", "health", h, "err", err)
		return
	}
	pl.log.Warn("source health changed", "health", h, "detail", detail)
	if m := pl.deps.Metrics; m != nil {
		m.Alerts.WithLabelValues(pl.def.ID, h).Inc()
	}
}

// maxBackfillFailures is how many transient failures in a row end a
// backfill.
const maxBackfillFailures = 10

// Backfill pulls the events published in [since, until) with a bounded
// query, following next links until the last page, without touching the
// live cursor.
func (pl *Poller) Backfill(ctx context.Context, since, until time.Time) error {
	cur := pl.boundedURL(since, until)
	var retry retryInfo
	failures := 0
	authRetried := false
	for {
		pg, err := pl.fetch(ctx, cur, &retry)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			var ce *callError
			if !errors.As(err, &ce) {
				return err
			}
			failures++
			pl.countError(ce.kind)
			switch {
			case ce.kind == source.KindAuth && pl.tokens != nil && ce.status == 401 && !authRetried:
				pl.tokens.Invalidate()
				authRetried = true
				continue
			case ce.kind == source.KindAuth || ce.kind == source.KindRequest:
				return ce
			case failures >= maxBackfillFailures:
				return fmt.Errorf("giving up after %d failures: %w", failures, ce)
			}
			wait := ce.wait
			if wait == 0 {
				wait = pl.backoff(failures)
			}
			if !sleep(ctx, wait) {
				return ctx.Err()
			}
			continue
		}
		failures, authRetried = 0, false
		evs, newest := pl.events(pg.events)
		res, ok := pl.appendAll(ctx, evs)
		if !ok {
			return ctx.Err()
		}
		pl.deps.Status.BackfillProgress(res.Stored, newest)
		if m := pl.deps.Metrics; m != nil {
			m.Backfilled.WithLabelValues(pl.def.ID).Add(float64(res.Stored))
		}
		if pg.next == "" || pg.next == cur || len(pg.events) == 0 {
			return nil
		}
		if !pl.sameOrigin(pg.next) {
			return fmt.Errorf("next link %q leaves the org %s; not followed", pg.next, pl.p.base)
		}
		cur = pg.next
	}
}

// recent is a bounded set of uuids, oldest evicted first. Safe for
// concurrent use.
type recent struct {
	mu   sync.Mutex
	set  map[string]struct{}
	ring []string
	pos  int
}

// recentReader is what a journal offers to list the events a source
// stored lately (journal.Journal has it).
type recentReader interface {
	RecentUUIDs(ctx context.Context, org, source string, since time.Time, max int) ([]string, error)
}

// rememberRecent fills the recent uuids from the journal after a restart:
// the page read again after the checkpoint must not be stored twice, even
// when the restart came later than the journal's de-duplication window.
func (pl *Poller) rememberRecent(ctx context.Context, saved time.Time) {
	rr, ok := pl.deps.Journal.(recentReader)
	if !ok || saved.IsZero() {
		return
	}
	// The page behind the checkpoint was appended just before it was saved.
	ids, err := rr.RecentUUIDs(ctx, pl.def.Org, pl.src, saved.Add(-time.Minute), recentSize)
	if err != nil {
		pl.log.Warn("recent events unreadable; re-read events rely on the journal's de-duplication window", "err", err)
		return
	}
	for _, id := range ids {
		pl.seen.add(id)
	}
}

func newRecent(n int) *recent {
	return &recent{set: make(map[string]struct{}, n), ring: make([]string, n)}
}

func (r *recent) has(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.set[id]
	return ok
}

func (r *recent) add(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.set[id]; ok {
		return
	}
	if old := r.ring[r.pos]; old != "" {
		delete(r.set, old)
	}
	r.ring[r.pos] = id
	r.set[id] = struct{}{}
	r.pos = (r.pos + 1) % len(r.ring)
}
