package source

import (
	"sync"
	"time"

	"github.com/auditstream/auditstream/internal/egress"
	"github.com/auditstream/auditstream/internal/supervise"
	"github.com/auditstream/auditstream/internal/wire"
)

// States reported by GET /api/v1/sources/{id}/status (package supervise's,
// shared with log streams).
const (
	StateActive    = supervise.StateActive    // polling (or receiving) normally
	StateInactive  = supervise.StateInactive  // deactivated by an operator
	StateRetrying  = supervise.StateRetrying  // the last call failed (5xx, timeout, network, journal) and is being retried
	StateThrottled = supervise.StateThrottled // waiting for the rate-limit window to reset
	StateError     = supervise.StateError     // the org refuses the credential or the settings; retried slowly
)

// Error kinds, the kind label of auditstream_source_errors_total.
const (
	KindNetwork     = "network"       // connection refused, reset, timeout
	KindServer      = "server"        // 5xx from the org
	KindRateLimited = "rate_limited"  // 429
	KindAuth        = "auth"          // 401/403, or the token endpoint refused the client
	KindCursor      = "cursor"        // the org rejected the stored next link
	KindRequest     = "request"       // another 4xx
	KindJournal     = "journal"       // the journal could not take the page
	KindInvalid     = "invalid_event" // an event the journal cannot store (skipped)
)

// Health of a source in its status, and the transitions reported by
// Status.CheckHealth.
const (
	HealthOK        = "ok"
	HealthFailing   = "failing"
	HealthSilent    = "silent"
	HealthRecovered = "recovered"
)

// Status is a source's live status. The zero value is ready to use; it is
// safe for concurrent use.
type Status struct {
	mu            sync.Mutex
	state         supervise.State
	events        uint64
	duplicates    uint64
	lastPoll      time.Time
	lastSuccess   time.Time
	lastPublished time.Time
	lastNewEvent  time.Time // when a new event last arrived (local clock)
	caughtUp      bool
	cursorTime    time.Time // how far the source has read
	lastError     string
	lastErrorKind string
	lastErrorAt   time.Time
	failingSince  time.Time
	alertFailing  bool
	alertSilent   bool
	rate          RateLimit
	backfill      *Backfill
}

// RateLimit is the last rate-limit state the org reported (wire.RateLimit).
type RateLimit = wire.RateLimit

// BackfillState is where a backfill is (wire.BackfillState).
type BackfillState = wire.BackfillState

// States of a Backfill.
const (
	BackfillRunning = wire.BackfillRunning
	BackfillDone    = wire.BackfillDone
	BackfillFailed  = wire.BackfillFailed
)

// Backfill reports an on-demand bounded pull (wire.Backfill).
type Backfill = wire.Backfill

// Snapshot is a Status at one moment, shaped for the API
// (wire.SourceStatus); the status bucket keeps it too.
type Snapshot = wire.SourceStatus

// Snapshot copies the status; now computes the lag.
func (s *Status) Snapshot(now time.Time) Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.state
	if st == "" {
		st = StateActive
	}
	health := HealthOK
	switch {
	case s.alertFailing:
		health = HealthFailing
	case s.alertSilent:
		health = HealthSilent
	}
	snap := Snapshot{State: st, Health: health, Events: s.events, Duplicates: s.duplicates,
		LastPollAt: s.lastPoll, LastSuccessAt: s.lastSuccess, LastEventPublished: s.lastPublished,
		CaughtUp: s.caughtUp, ReadUpTo: s.cursorTime, LagSeconds: s.lagLocked(now), LastError: s.lastError,
		LastErrorKind: s.lastErrorKind, LastErrorAt: s.lastErrorAt, FailingSince: s.failingSince}
	if s.rate.Limit > 0 || !s.rate.Reset.IsZero() {
		r := s.rate
		snap.RateLimit = &r
	}
	if s.backfill != nil {
		b := *s.backfill
		snap.Backfill = &b
	}
	return snap
}

// lagLocked is how far behind the source is: 0 right after a poll that
// reached the end of the log, growing while polls fail; while catching up,
// the age of the newest event read.
func (s *Status) lagLocked(now time.Time) float64 {
	if s.cursorTime.IsZero() {
		return 0
	}
	return max(0, now.Sub(s.cursorTime).Seconds())
}

// Lag reports the lag in seconds at now.
func (s *Status) Lag(now time.Time) float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lagLocked(now)
}

// SetState sets the state.
func (s *Status) SetState(st supervise.State) {
	s.mu.Lock()
	s.state = st
	s.mu.Unlock()
}

// Started marks the start of a run: silence is measured from here.
func (s *Status) Started(now time.Time) {
	s.mu.Lock()
	if s.lastNewEvent.IsZero() || s.lastNewEvent.Before(now) {
		s.lastNewEvent = now
	}
	s.state = StateActive
	s.mu.Unlock()
}

// Page is what one successful poll (or one received request) stored.
type Page struct {
	// Stored is how many new events the journal took.
	Stored int
	// Duplicates is how many events the journal already had.
	Duplicates int
	// Newest is the newest published time in the page.
	Newest time.Time
	// CaughtUp is set when the page reached the end of the log.
	CaughtUp bool
}

