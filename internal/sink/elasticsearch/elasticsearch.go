package elasticsearch

import (
	"bytes"
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
	// maxRetryAfter caps the delay an answer may ask for.
	maxRetryAfter = 15 * time.Minute
	snippetBytes  = 512
	drainBytes    = 64 << 10
	// maxAnswerBytes bounds a _bulk answer read: about 200 bytes per item.
	maxAnswerBytes = 64 << 20
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

// Sink delivers batches to an Elasticsearch or OpenSearch cluster with
// _bulk. Build it with New.
type Sink struct {
	cfg       Config
	urls      []*url.URL
	client    *http.Client
	ownClient bool
	log       *slog.Logger
	now       func() time.Time
	forbidden func(*url.URL) error
	next      atomic.Int64 // the node to try first
	closed    atomic.Bool
}

var _ sink.Sink = (*Sink)(nil)

// ErrForbiddenTarget wraps the error of Deps.Forbidden when it refuses a
// URL.
var ErrForbiddenTarget = sink.ErrForbiddenTarget

// New checks cfg, applies its defaults and returns a sink for it. It sends
// nothing: use Verify to test the cluster.
func New(cfg Config, deps Deps) (*Sink, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("elasticsearch sink config: %w", err)
	}
	s := &Sink{cfg: cfg, log: deps.Logger, now: deps.Now, forbidden: deps.Forbidden}
	for _, raw := range cfg.URLs {
		u, _ := url.Parse(strings.TrimSuffix(raw, "/"))
		if err := s.allowed(u); err != nil {
			return nil, err
		}
		s.urls = append(s.urls, u)
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.client, s.ownClient = sink.HTTPClient(deps.HTTPClient)
	return s, nil
}

func (s *Sink) allowed(u *url.URL) error {
	return sink.CheckTarget(s.forbidden, u, u.Redacted())
}

// Limits are the configured request size and document count.
func (s *Sink) Limits() sink.Limits {
	return sink.Limits{MaxEvents: s.cfg.MaxEvents, MaxBytes: s.cfg.MaxBytes, MaxEventBytes: s.cfg.MaxBytes}
}

// EncodedSize is the record's action and source lines with their newlines.
func (s *Sink) EncodedSize(r sink.Record) int {
	return len(s.action(r)) + 1 + len(source(r)) + 1
}

// action is the create action line: create-only with the event's uuid as
// _id, so a replay never duplicates (409 counts as delivered), and the
// only action data streams accept.
func (s *Sink) action(r sink.Record) []byte {
	meta, _ := json.Marshal(map[string]map[string]string{"create": {"_index": s.cfg.Index, "_id": r.ID}})
	return meta
}

// source is the event with @timestamp (= published) added first.
func source(r sink.Record) []byte {
	ts := r.Published.UTC().Format("2006-01-02T15:04:05.000Z07:00")
	data := bytes.TrimSpace(r.Data)
	body := bytes.TrimSpace(bytes.TrimSuffix(bytes.TrimPrefix(data, []byte("{")), []byte("}")))
	out := make([]byte, 0, len(data)+40)
	out = append(out, `{"@timestamp":"`...)
	out = append(out, ts...)
	out = append(out, '"')
	if len(body) > 0 {
		out = append(out, ',')
		out = append(out, body...)
	}
	return append(out, '}')
}

// Write sends b with one _bulk request. Items are classified one by one:
// 409 on create is already delivered, 429 is throttled, mapping errors are
// permanent, and 403/404 (closed, missing or blocked index) hold the
// stream.
func (s *Sink) Write(ctx context.Context, b sink.Batch) error {
	if len(b.Records) == 0 {
		return nil
	}
	if s.closed.Load() {
		return errors.New("elasticsearch sink: write after close")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	var body bytes.Buffer
	for _, r := range b.Records {
		body.Write(s.action(r))
		body.WriteByte('\n')
		body.Write(source(r))
		body.WriteByte('\n')
	}
	resp, err := s.do(ctx, http.MethodPost, "/"+url.PathEscape(s.cfg.Index)+"/_bulk", body.Bytes(), maxAnswerBytes)
	if err != nil {
		return err
	}
	if err := s.classify(resp); err != nil {
		return err
	}
	var out struct {
		Errors bool                         `json:"errors"`
		Items  []map[string]json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(resp.body, &out); err != nil {
		return fmt.Errorf("bulk answer: %w", err)
	}
	if !out.Errors {
		return nil
	}
	if len(out.Items) != len(b.Records) {
		return fmt.Errorf("bulk answer has %d items for %d documents", len(out.Items), len(b.Records))
	}
	failed := make(map[int]error)
	for i, item := range out.Items {
		var res struct {
			ID     string `json:"_id"`
			Status int    `json:"status"`
			Error  *struct {
				Type   string `json:"type"`
				Reason string `json:"reason"`
			} `json:"error"`
		}
		for _, v := range item { // one key: the action
			_ = json.Unmarshal(v, &res)
		}
		if res.Status < 300 || res.Status == http.StatusConflict {
			continue // created, or already there from an earlier attempt
		}
		err := &ItemError{ID: res.ID, Status: res.Status}
		if res.Error != nil {
			err.Type, err.Reason = res.Error.Type, res.Error.Reason
		}
		failed[i] = itemClass(err)
	}
	if len(failed) == 0 {
		return nil
	}
	return &sink.PartialError{Failed: failed}
}

// ItemError is one document the cluster refused.
type ItemError struct {
	ID     string
	Status int
	Type   string
	Reason string
}

func (e *ItemError) Error() string {
	return fmt.Sprintf("document %s: %d %s: %s", e.ID, e.Status, e.Type, e.Reason)
}

func itemClass(e *ItemError) error {
	switch st := e.Status; {
	case st == http.StatusTooManyRequests:
		return sink.Throttled(e, 0)
	case st == http.StatusUnauthorized, st == http.StatusForbidden, st == http.StatusNotFound:
		return sink.Misconfigured(e)
	case st >= 500:
		return e
	case st >= 400:
		return sink.Permanent(e)
	default:
		return e
	}
}

type response struct {
	method, url string
	status      int
	header      http.Header
	body        []byte
}

// do sends a request to the first node that answers, draining and closing
// the answer (reading at most limit bytes of it).
func (s *Sink) do(ctx context.Context, method, path string, body []byte, limit int64) (response, error) {
	var lastErr error
	start := int(s.next.Load())
	for k := range s.urls {
		i := (start + k) % len(s.urls)
		u := *s.urls[i]
		u.Path = strings.TrimSuffix(u.Path, "/") + path
		if err := s.allowed(&u); err != nil {
			return response{}, sink.Misconfigured(err)
		}
		resp, err := s.once(ctx, method, &u, body, limit)
		if err == nil {
			s.next.Store(int64(i))
			return resp, nil
		}
		if ctx.Err() != nil {
			return response{}, ctx.Err()
		}
		s.log.DebugContext(ctx, "node unreachable, trying the next", "url", u.Redacted(), "err", err)
		lastErr = err
	}
	s.next.Store(int64((start + 1) % len(s.urls)))
	return response{}, lastErr
}

func (s *Sink) once(ctx context.Context, method string, u *url.URL, body []byte, limit int64) (response, error) {
	rctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout.D())
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(rctx, method, u.String(), rd)
	if err != nil {
		return response{}, sink.Misconfigured(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-ndjson")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "auditstream")
	switch s.cfg.Auth.Type {
	case AuthBasic:
		req.SetBasicAuth(s.cfg.Auth.Username, s.cfg.Auth.Password.Reveal())
	case AuthAPIKey:
		req.Header.Set("Authorization", "ApiKey "+s.cfg.Auth.APIKey.Reveal())
	}
	resp, err := s.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return response{}, fmt.Errorf("%s %s: %w", method, u.Redacted(), err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, limit))
	_, _ = io.CopyN(io.Discard, resp.Body, drainBytes)
	return response{method: method, url: u.Redacted(), status: resp.StatusCode, header: resp.Header, body: raw}, nil
}

// StatusError is a whole-request answer other than 2xx.
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

// classify maps a whole-request answer (DESTINATIONS.md §6):
//
//	2xx                      look at the items
//	401, 403, 404, 3xx       config
//	429                      throttled (Retry-After honoured)
//	408, 5xx                 retryable
//	400, 413, other 4xx      permanent (413: the runner splits the batch)
func (s *Sink) classify(r response) error {
	if r.status >= 200 && r.status < 300 {
		return nil
	}
	snippet := strings.Join(strings.Fields(string(r.body[:min(len(r.body), snippetBytes)])), " ")
	err := &StatusError{Method: r.method, URL: r.url, StatusCode: r.status, Body: snippet}
	delay := min(sink.ParseRetryAfter(r.header.Get("Retry-After"), s.now()), maxRetryAfter)
	switch st := r.status; {
	case st >= 300 && st < 400, st == http.StatusUnauthorized, st == http.StatusForbidden, st == http.StatusNotFound:
		return sink.Misconfigured(err)
	case st == http.StatusTooManyRequests:
		return sink.Throttled(err, delay)
	case st == http.StatusRequestTimeout, st >= 500:
		return sink.RetryAfter(err, delay)
	case st >= 400:
		return sink.Permanent(err)
	default:
		return sink.RetryAfter(err, delay)
	}
}

// Verify asks the cluster's root endpoint with the credentials: an answer
// proves the node reachable and the credentials accepted. It writes
// nothing.
func (s *Sink) Verify(ctx context.Context) error {
	resp, err := s.do(ctx, http.MethodGet, "/", nil, drainBytes)
	if err != nil {
		return err
	}
	return s.classify(resp)
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
