package datadog

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/auditstream/auditstream/internal/sink"
)

const (
	pathLogs     = "/api/v2/logs"
	pathValidate = "/api/v1/validate"
	// maxRetryAfter caps the delay an answer may ask for.
	maxRetryAfter = 15 * time.Minute
	snippetBytes  = 512
	drainBytes    = 64 << 10
)

// Deps are what a Sink needs from its surroundings. Every field is
// optional.
type Deps struct {
	// HTTPClient sends the requests. The sink works on a copy that never
	// follows redirects; nil means a client of the sink's own, whose idle
	// connections Close releases.
	HTTPClient *http.Client
	// Logger receives debug logs; nil discards them.
	Logger *slog.Logger
	// Now is the clock for Retry-After dates; nil means time.Now.
	Now func() time.Time
	// Forbidden, when set, refuses target URLs (the API passes one that
	// rejects the service's own admin endpoints).
	Forbidden func(*url.URL) error
}

// Sink delivers batches to Datadog's Logs intake. Build it with New.
type Sink struct {
	cfg       Config
	logsURL   *url.URL
	checkURL  *url.URL
	client    *http.Client
	ownClient bool
	log       *slog.Logger
	now       func() time.Time
	forbidden func(*url.URL) error
	closed    atomic.Bool
}

var _ sink.Sink = (*Sink)(nil)

// ErrForbiddenTarget wraps the error of Deps.Forbidden when it refuses the
// URL.
var ErrForbiddenTarget = sink.ErrForbiddenTarget

// New checks cfg, applies its defaults and returns a sink for it. It sends
// nothing: use Verify to check the API key.
func New(cfg Config, deps Deps) (*Sink, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("datadog sink config: %w", err)
	}
	s := &Sink{cfg: cfg, log: deps.Logger, now: deps.Now, forbidden: deps.Forbidden}
	s.logsURL, _ = url.Parse(cfg.intake() + pathLogs)
	s.checkURL, _ = url.Parse(cfg.api() + pathValidate)
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if err := s.allowed(s.logsURL); err != nil {
		return nil, err
	}
	s.client, s.ownClient = sink.HTTPClient(deps.HTTPClient)
	return s, nil
}

func (s *Sink) allowed(u *url.URL) error {
	return sink.CheckTarget(s.forbidden, u, u.Redacted())
}

// Limits are the intake's 1,000 items, the configured request size before
// compression (one byte kept for the array's closing bracket) and 1 MB
// per log.
func (s *Sink) Limits() sink.Limits {
	return sink.Limits{MaxEvents: maxItems, MaxBytes: s.cfg.MaxBytes - 1, MaxEventBytes: min(maxItemBytes, s.cfg.MaxBytes-1)}
}

// EncodedSize is the record's item plus its separator (the array's
// opening bracket or a comma).
func (s *Sink) EncodedSize(r sink.Record) int { return len(s.item(r)) + 1 }

// item is the LogEvent with Datadog's reserved members added at its end
// (so they win over any member of the same name): ddsource, service,
// hostname, ddtags, timestamp (= published; Datadog does not read
// "published") and message (= displayMessage, else eventType).
func (s *Sink) item(r sink.Record) []byte {
	var ev struct {
		DisplayMessage string `json:"displayMessage"`
	}
	_ = json.Unmarshal(r.Data, &ev)
	msg := ev.DisplayMessage
	if msg == "" {
		msg = r.EventType
	}
	tags := "org:" + r.Org
	if len(s.cfg.Tags) > 0 {
		tags += "," + strings.Join(s.cfg.Tags, ",")
	}
	extra := map[string]string{
		"ddsource": s.cfg.Source, "service": s.cfg.Service, "hostname": r.Org, "ddtags": tags, "message": msg,
	}
	if !r.Published.IsZero() {
		extra["timestamp"] = r.Published.UTC().Format("2006-01-02T15:04:05.000Z07:00")
	}
	add, _ := json.Marshal(extra) // sorted keys: stable sizes
	data := bytes.TrimSpace(r.Data)
	if len(data) < 2 || data[0] != '{' || data[len(data)-1] != '}' {
		return add // not an object: cannot happen for stored events
	}
	body := bytes.TrimSpace(data[1 : len(data)-1])
	out := make([]byte, 0, len(data)+len(add)+1)
	out = append(out, '{')
	if len(body) > 0 {
		out = append(out, body...)
		out = append(out, ',')
	}
	return append(out, add[1:]...)
}

