package wire

import (
	"encoding/json"
	"time"
)

// Source is a source (an Okta System Log poller, an EventBridge receiver)
// as /api/v1/sources shows it. Secrets in Settings are write-only: the
// server answers with them removed, except for the secrets it generated,
// shown once in the answer that created them.
type Source struct {
	// ID is assigned by the server.
	ID string `json:"id"`
	// Type is e.g. "okta" or "eventbridge".
	Type string `json:"type"`
	Name string `json:"name"`
	// Status is ACTIVE or INACTIVE.
	Status   string          `json:"status"`
	Org      string          `json:"org"`
	Settings json.RawMessage `json:"settings"`
	Tail
}

// SourceStatus is a source's state and counters, as
// /api/v1/sources/{id}/status shows it.
type SourceStatus struct {
	ID    string `json:"id"`
	State State  `json:"state"`
	// Health is ok, failing (for longer than the alert threshold) or
	// silent (no new event for longer than its threshold).
	Health             string    `json:"health"`
	Events             uint64    `json:"events"`
	Duplicates         uint64    `json:"duplicates"`
	LastPollAt         time.Time `json:"lastPollAt,omitzero"`
	LastSuccessAt      time.Time `json:"lastSuccessAt,omitzero"`
	LastEventPublished time.Time `json:"lastEventPublished,omitzero"`
	CaughtUp           bool      `json:"caughtUp"`
	// ReadUpTo is the source's cursor as a time: how far it has read (the
	// newest event read while catching up, the last poll once caught up).
	ReadUpTo      time.Time `json:"readUpTo,omitzero"`
	LagSeconds    float64   `json:"lagSeconds"`
	LastError     string    `json:"lastError,omitempty"`
	LastErrorKind string    `json:"lastErrorKind,omitempty"`
	LastErrorAt   time.Time `json:"lastErrorAt,omitzero"`
	FailingSince  time.Time `json:"failingSince,omitzero"`
	// RateLimit is the org's last rate-limit state, when it sent one.
	RateLimit *RateLimit `json:"rateLimit,omitempty"`
	// Backfill is the last on-demand backfill, when there was one.
	Backfill *Backfill `json:"backfill,omitempty"`
}

// RateLimit is the last rate-limit state the org reported.
type RateLimit struct {
	Limit     int       `json:"limit"`
	Remaining int       `json:"remaining"`
	Reset     time.Time `json:"reset,omitzero"`
}

// BackfillState is where a backfill is.
type BackfillState string

// States of a Backfill.
const (
	BackfillRunning BackfillState = "RUNNING"
	BackfillDone    BackfillState = "DONE"
	BackfillFailed  BackfillState = "FAILED"
)

// Backfill reports an on-demand bounded pull.
type Backfill struct {
	State  BackfillState `json:"state"`
	Since  time.Time     `json:"since"`
	Until  time.Time     `json:"until"`
	Events uint64        `json:"events"`
	// Reached is the published time of the newest event the backfill has
	// read (it reads in published order): its progress through
	// [Since, Until).
	Reached  time.Time `json:"reached,omitzero"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished,omitzero"`
	Error    string    `json:"error,omitempty"`
}
