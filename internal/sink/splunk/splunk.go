package splunk

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
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/auditstream/auditstream/internal/sink"
)

const (
	pathEvent  = "/services/collector/event"
	pathHealth = "/services/collector/health"
	pathAck    = "/services/collector/ack"

	// maxRetryAfter caps the delay an answer may ask for.
	maxRetryAfter = 15 * time.Minute
	// snippetBytes of an error answer go into the error; drainBytes more
	// are read so the connection can be reused.
	snippetBytes = 512
	drainBytes   = 64 << 10
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

// Sink delivers batches to a Splunk HTTP Event Collector. Build it with
// New or NewOkta.
type Sink struct {
	cfg       Config
	base      *url.URL
	client    *http.Client
	ownClient bool
	log       *slog.Logger
	now       func() time.Time
	forbidden func(*url.URL) error
	channel   string // indexer acknowledgement channel, "" without acks
	closed    atomic.Bool
}

var _ sink.Sink = (*Sink)(nil)

// ErrForbiddenTarget wraps the error of Deps.Forbidden when it refuses the
// URL.
var ErrForbiddenTarget = sink.ErrForbiddenTarget

// New checks cfg, applies its defaults and returns a sink for it. It sends
// nothing: use Verify to check the collector's health.
func New(cfg Config, deps Deps) (*Sink, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("splunk_hec sink config: %w", err)
	}
	return build(cfg, deps)
}

// NewOkta returns a sink for a "splunk_cloud_logstreaming" stream. Its
// config errors are Okta's messages, unwrapped, so the API can return them
// as error causes as they are.
func NewOkta(cfg OktaConfig, deps Deps) (*Sink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return build(cfg.Generic().withDefaults(), deps)
}

func build(cfg Config, deps Deps) (*Sink, error) {
	base, _ := url.Parse(strings.TrimSuffix(cfg.URL, "/")) // Validate parsed it
	s := &Sink{cfg: cfg, base: base, log: deps.Logger, now: deps.Now, forbidden: deps.Forbidden}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if err := s.allowed(); err != nil {
		return nil, err
	}
	s.client, s.ownClient = sink.HTTPClient(deps.HTTPClient)
	if cfg.Ack {
		s.channel = uuid.NewString()
	}
	return s, nil
}

func (s *Sink) allowed() error {
	return sink.CheckTarget(s.forbidden, s.base, s.base.Redacted())
}

// Limits are the configured request size (before compression) and event
// count.
func (s *Sink) Limits() sink.Limits {
	return sink.Limits{MaxEvents: s.cfg.MaxEvents, MaxBytes: s.cfg.MaxBytes, MaxEventBytes: s.cfg.MaxBytes}
}

// EncodedSize is the record's envelope as sent, before compression.
func (s *Sink) EncodedSize(r sink.Record) int {
	return len(s.envelopeHead(r)) + len(r.Data) + len("}\n")
}

// envelopeHead is the envelope up to the event's value: time, host,
// source, sourcetype and index, then "event":.
func (s *Sink) envelopeHead(r sink.Record) []byte {
	var b bytes.Buffer
	b.WriteString(`{`)
	if !r.Published.IsZero() {
		ms := r.Published.UnixMilli()
		fmt.Fprintf(&b, `"time":%d.%03d,`, ms/1000, ms%1000)
	}
	host := s.cfg.Host
	if host == "" {
		host = r.Org
	}
	for _, f := range [][2]string{{"host", host}, {"source", s.cfg.Source}, {"sourcetype", s.cfg.Sourcetype}, {"index", s.cfg.Index}} {
		if f[1] == "" {
			continue
		}
		v, _ := json.Marshal(f[1])
		fmt.Fprintf(&b, `"%s":%s,`, f[0], v)
	}
	b.WriteString(`"event":`)
	return b.Bytes()
}

func (s *Sink) encode(b sink.Batch) ([]byte, error) {
	var raw bytes.Buffer
	for _, r := range b.Records {
		raw.Write(s.envelopeHead(r))
		raw.Write(r.Data)
		raw.WriteString("}\n")
	}
	if !*s.cfg.Gzip {
		return raw.Bytes(), nil
	}
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	if _, err := zw.Write(raw.Bytes()); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return z.Bytes(), nil
}

