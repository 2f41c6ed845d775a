// Package hectest is an in-process Splunk HTTP Event Collector for tests:
// /services/collector/event (concatenated JSON envelopes, gzip allowed),
// /services/collector/health and /services/collector/ack, with token auth
// ("Authorization: Splunk <token>"), the request channel header when
// indexer acknowledgement is on, and Splunk's status codes and bodies.
package hectest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/auditstream/auditstream/internal/sink/fake"
	"github.com/auditstream/auditstream/internal/sink/sinktest"
)

// Paths of the HEC endpoints.
const (
	PathEvent  = "/services/collector/event"
	PathHealth = "/services/collector/health"
	PathAck    = "/services/collector/ack"
)

// Envelope is one HEC event as received.
type Envelope struct {
	Time       float64         `json:"time"`
	Host       string          `json:"host"`
	Source     string          `json:"source"`
	Sourcetype string          `json:"sourcetype"`
	Index      string          `json:"index"`
	Event      json.RawMessage `json:"event"`
}

// Options configure a Server.
type Options struct {
	// Token is the HEC token requests must carry.
	Token string
	// UseAck turns on indexer acknowledgement: requests need a channel
	// and answers carry an ackId.
	UseAck bool
	// AckAfterPolls is how many ack polls answer false before true.
	AckAfterPolls int
}

// Server is a fake HEC. Build it with NewServer.
type Server struct {
	t    testing.TB
	opts Options
	fake.Server

	mu        sync.Mutex
	events    []Envelope
	requests  int
	gzipped   int
	nextAck   int
	polls     map[int]int
	answer    *Answer
	failEvent func(Envelope) bool
}

// Answer is a scripted HEC answer for event requests.
type Answer struct {
	Status     int
	Code       int
	Text       string
	RetryAfter string
}

// NewServer starts a fake HEC on loopback and closes it when the test ends.
func NewServer(t testing.TB, opts Options) *Server {
	s := &Server{t: t, opts: opts, polls: map[int]int{}}
	s.Serve(t, s.serve)
	return s
}

// SetAnswer makes event requests answer a; nil restores success.
func (s *Server) SetAnswer(a *Answer) { fake.Set(&s.mu, &s.answer, a) }

// FailEvent makes the server refuse a request at the first event f
// reports, with code 6 and invalid-event-number, after accepting the
// events before it (as Splunk does).
func (s *Server) FailEvent(f func(Envelope) bool) { fake.Set(&s.mu, &s.failEvent, f) }

// Events returns the accepted events, in arrival order.
func (s *Server) Events() []Envelope { return fake.Copy(&s.mu, &s.events) }

// Requests returns how many event requests arrived and how many of them
// were gzipped.
func (s *Server) Requests() (total, gzipped int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests, s.gzipped
}

// Polls returns how many ack polls arrived.
func (s *Server) Polls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, p := range s.polls {
		n += p
	}
	return n
}

func reply(w http.ResponseWriter, status, code int, text string, extra map[string]any) {
	body := map[string]any{"text": text, "code": code}
	for k, v := range extra {
		body[k] = v
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// CheckAuth checks the Authorization header against token, answering as
// Splunk does when it is wrong. It reports whether the request may go on.
func CheckAuth(w http.ResponseWriter, r *http.Request, token string) bool {
	auth := r.Header.Get("Authorization")
	switch {
	case auth == "":
		reply(w, http.StatusUnauthorized, 2, "Token is required", nil)
	case !strings.HasPrefix(auth, "Splunk "):
		reply(w, http.StatusUnauthorized, 3, "Invalid authorization", nil)
	case strings.TrimPrefix(auth, "Splunk ") != token:
		reply(w, http.StatusForbidden, 4, "Invalid token", nil)
	default:
		return true
	}
	return false
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, body []byte) {
	if !CheckAuth(w, r, s.opts.Token) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	channel := r.Header.Get("X-Splunk-Request-Channel")
	switch r.URL.Path {
	case PathHealth:
		reply(w, http.StatusOK, 17, "HEC is healthy", nil)
	case PathAck:
		if !s.opts.UseAck {
			reply(w, http.StatusBadRequest, 14, "ACK is disabled", nil)
			return
		}
		if r.URL.Query().Get("channel") == "" && channel == "" {
			reply(w, http.StatusBadRequest, 10, "Data channel is missing", nil)
			return
		}
		var in struct{ Acks []int }
		if err := json.Unmarshal(body, &in); err != nil {
			reply(w, http.StatusBadRequest, 6, "Invalid data format", nil)
			return
		}
		out := map[string]bool{}
		for _, id := range in.Acks {
			s.polls[id]++
			out[fmt.Sprint(id)] = s.polls[id] > s.opts.AckAfterPolls
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"acks": out})
	case PathEvent, "/services/collector", "/services/collector/event/1.0":
		if r.Method != http.MethodPost {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		s.requests++
		if s.opts.UseAck && channel == "" {
			reply(w, http.StatusBadRequest, 10, "Data channel is missing", nil)
			return
		}
		if a := s.answer; a != nil {
			if a.RetryAfter != "" {
				w.Header().Set("Retry-After", a.RetryAfter)
			}
			reply(w, a.Status, a.Code, a.Text, nil)
			return
		}
		if r.Header.Get("Content-Encoding") == "gzip" {
			s.gzipped++
		}
		envs, err := ParseEvents(r, body)
		if err != nil {
			s.t.Errorf("hectest: %v", err)
			reply(w, http.StatusBadRequest, 6, "Invalid data format", nil)
			return
		}
		for i, e := range envs {
			if s.failEvent != nil && s.failEvent(e) {
				reply(w, http.StatusBadRequest, 6, "Invalid data format", map[string]any{"invalid-event-number": i})
				return
			}
			s.events = append(s.events, e)
		}
		var extra map[string]any
		if s.opts.UseAck {
			extra = map[string]any{"ackId": s.nextAck}
			s.nextAck++
		}
		reply(w, http.StatusOK, 0, "Success", extra)
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

// ParseEvents reads the envelopes of an event request: gunzipped when
// Content-Encoding says gzip, concatenated JSON objects, each with a
// non-blank event.
func ParseEvents(r *http.Request, body []byte) ([]Envelope, error) {
	body, err := fake.Decompress(r, body, "gzip")
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var out []Envelope
	for {
		var e Envelope
		err := dec.Decode(&e)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("event %d: %w", len(out), err)
		}
		if len(e.Event) == 0 || string(e.Event) == `""` || string(e.Event) == "null" {
			return nil, fmt.Errorf("event %d: event field is blank", len(out))
		}
		out = append(out, e)
	}
	if len(out) == 0 {
		return nil, errors.New("no data")
	}
	return out, nil
}

// Decode is a sinktest.DecodeFunc for HEC event requests.
func Decode(r *http.Request, body []byte) ([]sinktest.Received, error) {
	envs, err := ParseEvents(r, body)
	if err != nil {
		return nil, err
	}
	return sinktest.ReceivedFrom(envs, func(e Envelope) []byte { return e.Event })
}

// Body is a HEC answer body padded to about sinktest.FailureBodySize, for
// sinktest.Response.
func Body(code int, text string) []byte {
	b, _ := json.Marshal(map[string]any{"text": text, "code": code, "pad": strings.Repeat("x", sinktest.FailureBodySize)})
	return b
}
