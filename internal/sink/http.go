package sink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"
)

const (
	// snippetBytes is how much of an answer goes into an error text:
	// enough for a JSON error message, not a whole HTML page.
	snippetBytes = 512
	// drainBytes is how much more of an answer is read so the connection
	// can be reused; a longer body costs the connection instead.
	drainBytes = 64 << 10
	// userAgent identifies auditstream to destinations.
	userAgent = "auditstream"
)

// HTTP is the request side every HTTP destination shares: the owner's
// client (never following redirects), the egress check before every
// request, a per-request timeout, transport errors without the URL's query,
// and answers read, drained and closed before Do returns. Destinations
// build their requests and read their own answers; Classify is the default
// table from status to class.
type HTTP struct {
	client  *http.Client
	own     bool
	deps    Deps
	timeout time.Duration
}

// NewHTTP returns the request side of a destination with deps and a
// per-request timeout (zero: none).
func NewHTTP(deps Deps, timeout time.Duration) *HTTP {
	h := &HTTP{deps: deps.WithDefaults(), timeout: timeout}
	h.client, h.own = HTTPClient(deps.HTTPClient)
	return h
}

// Request is one request of a destination.
type Request struct {
	Method string
	URL    *url.URL
	// Header is sent as it is, plus a User-Agent when it has none.
	Header http.Header
	// Body is the request body; nil sends none (or Joined).
	Body []byte
	// Joined, when Body is nil, is the body sent from the records' data
	// without a copy (Joined).
	Joined *Joined
	// Keep is how many bytes of the answer's body Response.Body holds
	// (zero: none; the snippet is always read).
	Keep int64
}

// Response is what is kept of an answer once its body is drained.
type Response struct {
	// Method and URL are the request's; URL is shown without query,
	// fragment or credentials (ShowURL).
	Method, URL string
	StatusCode  int
	Header      http.Header
	// Body is the start of the body, up to Request.Keep bytes.
	Body []byte
	// Snippet is the start of the body made printable, for error texts.
	Snippet string

	url *url.URL
}

// Do checks req's URL with the egress policy (a refusal is Misconfigured
// and wraps ErrForbiddenTarget), sends req within the timeout, and reads,
// drains and closes the answer. Its errors are ctx's, a refusal, or a
// transport error (retryable) that names the request without its query.
func (h *HTTP) Do(ctx context.Context, req Request) (Response, error) {
	shown := ShowURL(req.URL)
	if err := h.deps.CheckURL(req.URL, shown); err != nil {
		return Response{}, Misconfigured(err)
	}
	rctx, cancel := ctx, context.CancelFunc(func() {})
	if h.timeout > 0 {
		rctx, cancel = context.WithTimeout(ctx, h.timeout)
	}
	defer cancel()
	var rd io.Reader
	switch {
	case req.Body != nil:
		rd = bytes.NewReader(req.Body)
	case req.Joined != nil:
		rd = req.Joined.Reader()
	}
	hr, err := http.NewRequestWithContext(rctx, req.Method, req.URL.String(), rd)
	if err != nil {
		return Response{}, Misconfigured(fmt.Errorf("%s %s: %w", req.Method, shown, err))
	}
	if j := req.Joined; req.Body == nil && j != nil {
		// As NewRequest does for a bytes.Reader: a length (no chunked
		// encoding) and a fresh reader for a request sent again.
		hr.ContentLength = j.Len()
		hr.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(j.Reader()), nil }
		if hr.ContentLength == 0 {
			hr.Body, hr.GetBody = http.NoBody, nil
		}
	}
	if req.Header != nil {
		hr.Header = req.Header
	}
	if hr.Header.Get("User-Agent") == "" {
		hr.Header.Set("User-Agent", userAgent)
	}
	resp, err := h.client.Do(hr)
	if err != nil {
		if ctx.Err() != nil {
			return Response{}, ctx.Err()
		}
		if rctx.Err() != nil {
			return Response{}, fmt.Errorf("%s %s: no answer within %v", req.Method, shown, h.timeout)
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its text repeats the full URL, query included
		}
		return Response{}, fmt.Errorf("%s %s: %w", req.Method, shown, err)
	}
	defer resp.Body.Close()
	head, _ := io.ReadAll(io.LimitReader(resp.Body, max(req.Keep, snippetBytes+1)))
	_, _ = io.CopyN(io.Discard, resp.Body, drainBytes)
	out := Response{Method: req.Method, URL: shown, StatusCode: resp.StatusCode, Header: resp.Header, url: req.URL,
		Snippet: printable(head[:min(len(head), snippetBytes)], len(head) > snippetBytes)}
	if req.Keep > 0 {
		out.Body = head[:min(int64(len(head)), req.Keep)]
	}
	return out, nil
}

