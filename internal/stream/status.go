package stream

import (
	"sync"
	"time"

	"github.com/auditstream/auditstream/internal/egress"
	"github.com/auditstream/auditstream/internal/supervise"
	"github.com/auditstream/auditstream/internal/wire"
)

// Delivery states reported by GET /logStreams/{id}/status: the states
// sources share (package supervise), and paused.
const (
	StateActive   = supervise.StateActive   // delivering normally
	StateInactive = supervise.StateInactive // deactivated by an operator
	StateRetrying = supervise.StateRetrying // the last write failed and is being retried
	StateError    = supervise.StateError    // the destination refuses our configuration; retried slowly
	// StatePaused: the destination asked us to stop (410); activate
	// resumes.
	StatePaused supervise.State = "paused"
	// StateThrottled: the destination asks us to slow down (429, 503);
	// the runner waits as asked, without counting a failure.
	StateThrottled = supervise.StateThrottled
)

// Status is a stream's delivery status. The zero value is ready to use and
// safe for concurrent use.
type Status struct {
	mu           sync.Mutex
	state        supervise.State
	delivered    uint64
	failed       uint64
	retried      uint64
	deadLettered uint64
	lastError    string
	lastErrorAt  time.Time
	lastSuccess  time.Time
	dropped      Dropped
	blocking     bool
	deadFull     bool
	// perMinute is the last hour's deliveries and failures per minute.
	perMinute minuteRing
}

// Dropped accounts for events the journal removed before the stream
// delivered them (wire.Dropped).
type Dropped = wire.Dropped

// Gap is one range of journal sequences a stream lost (wire.Gap).
type Gap = wire.Gap

// Causes of a Gap.
const (
	// GapDropOldest: retention purged events at the cap
	// (journal.whenFull: dropOldest), or an inactive stream's events.
	GapDropOldest = "retention"
	// GapMissing: the events were gone before retention looked (maxAge
	// expiry, a lost block).
	GapMissing = "missing"
)

// Snapshot is a copy of a Status at one moment, shaped for the API
// (wire.StreamStatus); the status bucket keeps it too.
type Snapshot = wire.StreamStatus

// Snapshot copies the status; its per-minute history ends with the last
// minute counted (PerMinuteAt brings it up to a time).
func (s *Status) Snapshot() Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.state
	if st == "" {
		st = StateActive
	}
	snap := Snapshot{State: st, Delivered: s.delivered, Failed: s.failed, Retried: s.retried,
		DeadLettered: s.deadLettered, LastError: s.lastError, LastErrorAt: s.lastErrorAt,
		LastSuccessAt: s.lastSuccess, RetentionBlocking: s.blocking, PerMinute: s.perMinute.export(time.Time{})}
	if s.dropped.Gaps > 0 {
		d := s.dropped
		snap.DroppedByRetention = &d
	}
	return snap
}

// addGap records a lost range; ranges at or below what is already
// recorded are ignored (a gap is reported once), and it reports whether g
// was new.
func (s *Status) addGap(g Gap) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if g.ToSeq <= s.dropped.ToSeq {
		return false
	}
	d := &s.dropped
	if d.Gaps == 0 || g.FromSeq < d.FromSeq {
		d.FromSeq = g.FromSeq
	}
	d.ToSeq = g.ToSeq
	d.Events += g.Events
	d.Gaps++
	d.Last = g
	return true
}

// droppedTo is the highest journal sequence already reported lost.
func (s *Status) droppedTo() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropped.ToSeq
}

func (s *Status) setBlocking(b bool) {
	s.mu.Lock()
	s.blocking = b
	s.mu.Unlock()
}

// deadLettersRefused records that the last dead-letter write was refused
// because the dead-letter store is full.
func (s *Status) deadLettersRefused(err error, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deadFull = true
	s.lastError = err.Error()
	s.lastErrorAt = now
	if s.state != StateInactive {
		s.state = StateRetrying
	}
}

