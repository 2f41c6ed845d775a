package sink

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestStatusClass is the default table every HTTP destination falls back
// to; 503 is throttling for all of them.
func TestStatusClass(t *testing.T) {
	now := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	ra := http.Header{"Retry-After": {"7"}}
	for _, tc := range []struct {
		status int
		header http.Header
		class  Class
		delay  time.Duration
	}{
		{301, nil, ClassConfig, 0}, {401, nil, ClassConfig, 0}, {403, nil, ClassConfig, 0},
		{404, nil, ClassConfig, 0}, {407, nil, ClassConfig, 0},
		{410, nil, ClassPaused, 0},
		{429, ra, ClassThrottled, 7 * time.Second}, {503, nil, ClassThrottled, 0}, {503, ra, ClassThrottled, 7 * time.Second},
		{408, nil, ClassRetryable, 0}, {425, nil, ClassRetryable, 0}, {500, ra, ClassRetryable, 7 * time.Second}, {502, nil, ClassRetryable, 0},
		{400, nil, ClassPermanent, 0}, {413, ra, ClassPermanent, 0}, {422, nil, ClassPermanent, 0},
		// Long asks pass through: the runner alone caps them.
		{429, http.Header{"Retry-After": {"3600"}}, ClassThrottled, time.Hour},
	} {
		h := tc.header
		if h == nil {
			h = http.Header{}
		}
		class, delay := StatusClass(tc.status, h, now)
		if class != tc.class || delay != tc.delay {
			t.Errorf("%d %v: got %v %v, want %v %v", tc.status, tc.header, class, delay, tc.class, tc.delay)
		}
	}
}

// TestHTTPDo: every request is checked against the egress policy (no
// request leaves when refused), answers are drained and snippeted, a
// timeout is named, and the query never shows in errors.
func TestHTTPDo(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Path == "/slow" {
			<-r.Context().Done()
			return
		}
		if r.Header.Get("User-Agent") != "auditstream" {
			t.Errorf("user agent: got %q, want auditstream", r.Header.Get("User-Agent"))
		}
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, "bad\x00 event "+strings.Repeat("x", 1000))
	}))
	defer srv.Close()
	var block atomic.Bool
	h := NewHTTP(Deps{Egress: EgressFuncs{URL: func(*url.URL) error {
		if block.Load() {
			return errors.New("refused")
		}
		return nil
	}}}, 200*time.Millisecond)
	defer h.Close()
	u, _ := url.Parse(srv.URL + "/hook?token=s3cret")
	resp, err := h.Do(t.Context(), Request{Method: http.MethodPost, URL: u, Body: []byte("[]"), Keep: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Body) != 10 || !strings.HasPrefix(resp.Snippet, "bad event xxx") || !strings.HasSuffix(resp.Snippet, "…") || len(resp.Snippet) > 520 {
		t.Errorf("answer: got body %q snippet %q, want 10 bytes and a printable cut snippet", resp.Body, resp.Snippet)
	}
	cerr := Classify(resp, time.Now())
	var se *StatusError
	if c, _ := ClassOf(cerr); c != ClassPermanent || !errors.As(cerr, &se) || strings.Contains(cerr.Error(), "s3cret") {
		t.Errorf("classify: got %v (%v), want a permanent *StatusError without the query", cerr, c)
	}
	block.Store(true)
	before := hits.Load()
	_, err = h.Do(t.Context(), Request{Method: http.MethodPost, URL: u})
	if c, _ := ClassOf(err); !errors.Is(err, ErrForbiddenTarget) || c != ClassConfig || hits.Load() != before {
		t.Errorf("refused: got %v (%v), %d requests, want a config ErrForbiddenTarget and none sent", err, c, hits.Load()-before)
	}
	block.Store(false)
	slow, _ := url.Parse(srv.URL + "/slow?token=s3cret")
	_, err = h.Do(t.Context(), Request{Method: http.MethodGet, URL: slow})
	if err == nil || !strings.Contains(err.Error(), "no answer within 200ms") || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("timeout: got %v, want it named without the query", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := h.Do(ctx, Request{Method: http.MethodGet, URL: slow}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: got %v, want context.Canceled", err)
	}
}
