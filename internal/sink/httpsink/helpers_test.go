package httpsink

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/sink"
)

// captured is one request a test server received.
type captured struct {
	method string
	path   string
	header http.Header
	body   []byte
}

// receiver is a test endpoint that records requests and answers with
// answer (200 when nil).
type receiver struct {
	srv *httptest.Server

	mu     sync.Mutex
	reqs   []captured
	answer func(w http.ResponseWriter, c captured, n int)
}

func newReceiver(t *testing.T, answer func(w http.ResponseWriter, c captured, n int)) *receiver {
	t.Helper()
	rc := &receiver{answer: answer}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		c := captured{method: r.Method, path: r.URL.Path, header: r.Header.Clone(), body: body}
		rc.mu.Lock()
		rc.reqs = append(rc.reqs, c)
		n := len(rc.reqs) - 1
		answer := rc.answer
		rc.mu.Unlock()
		if answer != nil {
			answer(w, c, n)
		}
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) requests() []captured {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]captured(nil), rc.reqs...)
}

// status answers every request with code, header h and body.
func status(code int, h http.Header, body string) func(http.ResponseWriter, captured, int) {
	return func(w http.ResponseWriter, _ captured, _ int) {
		for k, v := range h {
			w.Header()[k] = v
		}
		w.WriteHeader(code)
		_, _ = io.WriteString(w, body)
	}
}

// newTestSink builds a sink and closes it with the test.
func newTestSink(t *testing.T, cfg Config, deps sink.Deps) *Sink {
	t.Helper()
	s, err := New(cfg, deps)
	if err != nil {
		t.Fatalf("new: %v", err)
	}
	t.Cleanup(func() { _ = s.Close(t.Context()) })
	return s
}

// records returns n small records with ids r0, r1, ...
func records(n int) []event.Record {
	out := make([]event.Record, n)
	for i := range out {
		id := "0000000" + string(rune('0'+i%10)) + "-1111-2222-3333-444455556666"
		out[i] = event.Record{UUID: id, Seq: uint64(i + 1), Data: []byte(`{"uuid":"` + id + `","n":` + string(rune('0'+i%10)) + `}`)}
	}
	return out
}

func joinLines(parts ...string) []byte {
	var b bytes.Buffer
	for _, p := range parts {
		b.WriteString(p)
		b.WriteByte('\n')
	}
	return b.Bytes()
}
