package pagerduty

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/sink"
	"github.com/auditstream/auditstream/internal/sink/notify"
	"github.com/auditstream/auditstream/internal/sink/notify/notifytest"
	"github.com/auditstream/auditstream/internal/sink/sinktest"
)

const testKey = "R0UT1NGKEYR0UT1NGKEYR0UT1NGKEY12"

// readEvent checks an event the way the Events API does and returns it.
func readEvent(body []byte) (Event, error) {
	var ev Event
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ev); err != nil {
		return ev, fmt.Errorf("event: %w", err)
	}
	switch {
	case len(ev.RoutingKey) != 32:
		return ev, errors.New("Length of 'routing_key' is incorrect (should be 32 characters)")
	case ev.EventAction != "trigger":
		return ev, fmt.Errorf("event_action %q", ev.EventAction)
	case ev.DedupKey == "" || len(ev.DedupKey) > 255:
		return ev, fmt.Errorf("dedup_key %q", ev.DedupKey)
	case ev.Payload.Summary == "" || len(ev.Payload.Summary) > 1024:
		return ev, errors.New("'payload.summary' is missing or too long")
	case ev.Payload.Source == "":
		return ev, errors.New("'payload.source' is missing")
	case !slices.Contains([]string{"critical", "error", "warning", "info"}, ev.Payload.Severity):
		return ev, fmt.Errorf("'payload.severity' %q is invalid", ev.Payload.Severity)
	}
	if ev.Payload.Timestamp != "" {
		if _, err := time.Parse(time.RFC3339Nano, ev.Payload.Timestamp); err != nil {
			return ev, fmt.Errorf("'payload.timestamp': %w", err)
		}
	}
	return ev, nil
}

func decode(_ *http.Request, body []byte) ([]sinktest.Received, error) {
	ev, err := readEvent(body)
	if err != nil {
		return nil, err
	}
	details, _ := json.Marshal(ev.Payload.CustomDetails)
	var out []sinktest.Received
	for _, id := range notifytest.IDs(ev.DedupKey + " " + string(details)) {
		out = append(out, sinktest.Received{ID: id, Data: body})
	}
	return out, nil
}

func sameEvent(sent, received []byte) bool {
	n := notify.Parse(event.Record{Data: sent})
	b, _ := json.Marshal(n.Headline())
	return bytes.Contains(received, b[1:len(b)-1])
}

func success() sinktest.Response {
	return sinktest.Response{Status: http.StatusAccepted, Header: http.Header{"Content-Type": {"application/json"}},
		Body: []byte(`{"status":"success","message":"Event processed","dedup_key":"x"}`)}
}

func TestConformance(t *testing.T) {
	probe, _ := json.Marshal(map[string]string{"routing_key": testKey, "event_action": "trigger"})
	notifytest.Conformance(t, notifytest.Harness{
		Digest: 5 * time.Minute,
		Fake: sinktest.HTTPFakeOptions{
			Decode: decode,
			// Verify's probe is a trigger without payload: 400.
			Route:     func(r *http.Request) bool { return r.ContentLength != int64(len(probe)) },
			Probe:     http.StatusBadRequest,
			Responses: map[sinktest.Behaviour]sinktest.Response{sinktest.Accept: success()},
		},
		Open: func(url string, digest time.Duration) (sink.Sink, error) {
			return New(Config{RoutingKey: testKey, URL: url + "/v2/enqueue", Digest: sink.Duration(digest)}, sink.Deps{})
		},
		Equal: sameEvent,
		DigestEqual: func(sent, received []byte) bool {
			return bytes.Contains(received, []byte(notify.Parse(event.Record{Data: sent}).UUID))
		},
		Unsupported: map[sinktest.Scenario]string{
			sinktest.ScenarioPaused: "the Events API has no answer that stops a stream (410 is not one of its answers)",
		},
	})
}

// server is an Events API v2 endpoint.
type server struct {
	*httptest.Server
	mu     sync.Mutex
	events []Event
	status int
	body   string
}

