// Package cwtest is an in-process Amazon CloudWatch Logs for tests: an HTTP
// server speaking the AWS JSON 1.1 protocol for CreateLogGroup,
// CreateLogStream, DescribeLogGroups and PutLogEvents. It checks what the
// service checks (SigV4 with the expected key, target and content type,
// 1-10,000 events, 1,048,576 bytes counting 26 per event, chronological
// order, a 24-hour span, existing group and stream) and rejects events too
// old or too new for its clock with rejectedLogEventsInfo, as the service
// does.
package cwtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/sink/awsconf/awstest"
	"github.com/auditstream/auditstream/internal/sink/fake"
	"github.com/auditstream/auditstream/internal/sink/sinktest"
)

// The protocol's targets and limits.
const (
	TargetPutLogEvents      = "Logs_20140328.PutLogEvents"
	TargetCreateLogGroup    = "Logs_20140328.CreateLogGroup"
	TargetCreateLogStream   = "Logs_20140328.CreateLogStream"
	TargetDescribeLogGroups = "Logs_20140328.DescribeLogGroups"

	MaxEvents     = 10000
	MaxBytes      = 1048576
	EventOverhead = 26
	MaxSpan       = 24 * time.Hour
	MaxAge        = 14 * 24 * time.Hour
	MaxAhead      = 2 * time.Hour
)

// Event is one log event as stored.
type Event struct {
	Timestamp int64  `json:"timestamp"`
	Message   string `json:"message"`
}

// Options configure a Server.
type Options struct {
	// AccessKeyID is the key every request must be signed with.
	AccessKeyID string
	// Region is checked in the SigV4 scope unless empty.
	Region string
	// Now is the server's clock for too-old and too-new events; nil
	// means time.Now.
	Now func() time.Time
}

// Server is a fake CloudWatch Logs. Build it with NewServer.
type Server struct {
	t    testing.TB
	opts Options
	fake.Server

	mu      sync.Mutex
	groups  map[string]map[string][]Event
	calls   map[string]int
	callErr *CallError
}

// CallError is a whole-call error the server answers PutLogEvents with
// until it is cleared.
type CallError = awstest.CallError

// NewServer starts a fake CloudWatch Logs on loopback and closes it when
// the test ends.
func NewServer(t testing.TB, opts Options) *Server {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{t: t, opts: opts, groups: map[string]map[string][]Event{}, calls: map[string]int{}}
	s.Serve(t, s.serve)
	return s
}

// CreateGroup makes a log group exist.
func (s *Server) CreateGroup(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.groups[name] == nil {
		s.groups[name] = map[string][]Event{}
	}
}

// SetError makes PutLogEvents fail with e; nil clears it.
func (s *Server) SetError(e *CallError) { fake.Set(&s.mu, &s.callErr, e) }

// Events returns the events stored in a log stream, in arrival order.
func (s *Server) Events(group, stream string) []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Event(nil), s.groups[group][stream]...)
}

// Streams returns the stream names of a group.
func (s *Server) Streams(group string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for name := range s.groups[group] {
		out = append(out, name)
	}
	return out
}

