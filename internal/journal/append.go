package journal

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ErrUnavailable wraps append failures where the journal could not take the
// events (not connected, too slow, shutting down). Callers answer 503 and
// the producer retries; de-duplication by uuid makes the retry safe.
var ErrUnavailable = errors.New("journal unavailable")

// ErrStorageFull wraps append failures caused by a full disk or a full
// JetStream store. Callers answer 507 with Retry-After: the journal
// recovers by itself once space is freed.
var ErrStorageFull = errors.New("journal storage full")

// Result counts what Append did.
type Result struct {
	// Stored is how many events were new.
	Stored int
	// Duplicates is how many were already in the journal (same uuid within
	// the de-duplication window).
	Duplicates int
}

// AppendError is the error of an Append that failed. It matches
// ErrUnavailable, and ErrStorageFull when the store is full.
type AppendError struct {
	// Stored lists, in order, the indexes (into the events given to
	// Append) of the events JetStream acknowledged, as new or duplicate,
	// before the failure. Every other event was not confirmed: send it
	// again (its uuid de-duplicates it should it have been stored after
	// all).
	Stored []int
	// Full reports a full disk or store.
	Full bool
	// CapReached reports that the events stream is at journal.maxBytes:
	// JetStream refuses new events there (DiscardNew) until retention
	// purges (see Full and ErrFull).
	CapReached bool
	// Err is the cause.
	Err error
}

// Error describes the failure.
func (e *AppendError) Error() string {
	return fmt.Sprintf("%v: %v (%d events acknowledged before the failure)", e.kind(), e.Err, len(e.Stored))
}

func (e *AppendError) kind() error {
	switch {
	case e.Full:
		return ErrStorageFull
	case e.CapReached:
		return ErrFull
	}
	return ErrUnavailable
}

// Unwrap returns ErrUnavailable, ErrStorageFull when Full, ErrFull when
// CapReached, and the cause.
func (e *AppendError) Unwrap() []error {
	switch {
	case e.Full:
		return []error{ErrUnavailable, ErrStorageFull, e.Err}
	case e.CapReached:
		return []error{ErrUnavailable, ErrFull, e.Err}
	}
	return []error{ErrUnavailable, e.Err}
}

// publisher is a JetStream context for Append's async publishes.
type publisher struct{ js jetstream.JetStream }

// asyncAckTimeout drops the futures of publishes JetStream never answers (a
// stream with a write error does not reply), so they cannot hold the
// pending slots forever and stall every later publish. Append gives up
// sooner, see Options.AppendTimeout.
const asyncAckTimeout = 30 * time.Second

// newPublisher (re)creates Append's JetStream context.
func (j *Journal) newPublisher() error {
	js, err := jetstream.New(j.nc, jetstream.WithPublishAsyncMaxPending(maxPendingAsync),
		jetstream.WithPublishAsyncTimeout(max(asyncAckTimeout, 2*j.opts.AppendTimeout)))
	if err != nil {
		return err
	}
	j.pub.Store(&publisher{js: js})
	return nil
}

// errStalled is the cause of an Append that JetStream stopped
// acknowledging.
var errStalled = errors.New("journal stalled")

// isFull reports errors that mean the disk or the store is full.
func isFull(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "no space left") || isInsufficientStorage(err))
}