// Write sends b as one request of concatenated envelopes. With indexer
// acknowledgement it then polls until Splunk says the events are indexed,
// so a nil error means indexed, not only accepted; an ack that does not
// come within ackTimeout is a retryable error (the batch is sent again).
func (s *Sink) Write(ctx context.Context, b sink.Batch) error {
	if len(b.Records) == 0 {
		return nil
	}
	if s.closed.Load() {
		return errors.New("splunk sink: write after close")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	body, err := s.encode(b)
	if err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	h := http.Header{"Content-Type": {"application/json"}}
	if *s.cfg.Gzip {
		h.Set("Content-Encoding", "gzip")
	}
	resp, err := s.do(ctx, http.MethodPost, pathEvent, "", body, h)
	if err != nil {
		return err
	}
	if err := s.classify(resp, len(b.Records)); err != nil {
		return err
	}
	if s.channel == "" {
		return nil
	}
	if resp.hec.AckID == nil {
		return sink.Misconfigured(errors.New("splunk accepted the events without an ackId: turn on indexer acknowledgement for the token, or ack off for the stream"))
	}
	return s.waitForAck(ctx, *resp.hec.AckID)
}

// waitForAck polls the ack endpoint until ackID is acknowledged, ctx ends
// or ackTimeout passes.
// firstAckPoll is how soon the first acknowledgement poll goes out.
const firstAckPoll = 250 * time.Millisecond

func (s *Sink) waitForAck(ctx context.Context, ackID int) error {
	deadline := time.NewTimer(s.cfg.AckTimeout.D())
	defer deadline.Stop()
	// Indexers usually ack within a second: poll soon, then back off to
	// AckPollInterval, so ack mode does not cost a full interval a batch.
	wait := min(firstAckPoll, s.cfg.AckPollInterval.D())
	poll := time.NewTimer(wait)
	defer poll.Stop()
	body, _ := json.Marshal(map[string][]int{"acks": {ackID}})
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			return fmt.Errorf("splunk did not acknowledge ackId %d within %v: sending the batch again", ackID, s.cfg.AckTimeout.D())
		case <-poll.C:
		}
		wait = min(2*wait, s.cfg.AckPollInterval.D())
		poll.Reset(wait)
		resp, err := s.do(ctx, http.MethodPost, pathAck, "channel="+url.QueryEscape(s.channel), body,
			http.Header{"Content-Type": {"application/json"}})
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			s.log.DebugContext(ctx, "ack poll failed", "err", err)
			continue
		}
		if resp.status != http.StatusOK {
			return s.classify(resp, 0)
		}
		var acks struct {
			Acks map[string]bool `json:"acks"`
		}
		if json.Unmarshal(resp.raw, &acks) == nil && acks.Acks[strconv.Itoa(ackID)] {
			return nil
		}
	}
}

// hecAnswer is a HEC response body.
type hecAnswer struct {
	Text               string `json:"text"`
	Code               *int   `json:"code"`
	AckID              *int   `json:"ackId"`
	InvalidEventNumber *int   `json:"invalid-event-number"`
}

type response struct {
	status  int
	header  http.Header
	raw     []byte
	snippet string
	hec     hecAnswer
}

// do sends one request with the token and drains and closes the answer.
// Errors are transport errors (retryable) or ctx's.
func (s *Sink) do(ctx context.Context, method, path, query string, body []byte, h http.Header) (response, error) {
	if err := s.allowed(); err != nil {
		return response{}, sink.Misconfigured(err)
	}
	rctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout.D())
	defer cancel()
	u := *s.base
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	u.RawQuery = query
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(rctx, method, u.String(), rd)
	if err != nil {
		return response{}, sink.Misconfigured(err)
	}
	req.Header = h
	req.Header.Set("Authorization", "Splunk "+s.cfg.Token.Reveal())
	req.Header.Set("User-Agent", "auditstream")
	if s.channel != "" {
		req.Header.Set("X-Splunk-Request-Channel", s.channel)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return response{}, ctx.Err()
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return response{}, fmt.Errorf("%s %s: %w", method, u.Redacted(), err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, drainBytes))
	_, _ = io.CopyN(io.Discard, resp.Body, drainBytes)
	out := response{status: resp.StatusCode, header: resp.Header, raw: raw}
	_ = json.Unmarshal(raw, &out.hec)
	out.snippet = string(raw[:min(len(raw), snippetBytes)])
	if out.hec.Text != "" {
		out.snippet = out.hec.Text
	}
	return out, nil
}