// Polled records a successful page.
func (s *Status) Polled(now time.Time, p Page) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state = StateActive
	s.lastPoll, s.lastSuccess = now, now
	s.events += uint64(p.Stored)
	s.duplicates += uint64(p.Duplicates)
	if p.Stored > 0 {
		s.lastNewEvent = now
	}
	if p.Newest.After(s.lastPublished) {
		s.lastPublished = p.Newest
	}
	s.caughtUp = p.CaughtUp
	if p.CaughtUp {
		s.cursorTime = now
	} else if !p.Newest.IsZero() {
		s.cursorTime = p.Newest
	}
	s.failingSince = time.Time{}
}

// Received records events an inbound source (the EventBridge receiver)
// stored; an inbound source is always caught up.
func (s *Status) Received(now time.Time, stored, dups int, newest time.Time) {
	s.Polled(now, Page{Stored: stored, Duplicates: dups, Newest: newest, CaughtUp: true})
}

// Failed records a failed call of kind with state as the new state.
func (s *Status) Failed(now time.Time, state supervise.State, kind string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state = state
	s.lastPoll = now
	s.lastError, s.lastErrorKind, s.lastErrorAt = egress.PublicMessage(err), kind, now
	if s.failingSince.IsZero() {
		s.failingSince = now
	}
}

// Throttled records a wait for the rate-limit window (not a failure).
func (s *Status) Throttled(rl RateLimit) {
	s.mu.Lock()
	s.state = StateThrottled
	s.rate = rl
	s.mu.Unlock()
}

// SetRateLimit records the org's last rate-limit headers.
func (s *Status) SetRateLimit(rl RateLimit) {
	s.mu.Lock()
	s.rate = rl
	s.mu.Unlock()
}

// Invalid records an error that does not change the state (an event the
// journal cannot store).
func (s *Status) Invalid(now time.Time, kind string, err error) {
	s.mu.Lock()
	s.lastError, s.lastErrorKind, s.lastErrorAt = egress.PublicMessage(err), kind, now
	s.mu.Unlock()
}

// CheckHealth reports, once per episode, that the source has been failing
// for failAfter or silent (no new event) for silentAfter, and when it
// recovers. A zero threshold turns that check off. It returns "" when
// nothing changed.
func (s *Status) CheckHealth(now time.Time, failAfter, silentAfter time.Duration) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	failing := !s.failingSince.IsZero()
	if h := alertEpisode(failing, failAfter > 0 && now.Sub(s.failingSince) >= failAfter, &s.alertFailing, s.alertSilent, HealthFailing); h != "" {
		return h
	}
	silent := silentAfter > 0 && !s.lastNewEvent.IsZero() && now.Sub(s.lastNewEvent) >= silentAfter
	return alertEpisode(silent, !s.alertFailing, &s.alertSilent, s.alertFailing, HealthSilent)
}

// alertEpisode moves one alert (up): raised, reported as raised, when the
// condition holds and it may be raised; cleared once the condition ends,
// reported as HealthRecovered unless the other alert is up. It returns ""
// when nothing changed.
func alertEpisode(holds, mayRaise bool, up *bool, other bool, raised string) string {
	switch {
	case holds && mayRaise && !*up:
		*up = true
		return raised
	case !holds && *up:
		*up = false
		if !other {
			return HealthRecovered
		}
	}
	return ""
}

// StartBackfill records a new backfill; it reports false when one runs.
func (s *Status) StartBackfill(b Backfill) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.backfill != nil && s.backfill.State == BackfillRunning {
		return false
	}
	b.State = BackfillRunning
	s.backfill = &b
	return true
}

// BackfillProgress adds n events to the running backfill, which has
// read up to the published time reached (zero: unknown, as before).
func (s *Status) BackfillProgress(n int, reached time.Time) {
	s.mu.Lock()
	if s.backfill != nil {
		s.backfill.Events += uint64(n)
		if reached.After(s.backfill.Reached) {
			s.backfill.Reached = reached
		}
	}
	s.mu.Unlock()
}

// BackfillDone finishes the running backfill with err (nil: DONE).
func (s *Status) BackfillDone(now time.Time, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.backfill == nil {
		return
	}
	s.backfill.Finished = now
	s.backfill.State = BackfillDone
	if err != nil {
		s.backfill.State, s.backfill.Error = BackfillFailed, err.Error()
	}
}

// Record returns the snapshot the status bucket keeps for source id
// (supervise.Status).
func (s *Status) Record(id string, now time.Time) Snapshot {
	snap := s.Snapshot(now)
	snap.ID = id
	return snap
}

// Restore loads what an earlier run (or another node) saved.
func (s *Status) Restore(snap Snapshot) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events, s.duplicates = snap.Events, snap.Duplicates
	s.lastPoll, s.lastSuccess, s.lastPublished = snap.LastPollAt, snap.LastSuccessAt, snap.LastEventPublished
	s.lastError, s.lastErrorKind, s.lastErrorAt = snap.LastError, snap.LastErrorKind, snap.LastErrorAt
	s.alertFailing = snap.Health == HealthFailing
	s.alertSilent = snap.Health == HealthSilent
	if snap.Backfill != nil && snap.Backfill.State != BackfillRunning {
		b := *snap.Backfill
		s.backfill = &b
	}
}
