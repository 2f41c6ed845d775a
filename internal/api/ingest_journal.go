package api

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/httpapi"
	"github.com/auditstream/auditstream/internal/journal"
)

// Retry-After of a failed append: a full disk needs an operator or
// retention to free space, other failures usually pass at once.
const (
	retryFull        = 10 * time.Second
	retryUnavailable = 5 * time.Second
)

// appendFailure answers an append the journal refused: 507 when its disk
// or store is full, else 503, both with Retry-After. When some events were
// stored before the failure, the causes say exactly which (by position in
// the request and uuid), so a producer that let the server generate uuids
// can resend only the others; resending all is safe too, uuids
// de-duplicate.
func appendFailure(err error, evs []event.Record) *httpapi.Error {
	e := &httpapi.Error{Status: http.StatusServiceUnavailable, Code: httpapi.CodeUnavailable,
		Summary: "The journal could not store the events; retry (events are de-duplicated by uuid)", RetryAfter: retryUnavailable}
	if errors.Is(err, journal.ErrStorageFull) {
		e.Status, e.RetryAfter = http.StatusInsufficientStorage, retryFull
		e.Summary = "The journal's storage is full; retry later (events are de-duplicated by uuid)"
	}
	e.Causes = append(e.Causes, storedCauses(err, evs)...)
	return e
}

// storedCauses say which events of a failed append were stored.
func storedCauses(err error, evs []event.Record) []string {
	var ae *journal.AppendError
	if !errors.As(err, &ae) || len(ae.Stored) == 0 {
		return []string{"no event of this request was confirmed stored: resend them all"}
	}
	causes := []string{fmt.Sprintf("%d of %d events were stored before the failure, listed below; the others were not confirmed: resend them", len(ae.Stored), len(evs))}
	for _, i := range ae.Stored {
		causes = append(causes, fmt.Sprintf("stored: event %d uuid %s", i, evs[i].UUID))
	}
	return causes
}
