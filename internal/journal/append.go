package journal

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/auditstream/auditstream/internal/event"
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

// Append stores events and returns once JetStream has acknowledged every one
// of them. It gives up when JetStream acknowledges nothing for
// Options.AppendTimeout: under load acknowledgements keep coming (at most
// maxPendingAsync publishes are ahead of any one), while a stuck store
// answers nothing. On error it returns an
// *AppendError that lists the events that were acknowledged; appending the
// others (or all) again is safe because uuids de-duplicate. While the store
// is known to be failing (see Options.Health) Append fails at once and
// stores nothing.
func (j *Journal) Append(ctx context.Context, evs []event.Record) (Result, error) {
	var res Result
	if reason, full := j.health.fastFail(); reason != "" {
		return res, &AppendError{Full: full, Err: errors.New(reason)}
	}
	js := j.pub.Load().js
	futures := make([]jetstream.PubAckFuture, 0, len(evs))
	var pubErr error
	for i := range evs {
		ev := &evs[i]
		m := nats.NewMsg(event.Subject(ev.Org, ev.EventType))
		m.Data = ev.Data
		m.Header.Set(HeaderOrg, ev.Org)
		m.Header.Set(HeaderUUID, ev.UUID)
		m.Header.Set(HeaderType, ev.EventType)
		m.Header.Set(HeaderPublished, strconv.FormatInt(ev.Published.UnixNano(), 10))
		if ev.Source != "" {
			m.Header.Set(HeaderSource, ev.Source)
		}
		if ev.Account != "" {
			m.Header.Set(HeaderAccount, ev.Account)
		}
		f, err := js.PublishMsgAsync(m, jetstream.WithMsgID(MsgID(ev.Org, ev.UUID)), jetstream.WithExpectStream(j.opts.Stream),
			jetstream.WithStallWait(j.opts.AppendTimeout))
		if err != nil {
			pubErr = fmt.Errorf("publish: %w", err)
			break
		}
		futures = append(futures, f)
	}
	// Wait for every published event, also after a failure, so the error
	// can say exactly which were stored.
	var stored []int
	var firstErr error
	first := j.opts.AppendTimeout
	if pubErr != nil {
		// Publishing stalled for AppendTimeout already: take what was
		// acknowledged and give up.
		first = time.Millisecond
	}
	idle := time.NewTimer(first)
	defer idle.Stop()
wait:
	for i, f := range futures {
		var gaveUp error
		select {
		case ack := <-f.Ok():
			stored = append(stored, i)
			if ack.Duplicate {
				res.Duplicates++
			} else {
				res.Stored++
			}
			idle.Reset(j.opts.AppendTimeout)
		case err := <-f.Err():
			if firstErr == nil {
				firstErr = err
			}
		case <-idle.C:
			gaveUp = fmt.Errorf("%w: no acknowledgement for %s", errStalled, j.opts.AppendTimeout)
		case <-ctx.Done():
			gaveUp = ctx.Err()
		}
		if gaveUp != nil {
			if firstErr == nil {
				firstErr = gaveUp
			}
			// Take the acknowledgements that did arrive.
			for k := i; k < len(futures); k++ {
				select {
				case ack := <-futures[k].Ok():
					stored = append(stored, k)
					if ack.Duplicate {
						res.Duplicates++
					} else {
						res.Stored++
					}
				default:
				}
			}
			break wait
		}
	}
	if firstErr == nil {
		firstErr = pubErr
	}
	if firstErr == nil {
		j.health.appendOK(j)
		return res, nil
	}
	if IsCapReached(firstErr) {
		// journal.maxBytes, not a failing store: retention frees space.
		j.signalFull()
		return res, &AppendError{Stored: stored, CapReached: true, Err: firstErr}
	}
	full := isFull(firstErr)
	var apiErr *jetstream.APIError
	if !full && (errors.Is(firstErr, context.Canceled) || errors.As(firstErr, &apiErr)) {
		// The caller gave up, or JetStream answered with a refusal (a
		// stream limit, a bad message): neither says the store is failing.
		return res, &AppendError{Stored: stored, Err: firstErr}
	}
	if diag := j.diagnose(); diag != "" {
		firstErr = fmt.Errorf("%w (%s)", firstErr, diag)
		full = full || strings.Contains(diag, "no space left")
	}
	j.health.appendFailed(j, firstErr.Error(), full)
	return res, &AppendError{Stored: stored, Full: full, Err: firstErr}
}

// errStalled is the cause of an Append that JetStream stopped
// acknowledging.
var errStalled = errors.New("journal stalled")

// isFull reports errors that mean the disk or the store is full.
func isFull(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "no space left") || isInsufficientStorage(err))
}
