package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/client/clienttest"
)

const token = "test-token"

// newTest returns a fake server and a client for it whose waits are
// recorded instead of slept.
func newTest(t *testing.T) (*clienttest.Server, *Client, *[]time.Duration) {
	t.Helper()
	srv := clienttest.New(t, token)
	c := New(srv.URL, token, nil)
	var mu sync.Mutex
	waits := &[]time.Duration{}
	c.sleep = func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		defer mu.Unlock()
		*waits = append(*waits, d)
		return ctx.Err()
	}
	return srv, c, waits
}

func events(n, pad int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `{"uuid":"u-%06d","eventType":"user.session.start","pad":%q}`+"\n", i, strings.Repeat("x", pad))
	}
	return b.String()
}

func TestSendNDJSONSplits(t *testing.T) {
	tests := []struct {
		name         string
		input        string
		batchBytes   int
		batchEvents  int
		noGzip       bool
		wantRequests int
		wantEvents   int
	}{
		{name: "one request", input: events(5, 10), wantRequests: 1, wantEvents: 5},
		{name: "blank lines skipped", input: "\n\n" + strings.ReplaceAll(events(4, 10), "\n", "\n \r\n\t\n"), wantRequests: 1, wantEvents: 4},
		{name: "by events", input: events(7, 10), batchEvents: 3, wantRequests: 3, wantEvents: 7},
		{name: "by bytes", input: events(10, 200), batchBytes: 1000, noGzip: true, wantRequests: 4, wantEvents: 10},
		{name: "default event limit", input: events(25000, 0), wantRequests: 3, wantEvents: 25000},
		{name: "empty input", input: "", wantRequests: 0, wantEvents: 0},
		{name: "no final newline", input: strings.TrimSuffix(events(2, 1), "\n"), wantRequests: 1, wantEvents: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, c, _ := newTest(t)
			c.BatchBytes, c.BatchEvents, c.DisableCompression = tt.batchBytes, tt.batchEvents, tt.noGzip
			res, err := c.SendNDJSON(t.Context(), strings.NewReader(tt.input))
			if err != nil {
				t.Fatalf("SendNDJSON: %v", err)
			}
			if res.Accepted != int64(tt.wantEvents) || res.Duplicates != 0 {
				t.Errorf("got %+v, want %d accepted, 0 duplicates", res, tt.wantEvents)
			}
			reqs := srv.Requests()
			if len(reqs) != tt.wantRequests {
				t.Fatalf("got %d requests, want %d", len(reqs), tt.wantRequests)
			}
			limitBytes := tt.batchBytes
			if limitBytes == 0 {
				limitBytes = DefaultBatchBytes
			}
			for i, r := range reqs {
				if r.ContentType != "application/x-ndjson" {
					t.Errorf("request %d: Content-Type %q, want application/x-ndjson", i, r.ContentType)
				}
				wantEnc := "gzip"
				if tt.noGzip {
					wantEnc = ""
				}
				if r.ContentEncoding != wantEnc {
					t.Errorf("request %d: Content-Encoding %q, want %q", i, r.ContentEncoding, wantEnc)
				}
				if tt.noGzip && r.BodyBytes > limitBytes {
					t.Errorf("request %d: %d bytes, want at most %d", i, r.BodyBytes, limitBytes)
				}
				if tt.batchEvents > 0 && r.Events > tt.batchEvents {
					t.Errorf("request %d: %d events, want at most %d", i, r.Events, tt.batchEvents)
				}
				if r.Events > DefaultBatchEvents {
					t.Errorf("request %d: %d events, want at most %d", i, r.Events, DefaultBatchEvents)
				}
			}
			if got := len(srv.Events()); got != tt.wantEvents {
				t.Errorf("server stored %d events, want %d", got, tt.wantEvents)
			}
		})
	}
}

