package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Defaults of the Client's tunables.
const (
	// DefaultMaxAttempts is how often one request is sent at most: enough
	// to ride out a short overload or a server restart, few enough that a
	// CLI user is not left waiting for minutes.
	DefaultMaxAttempts = 5
	// DefaultMaxRetryWait is the longest Retry-After the client waits for;
	// a server asking for longer gets its error returned instead.
	DefaultMaxRetryWait = time.Minute
	// DefaultTimeout bounds one HTTP exchange when New is given no client.
	// Ingest requests carry up to DefaultBatchBytes and the server answers
	// only once they are durable, so this is generous.
	DefaultTimeout = 2 * time.Minute

	// backoffBase and backoffMax shape the exponential backoff used when
	// the server gives no Retry-After: 250ms, 500ms, 1s, ... capped at 10s,
	// each with up to 50% jitter so concurrent clients do not retry in step.
	backoffBase = 250 * time.Millisecond
	backoffMax  = 10 * time.Second

	// maxErrorBody bounds how much of an error response is read.
	maxErrorBody = 1 << 20
	// maxDrain bounds how much of an unread body is drained so the
	// connection can be reused; longer bodies cost a new connection.
	maxDrain = 256 << 10

	userAgent = "auditstream-client/1"
)

// Client talks to one auditstream server. Create it with New.
type Client struct {
	// MaxAttempts is how often one request is sent at most (the first
	// send included). Zero means DefaultMaxAttempts.
	MaxAttempts int
	// MaxRetryWait is the longest Retry-After honoured; a longer one ends
	// the retries with the server's error. Zero means DefaultMaxRetryWait.
	MaxRetryWait time.Duration
	// BatchBytes bounds the uncompressed body of one ingest request made by
	// SendNDJSON. Zero means DefaultBatchBytes.
	BatchBytes int
	// BatchEvents bounds the events in one ingest request made by
	// SendNDJSON. Zero means DefaultBatchEvents.
	BatchEvents int
	// DisableCompression sends ingest bodies without gzip.
	DisableCompression bool

	base  string
	token string
	hc    *http.Client
	gz    sync.Pool // *gzip.Writer, see events.go

	// sleep waits for d or until ctx is done. Tests replace it.
	sleep func(ctx context.Context, d time.Duration) error
}

// New returns a client for the server at baseURL (for example
// "http://127.0.0.1:8080") authenticating with token. A nil httpClient
// means a client with DefaultTimeout.
func New(baseURL, token string, httpClient *http.Client) *Client {
	if httpClient == nil {
		httpClient = &http.Client{Timeout: DefaultTimeout}
	}
	return &Client{
		base:  strings.TrimRight(baseURL, "/"),
		token: token,
		hc:    httpClient,
		sleep: sleepCtx,
	}
}

// APIError is an error answered by the API: a 4xx or 5xx status, with the
// fields of Okta's error body when the server sent one.
type APIError struct {
	// Status is the HTTP status code.
	Status int
	// Code is the Okta errorCode, e.g. "E0000007"; empty when the body was
	// not an Okta error body.
	Code string
	// Summary is errorSummary, or the start of the body when it was not an
	// Okta error body.
	Summary string
	// Causes are the errorSummary of each errorCauses entry.
	Causes []string
	// ID is errorId, the server's reference for this failure.
	ID string
	// RetryAfter is the server's Retry-After, zero when absent.
	RetryAfter time.Duration
}

// Error reads like "404 E0000007: Not found: Resource not found: x (LogStream)"
// followed by the causes in parentheses.
func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString(strconv.Itoa(e.Status))
	if e.Code != "" {
		b.WriteString(" ")
		b.WriteString(e.Code)
	}
	b.WriteString(": ")
	if e.Summary != "" {
		b.WriteString(e.Summary)
	} else {
		b.WriteString(http.StatusText(e.Status))
	}
	if len(e.Causes) > 0 {
		b.WriteString(" (")
		b.WriteString(strings.Join(e.Causes, "; "))
		b.WriteString(")")
	}
	return b.String()
}

// request is one API call.
type request struct {
	method string
	// url is absolute; see Client.url.
	url         string
	body        []byte
	contentType string
	// gzip marks body as gzip-compressed.
	gzip bool
	// idempotent requests are retried after connection errors too.
	idempotent bool
}

func (c *Client) url(path string) string { return c.base + path }

// resend says whether a call may be sent again after a connection error,
// when the server may or may not have acted on it.
type resend bool

const (
	// safeToResend marks calls whose repetition does no harm (reads,
	// PUT, DELETE, lifecycle changes).
	safeToResend resend = true
	// sendOnce marks calls a repetition could do twice (creates, redrive).
	sendOnce resend = false
)

// call makes one JSON API call and returns its 2xx answer decoded into a T.
// See send for in and again.
func call[T any](ctx context.Context, c *Client, method, path string, again resend, in any) (T, error) {
	var out T
	err := c.send(ctx, method, path, again, in, &out)
	return out, err
}

