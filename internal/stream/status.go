package stream

import (
	"sync"
	"time"

	"github.com/auditstream/auditstream/internal/egress"
)

// Delivery states reported by GET /logStreams/{id}/status.
const (
	StateActive   = "active"   // delivering normally
	StateInactive = "inactive" // deactivated by an operator
	StateRetrying = "retrying" // the last write failed and is being retried
	StatePaused   = "paused"   // the destination asked us to stop (410); activate resumes
	StateError    = "error"    // the destination refuses our configuration; retried slowly
)

// Status is a stream's delivery status. The zero value is ready to use and
// safe for concurrent use.
type Status struct {
	mu           sync.Mutex
	state        string
	delivered    uint64
	failed       uint64
	retried      uint64
	deadLettered uint64
	lastError    string
	lastErrorAt  time.Time
	lastSuccess  time.Time
}

// Snapshot is a copy of a Status at one moment, shaped for the API.
type Snapshot struct {
	ID            string    `json:"id"`
	State         string    `json:"state"`
	Delivered     uint64    `json:"delivered"`
	Failed        uint64    `json:"failed"`
	Retried       uint64    `json:"retried"`
	DeadLettered  uint64    `json:"deadLettered"`
	LagEvents     uint64    `json:"lagEvents"`
	LagSeconds    float64   `json:"lagSeconds"`
	LastError     string    `json:"lastError,omitempty"`
	LastErrorAt   time.Time `json:"lastErrorAt,omitzero"`
	LastSuccessAt time.Time `json:"lastSuccessAt,omitzero"`
}

// Snapshot copies the status.
func (s *Status) Snapshot() Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.state
	if st == "" {
		st = StateActive
	}
	return Snapshot{State: st, Delivered: s.delivered, Failed: s.failed, Retried: s.retried,
		DeadLettered: s.deadLettered, LastError: s.lastError, LastErrorAt: s.lastErrorAt,
		LastSuccessAt: s.lastSuccess}
}

func (s *Status) setState(st string) {
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

func (s *Status) failure(state string, err error, now time.Time, retried bool) {
	s.mu.Lock()
	s.failed++
	if retried {
		s.retried++
	}
	s.state = state
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

// restore loads counters saved by an earlier run (or another node).
func (s *Status) restore(snap Snapshot) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delivered, s.failed, s.retried, s.deadLettered = snap.Delivered, snap.Failed, snap.Retried, snap.DeadLettered
	s.lastError, s.lastErrorAt, s.lastSuccess = snap.LastError, snap.LastErrorAt, snap.LastSuccessAt
}
