package journal

import (
	"context"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go"

	"github.com/auditstream/auditstream/internal/event"
)

// Dead letters live in the dead-letter stream (DefaultDeadLetterStream),
// one message per undeliverable event on deadletter.<log stream id>: the
// event's JSON as the payload, the rest in headers. Their format lives
// here; internal/stream decides what goes there and why.
//
// Dead letters written before issue 12 have no Audit-Position, Source or
// Account header, and their Audit-Seq is the event's message sequence;
// DecodeDeadLetter reads both.
const (
	dlHeaderReason   = "Audit-Dead-Reason"
	dlHeaderSeq      = "Audit-Seq" // the message sequence of the event
	dlHeaderPosition = "Audit-Position"
)

// DeadLetterSubject is the subject of log stream id's dead letters.
func DeadLetterSubject(id string) string { return "deadletter." + id }

// DeadLetter is a dead letter as stored.
type DeadLetter struct {
	// Record is the event, with its journal position as Seq. Its Data
	// points into the message read (copy to keep).
	Record event.Record
	// Reason is why it could not be delivered.
	Reason string
	// Seq is the dead letter's own sequence in the dead-letter stream.
	Seq uint64
}

// WriteDeadLetters appends recs to log stream id's dead letters with
// reason and waits for the journal to have each. It returns how many it
// stored: on error the caller retries with the rest, so a letter is not
// stored twice. A full dead-letter store gives an error wrapping
// ErrDeadLettersFull.
func (j *Journal) WriteDeadLetters(ctx context.Context, id string, recs []event.Record, reason string) (int, error) {
	subj := DeadLetterSubject(id)
	for i := range recs {
		rec := &recs[i]
		m := nats.NewMsg(subj)
		m.Data = rec.Data
		m.Header.Set(dlHeaderReason, reason)
		m.Header.Set(dlHeaderSeq, strconv.FormatUint(MsgSeqOf(rec.Seq), 10))
		m.Header.Set(dlHeaderPosition, strconv.FormatUint(rec.Seq, 10))
		setRecordHeaders(m.Header, rec)
		if _, err := j.js.PublishMsg(ctx, m); err != nil {
			if IsCapReached(err) {
				return i, fmt.Errorf("%w (journal.deadLetters.maxBytes reached; redrive or purge dead letters, or raise the cap): %w",
					ErrDeadLettersFull, err)
			}
			return i, fmt.Errorf("publish dead letter: %w", err)
		}
	}
	return len(recs), nil
}

// DecodeDeadLetter reads a message of the dead-letter stream (m.Seq is its
// sequence there).
func DecodeDeadLetter(m Message) (DeadLetter, error) {
	h := m.Header
	if len(h) == 0 {
		return DeadLetter{}, fmt.Errorf("%w: dead letter %d has no headers", ErrCorrupt, m.Seq)
	}
	rec := headerRecord(h, m.Data)
	if pos, err := strconv.ParseUint(h.Get(dlHeaderPosition), 10, 64); err == nil {
		rec.Seq = pos
	} else {
		seq, _ := strconv.ParseUint(h.Get(dlHeaderSeq), 10, 64)
		rec.Seq = Position(seq, 0)
	}
	return DeadLetter{Record: rec, Reason: h.Get(dlHeaderReason), Seq: m.Seq}, nil
}