// send makes one JSON API call to path: in, when not nil, is encoded as
// the request body; out, when not nil, receives the decoded 2xx answer.
func (c *Client) send(ctx context.Context, method, path string, again resend, in, out any) error {
	rq := request{method: method, url: c.url(path), idempotent: bool(again)}
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("%s %s: encode body: %w", method, path, err)
		}
		rq.body, rq.contentType = b, "application/json"
	}
	_, err := c.do(ctx, rq, out)
	return err
}

// do sends rq, retrying as the package doc describes, and decodes a 2xx
// JSON body into out when out is non-nil. It returns the response headers
// of the final answer.
func (c *Client) do(ctx context.Context, rq request, out any) (http.Header, error) {
	maxAttempts := orDefault(c.MaxAttempts, DefaultMaxAttempts)
	maxWait := orDefault(c.MaxRetryWait, DefaultMaxRetryWait)
	for attempt := 1; ; attempt++ {
		h, err := c.once(ctx, rq, out)
		if err == nil {
			return h, nil
		}
		if ctx.Err() != nil || attempt >= maxAttempts {
			return h, err
		}
		var wait time.Duration
		var apiErr *APIError
		var netErr *transportError
		switch {
		case errors.As(err, &apiErr):
			if apiErr.Status != http.StatusTooManyRequests && apiErr.Status != http.StatusServiceUnavailable {
				return h, err
			}
			if d, ok := parseRetryAfter(h.Get("Retry-After"), time.Now()); ok {
				wait = d
			} else {
				wait = backoff(attempt)
			}
			if wait > maxWait {
				return h, err
			}
		case errors.As(err, &netErr) && rq.idempotent:
			wait = backoff(attempt)
		default:
			return h, err
		}
		if serr := c.sleep(ctx, wait); serr != nil {
			return h, err
		}
	}
}

// transportError marks a failure to get any HTTP answer.
type transportError struct{ err error }

func (e *transportError) Error() string { return e.err.Error() }
func (e *transportError) Unwrap() error { return e.err }

// once makes one HTTP exchange.
func (c *Client) once(ctx context.Context, rq request, out any) (http.Header, error) {
	var body io.Reader
	if rq.body != nil {
		body = bytes.NewReader(rq.body)
	}
	req, err := http.NewRequestWithContext(ctx, rq.method, rq.url, body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", rq.method, rq.url, err)
	}
	req.Header.Set("Authorization", "SSWS "+c.token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	if rq.body != nil {
		req.Header.Set("Content-Type", rq.contentType)
		if rq.gzip {
			req.Header.Set("Content-Encoding", "gzip")
		}
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, &transportError{fmt.Errorf("%s %s: %w", rq.method, rq.url, err)}
	}
	defer func() {
		// Drain so the connection goes back to the pool.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))
		_ = resp.Body.Close()
	}()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.Header, readAPIError(resp)
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return resp.Header, nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return resp.Header, fmt.Errorf("%s %s: decode response: %w", rq.method, rq.url, err)
	}
	return resp.Header, nil
}

// readAPIError turns a non-2xx response into an *APIError.
func readAPIError(resp *http.Response) *APIError {
	e := &APIError{Status: resp.StatusCode}
	e.RetryAfter, _ = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	var body struct {
		ErrorCode    string `json:"errorCode"`
		ErrorSummary string `json:"errorSummary"`
		ErrorID      string `json:"errorId"`
		ErrorCauses  []struct {
			ErrorSummary string `json:"errorSummary"`
		} `json:"errorCauses"`
	}
	if err := json.Unmarshal(raw, &body); err == nil && (body.ErrorCode != "" || body.ErrorSummary != "") {
		e.Code, e.Summary, e.ID = body.ErrorCode, body.ErrorSummary, body.ErrorID
		for _, c := range body.ErrorCauses {
			e.Causes = append(e.Causes, c.ErrorSummary)
		}
		return e
	}
	// Not an Okta error body (a proxy, a panic page): keep its start.
	text := strings.Join(strings.Fields(string(raw)), " ")
	if len(text) > 200 {
		text = text[:200] + "..."
	}
	e.Summary = http.StatusText(resp.StatusCode)
	if text != "" {
		e.Summary += ": " + text
	}
	return e
}

// parseRetryAfter reads a Retry-After value in either of its forms, delay
// seconds or an HTTP date. ok is false when v is empty or malformed.
func parseRetryAfter(v string, now time.Time) (d time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		return time.Duration(min(secs, int64(24*time.Hour/time.Second))) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}

// backoff is the wait before attempt+1 when the server gave no Retry-After.
func backoff(attempt int) time.Duration {
	d := backoffBase << min(attempt-1, 10)
	d = min(d, backoffMax)
	return d/2 + rand.N(d/2+1)
}

// orDefault is v, or def when v is zero or less (unset).
func orDefault[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// sleepCtx waits d or until ctx ends, and returns ctx's error then. It is
// package pause's For, written again: the client imports no internal
// package but wire (see wire's TestLeaf), so that it stays apart from the
// server.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