func TestSendNDJSONDuplicates(t *testing.T) {
	_, c, _ := newTest(t)
	in := events(3, 0)
	if _, err := c.SendNDJSON(t.Context(), strings.NewReader(in)); err != nil {
		t.Fatal(err)
	}
	res, err := c.SendNDJSON(t.Context(), strings.NewReader(in+events(4, 0)[len(in):]))
	if err != nil {
		t.Fatal(err)
	}
	if res != (Result{Accepted: 1, Duplicates: 3}) {
		t.Errorf("got %+v, want 1 accepted, 3 duplicates", res)
	}
}

func TestSendNDJSONBadInput(t *testing.T) {
	long := `{"eventType":"a","pad":"` + strings.Repeat("x", MaxLineBytes) + `"}`
	huge := `{"eventType":"a","pad":"` + strings.Repeat("x", 3*MaxLineBytes) + `"}`
	tests := []struct {
		name, input, wantLine string
		wantSent              int64
	}{
		{"line too long", events(2, 0) + long + "\n" + events(1, 0), "line 3 is longer", 0},
		{"line far too long", events(1, 0) + "\n" + huge, "line 3 is longer", 0},
		{"not json", events(2, 0) + "{nope\n", "line 3 is not a JSON object", 0},
		{"not an object", "[1,2]\n", "line 1 is not a JSON object", 0},
		{"after a sent batch", events(3, 0) + "oops\n", "line 4 is not", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, c, _ := newTest(t)
			c.BatchEvents = 2
			res, err := c.SendNDJSON(t.Context(), strings.NewReader(tt.input))
			if !errors.Is(err, ErrInvalidInput) {
				t.Fatalf("got error %v, want ErrInvalidInput", err)
			}
			if !strings.Contains(err.Error(), tt.wantLine) {
				t.Errorf("got error %q, want it to contain %q", err, tt.wantLine)
			}
			if res.Accepted != tt.wantSent || int64(len(srv.Events())) != tt.wantSent {
				t.Errorf("got %d accepted, %d stored, want %d", res.Accepted, len(srv.Events()), tt.wantSent)
			}
		})
	}
}

// failFirst answers the first n requests to path with status and header.
func failFirst(n int, path string, status int, retryAfter string) func(http.ResponseWriter, *http.Request) bool {
	var mu sync.Mutex
	return func(w http.ResponseWriter, r *http.Request) bool {
		mu.Lock()
		defer mu.Unlock()
		if r.URL.Path != path || n == 0 {
			return false
		}
		n--
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		clienttest.WriteError(w, status, "E0000047", "API call exceeded rate limit due to too many requests.")
		return true
	}
}

// dropFirst closes the connection of the first n requests to path
// without an answer.
func dropFirst(n int, method, path string) func(http.ResponseWriter, *http.Request) bool {
	var mu sync.Mutex
	return func(w http.ResponseWriter, r *http.Request) bool {
		mu.Lock()
		defer mu.Unlock()
		if r.Method != method || r.URL.Path != path || n == 0 {
			return false
		}
		n--
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			_ = conn.Close()
		}
		return true
	}
}

