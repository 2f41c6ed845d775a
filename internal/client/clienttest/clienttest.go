// Package clienttest is an in-memory fake of the auditstream HTTP API for
// tests of its clients (the client package, the CLI, the load tool).
//
// Server implements the contract the client is written against and checks
// what a real server would: the SSWS token, methods, paths, content types
// and encodings, body limits and JSON shapes, answering failures with Okta
// error bodies. Ingested events are kept by uuid (duplicates are counted,
// not stored again) and forwarded, in order, to every active stream of type
// "http" as JSON arrays of at most settings.maxEvents events POSTed to
// settings.url. Filters are stored and returned but not evaluated. Tokens
// and sources are kept as created (secrets of sources are write-only);
// tokens the fake creates are not accepted as credentials.
//
// Tests inject faults with Server.Intercept.
package clienttest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/auditstream/auditstream/internal/ndjson"
)

// MaxBody is the largest ingest body, after decompression, the fake takes
// (the server's default).
const MaxBody = 10 << 20

// TimeFormat is how the fake writes times (Okta's: RFC 3339, ms, UTC).
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

// Request records one request the fake answered.
type Request struct {
	Method, Path    string
	ContentType     string
	ContentEncoding string
	// BodyBytes is the size as sent; Events counts ingested lines.
	BodyBytes int
	Events    int
}

// Server is the fake. Create it with New.
type Server struct {
	// URL is the fake's base URL.
	URL string
	// Token is the accepted API token.
	Token string
	// PageSize, when positive, pages GET /api/v1/logStreams with Okta's
	// limit/after parameters and Link headers.
	PageSize int

	srv   *httptest.Server
	fwd   *http.Client
	mu    sync.Mutex
	reqs  []Request
	hook  func(w http.ResponseWriter, r *http.Request) bool
	seen  map[string]bool
	log   []json.RawMessage // stored events in order
	strms []*stream
	wg    sync.WaitGroup
	// tokens and sources of /api/v1/tokens and /api/v1/sources.
	tokens, sources []map[string]any
}

type stream struct {
	Obj      map[string]any
	id, name string
	active   bool
	dead     []DeadLetter
	// delivery
	queue     []json.RawMessage
	kick      chan struct{}
	stop      chan struct{}
	delivered int64
	failed    int64
}

// DeadLetter is one dead letter the fake lists.
type DeadLetter struct {
	Seq    uint64          `json:"seq"`
	UUID   string          `json:"uuid"`
	Reason string          `json:"reason"`
	At     string          `json:"at"`
	Event  json.RawMessage `json:"event"`
}

// New starts a fake accepting token and stops it when the test ends.
func New(t testing.TB, token string) *Server {
	s := &Server{Token: token, seen: map[string]bool{}, fwd: &http.Client{Timeout: 10 * time.Second}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/events", s.ingest)
	mux.HandleFunc("GET /api/v1/logStreams", s.list)
	mux.HandleFunc("POST /api/v1/logStreams", s.create)
	mux.HandleFunc("GET /api/v1/logStreams/{id}", s.withStream(s.get))
	mux.HandleFunc("PUT /api/v1/logStreams/{id}", s.withStream(s.replace))
	mux.HandleFunc("DELETE /api/v1/logStreams/{id}", s.withStream(s.delete))
	mux.HandleFunc("POST /api/v1/logStreams/{id}/lifecycle/{op}", s.withStream(s.lifecycle))
	mux.HandleFunc("GET /api/v1/logStreams/{id}/status", s.withStream(s.status))
	mux.HandleFunc("POST /api/v1/logStreams/{id}/replay", s.withStream(s.replay))
	mux.HandleFunc("GET /api/v1/logStreams/{id}/deadLetters", s.withStream(s.deadLetters))
	mux.HandleFunc("POST /api/v1/logStreams/{id}/deadLetters/redrive", s.withStream(s.redrive))
	s.registerResources(mux)
	s.srv = httptest.NewServer(s.front(mux))
	s.URL = s.srv.URL
	t.Cleanup(s.Close)
	return s
}

// Close stops the fake and its deliveries. It may be called twice.
func (s *Server) Close() {
	s.mu.Lock()
	for _, st := range s.strms {
		st.halt()
	}
	s.strms = nil
	s.mu.Unlock()
	s.srv.Close()
	s.wg.Wait()
}

// Intercept installs f, called before every request is handled; when f
// returns true it has answered the request itself. nil removes it.
func (s *Server) Intercept(f func(w http.ResponseWriter, r *http.Request) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hook = f
}

// Requests returns the requests answered so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.reqs)
}

// Count is how many of the requests so far were method path.
func (s *Server) Count(method, path string) int {
	n := 0
	for _, r := range s.Requests() {
		if r.Method == method && r.Path == path {
			n++
		}
	}
	return n
}

