package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/auditstream/auditstream/internal/auth"
	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/httpapi"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/stream"
)

type ingestMetrics struct {
	events   prometheus.Counter
	dups     prometheus.Counter
	bytes    prometheus.Counter
	rejected *prometheus.CounterVec
}

// maxInflightIngest bounds concurrent ingest requests; past it producers get
// 429 and back off instead of piling requests onto the journal.
const maxInflightIngest = 64

func newIngestMetrics(reg prometheus.Registerer) *ingestMetrics {
	f := promauto.With(reg) // registers with reg, when there is one
	return &ingestMetrics{
		events: f.NewCounter(prometheus.CounterOpts{Name: "auditstream_ingest_events_total",
			Help: "Events accepted into the journal through the ingest API."}),
		dups: f.NewCounter(prometheus.CounterOpts{Name: "auditstream_ingest_duplicate_events_total",
			Help: "Events sent again with a uuid the journal already had."}),
		bytes: f.NewCounter(prometheus.CounterOpts{Name: "auditstream_ingest_bytes_total",
			Help: "Request body bytes (decompressed) of accepted ingest requests."}),
		rejected: f.NewCounterVec(prometheus.CounterOpts{Name: "auditstream_ingest_rejected_requests_total",
			Help: "Ingest requests refused, by HTTP status."}, []string{"code"}),
	}
}

// ingest handles POST /api/v1/events: one JSON object, a JSON array, or
// NDJSON, optionally gzip-encoded. All or nothing: every event is validated
// before any is stored, and 202 is sent only once the journal has them all.
func (s *Server) ingest(w http.ResponseWriter, r *http.Request, tok auth.Token) (err error) {
	defer func() {
		if err != nil {
			s.metrics.rejected.WithLabelValues(strconv.Itoa(httpapi.StatusOf(err))).Inc()
		}
	}()
	if s.draining.Load() {
		return &httpapi.Error{Status: http.StatusServiceUnavailable, Code: httpapi.CodeUnavailable,
			Summary: "Service is shutting down; retry on another node or later", RetryAfter: 5 * time.Second}
	}
	release, err := s.gate.Enter()
	if err != nil {
		return err
	}
	defer release()
	org, err := s.ingestOrg(r, tok)
	if err != nil {
		return err
	}
	body, evs, err := s.readEvents(r, org, s.d.Now())
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	if s.d.Retention != nil {
		if err := s.d.Retention.Admit(ctx); err != nil {
			if !errors.Is(err, journal.ErrFull) {
				s.d.Log.Warn("journal retention check", "err", err)
				return &httpapi.Error{Status: http.StatusServiceUnavailable, Code: httpapi.CodeUnavailable,
					Summary: "The journal could not store the events; retry (events are de-duplicated by uuid)", RetryAfter: time.Second}
			}
			return s.fullError(tok, err, nil, evs)
		}
	}
	res, err := s.d.Journal.Append(ctx, evs)
	var fullErr error
	if errors.Is(err, journal.ErrFull) && s.d.Retention != nil {
		// Retention purges what it may, then the append is tried once
		// more; events stored the first time come back as duplicates.
		if fullErr = s.d.Retention.MakeRoom(ctx); fullErr == nil {
			first := res
			res, err = s.d.Journal.Append(ctx, evs)
			res.Stored += first.Stored
			res.Duplicates -= min(first.Stored, res.Duplicates)
		}
	}
	if errors.Is(err, journal.ErrFull) {
		s.d.Log.Warn("journal full; ingest refused", "org", org, "events", len(evs), "stored", res.Stored, "err", err)
		return s.fullError(tok, fullErr, err, evs)
	}
	if err != nil {
		s.d.Log.Warn("append to journal", "org", org, "events", len(evs), "err", err)
		return appendFailure(err, evs)
	}
	s.metrics.events.Add(float64(res.Stored))
	s.metrics.dups.Add(float64(res.Duplicates))
	s.metrics.bytes.Add(float64(len(body)))
	httpapi.WriteJSON(w, http.StatusAccepted, httpapi.PushResult{Accepted: res.Stored, Duplicates: res.Duplicates})
	return nil
}