func newServer(t *testing.T) *server {
	s := &server{status: http.StatusAccepted}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(r.Body)
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.status != http.StatusAccepted {
			w.WriteHeader(s.status)
			_, _ = w.Write([]byte(s.body))
			return
		}
		ev, err := readEvent(buf.Bytes())
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(answer{Status: "invalid event", Message: "Event object is invalid", Errors: []string{err.Error()}})
			return
		}
		s.events = append(s.events, ev)
		w.WriteHeader(http.StatusAccepted)
		_, _ = fmt.Fprintf(w, `{"status":"success","message":"Event processed","dedup_key":%q}`, ev.DedupKey)
	}))
	t.Cleanup(s.Close)
	return s
}

func TestTriggerEvent(t *testing.T) {
	srv := newServer(t)
	s, err := New(Config{RoutingKey: testKey, URL: srv.URL + "/v2/enqueue"}, sink.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(t.Context())
	recs := []event.Record{notifytest.Detection("detection"), notifytest.Detection("sigma_detection"), sinktest.Record(1, 5)}
	if err := s.Write(t.Context(), sink.Batch{Records: recs}); err != nil {
		t.Fatalf("write: %v", err)
	}
	if len(srv.events) != 3 {
		t.Fatalf("events: got %d, want 3", len(srv.events))
	}
	ev := srv.events[0]
	if ev.DedupKey != "5b0c5d0e-8f5e-5b7a-9c55-0d2b7e1f4a10" || ev.RoutingKey != testKey {
		t.Errorf("dedup_key: got %q, want the detection id", ev.DedupKey)
	}
	p := ev.Payload
	if p.Severity != "error" || p.Summary != "HIGH: Password spray from one IP (client.ipAddress=203.0.113.7)" ||
		p.Source != "example" || p.Class != "okta_password_spray_by_ip" || p.Timestamp != "2026-11-21T10:15:03.412Z" {
		t.Errorf("payload: got %+v", p)
	}
	if p.CustomDetails["count"] != "12, value 12" || p.CustomDetails["rule author"] != "auditstream" {
		t.Errorf("custom_details: got %v", p.CustomDetails)
	}
	if got := srv.events[1].Payload; got.Severity != "warning" || got.CustomDetails["rule license"] != "DRL-1.1" || got.CustomDetails["rule author"] != "Austin Songer @austinsonger" {
		t.Errorf("sigma payload: got %+v", got)
	}
	plain := srv.events[2]
	if plain.DedupKey != recs[2].UUID || plain.Payload.Severity != "info" || plain.Payload.CustomDetails["event type"] != "user.session.start" {
		t.Errorf("plain event: got %+v", plain)
	}
	// Delivered again (a retry, a replay), it keeps its dedup_key: one incident.
	if err := s.Write(t.Context(), sink.Batch{Records: recs[:1]}); err != nil {
		t.Fatal(err)
	}
	if srv.events[3].DedupKey != ev.DedupKey {
		t.Errorf("second delivery dedup_key: got %q, want %q", srv.events[3].DedupKey, ev.DedupKey)
	}
}

func TestDigestEvent(t *testing.T) {
	srv := newServer(t)
	s, err := New(Config{RoutingKey: testKey, URL: srv.URL + "/v2/enqueue", Source: "okta-prod", Digest: sink.Duration(15 * time.Minute)}, sink.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(t.Context())
	b := sink.Batch{Records: []event.Record{notifytest.Detection("sigma_detection"), notifytest.Detection("detection")}}
	for range 2 {
		if err := s.Write(t.Context(), b); err != nil {
			t.Fatal(err)
		}
	}
	if len(srv.events) != 2 || srv.events[0].DedupKey != srv.events[1].DedupKey || !strings.HasPrefix(srv.events[0].DedupKey, "digest-") {
		t.Fatalf("digest events: got %+v, want two with one digest- dedup_key", srv.events)
	}
	p := srv.events[0].Payload
	if p.Severity != "error" || p.Source != "okta-prod" || !strings.HasPrefix(p.Summary, "2 detections in example (digest): 1 high, 1 medium") {
		t.Errorf("payload: got %+v", p)
	}
}

func TestAnswers(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		want   sink.Class
	}{
		{"invalid event", http.StatusBadRequest, `{"status":"invalid event","message":"Event object is invalid","errors":["'payload.summary' is missing"]}`, sink.ClassPermanent},
		{"bad routing key", http.StatusBadRequest, `{"status":"invalid event","message":"Event object is invalid","errors":["Length of 'routing_key' is incorrect"]}`, sink.ClassConfig},
		{"throttled", http.StatusTooManyRequests, ``, sink.ClassThrottled},
		{"answer quoting the key", http.StatusBadRequest, `{"status":"invalid event","errors":["unknown integration ` + testKey + `"]}`, sink.ClassPermanent},
		{"server error", http.StatusInternalServerError, ``, sink.ClassRetryable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t)
			srv.status, srv.body = tt.status, tt.body
			s, err := New(Config{RoutingKey: testKey, URL: srv.URL + "/v2/enqueue"}, sink.Deps{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close(t.Context())
			err = s.Write(t.Context(), sink.Batch{Records: []event.Record{notifytest.Detection("detection")}})
			var pe *sink.PartialError
			if errors.As(err, &pe) {
				err = pe.Failed[0]
			}
			if class, _ := sink.ClassOf(err); err == nil || class != tt.want {
				t.Errorf("class: got %v (%v), want %v", class, err, tt.want)
			}
			if strings.Contains(err.Error(), testKey) {
				t.Errorf("error shows the routing key: %q", err)
			}
		})
	}
}

func TestConfig(t *testing.T) {
	row := Type()
	if row.Name != "pagerduty" || !slices.Equal(row.Secrets, []string{"routingKey"}) || !slices.Equal(row.Destination, []string{"url"}) {
		t.Errorf("row: got %s %v %v", row.Name, row.Secrets, row.Destination)
	}
	for _, tt := range []struct{ settings, want string }{
		{`{"routingKey":"` + testKey + `"}`, ""},
		{`{"routingKey":"` + testKey + `","url":"https://events.eu.pagerduty.com/v2/enqueue","digest":"15m"}`, ""},
		{`{}`, "routingKey: required"},
		{`{"routingKey":"short secret"}`, "routingKey: want the 32"},
		{`{"routingKey":"` + testKey + `","url":"http://events.example.com/x"}`, "unencrypted"},
		{`{"routingKey":"` + testKey + `","digest":"10s"}`, "digest 10s"},
		{`{"routingKey":"` + testKey + `","severity":"critical"}`, "unknown field"},
	} {
		err := row.Validate([]byte(tt.settings), sink.Deps{})
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%s: got %v, want %q", tt.settings, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), "short secret") {
			t.Errorf("error shows the key: %v", err)
		}
	}
}

// TestVerify: Verify posts a trigger without payload, which the Events API
// refuses (400) without opening an incident; a 400 about the routing key
// fails it.
func TestVerify(t *testing.T) {
	for _, tt := range []struct {
		body    string
		wantErr bool
	}{
		{`{"status":"invalid event","message":"Event object is invalid","errors":["'payload' is missing or blank"]}`, false},
		{`{"status":"invalid event","message":"Event object is invalid","errors":["Invalid routing key"]}`, true},
		{"", false}, // the server's own answer to an event without payload
	} {
		srv := newServer(t)
		if tt.body != "" {
			srv.status, srv.body = http.StatusBadRequest, tt.body
		}
		s, err := New(Config{RoutingKey: testKey, URL: srv.URL + "/v2/enqueue"}, sink.Deps{})
		if err != nil {
			t.Fatal(err)
		}
		err = s.Verify(t.Context())
		_ = s.Close(t.Context())
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: got %v, want error %v", tt.body, err, tt.wantErr)
		}
		if len(srv.events) != 0 {
			t.Errorf("events accepted by verify: got %d, want 0", len(srv.events))
		}
	}
}
