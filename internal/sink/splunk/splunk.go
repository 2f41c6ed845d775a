package splunk

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/sink"
)

const (
	pathEvent  = "/services/collector/event"
	pathHealth = "/services/collector/health"
	pathAck    = "/services/collector/ack"
	// maxAnswer bounds how much of an answer is read: HEC answers are
	// small JSON objects.
	maxAnswer = 64 << 10
)

// Sink delivers batches to a Splunk HTTP Event Collector. Build it with
// New or NewOkta.
type Sink struct {
	cfg     Config
	base    *url.URL
	http    *sink.HTTP
	deps    sink.Deps
	channel string // indexer acknowledgement channel, "" without acks
	closed  sink.Closed
}

var _ sink.Sink = (*Sink)(nil)

// Type is the "splunk_hec" row of the stream type table.
func Type() sink.Type {
	return sink.NewType("splunk_hec", prepare, build).WithDestination("url")
}

// OktaType is the "splunk_cloud_logstreaming" row: Okta's type name with
// Okta's settings.
func OktaType() sink.Type {
	return sink.NewType("splunk_cloud_logstreaming", prepareOkta, build).WithDestination("edition", "host")
}

// New checks cfg, applies its defaults and returns a sink for it. It sends
// nothing: use Verify to check the collector's health.
func New(cfg Config, deps sink.Deps) (*Sink, error) { return sink.Build(cfg, deps, prepare, build) }

// NewOkta returns a sink for a "splunk_cloud_logstreaming" stream. Its
// config errors are Okta's messages, unwrapped, so the API can return them
// as error causes as they are.
func NewOkta(cfg OktaConfig, deps sink.Deps) (*Sink, error) {
	return sink.Build(cfg, deps, prepareOkta, build)
}

func prepare(cfg Config, deps sink.Deps) (Config, error) {
	cfg, err := sink.Checked("splunk_hec", cfg, Config.withDefaults)
	if err != nil {
		return cfg, err
	}
	return cfg, checkURL(cfg, deps)
}

func prepareOkta(cfg OktaConfig, deps sink.Deps) (Config, error) {
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	g := cfg.Generic().withDefaults()
	return g, checkURL(g, deps)
}

func baseURL(cfg Config) *url.URL {
	base, _ := url.Parse(strings.TrimSuffix(cfg.URL, "/")) // Validate parsed it
	return base
}

// checkURL checks the collector's URL against deps.Egress, for both rows.
func checkURL(cfg Config, deps sink.Deps) error {
	base := baseURL(cfg)
	return deps.CheckURL(base, sink.ShowURL(base))
}

func build(cfg Config, deps sink.Deps) (*Sink, error) {
	s := &Sink{cfg: cfg, base: baseURL(cfg), deps: deps, http: sink.NewHTTP(deps, cfg.Timeout.D())}
	if cfg.Ack {
		s.channel = uuid.NewString()
	}
	return s, nil
}

// Limits are the configured request size (before compression) and event
// count.
func (s *Sink) Limits() sink.Limits {
	return sink.Limits{MaxEvents: s.cfg.MaxEvents, MaxBytes: s.cfg.MaxBytes, MaxEventBytes: s.cfg.MaxBytes}
}

// EncodedSize is the record's envelope as sent, before compression.
func (s *Sink) EncodedSize(r event.Record) int {
	return len(s.envelopeHead(r)) + len(r.Data) + len("}\n")
}

// envelopeHead is the envelope up to the event's value: time, host,
// source, sourcetype and index, then "event":.
func (s *Sink) envelopeHead(r event.Record) []byte {
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
	if skip, err := sink.Skip(ctx, b, s.closed.Load(), "splunk"); skip {
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

// firstAckPoll is how soon the first acknowledgement poll goes out.
const firstAckPoll = 250 * time.Millisecond

// waitForAck polls the ack endpoint until ackID is acknowledged, ctx ends
// or ackTimeout passes.
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
			s.deps.Logger.DebugContext(ctx, "ack poll failed", "err", err)
			continue
		}
		if resp.StatusCode != http.StatusOK {
			return s.classify(resp, 0)
		}
		var acks struct {
			Acks map[string]bool `json:"acks"`
		}
		if json.Unmarshal(resp.Body, &acks) == nil && acks.Acks[strconv.Itoa(ackID)] {
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

// response is an answer with its HEC body read.
type response struct {
	sink.Response
	hec hecAnswer
}

// do sends one request with the token (sink.HTTP.Do: egress check,
// timeout, drained answer) and reads the HEC body of the answer.
func (s *Sink) do(ctx context.Context, method, path, query string, body []byte, h http.Header) (response, error) {
	u := *s.base
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	u.RawQuery = query
	h.Set("Authorization", "Splunk "+s.cfg.Token.Reveal())
	if s.channel != "" {
		h.Set("X-Splunk-Request-Channel", s.channel)
	}
	resp, err := s.http.Do(ctx, sink.Request{Method: method, URL: &u, Header: h, Body: body, Keep: maxAnswer})
	if err != nil {
		return response{}, err
	}
	out := response{Response: resp}
	_ = json.Unmarshal(resp.Body, &out.hec)
	if out.hec.Text != "" {
		out.Snippet = out.hec.Text
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
//	none                       sink.StatusClass, the default HTTP table
//
// n is the batch's size, for invalid-event-number; zero means the answer
// is not to an event request.
func (s *Sink) classify(r response, n int) error {
	code := -1
	if r.hec.Code != nil {
		code = *r.hec.Code
	}
	if r.StatusCode >= 200 && r.StatusCode < 300 && (code == -1 || code == 0 || code == 17) {
		return nil
	}
	err := &HECError{Status: r.StatusCode, Code: code, Text: r.Snippet}
	delay := sink.ParseRetryAfter(r.Header.Get("Retry-After"), s.deps.Now())
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
	class, delay := sink.StatusClass(r.StatusCode, r.Header, s.deps.Now())
	return sink.Mark(err, class, delay)
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
func (s *Sink) Close(context.Context) error { return s.closed.Close(s.http.Close) }