func TestRetries(t *testing.T) {
	date := time.Now().Add(30 * time.Second).UTC().Format(http.TimeFormat)
	tests := []struct {
		name      string
		hook      func(http.ResponseWriter, *http.Request) bool
		wantErr   int // HTTP status of the expected *APIError, 0 for success
		wantWaits int
		checkWait func(time.Duration) bool
	}{
		{"429 with seconds", failFirst(2, "/api/v1/events", 429, "3"), 0, 2, func(d time.Duration) bool { return d == 3*time.Second }},
		{"503 with date", failFirst(1, "/api/v1/events", 503, date), 0, 1, func(d time.Duration) bool { return d > 25*time.Second && d <= 30*time.Second }},
		{"429 without Retry-After backs off", failFirst(1, "/api/v1/events", 429, ""), 0, 1, func(d time.Duration) bool { return d > 0 && d <= backoffBase }},
		{"connection dropped", dropFirst(2, "POST", "/api/v1/events"), 0, 2, func(d time.Duration) bool { return d > 0 && d <= backoffMax }},
		{"gives up after MaxAttempts", failFirst(10, "/api/v1/events", 429, "0"), 429, DefaultMaxAttempts - 1, nil},
		{"Retry-After beyond MaxRetryWait", failFirst(1, "/api/v1/events", 503, "3600"), 503, 0, nil},
		{"400 is not retried", failFirst(1, "/api/v1/events", 400, "1"), 400, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, c, waits := newTest(t)
			srv.Intercept(tt.hook)
			res, err := c.SendNDJSON(t.Context(), strings.NewReader(events(3, 0)))
			if tt.wantErr == 0 {
				if err != nil {
					t.Fatalf("SendNDJSON: %v", err)
				}
				if res.Accepted != 3 {
					t.Errorf("got %d accepted, want 3", res.Accepted)
				}
			} else {
				var apiErr *APIError
				if !errors.As(err, &apiErr) || apiErr.Status != tt.wantErr {
					t.Fatalf("got error %v, want *APIError with status %d", err, tt.wantErr)
				}
			}
			if len(*waits) != tt.wantWaits {
				t.Fatalf("got waits %v, want %d", *waits, tt.wantWaits)
			}
			for _, d := range *waits {
				if tt.checkWait != nil && !tt.checkWait(d) {
					t.Errorf("wait %v out of range", d)
				}
			}
		})
	}
}

func TestRetryWaitsForReal(t *testing.T) {
	srv := clienttest.New(t, token)
	srv.Intercept(failFirst(1, "/api/v1/events", 429, "1"))
	c := New(srv.URL, token, nil)
	start := time.Now()
	if _, err := c.SendNDJSON(t.Context(), strings.NewReader(events(1, 0))); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < time.Second {
		t.Errorf("retried after %v, want at least the 1s of Retry-After", el)
	}
}

func TestRetryStopsOnCancel(t *testing.T) {
	srv := clienttest.New(t, token)
	srv.Intercept(failFirst(1, "/api/v1/events", 503, "30"))
	c := New(srv.URL, token, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.SendNDJSON(ctx, strings.NewReader(events(1, 0)))
	if err == nil || time.Since(start) > 5*time.Second {
		t.Fatalf("got %v after %v, want an error soon after cancel", err, time.Since(start))
	}
}

func TestCreateNotRetriedAfterConnectionError(t *testing.T) {
	srv, c, waits := newTest(t)
	srv.Intercept(dropFirst(1, "POST", "/api/v1/logStreams"))
	_, err := c.CreateStream(t.Context(), Stream{Type: "http", Name: "a", Settings: json.RawMessage(`{"url":"http://127.0.0.1:1/x"}`)})
	if err == nil {
		t.Fatal("got nil error, want the connection error")
	}
	if len(*waits) != 0 {
		t.Errorf("got %d retries, want 0", len(*waits))
	}
	// A read is retried.
	srv.Intercept(dropFirst(1, "GET", "/api/v1/logStreams"))
	if _, err := c.ListStreams(t.Context()); err != nil {
		t.Errorf("ListStreams: %v", err)
	}
}

func TestAPIError(t *testing.T) {
	tests := []struct {
		name    string
		hook    func(http.ResponseWriter, *http.Request) bool
		token   string
		want    APIError
		wantMsg string
	}{
		{
			name: "not found", token: token,
			want:    APIError{Status: 404, Code: "E0000007", Summary: "Not found: Resource not found: nope (LogStream)"},
			wantMsg: "404 E0000007: Not found: Resource not found: nope (LogStream)",
		},
		{
			name: "bad token", token: "wrong",
			want:    APIError{Status: 401, Code: "E0000011", Summary: "Invalid token provided"},
			wantMsg: "401 E0000011: Invalid token provided",
		},
		{
			name: "causes", token: token,
			hook: func(w http.ResponseWriter, r *http.Request) bool {
				clienttest.WriteError(w, 400, "E0000001", "Api validation failed: logStream", "name: blank", "type: blank")
				return true
			},
			want:    APIError{Status: 400, Code: "E0000001", Summary: "Api validation failed: logStream", Causes: []string{"name: blank", "type: blank"}},
			wantMsg: "400 E0000001: Api validation failed: logStream (name: blank; type: blank)",
		},
		{
			name: "not an okta body", token: token,
			hook: func(w http.ResponseWriter, r *http.Request) bool {
				http.Error(w, "<html>\n  upstream   down</html>", http.StatusBadGateway)
				return true
			},
			want:    APIError{Status: 502, Summary: "Bad Gateway: <html> upstream down</html>"},
			wantMsg: "502: Bad Gateway: <html> upstream down</html>",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := clienttest.New(t, token)
			srv.Intercept(tt.hook)
			c := New(srv.URL, tt.token, nil)
			_, err := c.GetStream(t.Context(), "nope")
			var got *APIError
			if !errors.As(err, &got) {
				t.Fatalf("got %T %v, want *APIError", err, err)
			}
			got.ID = ""
			if fmt.Sprint(*got) != fmt.Sprint(tt.want) {
				t.Errorf("got %+v, want %+v", *got, tt.want)
			}
			if got.Error() != tt.wantMsg {
				t.Errorf("got message %q, want %q", got.Error(), tt.wantMsg)
			}
		})
	}
}

