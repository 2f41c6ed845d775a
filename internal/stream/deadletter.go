package stream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/auditstream/auditstream/internal/egress"
	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/sink"
	"github.com/auditstream/auditstream/internal/wire"
)

// writeDeadLetters stores recs in stream id's dead letters with reason,
// as the destination may see it (egress.PublicMessage, at most 1 KiB). See
// journal.WriteDeadLetters for what it returns.
func writeDeadLetters(ctx context.Context, j *journal.Journal, id string, recs []event.Record, reason error) (int, error) {
	return j.WriteDeadLetters(ctx, id, recs, truncate(egress.PublicMessage(reason), 1024))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// DeadLetter is one undeliverable event as the API shows it, with the
// record a redrive writes again.
type DeadLetter struct {
	wire.DeadLetter

	rec event.Record
}

// ListDeadLetters returns up to limit dead letters of stream id, oldest first.
func ListDeadLetters(ctx context.Context, j *journal.Journal, id string, limit int) ([]DeadLetter, error) {
	js := j.JetStream()
	stream, err := js.Stream(ctx, journal.DefaultDeadLetterStream)
	if err != nil {
		return nil, fmt.Errorf("read dead letters: %w", err)
	}
	subj := journal.DeadLetterSubject(id)
	info, err := stream.Info(ctx, jetstream.WithSubjectFilter(subj))
	if err != nil {
		return nil, fmt.Errorf("read dead letters: %w", err)
	}
	pending := info.State.Subjects[subj]
	out := []DeadLetter{}
	if pending == 0 || limit <= 0 {
		return out, nil
	}
	c, err := js.OrderedConsumer(ctx, journal.DefaultDeadLetterStream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{subj},
	})
	if err != nil {
		return nil, fmt.Errorf("read dead letters: %w", err)
	}
	err = journal.ReadConsumer(ctx, c, min(limit, 500), func(m jetstream.Msg, _ *jetstream.MsgMetadata) bool {
		if dl, err := toDeadLetter(m); err == nil {
			out = append(out, dl)
		}
		return len(out) < limit
	})
	if err != nil {
		return nil, fmt.Errorf("read dead letters: %w", err)
	}
	return out, nil
}

func toDeadLetter(m jetstream.Msg) (DeadLetter, error) {
	md, err := m.Metadata()
	if err != nil {
		return DeadLetter{}, err
	}
	dl, err := journal.DecodeDeadLetter(journal.Message{Subject: m.Subject(), Header: m.Headers(), Data: m.Data(), Seq: md.Sequence.Stream})
	if err != nil {
		return DeadLetter{}, err
	}
	rec := dl.Record
	rec.Data = append([]byte(nil), rec.Data...)
	return DeadLetter{DeadLetter: wire.DeadLetter{Seq: dl.Seq, JournalSeq: journal.MsgSeqOf(rec.Seq), UUID: rec.UUID, Reason: dl.Reason,
		At: md.Timestamp.UTC(), Event: json.RawMessage(rec.Data)}, rec: rec}, nil
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
	return stream.Purge(ctx, jetstream.WithPurgeSubject(journal.DeadLetterSubject(id)))
}
