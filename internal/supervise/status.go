package supervise

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/auditstream/auditstream/internal/kvstore"
	"github.com/auditstream/auditstream/internal/wire"
)

// State is what a supervised definition is doing, as its status endpoint
// reports it (wire.State). Kinds add states of their own (a paused log
// stream).
type State = wire.State

// States shared by log streams and sources.
const (
	// StateActive: delivering or polling normally.
	StateActive State = "active"
	// StateInactive: deactivated by an operator.
	StateInactive State = "inactive"
	// StateRetrying: the last attempt failed and is being retried.
	StateRetrying State = "retrying"
	// StateError: the other side refuses the configuration or the
	// credential; retried slowly.
	StateError State = "error"
	// StateThrottled: the other side asked us to wait (a rate limit); not
	// a failure.
	StateThrottled State = "throttled"
)

// Status is the live status of one definition; P is the snapshot the
// status bucket keeps of it.
type Status[P any] interface {
	// Record returns the snapshot to save for id at now.
	Record(id string, now time.Time) P
	// Restore loads what an earlier run, or another node, saved.
	Restore(saved P)
}

// StatusStore keeps the statuses of one kind in the shared status bucket,
// each under Prefix+id. Without a bucket (KV nil) it keeps nothing: Load
// finds nothing and Save and Delete do nothing.
type StatusStore[P any] struct {
	KV jetstream.KeyValue
	// Prefix sets one kind's keys apart from another's in the same bucket.
	Prefix string
}

// Enabled reports whether the store has a bucket.
func (s StatusStore[P]) Enabled() bool { return s.KV != nil }

// Load reads the status saved for id, reporting false when there is none
// (or it cannot be read).
func (s StatusStore[P]) Load(id string) (P, bool) {
	if s.KV == nil {
		var zero P
		return zero, false
	}
	return kvstore.GetJSON[P](s.KV, s.Prefix+id)
}

// Save writes the status of id.
func (s StatusStore[P]) Save(ctx context.Context, id string, p P) error {
	if s.KV == nil {
		return nil
	}
	return kvstore.PutJSON(ctx, s.KV, s.Prefix+id, p)
}

// Delete removes the status of id.
func (s StatusStore[P]) Delete(ctx context.Context, id string) error {
	if s.KV == nil {
		return nil
	}
	return s.KV.Delete(ctx, s.Prefix+id)
}