// Events returns the stored events in the order stored.
func (s *Server) Events() []json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.log)
}

// AddDeadLetter gives the stream id a dead letter; it reports whether the
// stream exists.
func (s *Server) AddDeadLetter(id string, d DeadLetter) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.find(id)
	if st == nil {
		return false
	}
	st.dead = append(st.dead, d)
	return true
}

// WriteError writes an Okta error body, as the server does.
func WriteError(w http.ResponseWriter, status int, code, summary string, causes ...string) {
	type cause struct {
		ErrorSummary string `json:"errorSummary"`
	}
	body := struct {
		ErrorCode    string  `json:"errorCode"`
		ErrorSummary string  `json:"errorSummary"`
		ErrorLink    string  `json:"errorLink"`
		ErrorID      string  `json:"errorId"`
		ErrorCauses  []cause `json:"errorCauses"`
	}{code, summary, code, "oae" + randHex(8), []cause{}}
	for _, c := range causes {
		body.ErrorCauses = append(body.ErrorCauses, cause{c})
	}
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// front records the request, runs the hook and checks the token.
func (s *Server) front(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		hook := s.hook
		s.mu.Unlock()
		if hook != nil && hook(w, r) {
			return
		}
		if r.Header.Get("Authorization") != "SSWS "+s.Token || s.Token == "" {
			WriteError(w, http.StatusUnauthorized, "E0000011", "Invalid token provided")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) record(r *http.Request, n, events int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqs = append(s.reqs, Request{
		Method: r.Method, Path: r.URL.Path,
		ContentType: r.Header.Get("Content-Type"), ContentEncoding: r.Header.Get("Content-Encoding"),
		BodyBytes: n, Events: events,
	})
}

func mediaType(r *http.Request) string {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return mt
}

func (s *Server) ingest(w http.ResponseWriter, r *http.Request) {
	if mt := mediaType(r); mt != "application/x-ndjson" {
		s.record(r, 0, 0)
		WriteError(w, http.StatusUnsupportedMediaType, "E0000001", "Unsupported media type "+strconv.Quote(mt))
		return
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, MaxBody+1))
	if err != nil {
		s.record(r, 0, 0)
		WriteError(w, http.StatusBadRequest, "E0000003", "read body: "+err.Error())
		return
	}
	body := raw
	switch enc := r.Header.Get("Content-Encoding"); enc {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err == nil {
			body, err = io.ReadAll(io.LimitReader(zr, MaxBody+1))
		}
		if err != nil {
			s.record(r, len(raw), 0)
			WriteError(w, http.StatusBadRequest, "E0000003", "The request body was not well-formed.", "gzip: "+err.Error())
			return
		}
	default:
		s.record(r, len(raw), 0)
		WriteError(w, http.StatusUnsupportedMediaType, "E0000001", "Unsupported content encoding "+strconv.Quote(enc))
		return
	}
	if len(body) > MaxBody {
		s.record(r, len(raw), 0)
		WriteError(w, http.StatusRequestEntityTooLarge, "E0000001", "Request body too large")
		return
	}
	// All or nothing: parse every line before storing any.
	type parsed struct {
		uuid string
		data json.RawMessage
	}
	var evs []parsed
	sc := ndjson.NewScanner(bytes.NewReader(body), MaxBody)
	for sc.Scan() {
		b := sc.Bytes()
		var head struct {
			UUID      string `json:"uuid"`
			EventType string `json:"eventType"`
		}
		if err := json.Unmarshal(b, &head); err != nil || head.EventType == "" {
			s.record(r, len(raw), 0)
			WriteError(w, http.StatusBadRequest, "E0000001", "Api validation failed: events",
				fmt.Sprintf("line %d: not an event with an eventType", sc.Line()))
			return
		}
		data := slices.Clone(b)
		if head.UUID == "" {
			head.UUID = randHex(16)
			data = append([]byte(`{"uuid":"`+head.UUID+`",`), data[1:]...)
		}
		evs = append(evs, parsed{head.UUID, data})
	}
	s.record(r, len(raw), len(evs))

	var res struct {
		Accepted   int `json:"accepted"`
		Duplicates int `json:"duplicates"`
	}
	var fresh []json.RawMessage
	s.mu.Lock()
	for _, e := range evs {
		if s.seen[e.uuid] {
			res.Duplicates++
			continue
		}
		s.seen[e.uuid] = true
		s.log = append(s.log, e.data)
		fresh = append(fresh, e.data)
		res.Accepted++
	}
	for _, st := range s.strms {
		if st.active && st.Obj["type"] == "http" {
			st.enqueue(fresh)
		}
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusAccepted, res)
}

func (s *Server) find(id string) *stream {
	for _, st := range s.strms {
		if st.id == id {
			return st
		}
	}
	return nil
}

// withStream resolves {id}, answering 404 when there is no such stream;
// h runs with s.mu held.
func (s *Server) withStream(h func(w http.ResponseWriter, r *http.Request, st *stream)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		r.Body = io.NopCloser(bytes.NewReader(body))
		s.record(r, len(body), 0)
		s.mu.Lock()
		defer s.mu.Unlock()
		st := s.find(r.PathValue("id"))
		if st == nil {
			WriteError(w, http.StatusNotFound, "E0000007", "Not found: Resource not found: "+r.PathValue("id")+" (LogStream)")
			return
		}
		h(w, r, st)
	}
}