func TestStreamLifecycle(t *testing.T) {
	srv, c, _ := newTest(t)
	srv.PageSize = 2
	ctx := t.Context()

	var ids []string
	for i := range 5 {
		s, err := c.CreateStream(ctx, Stream{
			Type: "http", Name: fmt.Sprintf("s%d", i),
			Settings: json.RawMessage(`{"url":"http://127.0.0.1:9/hook"}`),
			Filter:   json.RawMessage(`{"detail":{"eventType":[{"prefix":"user."}]}}`),
		})
		if err != nil {
			t.Fatalf("CreateStream: %v", err)
		}
		if s.ID == "" || s.Status != StatusActive || s.Created.IsZero() || s.Name != fmt.Sprintf("s%d", i) {
			t.Errorf("created %+v, want an id, ACTIVE, a created time", s)
		}
		ids = append(ids, s.ID)
	}
	list, err := c.ListStreams(ctx)
	if err != nil {
		t.Fatalf("ListStreams: %v", err)
	}
	if len(list) != 5 || list[4].ID != ids[4] {
		t.Fatalf("listed %d streams, want all 5 across pages", len(list))
	}
	if gets := srv.Count("GET", "/api/v1/logStreams"); gets != 3 {
		t.Errorf("got %d list requests, want 3 pages", gets)
	}

	id := ids[0]
	got, err := c.GetStream(ctx, id)
	if err != nil || got.ID != id {
		t.Fatalf("GetStream: %+v, %v", got, err)
	}
	var filter map[string]any
	if err := json.Unmarshal(got.Filter, &filter); err != nil || filter["detail"] == nil {
		t.Errorf("got filter %s, want the pattern sent", got.Filter)
	}

	got.Name = "renamed"
	got.Filter = nil
	upd, err := c.UpdateStream(ctx, id, got)
	if err != nil || upd.Name != "renamed" || len(upd.Filter) != 0 {
		t.Fatalf("UpdateStream: %+v, %v, want renamed without filter", upd, err)
	}

	if s, err := c.Deactivate(ctx, id); err != nil || s.Status != StatusInactive {
		t.Errorf("Deactivate: %+v, %v", s.Status, err)
	}
	st, err := c.Status(ctx, id)
	if err != nil || st.ID != id || st.State != "inactive" || !st.LastErrorAt.IsZero() {
		t.Errorf("Status: %+v, %v, want inactive", st, err)
	}
	if s, err := c.Activate(ctx, id); err != nil || s.Status != StatusActive {
		t.Errorf("Activate: %+v, %v", s.Status, err)
	}

	if err := c.Replay(ctx, id, time.Date(2024, 8, 13, 0, 0, 0, 0, time.FixedZone("x", 3600))); err != nil {
		t.Errorf("Replay: %v", err)
	}

	srv.AddDeadLetter(id, clienttest.DeadLetter{Seq: 7, UUID: "u-1", Reason: "400 Bad Request", At: "2024-08-13T15:58:20.353Z", Event: json.RawMessage(`{"uuid":"u-1"}`)})
	dl, err := c.DeadLetters(ctx, id)
	if err != nil || len(dl) != 1 || dl[0].Seq != 7 || dl[0].UUID != "u-1" || dl[0].At.IsZero() || !bytes.Equal(dl[0].Event, []byte(`{"uuid":"u-1"}`)) {
		t.Errorf("DeadLetters: %+v, %v", dl, err)
	}
	n, err := c.Redrive(ctx, id)
	if err != nil || n != 1 {
		t.Errorf("Redrive: %d, %v, want 1", n, err)
	}

	if err := c.DeleteStream(ctx, id); err != nil {
		t.Fatalf("DeleteStream: %v", err)
	}
	var apiErr *APIError
	if _, err := c.GetStream(ctx, id); !errors.As(err, &apiErr) || apiErr.Status != 404 {
		t.Errorf("GetStream after delete: %v, want 404", err)
	}
}

