package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/auditstream/auditstream/internal/auth"
	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/httpapi"
	"github.com/auditstream/auditstream/internal/journal"
	"github.com/auditstream/auditstream/internal/jsonlex"
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
	appended := false
	defer func() {
		// The events point into body and into the parser's blocks. The
		// journal keeps no reference to them once Append returned nil;
		// after a failure they are left to the garbage collector, in
		// case a publish is still under way.
		if appended {
			s.ingestBufs.release(body, evs)
		}
	}()
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
	// Retention purges what it may, then the append is tried again;
	// events stored by an earlier try come back as duplicates. A few
	// tries: a check that was running when the append failed answers for
	// it, and may have measured the journal before it filled.
	for try := 0; try < makeRoomTries && errors.Is(err, journal.ErrFull) && s.d.Retention != nil; try++ {
		if fullErr = s.d.Retention.MakeRoom(ctx); fullErr != nil {
			break
		}
		first := res
		res, err = s.d.Journal.Append(ctx, evs)
		res.Stored += first.Stored
		res.Duplicates -= min(first.Stored, res.Duplicates)
	}
	if errors.Is(err, journal.ErrFull) {
		s.d.Log.Warn("journal full; ingest refused", "org", org, "events", len(evs), "stored", res.Stored, "err", err)
		return s.fullError(tok, fullErr, err, evs)
	}
	if err != nil {
		s.d.Log.Warn("append to journal", "org", org, "events", len(evs), "err", err)
		return appendFailure(err, evs)
	}
	appended = true
	s.metrics.events.Add(float64(res.Stored))
	s.metrics.dups.Add(float64(res.Duplicates))
	s.metrics.bytes.Add(float64(len(body)))
	httpapi.WriteJSON(w, http.StatusAccepted, httpapi.PushResult{Accepted: res.Stored, Duplicates: res.Duplicates})
	return nil
}

// makeRoomTries bounds how often an append refused as full is tried again
// after retention made room.
const makeRoomTries = 3

// readEvents reads and validates the events of an ingest request: the
// body (gzip or not, within the size limits) and every event in it, all
// or nothing. now is the time of receipt. The events point into body;
// both may be handed to s.ingestBufs.release once nothing uses them.
func (s *Server) readEvents(r *http.Request, org string, now time.Time) (body []byte, evs []event.Record, err error) {
	mt, body, err := s.ingestBufs.bodies.ReadPush(r, httpapi.Push{MaxBody: s.d.Limits.MaxBody, Types: ingestTypes,
		Hint: "send application/json (an object or an array) or application/x-ndjson"})
	if err != nil {
		return nil, nil, err
	}
	p := s.ingestBufs.parser()
	defer s.ingestBufs.parsers.Put(p)
	if mt != "application/json" {
		evs, err = s.parseNDJSON(p, body, org, now)
	} else {
		evs, err = s.parseJSON(p, body, org, now)
	}
	if err == nil && len(evs) == 0 {
		err = httpapi.Errorf(http.StatusBadRequest, httpapi.CodeValidation, "Api validation failed: events").
			WithCauses("the request holds no events")
	}
	if err != nil {
		// Nothing points into body or evs: errors are formatted copies.
		s.ingestBufs.release(body, evs)
		return nil, nil, err
	}
	return body, evs, nil
}

// ingestBuffers are the memory ingest requests reuse: request bodies,
// event parsers, and the slices of records. The zero value is ready to
// use.
type ingestBuffers struct {
	bodies  httpapi.Buffers
	parsers sync.Pool // *event.Parser
	recs    sync.Pool // *[]event.Record, cap at most maxPooledRecords
}

// maxPooledRecords bounds the record slices kept for reuse (a record is
// about 140 bytes).
const maxPooledRecords = 4096

func (b *ingestBuffers) parser() *event.Parser {
	if p, ok := b.parsers.Get().(*event.Parser); ok {
		return p
	}
	return new(event.Parser)
}

// records returns an empty slice with room for n records.
func (b *ingestBuffers) records(n int) []event.Record {
	if evs, ok := b.recs.Get().(*[]event.Record); ok {
		return slices.Grow((*evs)[:0], n)
	}
	return make([]event.Record, 0, n)
}

// release hands back a request's body and records for reuse.
func (b *ingestBuffers) release(body []byte, evs []event.Record) {
	b.bodies.Release(body)
	if evs != nil && cap(evs) <= maxPooledRecords {
		evs = evs[:cap(evs)]
		clear(evs) // drop the references to the request's memory
		evs = evs[:0]
		b.recs.Put(&evs)
	}
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
	p      *event.Parser
	org    string
	now    time.Time
	evs    []event.Record
	causes []string
}

// place names an event of a request in an error: "<kind> <n>", or kind
// alone when n < 0. It is formatted only when an error needs it.
type place struct {
	kind string
	n    int
}