// decodeStream reads and validates a create or replace body.
func decodeStream(r *http.Request) (map[string]any, []string) {
	if mediaType(r) != "application/json" {
		return nil, []string{"Content-Type must be application/json"}
	}
	var in struct {
		Type     string          `json:"type"`
		Name     string          `json:"name"`
		Settings map[string]any  `json:"settings"`
		Filter   json.RawMessage `json:"filter"`
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return nil, []string{"body: " + err.Error()}
	}
	var causes []string
	if in.Type == "" {
		causes = append(causes, "type: The field cannot be left blank")
	}
	if in.Name == "" {
		causes = append(causes, "name: The field cannot be left blank")
	}
	if in.Settings == nil {
		causes = append(causes, "settings: The field cannot be left blank")
	} else if u, _ := in.Settings["url"].(string); in.Type == "http" && u == "" {
		causes = append(causes, "settings.url: The field cannot be left blank")
	}
	var filter any
	if len(in.Filter) > 0 && string(in.Filter) != "null" {
		var m map[string]any
		if err := json.Unmarshal(in.Filter, &m); err != nil {
			causes = append(causes, "filter: must be an event pattern object")
		}
		filter = m
	}
	if len(causes) > 0 {
		return nil, causes
	}
	obj := map[string]any{"type": in.Type, "name": in.Name, "settings": in.Settings}
	if filter != nil {
		obj["filter"] = filter
	}
	return obj, nil
}

func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	s.record(r, 0, 0)
	s.mu.Lock()
	defer s.mu.Unlock()
	start := 0
	if after := r.URL.Query().Get("after"); after != "" {
		for i, st := range s.strms {
			if st.id == after {
				start = i + 1
			}
		}
	}
	end := len(s.strms)
	limit := s.PageSize
	if l, err := strconv.Atoi(r.URL.Query().Get("limit")); err == nil && l > 0 {
		limit = l
	}
	if limit > 0 && start+limit < end {
		end = start + limit
		w.Header().Add("Link", fmt.Sprintf(`<%s/api/v1/logStreams?after=%s&limit=%d>; rel="next"`, s.URL, s.strms[end-1].id, limit))
	}
	out := []map[string]any{}
	for _, st := range s.strms[start:end] {
		out = append(out, st.Obj)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) create(w http.ResponseWriter, r *http.Request) {
	s.record(r, 0, 0)
	obj, causes := decodeStream(r)
	if causes != nil {
		WriteError(w, http.StatusBadRequest, "E0000001", "Api validation failed: logStream", causes...)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, st := range s.strms {
		if st.name == obj["name"] {
			WriteError(w, http.StatusBadRequest, "E0000001", "Api validation failed: logStream", "name: A log stream with this name already exists")
			return
		}
	}
	id := "0oa" + randHex(8)
	now := time.Now().UTC().Format(TimeFormat)
	obj["id"], obj["status"], obj["org"] = id, "ACTIVE", "default"
	obj["created"], obj["lastUpdated"] = now, now
	obj["_links"] = map[string]any{"self": map[string]any{"href": s.URL + "/api/v1/logStreams/" + id}}
	st := &stream{Obj: obj, id: id, name: obj["name"].(string), active: true, kick: make(chan struct{}, 1), stop: make(chan struct{})}
	s.strms = append(s.strms, st)
	s.wg.Add(1)
	go s.deliver(st)
	writeJSON(w, http.StatusOK, obj)
}

func (s *Server) get(w http.ResponseWriter, _ *http.Request, st *stream) {
	writeJSON(w, http.StatusOK, st.Obj)
}

func (s *Server) replace(w http.ResponseWriter, r *http.Request, st *stream) {
	obj, causes := decodeStream(r)
	if causes == nil && obj["type"] != st.Obj["type"] {
		causes = []string{"type: cannot be changed"}
	}
	if causes == nil {
		for _, o := range s.strms {
			if o != st && o.name == obj["name"] {
				causes = []string{"name: A log stream with this name already exists"}
			}
		}
	}
	if causes != nil {
		WriteError(w, http.StatusBadRequest, "E0000001", "Api validation failed: logStream", causes...)
		return
	}
	for _, k := range []string{"id", "status", "org", "created", "_links"} {
		obj[k] = st.Obj[k]
	}
	obj["lastUpdated"] = time.Now().UTC().Format(TimeFormat)
	st.Obj, st.name = obj, obj["name"].(string)
	writeJSON(w, http.StatusOK, obj)
}

func (s *Server) delete(w http.ResponseWriter, _ *http.Request, st *stream) {
	s.strms = slices.DeleteFunc(s.strms, func(o *stream) bool { return o == st })
	st.halt()
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) lifecycle(w http.ResponseWriter, r *http.Request, st *stream) {
	switch r.PathValue("op") {
	case "activate":
		st.active, st.Obj["status"] = true, "ACTIVE"
	case "deactivate":
		st.active, st.Obj["status"] = false, "INACTIVE"
	default:
		WriteError(w, http.StatusNotFound, "E0000007", "Not found: Resource not found: "+r.URL.Path)
		return
	}
	st.Obj["lastUpdated"] = time.Now().UTC().Format(TimeFormat)
	writeJSON(w, http.StatusOK, st.Obj)
}

func (s *Server) status(w http.ResponseWriter, _ *http.Request, st *stream) {
	state := "inactive"
	if st.active {
		state = "active"
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"id": st.id, "state": state, "delivered": st.delivered, "failed": st.failed,
		"retried": 0, "deadLettered": len(st.dead), "lagEvents": len(st.queue), "lagSeconds": 0.0,
		"lastError": "", "lastErrorAt": "", "lastSuccessAt": "",
	})
}

