package sink

import (
	"context"

	"github.com/auditstream/auditstream/internal/event"
)

// WriteEach is Write for a destination that takes one event per request:
// it sends the records of b in order with send. A permanent failure of one
// record does not stop the others; any other failure stops the batch there
// and fails the records after it with the same error. The outcome is nil
// when all were delivered, that one error when nothing got through for one
// reason, and otherwise a *PartialError. A cancelled ctx returns ctx.Err().
func WriteEach(ctx context.Context, b Batch, send func(i int, r event.Record) error) error {
	failed := make(map[int]error)
	var stop error
	for i, r := range b.Records {
		if stop != nil {
			failed[i] = stop
			continue
		}
		err := send(i, r)
		if err == nil {
			continue
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		failed[i] = err
		if class, _ := ClassOf(err); class != ClassPermanent {
			stop = err
		}
	}
	switch {
	case len(failed) == 0:
		return nil
	case stop != nil && failed[0] == stop:
		return stop // nothing got through, for one reason
	default:
		return &PartialError{Failed: failed}
	}
}