func TestNextLink(t *testing.T) {
	tests := []struct {
		headers []string
		want    string
	}{
		{nil, ""},
		{[]string{`<https://x/api/v1/logStreams?limit=2>; rel="self"`}, ""},
		{[]string{`<https://x/a>; rel="self"`, `<https://x/b?after=1>; rel="next"`}, "https://x/b?after=1"},
		{[]string{`<https://x/a>; rel="self", <https://x/c>; rel=next`}, "https://x/c"},
	}
	for _, tt := range tests {
		h := http.Header{}
		for _, v := range tt.headers {
			h.Add("Link", v)
		}
		if got := nextLink(h); got != tt.want {
			t.Errorf("nextLink(%q) = %q, want %q", tt.headers, got, tt.want)
		}
	}
}

func TestNextLinkToOtherServerRefused(t *testing.T) {
	srv, c, _ := newTest(t)
	srv.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		w.Header().Set("Link", `<http://evil.example/api/v1/logStreams?after=x>; rel="next"`)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`[{"id":"a","type":"http","name":"a"}]`))
		return true
	})
	if _, err := c.ListStreams(t.Context()); err == nil || !strings.Contains(err.Error(), "leaves") {
		t.Errorf("got %v, want a refusal to follow the link", err)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		in     string
		want   time.Duration
		wantOK bool
	}{
		{"", 0, false},
		{"0", 0, true},
		{" 12 ", 12 * time.Second, true},
		{"-1", 0, false},
		{"soon", 0, false},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
	}
	for _, tt := range tests {
		got, ok := parseRetryAfter(tt.in, now)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("parseRetryAfter(%q) = %v, %v, want %v, %v", tt.in, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestStreamDecodesEmptyTimes(t *testing.T) {
	var s StreamStatus
	if err := json.Unmarshal([]byte(`{"id":"a","state":"error","lastError":"x","lastErrorAt":"2024-08-13T15:58:20.353Z","lastSuccessAt":""}`), &s); err != nil {
		t.Fatal(err)
	}
	if s.LastErrorAt.IsZero() || !s.LastSuccessAt.IsZero() || s.State != "error" {
		t.Errorf("got %+v", s)
	}
	var st Stream
	if err := json.Unmarshal([]byte(`{"id":"a","name":"n","created":null,"lastUpdated":"2024-08-13T15:58:20Z"}`), &st); err != nil {
		t.Fatal(err)
	}
	if !st.Created.IsZero() || st.LastUpdated.IsZero() || st.Name != "n" {
		t.Errorf("got %+v", st)
	}
}