// readEvents reads and validates the events of an ingest request: the
// body (gzip or not, within the size limits) and every event in it, all
// or nothing. now is the time of receipt. The events point into body.
func (s *Server) readEvents(r *http.Request, org string, now time.Time) (body []byte, evs []event.Record, err error) {
	mt, body, err := httpapi.ReadPush(r, httpapi.Push{MaxBody: s.d.Limits.MaxBody, Types: ingestTypes,
		Hint: "send application/json (an object or an array) or application/x-ndjson"})
	if err != nil {
		return nil, nil, err
	}
	if mt != "application/json" {
		evs, err = s.parseNDJSON(body, org, now)
	} else {
		evs, err = s.parseJSON(body, org, now)
	}
	if err != nil {
		return nil, nil, err
	}
	if len(evs) == 0 {
		return nil, nil, httpapi.Errorf(http.StatusBadRequest, httpapi.CodeValidation, "Api validation failed: events").
			WithCauses("the request holds no events")
	}
	return body, evs, nil
}

// fullError is the 507 of a journal at journal.maxBytes. It names the log
// streams that hold it full, those of orgs the token may see; the others
// are counted. appendErr, when the append was tried, says which events
// were stored.
func (s *Server) fullError(tok auth.Token, cause, appendErr error, evs []event.Record) error {
	var blockers []stream.Blocker
	var fe *stream.FullError
	switch {
	case errors.As(cause, &fe):
		blockers = fe.Blockers
	case s.d.Retention != nil:
		blockers = s.d.Retention.Blockers()
	}
	e := &httpapi.Error{Status: http.StatusInsufficientStorage, Code: httpapi.CodeFull, RetryAfter: retryFull,
		Summary: "Insufficient storage: the journal is full; retry later (events are de-duplicated by uuid)"}
	hidden := 0
	for _, b := range blockers {
		if !tok.CanAccessOrg(b.Org) {
			hidden++
			continue
		}
		e.Causes = append(e.Causes, fmt.Sprintf("log stream %s (%s) has not delivered events from journal sequence %d; "+
			"the journal keeps them (journal.whenFull: protect) until it does or is deactivated", b.ID, b.Name, b.OldestUndelivered))
	}
	if hidden > 0 {
		e.Causes = append(e.Causes, fmt.Sprintf("%d log streams of other orgs have not delivered the oldest events", hidden))
	}
	if len(blockers) == 0 {
		e.Causes = append(e.Causes, "the journal is at journal.maxBytes")
	}
	if appendErr == nil {
		e.Causes = append(e.Causes, "no event of this request was stored: resend them all")
	} else {
		e.Causes = append(e.Causes, storedCauses(appendErr, evs)...)
	}
	return e
}

func (s *Server) ingestOrg(r *http.Request, tok auth.Token) (string, error) {
	org := r.URL.Query().Get("org")
	switch {
	case org == "" && tok.Org == auth.AllOrgs:
		org = s.d.DefaultOrg
	case org == "":
		org = tok.Org
	case !tok.CanAccessOrg(org):
		return "", httpapi.Forbidden("the token may not write events for org " + org)
	}
	if !event.ValidOrg(org) {
		return "", httpapi.Errorf(http.StatusBadRequest, httpapi.CodeValidation, "Api validation failed: org").
			WithCauses("org must be 1 to 64 letters, digits, '-' or '_'")
	}
	return org, nil
}

// ingestTypes are the media types of POST /api/v1/events: JSON (an
// object or an array) and the names NDJSON goes by.
var ingestTypes = []string{"application/json",
	"application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines", "application/jsonlines"}

// maxCauses is how many refused events one answer names.
const maxCauses = 20