// deadLettersStored records that the dead-letter store took a write.
func (s *Status) deadLettersStored() {
	s.mu.Lock()
	s.deadFull = false
	s.mu.Unlock()
}

func (s *Status) deadLettersFull() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deadFull
}

func (s *Status) setState(st supervise.State) {
	s.mu.Lock()
	s.state = st
	s.mu.Unlock()
}

func (s *Status) success(n int, now time.Time) {
	s.mu.Lock()
	s.delivered += uint64(n)
	s.lastSuccess = now
	if s.state != StateInactive {
		s.state = StateActive
	}
	s.mu.Unlock()
}

// addDelivered counts n events delivered and acknowledged in the journal
// at now.
func (s *Status) addDelivered(n int, now time.Time) {
	s.mu.Lock()
	s.delivered += uint64(n)
	s.perMinute.add(now, uint64(n), 0)
	s.mu.Unlock()
}

// stalled records that the stream cannot make progress (err says why)
// without changing its state.
func (s *Status) stalled(err error, now time.Time) {
	s.mu.Lock()
	s.lastError = err.Error()
	s.lastErrorAt = now
	s.mu.Unlock()
}

// digestFailed records that a digest of the stream's exported objects was
// not written (msg says why) without changing the delivery state.
func (s *Status) digestFailed(msg string, now time.Time) {
	s.mu.Lock()
	s.lastError = msg
	s.lastErrorAt = now
	s.mu.Unlock()
}

// retry tells Status.failure whether the failed write is tried again
// (it then counts in Retried).
type retry bool

const (
	noRetry   retry = false // dead-lettered, paused, or never started
	willRetry retry = true
)

func (s *Status) failure(now time.Time, state supervise.State, err error, r retry) {
	s.mu.Lock()
	s.failed++
	s.perMinute.add(now, 0, 1)
	if r == willRetry {
		s.retried++
	}
	s.state = state
	s.lastError = egress.PublicMessage(err)
	s.lastErrorAt = now
	s.mu.Unlock()
}

// throttled records a wait the destination asked for: a retry, not a
// failure.
func (s *Status) throttled(err error, now time.Time) {
	s.mu.Lock()
	s.retried++
	if s.state != StateInactive {
		s.state = StateThrottled
	}
	s.lastError = egress.PublicMessage(err)
	s.lastErrorAt = now
	s.mu.Unlock()
}

func (s *Status) deadLetter(n int, err error, now time.Time) {
	s.mu.Lock()
	s.deadLettered += uint64(n)
	s.lastError = egress.PublicMessage(err)
	s.lastErrorAt = now
	s.mu.Unlock()
}

func (s *Status) redriven(n int) {
	s.mu.Lock()
	if uint64(n) > s.deadLettered {
		n = int(s.deadLettered)
	}
	s.deadLettered -= uint64(n)
	s.mu.Unlock()
}

// Record returns the snapshot the status bucket keeps for stream id
// (supervise.Status).
//
// Its per-minute history is as last counted, not brought up to now: the
// record changes only when something was counted, so an idle stream's
// status is not saved again every minute (Supervisor.Snapshot brings it
// up to date for the API).
func (s *Status) Record(id string, _ time.Time) Snapshot {
	snap := s.Snapshot()
	snap.ID = id
	return snap
}

// Restore loads counters saved by an earlier run (or another node).
func (s *Status) Restore(snap Snapshot) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delivered, s.failed, s.retried, s.deadLettered = snap.Delivered, snap.Failed, snap.Retried, snap.DeadLettered
	s.lastError, s.lastErrorAt, s.lastSuccess = snap.LastError, snap.LastErrorAt, snap.LastSuccessAt
	if snap.DroppedByRetention != nil {
		s.dropped = *snap.DroppedByRetention
	}
	s.perMinute.load(snap.PerMinute)
}