// Now is the destination's clock.
func (h *HTTP) Now() time.Time { return h.deps.Now() }

// Close releases the idle connections of a client of the destination's
// own (none when Deps.HTTPClient was given).
func (h *HTTP) Close() {
	if h.own {
		h.client.CloseIdleConnections()
	}
}

// StatusError is an HTTP answer other than 2xx. Destinations return it
// wrapped in its class; use errors.As to read it.
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

// Classify turns an answer into nil (2xx) or a *StatusError marked with
// its class by the default table (StatusClass).
func Classify(r Response, now time.Time) error {
	if r.StatusCode >= 200 && r.StatusCode < 300 {
		return nil
	}
	err := &StatusError{Method: r.Method, URL: r.URL, StatusCode: r.StatusCode, Body: r.Snippet}
	if r.StatusCode >= 300 && r.StatusCode < 400 && r.url != nil {
		if loc, perr := r.url.Parse(r.Header.Get("Location")); perr == nil && loc.String() != r.url.String() {
			err.Location = ShowURL(loc)
		}
	}
	class, delay := StatusClass(r.StatusCode, r.Header, now)
	return Mark(err, class, delay)
}

// Reachable classifies the answer to a probe that delivers nothing (a
// HEAD request from Verify). Any answer counts as reachable (receivers
// often answer a HEAD with 404, 405, 400 or 501) except a redirect, 401,
// 403, 407, 410 and 5xx other than 501, which are returned classified
// like a write's answer (Classify).
func Reachable(r Response, now time.Time) error {
	switch st := r.StatusCode; {
	case st == http.StatusNotImplemented:
		return nil
	case st >= 300 && st < 400, st == http.StatusUnauthorized, st == http.StatusForbidden,
		st == http.StatusProxyAuthRequired, st == http.StatusGone, st >= 500:
		return Classify(r, now)
	default:
		return nil
	}
}

// StatusClass is the default table from an HTTP status to a class, with
// the delay a Retry-After header asks for (the runner caps it):
//
//	3xx                             config (audit data never follows a redirect)
//	401, 403, 404, 407              config (credentials or endpoint need an operator)
//	410                             paused (the receiver is gone; reactivate to resume)
//	429, 503                        throttled, with Retry-After when given
//	408, 425, other 5xx             retryable, with Retry-After when given
//	other 4xx (400, 413, 422, …)    permanent
//
// Destinations map their own codes first (Splunk HEC codes, per-item
// results) and fall back to this table.
func StatusClass(status int, h http.Header, now time.Time) (Class, time.Duration) {
	delay := ParseRetryAfter(h.Get("Retry-After"), now)
	switch st := status; {
	case st >= 300 && st < 400,
		st == http.StatusUnauthorized, st == http.StatusForbidden, st == http.StatusNotFound,
		st == http.StatusProxyAuthRequired:
		return ClassConfig, 0
	case st == http.StatusGone:
		return ClassPaused, 0
	case st == http.StatusTooManyRequests, st == http.StatusServiceUnavailable:
		return ClassThrottled, delay
	case st == http.StatusRequestTimeout, st == http.StatusTooEarly, st >= 500:
		return ClassRetryable, delay
	case st >= 400:
		return ClassPermanent, 0
	default:
		return ClassRetryable, delay // 1xx leaked through, or nonsense
	}
}

// ShowURL is u without query, fragment or credentials: error texts and
// logs must not carry tokens that receivers put in query strings. A
// dropped query shows as "?…".
func ShowURL(u *url.URL) string {
	c := *u
	c.User, c.RawQuery, c.ForceQuery, c.Fragment, c.RawFragment = nil, "", false, "", ""
	s := c.String()
	if u.RawQuery != "" {
		s += "?…"
	}
	return s
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

// Printable makes the start of an answer's body fit for one log line,
// cut at snippetBytes (with "…" when cut).
func Printable(b []byte) string {
	return printable(b[:min(len(b), snippetBytes)], len(b) > snippetBytes)
}