func (s *Server) replay(w http.ResponseWriter, r *http.Request, st *stream) {
	var in struct {
		Since string `json:"since"`
	}
	if mediaType(r) != "application/json" || json.NewDecoder(r.Body).Decode(&in) != nil {
		WriteError(w, http.StatusBadRequest, "E0000003", "The request body was not well-formed.")
		return
	}
	since, err := time.Parse(time.RFC3339, in.Since)
	if err != nil {
		WriteError(w, http.StatusBadRequest, "E0000001", "Api validation failed: since", "since: must be an RFC 3339 time")
		return
	}
	var again []json.RawMessage
	for _, e := range s.log {
		var h struct {
			Published time.Time `json:"published"`
		}
		if json.Unmarshal(e, &h) == nil && !h.Published.Before(since) {
			again = append(again, e)
		}
	}
	if st.active {
		st.enqueue(again)
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"since": in.Since})
}

func (s *Server) deadLetters(w http.ResponseWriter, _ *http.Request, st *stream) {
	out := append([]DeadLetter{}, st.dead...)
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) redrive(w http.ResponseWriter, _ *http.Request, st *stream) {
	n := len(st.dead)
	for _, d := range st.dead {
		st.enqueue([]json.RawMessage{d.Event})
	}
	st.dead = nil
	writeJSON(w, http.StatusOK, map[string]int{"redriven": n})
}

// enqueue adds events for delivery; the caller holds s.mu.
func (st *stream) enqueue(evs []json.RawMessage) {
	if len(evs) == 0 {
		return
	}
	st.queue = append(st.queue, evs...)
	select {
	case st.kick <- struct{}{}:
	default:
	}
}

// halt ends the stream's delivery; the caller holds s.mu.
func (st *stream) halt() {
	select {
	case <-st.stop:
	default:
		close(st.stop)
	}
}

// deliver POSTs the stream's queue to its url until the stream is halted.
func (s *Server) deliver(st *stream) {
	defer s.wg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-st.stop
		cancel()
	}()
	for {
		select {
		case <-st.stop:
			return
		case <-st.kick:
		}
		for {
			s.mu.Lock()
			settings, _ := st.Obj["settings"].(map[string]any)
			url, _ := settings["url"].(string)
			limit := 1000
			if m, ok := settings["maxEvents"].(float64); ok && m > 0 {
				limit = int(m)
			}
			n := min(limit, len(st.queue))
			batch := slices.Clone(st.queue[:n])
			s.mu.Unlock()
			if n == 0 {
				break
			}
			err := post(ctx, s.fwd, url, batch)
			s.mu.Lock()
			if err == nil {
				st.queue = st.queue[n:]
				st.delivered += int64(n)
			} else {
				st.failed += int64(n)
			}
			s.mu.Unlock()
			if err != nil {
				select {
				case <-st.stop:
					return
				case <-time.After(100 * time.Millisecond):
				}
			}
		}
	}
}

func post(ctx context.Context, hc *http.Client, url string, batch []json.RawMessage) error {
	body, err := json.Marshal(batch)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("POST %s: %s", url, resp.Status)
	}
	return nil
}
