package stream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/auditstream/auditstream/internal/egress"
	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/sink"
)

// Dead-letter message headers.
const (
	hdrReason = "Audit-Dead-Reason"
	hdrSeq    = "Audit-Seq"
	hdrUUID   = "Audit-UUID"
)

func deadLetterSubject(id string) string { return "deadletter." + id }

// writeDeadLetters appends recs to the stream's dead letters and waits for
// the journal to have them. It returns how many it stored: on error the
// caller retries with the rest, so a letter is not stored twice. A full
// dead-letter store gives an error wrapping journal.ErrDeadLettersFull.
func writeDeadLetters(ctx context.Context, j *journal.Journal, id string, recs []event.Record, reason error) (int, error) {
	js := j.JetStream()
	for i, rec := range recs {
		m := nats.NewMsg(deadLetterSubject(id))
		m.Data = rec.Data
		m.Header.Set(hdrReason, truncate(egress.PublicMessage(reason), 1024))
		m.Header.Set(hdrSeq, strconv.FormatUint(rec.Seq, 10))
		m.Header.Set(hdrUUID, rec.UUID)
		m.Header.Set(journal.HeaderOrg, rec.Org)
		m.Header.Set(journal.HeaderType, rec.EventType)
		m.Header.Set(journal.HeaderPublished, strconv.FormatInt(rec.Published.UnixNano(), 10))
		if _, err := js.PublishMsg(ctx, m); err != nil {
			if journal.IsCapReached(err) {
				return i, fmt.Errorf("%w (journal.deadLetters.maxBytes reached; redrive or purge dead letters, or raise the cap): %w",
					journal.ErrDeadLettersFull, err)
			}
			return i, fmt.Errorf("publish dead letter: %w", err)
		}
	}
	return len(recs), nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// DeadLetter is one undeliverable event as the API shows it.
type DeadLetter struct {
	// Seq is the dead letter's own sequence (used to redrive or delete it).
	Seq uint64 `json:"seq"`
	// JournalSeq is the event's sequence in the journal.
	JournalSeq uint64          `json:"journalSeq"`
	UUID       string          `json:"uuid"`
	Reason     string          `json:"reason"`
	At         time.Time       `json:"at"`
	Event      json.RawMessage `json:"event"`

	rec event.Record
}

// ListDeadLetters returns up to limit dead letters of stream id, oldest first.
func ListDeadLetters(ctx context.Context, j *journal.Journal, id string, limit int) ([]DeadLetter, error) {
	js := j.JetStream()
	stream, err := js.Stream(ctx, journal.DefaultDeadLetterStream)
	if err != nil {
		return nil, fmt.Errorf("read dead letters: %w", err)
	}
	subj := deadLetterSubject(id)
	info, err := stream.Info(ctx, jetstream.WithSubjectFilter(subj))
	if err != nil {
		return nil, fmt.Errorf("read dead letters: %w", err)
	}
	pending := info.State.Subjects[subj]
	out := []DeadLetter{}
	if pending == 0 {
		return out, nil
	}
	c, err := js.OrderedConsumer(ctx, journal.DefaultDeadLetterStream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{subj},
	})
	if err != nil {
		return nil, fmt.Errorf("read dead letters: %w", err)
	}
	for uint64(len(out)) < pending && len(out) < limit {
		want := min(limit-len(out), int(pending)-len(out), 500)
		batch, err := c.Fetch(want, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			return nil, fmt.Errorf("read dead letters: %w", err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			dl, err := toDeadLetter(m)
			if err != nil {
				continue
			}
			out = append(out, dl)
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
			return nil, fmt.Errorf("read dead letters: %w", err)
		}
		if n == 0 {
			break
		}
	}
	return out, nil
}

func toDeadLetter(m jetstream.Msg) (DeadLetter, error) {
	md, err := m.Metadata()
	if err != nil {
		return DeadLetter{}, err
	}
	h := m.Headers()
	jseq, _ := strconv.ParseUint(h.Get(hdrSeq), 10, 64)
	rec := event.Record{
		UUID:      h.Get(hdrUUID),
		Seq:       jseq,
		Org:       h.Get(journal.HeaderOrg),
		EventType: h.Get(journal.HeaderType),
		Data:      append([]byte(nil), m.Data()...),
	}
	if ns, err := strconv.ParseInt(h.Get(journal.HeaderPublished), 10, 64); err == nil {
		rec.Published = time.Unix(0, ns).UTC()
	}
	return DeadLetter{Seq: md.Sequence.Stream, JournalSeq: jseq, UUID: rec.UUID, Reason: h.Get(hdrReason),
		At: md.Timestamp.UTC(), Event: json.RawMessage(rec.Data), rec: rec}, nil
}

// Redrive writes the dead letters of stream id to s again, removing each
// one the destination accepts. Those it still refuses stay, with their
// reason. It returns how many were redriven.
func Redrive(ctx context.Context, j *journal.Journal, id string, s sink.Sink, st *Status) (int, error) {
	dls, err := ListDeadLetters(ctx, j, id, 100000)
	if err != nil {
		return 0, err
	}
	stream, err := j.JetStream().Stream(ctx, journal.DefaultDeadLetterStream)
	if err != nil {
		return 0, err
	}
	lim := s.Limits()
	if lim.MaxEvents <= 0 {
		lim.MaxEvents = 500
	}
	done := 0
	for len(dls) > 0 {
		n, bytes := 0, 0
		for n < len(dls) && n < lim.MaxEvents {
			sz := s.EncodedSize(dls[n].rec)
			if n > 0 && lim.MaxBytes > 0 && bytes+sz > lim.MaxBytes {
				break
			}
			bytes += sz
			n++
		}
		chunk := dls[:n]
		dls = dls[n:]
		recs := make([]event.Record, n)
		for i, dl := range chunk {
			recs[i] = dl.rec
		}
		err := s.Write(ctx, sink.Batch{Records: recs})
		failed := map[int]bool{}
		var pe *sink.PartialError
		switch {
		case err == nil:
		case errors.As(err, &pe):
			for i := range pe.Failed {
				failed[i] = true
			}
		default:
			return done, fmt.Errorf("redrive: %w", err)
		}
		for i, dl := range chunk {
			if failed[i] {
				continue
			}
			if err := stream.DeleteMsg(ctx, dl.Seq); err != nil {
				return done, fmt.Errorf("remove redriven dead letter: %w", err)
			}
			done++
			if st != nil {
				st.redriven(1)
			}
		}
	}
	return done, nil
}

// PurgeDeadLetters removes all dead letters of stream id.
func PurgeDeadLetters(ctx context.Context, j *journal.Journal, id string) error {
	stream, err := j.JetStream().Stream(ctx, journal.DefaultDeadLetterStream)
	if err != nil {
		return err
	}
	return stream.Purge(ctx, jetstream.WithPurgeSubject(deadLetterSubject(id)))
}
