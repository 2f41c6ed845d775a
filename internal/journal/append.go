package journal

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/auditstream/auditstream/internal/event"
)

// ErrUnavailable wraps append failures where the journal could not take the
// events (not connected, too slow, shutting down). Callers answer 503 and
// the producer retries; de-duplication by uuid makes the retry safe.
var ErrUnavailable = errors.New("journal unavailable")

// Result counts what Append did.
type Result struct {
	// Stored is how many events were new.
	Stored int
	// Duplicates is how many were already in the journal (same uuid within
	// the de-duplication window).
	Duplicates int
}

// Append stores events and returns once JetStream has acknowledged every one
// of them. On error some events may have been stored; appending the same
// events again is safe because uuids de-duplicate.
func (j *Journal) Append(ctx context.Context, evs []event.Event) (Result, error) {
	var res Result
	futures := make([]jetstream.PubAckFuture, 0, len(evs))
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
		f, err := j.js.PublishMsgAsync(m, jetstream.WithMsgID(MsgID(ev.Org, ev.UUID)), jetstream.WithExpectStream(j.opts.Stream))
		if err != nil {
			return res, fmt.Errorf("%w: publish: %v", ErrUnavailable, err)
		}
		futures = append(futures, f)
	}
	for _, f := range futures {
		select {
		case ack := <-f.Ok():
			if ack.Duplicate {
				res.Duplicates++
			} else {
				res.Stored++
			}
		case err := <-f.Err():
			return res, j.appendError(err)
		case <-ctx.Done():
			return res, fmt.Errorf("%w: %v", ErrUnavailable, ctx.Err())
		}
	}
	return res, nil
}
