package wire

import (
	"encoding/json"
	"time"
)

// Stream is a log stream as /api/v1/logStreams shows it: Okta's LogStream
// object plus auditstream's filter and org.
type Stream struct {
	// ID is assigned by the server.
	ID string `json:"id"`
	// Type is the destination type, e.g. "http".
	Type string `json:"type"`
	// Name is unique per org.
	Name string `json:"name"`
	// Status is ACTIVE or INACTIVE; the lifecycle endpoints change it.
	Status string `json:"status"`
	// Settings are the destination's settings, its secrets removed.
	Settings json.RawMessage `json:"settings"`
	// Filter is the optional EventBridge event pattern selecting the events.
	Filter json.RawMessage `json:"filter,omitempty"`
	// Org is the organisation the stream belongs to, "*" for every org.
	Org string `json:"org"`
	// SecretsSet names the write-only settings that hold a value, as
	// dotted paths from the stream ("settings.auth.password"), never the
	// value: forms show them as set or unset.
	SecretsSet []string `json:"secretsSet,omitempty"`
	Tail
}

// State is what a log stream or a source is doing, as its status shows
// it: active, inactive, retrying, throttled or error, and paused for a log
// stream.
type State string

// StreamStatus is the delivery state and counters of one log stream, as
// /api/v1/logStreams/{id}/status shows it.
type StreamStatus struct {
	ID           string  `json:"id"`
	State        State   `json:"state"`
	Delivered    uint64  `json:"delivered"`
	Failed       uint64  `json:"failed"`
	Retried      uint64  `json:"retried"`
	DeadLettered uint64  `json:"deadLettered"`
	LagEvents    uint64  `json:"lagEvents"`
	LagSeconds   float64 `json:"lagSeconds"`
	LastError    string  `json:"lastError,omitempty"`
	// LastErrorAt and LastSuccessAt are zero when it never happened.
	LastErrorAt   time.Time `json:"lastErrorAt,omitzero"`
	LastSuccessAt time.Time `json:"lastSuccessAt,omitzero"`
	// DroppedByRetention is set once the stream lost events to the
	// journal's retention (see Dropped).
	DroppedByRetention *Dropped `json:"droppedByRetention,omitempty"`
	// RetentionBlocking is true while the journal is near its cap and this
	// stream's undelivered events keep retention from freeing space; at
	// the cap ingest answers 507.
	RetentionBlocking bool `json:"retentionBlocking,omitempty"`
	// PerMinute is the recent history of deliveries and failures, one
	// count a minute (absent until the stream delivered or failed once).
	PerMinute *PerMinute `json:"perMinute,omitempty"`
}

// PerMinute counts a log stream's deliveries (events acknowledged by the
// destination) and failures (failed writes, as Failed counts them) per
// UTC minute. Delivered[i] and Failed[i] belong to the minute that starts
// len-1-i minutes before Last: the last element is Last's minute. Minutes
// without activity count 0.
type PerMinute struct {
	// Last is the start of the newest minute.
	Last      time.Time `json:"last"`
	Delivered []uint64  `json:"delivered"`
	Failed    []uint64  `json:"failed"`
}

// UnmarshalJSON decodes a status, taking empty or null times as unset.
func (s *StreamStatus) UnmarshalJSON(b []byte) error {
	type plain StreamStatus
	return decodeTimes(b, (*plain)(s), map[string]*time.Time{"lastErrorAt": &s.LastErrorAt, "lastSuccessAt": &s.LastSuccessAt})
}

// Dropped accounts for events the journal removed before the stream
// delivered them: purged by retention with journal.whenFull dropOldest
// (or an inactive stream's under protect), or found missing (maxAge,
// loss). Counts are cumulative.
type Dropped struct {
	// Events is how many events the stream lost. For gaps found after the
	// fact it counts journal sequences, since the events are gone.
	Events uint64 `json:"events"`
	// Gaps is how many separate ranges were lost.
	Gaps uint64 `json:"gaps"`
	// FromSeq and ToSeq span the journal sequences of every gap.
	FromSeq uint64 `json:"fromSeq"`
	ToSeq   uint64 `json:"toSeq"`
	// Last is the most recent gap.
	Last Gap `json:"last"`
}

// Gap is one range of journal sequences a stream lost.
type Gap struct {
	FromSeq uint64 `json:"fromSeq"`
	ToSeq   uint64 `json:"toSeq"`
	Events  uint64 `json:"events"`
	// Cause is "retention" (purged at the cap, or an inactive stream's
	// events) or "missing" (gone before retention looked).
	Cause string    `json:"cause"`
	At    time.Time `json:"at"`
}

// DeadLetter is one event a log stream gave up delivering, as
// /api/v1/logStreams/{id}/deadLetters shows it.
type DeadLetter struct {
	// Seq is the dead letter's own sequence (used to redrive or delete it).
	Seq uint64 `json:"seq"`
	// JournalSeq is the sequence of the journal message that held the
	// event (where a replay would start to deliver it again), in the
	// stream of its org's journal partition (journal.partitions).
	JournalSeq uint64 `json:"journalSeq"`
	UUID       string `json:"uuid"`
	// Reason is the destination's refusal, at most 1 KiB.
	Reason string `json:"reason"`
	// At is when the event was dead-lettered.
	At    time.Time       `json:"at"`
	Event json.RawMessage `json:"event"`
}

// UnmarshalJSON decodes a dead letter, taking an empty or null time as unset.
func (d *DeadLetter) UnmarshalJSON(b []byte) error {
	type plain DeadLetter
	return decodeTimes(b, (*plain)(d), map[string]*time.Time{"at": &d.At})
}