func (p place) String() string {
	if p.n < 0 {
		return p.kind
	}
	return p.kind + " " + strconv.Itoa(p.n)
}

// add parses raw, which where names in causes. An event too large ends the
// request with err; more is false once maxCauses events were refused.
func (b *batch) add(raw []byte, where place) (more bool, err error) {
	if err := b.s.checkEventSize(len(raw), where); err != nil {
		return false, err
	}
	ev, err := b.p.Parse(raw, b.org, b.now)
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
		return b.evs[:0], httpapi.Errorf(http.StatusBadRequest, httpapi.CodeValidation, "Api validation failed: events").WithCauses(b.causes...)
	}
	return b.evs, nil
}

func (s *Server) parseNDJSON(p *event.Parser, body []byte, org string, now time.Time) ([]event.Record, error) {
	// One line per event, but for blank ones and the last.
	n := min(bytes.Count(body, []byte{'\n'})+1, s.d.Limits.MaxEvents+1)
	b := batch{s: s, p: p, org: org, now: now, evs: s.ingestBufs.records(n)}
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
		more, err := b.add(raw, place{"line", line})
		if err != nil {
			return b.evs[:0], err
		}
		if !more {
			break
		}
		if len(b.evs) > s.d.Limits.MaxEvents {
			return b.evs[:0], httpapi.TooManyEvents(s.d.Limits.MaxEvents)
		}
	}
	return b.result()
}

func (s *Server) parseJSON(p *event.Parser, body []byte, org string, now time.Time) ([]event.Record, error) {
	body = bytes.TrimSpace(body)
	if len(body) > 0 && body[0] == '{' {
		if err := s.checkEventSize(len(body), place{"event", -1}); err != nil {
			return nil, err
		}
		ev, err := p.Parse(body, org, now)
		if err != nil {
			return nil, httpapi.Errorf(http.StatusBadRequest, httpapi.CodeValidation, "Api validation failed: event").WithCauses(err.Error())
		}
		return append(s.ingestBufs.records(1), ev), nil
	}
	if len(body) == 0 || body[0] != '[' {
		return nil, httpapi.Errorf(http.StatusBadRequest, httpapi.CodeMalformed, "The request body was not well-formed.").
			WithCauses("expected a JSON object or an array of objects")
	}
	if evs, ok := s.parseArray(p, body, org, now); ok {
		return evs, nil
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
	b := batch{s: s, p: p, org: org, now: now, evs: s.ingestBufs.records(len(raws))}
	for i, raw := range raws {
		more, err := b.add(raw, place{"index", i})
		if err != nil {
			return b.evs[:0], err
		}
		if !more {
			break
		}
	}
	return b.result()
}

// parseArray is the way of an array of events that are all good: it
// parses the objects of body, a JSON array, in place, in one pass
// (Parser.ParseObject), and reports false at anything else (a
// malformed array, an element that is not an object or not a valid
// event, too many or too large events), which parseJSON then reads the
// slow way for the error to answer. Where parseArray succeeds,
// json.Unmarshal of body succeeds with the same elements, as Parse
// accepts only valid JSON and the separators are checked here.
func (s *Server) parseArray(p *event.Parser, body []byte, org string, now time.Time) ([]event.Record, bool) {
	evs := s.ingestBufs.records(0) // a reused slice is usually large enough
	fail := func() ([]event.Record, bool) {
		s.ingestBufs.release(nil, evs)
		return nil, false
	}
	i := jsonlex.SkipSpace(body, 1)
	if i < len(body) && body[i] == ']' {
		return evs, jsonlex.SkipSpace(body, i+1) == len(body)
	}
	for {
		if i >= len(body) || body[i] != '{' {
			return fail()
		}
		ev, n, err := p.ParseObject(body[i:], org, now)
		if err != nil || n > s.d.Limits.MaxEvent || len(evs) == s.d.Limits.MaxEvents {
			return fail()
		}
		evs = append(evs, ev)
		i = jsonlex.SkipSpace(body, i+n)
		if i >= len(body) {
			return fail()
		}
		switch body[i] {
		case ',':
			i = jsonlex.SkipSpace(body, i+1)
		case ']':
			if jsonlex.SkipSpace(body, i+1) != len(body) {
				return fail()
			}
			return evs, true
		default:
			return fail()
		}
	}
}

func (s *Server) checkEventSize(n int, where place) error {
	if n > s.d.Limits.MaxEvent {
		return httpapi.Errorf(http.StatusRequestEntityTooLarge, httpapi.CodeTooLarge, "Event too large").
			WithCauses(fmt.Sprintf("%s: the event is %d bytes, more than the limit of %d", where, n, s.d.Limits.MaxEvent))
	}
	return nil
}