// HECError is an answer of the collector other than success.
type HECError struct {
	// Status is the HTTP status; Code and Text are HEC's, Code -1 when
	// the body had none.
	Status int
	Code   int
	Text   string
}

// ResponseBody is the part of the answer the error carries; tenants'
// views leave it out (egress.PublicMessage).
func (e *HECError) ResponseBody() string { return e.Text }

func (e *HECError) Error() string {
	if e.Code < 0 {
		return fmt.Sprintf("splunk hec: %d %s: %s", e.Status, http.StatusText(e.Status), e.Text)
	}
	return fmt.Sprintf("splunk hec: %d: code %d: %s", e.Status, e.Code, e.Text)
}

// classify maps an answer to the runner's classes by HEC code
// (DESTINATIONS.md §4), or by HTTP status when the body has none:
//
//	0, 17                      ok
//	1-4, 7, 10, 11, 14, 16, 21, 22  config (token, index, channel, ack settings)
//	5, 6, 12, 13, 15           permanent (6 with invalid-event-number: the
//	                           events before it were accepted)
//	8                          retryable
//	9, 18-20                   throttled (Retry-After honoured)
//
// n is the batch's size, for invalid-event-number; zero means the answer
// is not to an event request.
func (s *Sink) classify(r response, n int) error {
	code := -1
	if r.hec.Code != nil {
		code = *r.hec.Code
	}
	if r.status >= 200 && r.status < 300 && (code == -1 || code == 0 || code == 17) {
		return nil
	}
	err := &HECError{Status: r.status, Code: code, Text: r.snippet}
	delay := min(sink.ParseRetryAfter(r.header.Get("Retry-After"), s.now()), maxRetryAfter)
	switch code {
	case 1, 2, 3, 4, 7, 10, 11, 14, 16, 21, 22:
		return sink.Misconfigured(err)
	case 6:
		if i := r.hec.InvalidEventNumber; i != nil && *i >= 0 && *i < n {
			// Splunk accepted the events before the bad one: dead-letter
			// it and send the rest again.
			failed := map[int]error{*i: sink.Permanent(err)}
			for j := *i + 1; j < n; j++ {
				failed[j] = fmt.Errorf("after an invalid event in the same request: %w", err)
			}
			return &sink.PartialError{Failed: failed}
		}
		return sink.Permanent(err)
	case 5, 12, 13, 15:
		return sink.Permanent(err)
	case 8:
		return sink.RetryAfter(err, delay)
	case 9, 18, 19, 20:
		return sink.Throttled(err, delay)
	}
	switch st := r.status; {
	case st >= 300 && st < 400, st == http.StatusUnauthorized, st == http.StatusForbidden, st == http.StatusNotFound:
		return sink.Misconfigured(err)
	case st == http.StatusTooManyRequests, st == http.StatusServiceUnavailable:
		return sink.Throttled(err, delay)
	case st >= 500, st == http.StatusRequestTimeout:
		return sink.RetryAfter(err, delay)
	case st >= 400:
		return sink.Permanent(err)
	default:
		return sink.RetryAfter(err, delay)
	}
}

// Verify asks the collector's health endpoint with the token: healthy,
// a bad or disabled token (config), or busy (throttled). It sends no
// event.
func (s *Sink) Verify(ctx context.Context) error {
	resp, err := s.do(ctx, http.MethodGet, pathHealth, "", nil, http.Header{})
	if err != nil {
		return err
	}
	return s.classify(resp, 0)
}

// Close releases idle connections of the sink's own client. It may be
// called more than once. A write waiting for acknowledgement has returned
// by then (the runner closes after the last Write).
func (s *Sink) Close(context.Context) error {
	if s.closed.Swap(true) {
		return nil
	}
	if s.ownClient {
		s.client.CloseIdleConnections()
	}
	return nil
}
