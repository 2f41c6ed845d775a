package sinktest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/auditstream/auditstream/internal/sink/fake"
)

// DecodeFunc turns one HTTP request to a fake destination into the records
// it carries. body is the whole request body, already read.
type DecodeFunc func(r *http.Request, body []byte) ([]Received, error)

// CheckFunc inspects a request before it is answered (authentication,
// signature, headers). A non-nil error is reported with t.Errorf and the
// request is answered 400.
type CheckFunc func(r *http.Request, body []byte) error

// Response is what an HTTPFake sends for one Behaviour.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// FailureBodySize is the size of the default failure responses' bodies:
// larger than a typical error snippet, so a sink that reads only a snippet
// and closes the body loses its connection, and smaller than the 64 KiB a
// sink is expected to drain.
const FailureBodySize = 16 << 10

// DefaultResponses are the answers an HTTPFake gives when
// HTTPFakeOptions.Responses does not say otherwise: 200, 500, 400, 429 and
// 410 (a webhook's "gone"). A Throttle answer also gets Retry-After.
func DefaultResponses() map[Behaviour]Response {
	fail := func(status int) Response {
		body := bytes.Repeat([]byte("x"), FailureBodySize)
		copy(body, fmt.Sprintf(`{"error":"fake answer %d"} `, status))
		return Response{Status: status, Header: http.Header{"Content-Type": {"text/plain"}}, Body: body}
	}
	return map[Behaviour]Response{
		Accept:        {Status: http.StatusOK, Body: []byte(`{}`)},
		FailRetryable: fail(http.StatusInternalServerError),
		FailPermanent: fail(http.StatusBadRequest),
		Throttle:      fail(http.StatusTooManyRequests),
		Pause:         fail(http.StatusGone),
	}
}

// HTTPFakeOptions configure an HTTPFake.
type HTTPFakeOptions struct {
	// Decode reads the records out of a request. Required.
	Decode DecodeFunc
	// Check, if set, inspects every request.
	Check CheckFunc
	// Responses override DefaultResponses per Behaviour.
	Responses map[Behaviour]Response
	// Extra serves other endpoints of the destination by URL path (for
	// example a token endpoint). They are not deliveries, are not recorded
	// and ignore Answer.
	Extra map[string]http.Handler
	// Route reports whether r is a delivery; nil means every POST or PUT
	// is one. Other requests (a Verify's HEAD, OPTIONS or GET) are
	// answered with Probe.
	Route func(r *http.Request) bool
	// Probe is the status for a request that is neither a delivery nor
	// handled by Handler; zero means 405 Method Not Allowed, what many
	// webhook receivers answer to a HEAD.
	Probe int
}

// HTTPFake is an httptest server acting as an HTTP destination. It records
// every delivery, counts connections and answers as told. Its zero value is
// not usable: build it with NewHTTPFake.
type HTTPFake struct {
	t    *testing.T
	opts HTTPFakeOptions
	srv  *httptest.Server

	mu     sync.Mutex
	answer Answer
	reqs   []Request
	conns  int
	probes int

	release   chan struct{}
	closeOnce sync.Once
}

var _ Fake = (*HTTPFake)(nil)

// NewHTTPFake starts an HTTPFake on loopback and registers its Close with
// t.Cleanup.
func NewHTTPFake(t *testing.T, opts HTTPFakeOptions) *HTTPFake {
	t.Helper()
	if opts.Decode == nil {
		t.Fatal("sinktest: HTTPFakeOptions.Decode is required")
	}
	f := &HTTPFake{t: t, opts: opts, release: make(chan struct{})}
	f.srv = httptest.NewUnstartedServer(http.HandlerFunc(f.serve))
	f.srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			f.mu.Lock()
			f.conns++
			f.mu.Unlock()
		}
	}
	f.srv.Start()
	t.Cleanup(f.Close)
	return f
}

// URL is the fake's base URL (http://127.0.0.1:port).
func (f *HTTPFake) URL() string { return f.srv.URL }

// Answer implements Fake.
func (f *HTTPFake) Answer(a Answer) { fake.Set(&f.mu, &f.answer, a) }

// Requests implements Fake.
func (f *HTTPFake) Requests() []Request { return fake.Copy(&f.mu, &f.reqs) }

// Connections implements Fake.
func (f *HTTPFake) Connections() int { return fake.Get(&f.mu, &f.conns) }

// Probes returns how many requests were answered as Verify probes.
func (f *HTTPFake) Probes() int { return fake.Get(&f.mu, &f.probes) }

// Close implements Fake.
func (f *HTTPFake) Close() {
	f.closeOnce.Do(func() {
		close(f.release)
		f.srv.Close()
	})
}

func (f *HTTPFake) isDelivery(r *http.Request) bool {
	if f.opts.Route != nil {
		return f.opts.Route(r)
	}
	return r.Method == http.MethodPost || r.Method == http.MethodPut
}

func (f *HTTPFake) serve(w http.ResponseWriter, r *http.Request) {
	// Read the whole body first, whatever the answer, so the server keeps
	// the connection: a lost connection must be the sink's fault.
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	if h, ok := f.opts.Extra[r.URL.Path]; ok {
		r.Body = io.NopCloser(bytes.NewReader(body))
		h.ServeHTTP(w, r)
		return
	}
	a := fake.Get(&f.mu, &f.answer)

	if a.Behaviour == Unreachable {
		closeWithoutAnswer(w)
		return
	}
	if !f.isDelivery(r) {
		f.mu.Lock()
		f.probes++
		f.mu.Unlock()
		status := f.opts.Probe
		if status == 0 {
			status = http.StatusMethodNotAllowed
		}
		w.WriteHeader(status)
		return
	}
	if f.opts.Check != nil {
		if err := f.opts.Check(r, body); err != nil {
			f.t.Errorf("sinktest: fake got a bad request: %v", err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
	}
	recs, err := f.opts.Decode(r, body)
	if err != nil {
		f.t.Errorf("sinktest: fake cannot decode request: %v", err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if a.Behaviour == Hang {
		select {
		case <-r.Context().Done():
		case <-f.release:
		}
		return
	}
	f.mu.Lock()
	f.reqs = append(f.reqs, Request{Records: recs, Bytes: len(body), Accepted: a.Behaviour == Accept})
	f.mu.Unlock()
	f.respond(w, a)
}

func (f *HTTPFake) respond(w http.ResponseWriter, a Answer) {
	resp, ok := f.opts.Responses[a.Behaviour]
	if !ok {
		resp = DefaultResponses()[a.Behaviour]
	}
	for k, vs := range resp.Header {
		w.Header()[k] = vs
	}
	if a.Behaviour == Throttle && a.RetryAfter > 0 {
		v := strconv.Itoa(int(a.RetryAfter / time.Second))
		if a.HTTPDate {
			v = time.Now().Add(a.RetryAfter).UTC().Format(http.TimeFormat)
		}
		w.Header().Set("Retry-After", v)
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(resp.Body)))
	status := resp.Status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, _ = w.Write(resp.Body)
}

// closeWithoutAnswer drops the connection, which a client sees as the
// destination going away mid-request.
func closeWithoutAnswer(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(errors.New("sinktest: response writer cannot hijack"))
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return
	}
	_ = conn.Close()
}