// Write sends b as one JSON array. 413 is permanent, so the runner splits
// the batch until the event that does not fit is alone.
func (s *Sink) Write(ctx context.Context, b sink.Batch) error {
	if len(b.Records) == 0 {
		return nil
	}
	if s.closed.Load() {
		return errors.New("datadog sink: write after close")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	var raw bytes.Buffer
	raw.WriteByte('[')
	for i, r := range b.Records {
		if i > 0 {
			raw.WriteByte(',')
		}
		raw.Write(s.item(r))
	}
	raw.WriteByte(']')
	body := raw.Bytes()
	h := http.Header{"Content-Type": {"application/json"}}
	if *s.cfg.Gzip {
		var z bytes.Buffer
		zw := gzip.NewWriter(&z)
		_, _ = zw.Write(body)
		if err := zw.Close(); err != nil {
			return fmt.Errorf("gzip: %w", err)
		}
		body = z.Bytes()
		h.Set("Content-Encoding", "gzip")
	}
	status, header, snippet, err := s.do(ctx, http.MethodPost, s.logsURL, body, h)
	if err != nil {
		return err
	}
	return s.classify(http.MethodPost, s.logsURL, status, header, snippet)
}

// do sends one request with the API key, draining and closing the answer.
func (s *Sink) do(ctx context.Context, method string, u *url.URL, body []byte, h http.Header) (int, http.Header, string, error) {
	if err := s.allowed(u); err != nil {
		return 0, nil, "", sink.Misconfigured(err)
	}
	rctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout.D())
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(rctx, method, u.String(), rd)
	if err != nil {
		return 0, nil, "", sink.Misconfigured(err)
	}
	req.Header = h
	req.Header.Set("DD-API-KEY", s.cfg.APIKey.Reveal())
	req.Header.Set("User-Agent", "auditstream")
	resp, err := s.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return 0, nil, "", ctx.Err()
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, nil, "", fmt.Errorf("%s %s: %w", method, u.Redacted(), err)
	}
	defer resp.Body.Close()
	head, _ := io.ReadAll(io.LimitReader(resp.Body, snippetBytes))
	_, _ = io.CopyN(io.Discard, resp.Body, drainBytes)
	return resp.StatusCode, resp.Header, strings.Join(strings.Fields(string(head)), " "), nil
}

// StatusError is an answer other than 2xx.
type StatusError struct {
	Method, URL string
	StatusCode  int
	Body        string
}

// ResponseBody is the part of the answer the error carries; tenants'
// views leave it out (egress.PublicMessage).
func (e *StatusError) ResponseBody() string { return e.Body }

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s %s: %d %s: %s", e.Method, e.URL, e.StatusCode, http.StatusText(e.StatusCode), e.Body)
}

// classify maps the intake's answers (DESTINATIONS.md §5):
//
//	2xx                          ok
//	401, 403, 404, 3xx           config
//	429                          throttled (Retry-After honoured)
//	408, 5xx                     retryable
//	400, 413, other 4xx          permanent (413: the runner splits the batch)
func (s *Sink) classify(method string, u *url.URL, status int, h http.Header, snippet string) error {
	if status >= 200 && status < 300 {
		return nil
	}
	err := &StatusError{Method: method, URL: u.Redacted(), StatusCode: status, Body: snippet}
	delay := min(sink.ParseRetryAfter(h.Get("Retry-After"), s.now()), maxRetryAfter)
	switch {
	case status >= 300 && status < 400, status == http.StatusUnauthorized, status == http.StatusForbidden,
		status == http.StatusNotFound:
		return sink.Misconfigured(err)
	case status == http.StatusTooManyRequests:
		return sink.Throttled(err, delay)
	case status == http.StatusRequestTimeout, status >= 500:
		return sink.RetryAfter(err, delay)
	case status >= 400:
		return sink.Permanent(err)
	default:
		return sink.RetryAfter(err, delay)
	}
}

// Verify checks the API key with GET /api/v1/validate. It sends no log.
func (s *Sink) Verify(ctx context.Context) error {
	status, h, snippet, err := s.do(ctx, http.MethodGet, s.checkURL, nil, http.Header{})
	if err != nil {
		return err
	}
	return s.classify(http.MethodGet, s.checkURL, status, h, snippet)
}

// Close releases idle connections of the sink's own client. It may be
// called more than once.
func (s *Sink) Close(context.Context) error {
	if s.closed.Swap(true) {
		return nil
	}
	if s.ownClient {
		s.client.CloseIdleConnections()
	}
	return nil
}
