// Package ebtest is an in-process Amazon EventBridge for tests: an HTTP
// server speaking the AWS JSON 1.1 protocol for PutEvents and
// DescribeEventBus, strict about what a real bus checks (SigV4 header with
// the expected access key, target and content type, 1-10 entries, the
// request size limit, source and detail rules) and scriptable for whole-call
// errors and per-entry failures.
package ebtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/auditstream/auditstream/internal/sink/awsconf/awstest"
	"github.com/auditstream/auditstream/internal/sink/fake"
	"github.com/auditstream/auditstream/internal/sink/sinktest"
)

// Content type and targets of the protocol.
const (
	TargetPutEvents        = "AWSEvents.PutEvents"
	TargetDescribeEventBus = "AWSEvents.DescribeEventBus"
	// DefaultMaxBytes is PutEvents' long-standing request size limit.
	DefaultMaxBytes = 256 * 1024
)

// Entry is one PutEvents request entry as received.
type Entry struct {
	Source       string
	DetailType   string
	Detail       string
	EventBusName string
	Resources    []string
	// Time is the entry's Time as sent: epoch seconds (AWS JSON 1.1
	// timestamps), 0 when absent.
	Time float64
}

// Size is the entry's size as EventBridge counts it.
func (e Entry) Size() int {
	n := len(e.Source) + len(e.DetailType) + len(e.Detail)
	if e.Time != 0 {
		n += 14
	}
	for _, r := range e.Resources {
		n += len(r)
	}
	return n
}

// Options configure a Server.
type Options struct {
	// AccessKeyID is the key every request must be signed with.
	AccessKeyID string
	// Region is the region in the SigV4 credential scope; empty skips the
	// check.
	Region string
	// MaxBytes is the request size limit (default DefaultMaxBytes).
	MaxBytes int
	// Fail, if set, is asked for each entry of an accepted request and
	// returns an entry error code ("ThrottlingException") to fail it with,
	// or "" to accept it.
	Fail func(e Entry) string
}

// Server is a fake EventBridge. Build it with NewServer.
type Server struct {
	t    testing.TB
	opts Options
	fake.Server

	mu       sync.Mutex
	accepted []Entry
	requests int
	callErr  *CallError
}

// CallError is a whole-call error the server answers every request with
// until it is cleared.
type CallError = awstest.CallError

// NewServer starts a fake EventBridge on loopback and closes it when the
// test ends.
func NewServer(t testing.TB, opts Options) *Server {
	if opts.MaxBytes == 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	s := &Server{t: t, opts: opts}
	s.Serve(t, s.serve)
	return s
}

// SetError makes every following request fail with e; nil clears it.
func (s *Server) SetError(e *CallError) { fake.Set(&s.mu, &s.callErr, e) }

// Entries returns every accepted entry, in arrival order.
func (s *Server) Entries() []Entry { return fake.Copy(&s.mu, &s.accepted) }

// Requests returns how many PutEvents requests arrived.
func (s *Server) Requests() int { return fake.Get(&s.mu, &s.requests) }

func (s *Server) serve(w http.ResponseWriter, r *http.Request, body []byte) {
	if err := CheckRequest(s.opts.AccessKeyID, s.opts.Region)(r, body); err != nil {
		s.t.Errorf("ebtest: %v", err)
		awstest.WriteError(w, http.StatusBadRequest, "ValidationException", err.Error())
		return
	}
	s.mu.Lock()
	callErr := s.callErr
	if r.Header.Get("X-Amz-Target") == TargetPutEvents {
		s.requests++
	}
	s.mu.Unlock()
	if callErr != nil {
		callErr.Write(w)
		return
	}
	switch r.Header.Get("X-Amz-Target") {
	case TargetDescribeEventBus:
		var in struct{ Name string }
		_ = json.Unmarshal(body, &in)
		if in.Name == "" {
			in.Name = "default"
		}
		awstest.WriteJSON(w, map[string]string{"Name": in.Name, "Arn": "arn:aws:events:us-east-1:123456789012:event-bus/" + in.Name})
	case TargetPutEvents:
		entries, err := ParsePutEvents(body, s.opts.MaxBytes)
		if err != nil {
			s.t.Errorf("ebtest: %v", err)
			awstest.WriteError(w, http.StatusBadRequest, "ValidationException", err.Error())
			return
		}
		results := make([]map[string]string, len(entries))
		failed := 0
		s.mu.Lock()
		for i, e := range entries {
			code := ""
			if s.opts.Fail != nil {
				code = s.opts.Fail(e)
			}
			if code != "" {
				failed++
				results[i] = map[string]string{"ErrorCode": code, "ErrorMessage": "scripted " + code}
				continue
			}
			s.accepted = append(s.accepted, e)
			results[i] = map[string]string{"EventId": fmt.Sprintf("ev-%d", len(s.accepted))}
		}
		s.mu.Unlock()
		awstest.WriteJSON(w, map[string]any{"FailedEntryCount": failed, "Entries": results})
	default:
		awstest.WriteError(w, http.StatusBadRequest, "UnknownOperationException", "unknown target "+r.Header.Get("X-Amz-Target"))
	}
}

// CheckRequest returns a check of what every EventBridge request carries:
// POST /, the AWS JSON 1.1 content type, an AWSEvents target, and a SigV4
// Authorization header for service "events" signed with accessKeyID (and
// region, unless empty).
func CheckRequest(accessKeyID, region string) sinktest.CheckFunc {
	return func(r *http.Request, _ []byte) error {
		return awstest.CheckJSONRequest(r, "AWSEvents.", accessKeyID, region, "events")
	}
}

// ParsePutEvents decodes a PutEvents body and checks it the way
// EventBridge does: 1-10 entries, total size within maxBytes, and each
// entry's source, detail type and detail valid.
func ParsePutEvents(body []byte, maxBytes int) ([]Entry, error) {
	var in struct {
		Entries []Entry
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return nil, fmt.Errorf("PutEvents body: %w", err)
	}
	if n := len(in.Entries); n < 1 || n > 10 {
		return nil, fmt.Errorf("entries: got %d, want 1 to 10", n)
	}
	total := 0
	for i, e := range in.Entries {
		total += e.Size()
		switch {
		case e.Source == "" || strings.HasPrefix(e.Source, "aws."):
			return nil, fmt.Errorf("entry %d source %q: want a custom source", i, e.Source)
		case e.DetailType == "" || utf8.RuneCountInString(e.DetailType) > 128:
			return nil, fmt.Errorf("entry %d detail type %q: want 1 to 128 characters", i, e.DetailType)
		case !json.Valid([]byte(e.Detail)) || !strings.HasPrefix(strings.TrimSpace(e.Detail), "{"):
			return nil, fmt.Errorf("entry %d detail: want a JSON object", i)
		}
	}
	if total > maxBytes {
		return nil, fmt.Errorf("request size: got %d, want at most %d", total, maxBytes)
	}
	return in.Entries, nil
}

// Decode is a sinktest.DecodeFunc for PutEvents requests.
func Decode(maxBytes int) sinktest.DecodeFunc {
	return func(_ *http.Request, body []byte) ([]sinktest.Received, error) {
		entries, err := ParsePutEvents(body, maxBytes)
		if err != nil {
			return nil, err
		}
		return sinktest.ReceivedFrom(entries, func(e Entry) []byte { return []byte(e.Detail) })
	}
}

// IsPutEvents reports whether r is a PutEvents call (a sinktest Route).
func IsPutEvents(r *http.Request) bool { return r.Header.Get("X-Amz-Target") == TargetPutEvents }