// batch gathers the events of one request, and the causes of those it
// cannot store.
type batch struct {
	s      *Server
	org    string
	now    time.Time
	evs    []event.Record
	causes []string
}

// add parses raw, which where names in causes. An event too large ends the
// request with err; more is false once maxCauses events were refused.
func (b *batch) add(raw []byte, where string) (more bool, err error) {
	if err := b.s.checkEventSize(len(raw), where); err != nil {
		return false, err
	}
	ev, err := event.Parse(raw, b.org, b.now)
	if err != nil {
		b.causes = append(b.causes, fmt.Sprintf("%s: %v", where, err))
		return len(b.causes) < maxCauses, nil
	}
	b.evs = append(b.evs, ev)
	return true, nil
}

// result is the events, or the 400 naming the refused ones.
func (b *batch) result() ([]event.Record, error) {
	if len(b.causes) > 0 {
		return nil, httpapi.Errorf(http.StatusBadRequest, httpapi.CodeValidation, "Api validation failed: events").WithCauses(b.causes...)
	}
	return b.evs, nil
}

func (s *Server) parseNDJSON(body []byte, org string, now time.Time) ([]event.Record, error) {
	b := batch{s: s, org: org, now: now}
	line := 0
	// Lines are sliced from body, which outlives the request: events keep
	// pointing into it until the journal has them.
	for rest := body; len(rest) > 0; {
		var raw []byte
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			raw, rest = rest[:i], rest[i+1:]
		} else {
			raw, rest = rest, nil
		}
		line++
		raw = bytes.TrimSpace(raw)
		if len(raw) == 0 {
			continue
		}
		more, err := b.add(raw, fmt.Sprintf("line %d", line))
		if err != nil {
			return nil, err
		}
		if !more {
			break
		}
		if len(b.evs) > s.d.Limits.MaxEvents {
			return nil, httpapi.TooManyEvents(s.d.Limits.MaxEvents)
		}
	}
	return b.result()
}

func (s *Server) parseJSON(body []byte, org string, now time.Time) ([]event.Record, error) {
	body = bytes.TrimSpace(body)
	if len(body) > 0 && body[0] == '{' {
		if err := s.checkEventSize(len(body), "event"); err != nil {
			return nil, err
		}
		ev, err := event.Parse(body, org, now)
		if err != nil {
			return nil, httpapi.Errorf(http.StatusBadRequest, httpapi.CodeValidation, "Api validation failed: event").WithCauses(err.Error())
		}
		return []event.Record{ev}, nil
	}
	if len(body) == 0 || body[0] != '[' {
		return nil, httpapi.Errorf(http.StatusBadRequest, httpapi.CodeMalformed, "The request body was not well-formed.").
			WithCauses("expected a JSON object or an array of objects")
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(body, &raws); err != nil {
		var se *json.SyntaxError
		cause := err.Error()
		if errors.As(err, &se) {
			cause = fmt.Sprintf("%s at byte %d", se.Error(), se.Offset)
		}
		return nil, httpapi.Errorf(http.StatusBadRequest, httpapi.CodeMalformed, "The request body was not well-formed.").WithCauses(cause)
	}
	if len(raws) > s.d.Limits.MaxEvents {
		return nil, httpapi.TooManyEvents(s.d.Limits.MaxEvents)
	}
	b := batch{s: s, org: org, now: now, evs: make([]event.Record, 0, len(raws))}
	for i, raw := range raws {
		more, err := b.add(raw, fmt.Sprintf("index %d", i))
		if err != nil {
			return nil, err
		}
		if !more {
			break
		}
	}
	return b.result()
}

func (s *Server) checkEventSize(n int, where string) error {
	if n > s.d.Limits.MaxEvent {
		return httpapi.Errorf(http.StatusRequestEntityTooLarge, httpapi.CodeTooLarge, "Event too large").
			WithCauses(fmt.Sprintf("%s: the event is %d bytes, more than the limit of %d", where, n, s.d.Limits.MaxEvent))
	}
	return nil
}
