// Package ddtest is an in-process Datadog Logs intake for tests:
// POST /api/v2/logs (a JSON array, gzip or deflate, DD-API-KEY) with the
// intake's limits, and GET /api/v1/validate for the API key.
package ddtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/auditstream/auditstream/internal/sink/fake"
	"github.com/auditstream/auditstream/internal/sink/sinktest"
)

// Paths and limits of the intake.
const (
	PathLogs       = "/api/v2/logs"
	PathValidate   = "/api/v1/validate"
	MaxItems       = 1000
	MaxBytes       = 5 << 20
	MaxItemBytes   = 1 << 20
	HeaderAPIKey   = "DD-API-KEY"
	ContentTypeRaw = "application/json"
)

// Server is a fake Datadog intake. Build it with NewServer.
type Server struct {
	t      testing.TB
	apiKey string
	fake.Server

	mu       sync.Mutex
	items    []map[string]any
	raw      [][]byte
	requests int
	status   int
}

// NewServer starts a fake intake on loopback that accepts apiKey, and
// closes it when the test ends.
func NewServer(t testing.TB, apiKey string) *Server {
	s := &Server{t: t, apiKey: apiKey}
	s.Serve(t, s.serve)
	return s
}

// SetStatus makes log requests answer status (0 restores 202).
func (s *Server) SetStatus(status int) { fake.Set(&s.mu, &s.status, status) }

// Items returns the accepted log items, decoded, in arrival order.
func (s *Server) Items() []map[string]any { return fake.Copy(&s.mu, &s.items) }

// Requests returns how many log requests arrived.
func (s *Server) Requests() int { return fake.Get(&s.mu, &s.requests) }

func (s *Server) serve(w http.ResponseWriter, r *http.Request, body []byte) {
	if r.Header.Get(HeaderAPIKey) != s.apiKey {
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`{"errors":[{"status":"403","title":"Forbidden","detail":"API key is invalid"}]}`))
		return
	}
	switch {
	case r.URL.Path == PathValidate && r.Method == http.MethodGet:
		_, _ = w.Write([]byte(`{"valid":true}`))
	case r.URL.Path == PathLogs && r.Method == http.MethodPost:
		s.mu.Lock()
		defer s.mu.Unlock()
		s.requests++
		if s.status != 0 {
			w.WriteHeader(s.status)
			_, _ = w.Write([]byte(`{"errors":[{"status":"scripted"}]}`))
			return
		}
		items, err := Parse(r, body)
		if err != nil {
			s.t.Errorf("ddtest: %v", err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		for _, raw := range items {
			var m map[string]any
			_ = json.Unmarshal(raw, &m)
			s.items = append(s.items, m)
		}
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte(`{}`))
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

// Parse checks a log request (content type, encoding, array, limits) and
// returns its items.
func Parse(r *http.Request, body []byte) ([]json.RawMessage, error) {
	if ct := r.Header.Get("Content-Type"); ct != ContentTypeRaw {
		return nil, fmt.Errorf("content-type: got %q, want %q", ct, ContentTypeRaw)
	}
	body, err := fake.Decompress(r, body, "gzip", "deflate")
	if err != nil {
		return nil, err
	}
	if len(body) > MaxBytes {
		return nil, fmt.Errorf("payload: got %d bytes uncompressed, want at most %d", len(body), MaxBytes)
	}
	var items []json.RawMessage
	if err := json.Unmarshal(body, &items); err != nil {
		return nil, fmt.Errorf("body is not a JSON array: %w", err)
	}
	if len(items) < 1 || len(items) > MaxItems {
		return nil, fmt.Errorf("items: got %d, want 1 to %d", len(items), MaxItems)
	}
	for i, it := range items {
		if len(it) > MaxItemBytes {
			return nil, fmt.Errorf("item %d: %d bytes, want at most %d", i, len(it), MaxItemBytes)
		}
	}
	return items, nil
}

// Reserved are the members a sink adds to each LogEvent.
var Reserved = []string{"ddsource", "ddtags", "hostname", "service", "timestamp", "message"}

// Decode is a sinktest.DecodeFunc for log requests. Data is the item as
// sent, with the Reserved members; compare with EventEqual.
func Decode(r *http.Request, body []byte) ([]sinktest.Received, error) {
	items, err := Parse(r, body)
	if err != nil {
		return nil, err
	}
	return sinktest.ReceivedFrom(items, func(it json.RawMessage) []byte { return it })
}

// EventEqual reports whether item is event plus the Reserved members.
func EventEqual(event, item []byte) bool { return sinktest.EqualWithout(event, item, Reserved...) }
