package httpsink

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode"

	"github.com/auditstream/auditstream/internal/sink"
)

const (
	// snippetBytes is how much of an error response goes into the error
	// text: enough for a JSON error message, not a whole HTML page.
	snippetBytes = 512
	// drainBytes is how much more of a response is read so the connection
	// can be reused; a longer body costs the connection instead.
	drainBytes = 64 << 10
	// maxRetryAfter caps the delay a receiver may ask for, as the runner
	// must keep retrying (DESTINATIONS.md 0.2).
	maxRetryAfter = 15 * time.Minute
)

// StatusError is an HTTP answer other than 2xx. Write and Verify return it
// wrapped in its sink class; use errors.As to read it.
type StatusError struct {
	// Method and URL are the request's; URL has no query string.
	Method string
	URL    string
	// StatusCode is the answer's status.
	StatusCode int
	// Body is the start of the answer's body, made printable.
	Body string
	// Location is where a redirect pointed, without query string.
	Location string
}

// ResponseBody is the part of the answer the error carries; tenants'
// views leave it out (egress.PublicMessage).
func (e *StatusError) ResponseBody() string { return e.Body }

func (e *StatusError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %d %s", e.Method, e.URL, e.StatusCode, http.StatusText(e.StatusCode))
	if e.Location != "" {
		fmt.Fprintf(&b, " to %s (redirects are not followed: fix the url)", e.Location)
	}
	if e.Body != "" {
		fmt.Fprintf(&b, ": %s", e.Body)
	}
	return b.String()
}

// classify turns a non-2xx answer into a classified *StatusError:
//
//	2xx                             nil
//	3xx                             config (never follow redirects with audit data)
//	401, 403, 404, 407              config (credentials or endpoint need an operator)
//	410                             paused (the receiver is gone; reactivate to resume)
//	408, 425, other 5xx             retryable, with Retry-After when given
//	429, 503                        throttled, with Retry-After when given
//	other 4xx (400, 413, 422, …)    permanent
//
// 404 and the others hold the stream (retried slowly) rather than dead-letter
// the events: the events are fine, the destination is not (DESTINATIONS.md,
// webhooks).
func (s *Sink) classify(r response) error {
	if r.status >= 200 && r.status < 300 {
		return nil
	}
	err := &StatusError{Method: r.method, URL: s.target, StatusCode: r.status, Body: r.snippet}
	delay := min(sink.ParseRetryAfter(r.header.Get("Retry-After"), s.now()), maxRetryAfter)
	switch st := r.status; {
	case st >= 300 && st < 400:
		if loc, perr := s.url.Parse(r.header.Get("Location")); perr == nil && loc.String() != s.url.String() {
			err.Location = safeURL(loc)
		}
		return sink.Misconfigured(err)
	case st == http.StatusGone:
		// The receiver says the endpoint is gone for good: stop delivering
		// until an operator reactivates the stream (Standard Webhooks).
		return sink.Paused(err)
	case st == http.StatusUnauthorized, st == http.StatusForbidden, st == http.StatusNotFound,
		st == http.StatusProxyAuthRequired:
		return sink.Misconfigured(err)
	case st == http.StatusTooManyRequests, st == http.StatusServiceUnavailable:
		return sink.Throttled(err, delay)
	case st == http.StatusRequestTimeout, st == http.StatusTooEarly, st >= 500:
		return sink.RetryAfter(err, delay)
	case st >= 400:
		return sink.Permanent(err)
	default:
		return sink.RetryAfter(err, delay) // 1xx leaked through, or nonsense
	}
}

// drain reads the start of body for error texts, then up to drainBytes
// more so the connection goes back to the pool, and closes it.
func drain(body io.ReadCloser) string {
	defer body.Close()
	head, _ := io.ReadAll(io.LimitReader(body, snippetBytes+1))
	_, _ = io.CopyN(io.Discard, body, drainBytes)
	truncated := len(head) > snippetBytes
	if truncated {
		head = head[:snippetBytes]
	}
	return printable(head, truncated)
}

// printable makes a response snippet fit for one log line.
func printable(b []byte, truncated bool) string {
	s := strings.ToValidUTF8(string(b), "\uFFFD")
	if truncated {
		// The cut may have split a UTF-8 sequence.
		s = strings.TrimRight(s, "\uFFFD") + "…"
	}
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}