// Calls returns how many requests of an operation (a target such as
// TargetPutLogEvents) arrived.
func (s *Server) Calls(target string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[target]
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, body []byte) {
	if err := CheckRequest(s.opts.AccessKeyID, s.opts.Region)(r, body); err != nil {
		s.t.Errorf("cwtest: %v", err)
		awstest.WriteError(w, http.StatusBadRequest, "InvalidParameterException", err.Error())
		return
	}
	target := r.Header.Get("X-Amz-Target")
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[target]++
	var in struct {
		LogGroupName       string
		LogStreamName      string
		LogGroupNamePrefix string
	}
	_ = json.Unmarshal(body, &in)
	switch target {
	case TargetCreateLogGroup:
		if s.groups[in.LogGroupName] != nil {
			awstest.WriteError(w, http.StatusBadRequest, "ResourceAlreadyExistsException", "The specified log group already exists")
			return
		}
		s.groups[in.LogGroupName] = map[string][]Event{}
		awstest.WriteJSON(w, struct{}{})
	case TargetCreateLogStream:
		g := s.groups[in.LogGroupName]
		switch {
		case g == nil:
			awstest.WriteError(w, http.StatusBadRequest, "ResourceNotFoundException", "The specified log group does not exist.")
		case g[in.LogStreamName] != nil:
			awstest.WriteError(w, http.StatusBadRequest, "ResourceAlreadyExistsException", "The specified log stream already exists")
		default:
			g[in.LogStreamName] = []Event{}
			awstest.WriteJSON(w, struct{}{})
		}
	case TargetDescribeLogGroups:
		var groups []map[string]string
		for name := range s.groups {
			if strings.HasPrefix(name, in.LogGroupNamePrefix) {
				groups = append(groups, map[string]string{"logGroupName": name})
			}
		}
		awstest.WriteJSON(w, map[string]any{"logGroups": groups})
	case TargetPutLogEvents:
		if e := s.callErr; e != nil {
			e.Write(w)
			return
		}
		put, err := ParsePutLogEvents(body)
		if err != nil {
			s.t.Errorf("cwtest: %v", err)
			awstest.WriteError(w, http.StatusBadRequest, "InvalidParameterException", err.Error())
			return
		}
		g := s.groups[put.LogGroupName]
		if g == nil || g[put.LogStreamName] == nil {
			awstest.WriteError(w, http.StatusBadRequest, "ResourceNotFoundException", "The specified log stream does not exist.")
			return
		}
		now := s.opts.Now()
		info := map[string]int{}
		tooOldEnd, tooNewStart := 0, len(put.LogEvents)
		for i, e := range put.LogEvents {
			t := time.UnixMilli(e.Timestamp)
			switch {
			case t.Before(now.Add(-MaxAge)):
				tooOldEnd = i + 1
			case t.After(now.Add(MaxAhead)):
				tooNewStart = min(tooNewStart, i)
			}
		}
		if tooOldEnd > 0 {
			info["tooOldLogEventEndIndex"] = tooOldEnd
		}
		if tooNewStart < len(put.LogEvents) {
			info["tooNewLogEventStartIndex"] = tooNewStart
		}
		g[put.LogStreamName] = append(g[put.LogStreamName], put.LogEvents[tooOldEnd:tooNewStart]...)
		out := map[string]any{"nextSequenceToken": "49590"}
		if len(info) > 0 {
			out["rejectedLogEventsInfo"] = info
		}
		awstest.WriteJSON(w, out)
	default:
		awstest.WriteError(w, http.StatusBadRequest, "UnknownOperationException", "unknown target "+target)
	}
}

// PutLogEvents is a decoded PutLogEvents request.
type PutLogEvents struct {
	LogGroupName  string  `json:"logGroupName"`
	LogStreamName string  `json:"logStreamName"`
	LogEvents     []Event `json:"logEvents"`
	SequenceToken string  `json:"sequenceToken,omitempty"`
}

// ParsePutLogEvents decodes a PutLogEvents body and checks the call's
// rules: names, 1-10,000 events, the byte budget, chronological order and
// the 24-hour span.
func ParsePutLogEvents(body []byte) (PutLogEvents, error) {
	var in PutLogEvents
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return in, fmt.Errorf("PutLogEvents body: %w", err)
	}
	if in.LogGroupName == "" || in.LogStreamName == "" {
		return in, fmt.Errorf("group %q stream %q: want both", in.LogGroupName, in.LogStreamName)
	}
	if n := len(in.LogEvents); n < 1 || n > MaxEvents {
		return in, fmt.Errorf("log events: got %d, want 1 to %d", n, MaxEvents)
	}
	size := 0
	for i, e := range in.LogEvents {
		size += len(e.Message) + EventOverhead
		if i > 0 && e.Timestamp < in.LogEvents[i-1].Timestamp {
			return in, fmt.Errorf("log event %d: timestamp %d before the previous %d: want chronological order", i, e.Timestamp, in.LogEvents[i-1].Timestamp)
		}
	}
	if size > MaxBytes {
		return in, fmt.Errorf("batch size: got %d bytes, want at most %d", size, MaxBytes)
	}
	first, last := in.LogEvents[0].Timestamp, in.LogEvents[len(in.LogEvents)-1].Timestamp
	if time.Duration(last-first)*time.Millisecond > MaxSpan {
		return in, fmt.Errorf("batch spans %v: want at most 24h", time.Duration(last-first)*time.Millisecond)
	}
	return in, nil
}

// CheckRequest returns a check of what every CloudWatch Logs request
// carries: POST /, the AWS JSON 1.1 content type, a Logs_20140328 target
// and SigV4 for service "logs" with accessKeyID (and region unless empty).
func CheckRequest(accessKeyID, region string) sinktest.CheckFunc {
	return func(r *http.Request, _ []byte) error {
		return awstest.CheckJSONRequest(r, "Logs_20140328.", accessKeyID, region, "logs")
	}
}

// Decode is a sinktest.DecodeFunc for PutLogEvents requests; Bytes of the
// sinktest request is the body, so harnesses check the byte budget through
// ParsePutLogEvents instead.
func Decode(_ *http.Request, body []byte) ([]sinktest.Received, error) {
	put, err := ParsePutLogEvents(body)
	if err != nil {
		return nil, err
	}
	return sinktest.ReceivedFrom(put.LogEvents, func(e Event) []byte { return []byte(e.Message) })
}

// IsPutLogEvents reports whether r is a PutLogEvents call (a sinktest
// Route).
func IsPutLogEvents(r *http.Request) bool {
	return r.Header.Get("X-Amz-Target") == TargetPutLogEvents
}
