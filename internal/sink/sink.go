// Package sink defines what a log stream destination is: something that
// writes one batch of events to a place and says how that went.
//
// The stream runner owns everything that is the same for all destinations:
// fetching from the journal, filtering, batching within the sink's Limits,
// retries with backoff, Retry-After, dead letters, acks, status and metrics.
// A sink only knows how to write one batch and how to classify what its
// destination answered.
//
// Lifecycle: a sink is built by its package's New, may be checked with
// Verify (a "test connection" before a stream is created or activated),
// receives Write calls from exactly one goroutine at a time, and is closed
// once with Close. An ungraceful stop may make the runner write a batch
// again (at-least-once): sinks that can, make writes idempotent by the record's UUID.
package sink

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/auditstream/auditstream/internal/event"
)

// Batch is an ordered group of records, in journal order, within the sink's
// Limits. Sinks must not modify a record's Data and may keep it only until
// Write returns (it points into the journal's message).
type Batch struct {
	Records []event.Record
}

// Limits bound what the runner hands to Write. Zero means no limit of that
// kind.
type Limits struct {
	// MaxEvents is the most records in one batch.
	MaxEvents int
	// MaxBytes is the most encoded bytes in one batch, counted with
	// Sink.EncodedSize.
	MaxBytes int
	// MaxEventBytes is the largest single record the destination accepts;
	// the runner dead-letters larger ones without calling Write.
	MaxEventBytes int
	// MaxAge is how long the runner may hold a partial batch before it is
	// written anyway (zero: the runner's default).
	MaxAge time.Duration
}

// Sink writes batches of events to one destination.
type Sink interface {
	// Limits reports the batch limits; they do not change over the sink's
	// life.
	Limits() Limits

	// EncodedSize reports how many bytes r adds to a batch as the sink
	// will encode it, so the runner can batch by encoded size.
	EncodedSize(r event.Record) int

	// Write delivers b and blocks until the destination has it or the
	// attempt failed. A nil error means every record was delivered.
	// Otherwise the error is classified with this package's helpers:
	// Permanent (do not retry: dead-letter), Throttled (retry after a
	// delay), Paused (stop the stream until an operator acts) or, by
	// default, retryable. A *PartialError reports per-record outcomes so
	// that only failed records are retried or dead-lettered.
	// When ctx is cancelled, Write returns promptly with ctx's error; the
	// batch then counts as not delivered. Write must not retain b after it
	// returns.
	Write(ctx context.Context, b Batch) error

	// Verify checks that the destination is reachable and accepts writes
	// with the configured settings (the "test connection" of the API). It
	// must not deliver events.
	Verify(ctx context.Context) error

	// Close flushes and releases resources. It is called once, after the
	// last Write has returned.
	Close(ctx context.Context) error
}

// Skip is the start of every Write: it reports whether Write has nothing
// to do (an empty batch, with err nil) or must stop with err (the sink is
// closed, named by name in the error, or ctx is done).
func Skip(ctx context.Context, b Batch, closed bool, name string) (skip bool, err error) {
	switch {
	case len(b.Records) == 0:
		return true, nil
	case closed:
		return true, fmt.Errorf("%s sink: write after close", name)
	default:
		err = ctx.Err()
		return err != nil, err
	}
}

// Closed is a sink's closed flag: Write checks it with Skip(ctx, b,
// closed.Load(), name) and Close releases the sink's resources once.
type Closed struct{ closed atomic.Bool }

// Load reports whether Close has been called.
func (c *Closed) Load() bool { return c.closed.Load() }

// Close runs release the first time it is called, and returns nil: a
// sink's Close may be called more than once.
func (c *Closed) Close(release func()) error {
	if !c.closed.Swap(true) {
		release()
	}
	return nil
}
