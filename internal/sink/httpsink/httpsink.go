package httpsink

import (
	"bytes"
	"context"
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

	"github.com/auditstream/auditstream/internal/sink"
)

// userAgent identifies auditstream to receivers.
const userAgent = "auditstream"

// Deps are what a Sink needs from its surroundings. Every field is
// optional.
type Deps struct {
	// Client sends the requests. The sink works on a copy that never
	// follows redirects; nil means a client of the sink's own, whose idle
	// connections Close releases.
	Client *http.Client
	// Logger receives debug logs (token refreshes); nil discards them.
	Logger *slog.Logger
	// Now is the clock for signatures and token expiry; nil means
	// time.Now.
	Now func() time.Time
	// Forbidden, when set, refuses target URLs: the API passes one that
	// rejects the service's own admin endpoints (and private ranges, where
	// that is the policy). New checks the url and the token URL with it,
	// and every request checks its URL again before it is sent, so a
	// policy that resolves names is applied at send time too. Redirects
	// are never followed, so no other URL is ever requested.
	Forbidden func(*url.URL) error
}

// Sink delivers batches to an HTTP endpoint. Build it with New.
type Sink struct {
	cfg       Config
	url       *url.URL
	target    string // url without query, for messages
	client    *http.Client
	ownClient bool
	log       *slog.Logger
	now       func() time.Time
	forbidden func(*url.URL) error
	key       []byte       // Standard Webhooks HMAC key, nil when not signing
	tokens    *tokenSource // nil unless auth is oauth2ClientCredentials
	closed    atomic.Bool
}

var _ sink.Sink = (*Sink)(nil)

// ErrForbiddenTarget wraps the error of Deps.Forbidden when it refuses a
// URL.
var ErrForbiddenTarget = sink.ErrForbiddenTarget

// New checks cfg, applies its defaults and returns a sink for it. It sends
// nothing: use Verify to test the endpoint.
func New(cfg Config, deps Deps) (*Sink, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("http sink config: %w", err)
	}
	u, _ := url.Parse(cfg.URL) // Validate parsed it
	s := &Sink{
		cfg:       cfg,
		url:       u,
		target:    safeURL(u),
		log:       deps.Logger,
		now:       deps.Now,
		forbidden: deps.Forbidden,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if err := s.allowed(u); err != nil {
		return nil, err
	}
	s.client, s.ownClient = sink.HTTPClient(deps.Client)
	if cfg.Signing.Secret != "" {
		s.key, _ = signingKey(cfg.Signing.Secret) // Validate checked it
	}
	if cfg.Auth.Type == AuthOAuth2 {
		tu, _ := url.Parse(cfg.Auth.TokenURL)
		if err := s.allowed(tu); err != nil {
			return nil, fmt.Errorf("auth.tokenUrl: %w", err)
		}
		s.tokens = &tokenSource{auth: cfg.Auth, url: tu, sink: s}
	}
	return s, nil
}

// allowed applies Deps.Forbidden to u.
func (s *Sink) allowed(u *url.URL) error {
	return sink.CheckTarget(s.forbidden, u, safeURL(u))
}

// Limits reports MaxEvents and MaxBytes from the config. In batch mode one
// byte of MaxBytes is kept for the array's closing bracket, so that a body
// never exceeds the configured size.
func (s *Sink) Limits() sink.Limits {
	maxBytes := s.cfg.MaxBytes
	if s.cfg.Body == BodyBatch {
		maxBytes--
	}
	lim := sink.Limits{MaxEvents: s.cfg.MaxEvents, MaxBytes: maxBytes, MaxEventBytes: maxBytes}
	if s.cfg.Body == BodyEvent {
		// One event per request: the request limit is the event limit.
		lim.MaxEventBytes = s.cfg.MaxBytes
	}
	return lim
}

// EncodedSize is the event plus its separator: the comma or opening
// bracket of a JSON array, or the newline of NDJSON.
func (s *Sink) EncodedSize(r sink.Record) int { return len(r.Data) + 1 }

// Write sends b: one request in batch and ndjson mode, one request per
// event in event mode. In event mode a permanent failure of one event
// does not stop the others, while any other failure stops the batch there;
// the outcome is then a *sink.PartialError unless no event got through
// for one reason, which is returned as it is.
func (s *Sink) Write(ctx context.Context, b sink.Batch) error {
	if len(b.Records) == 0 {
		return nil
	}
	if s.closed.Load() {
		return errors.New("http sink: write after close")
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	switch s.cfg.Body {
	case BodyNDJSON:
		return s.send(ctx, encodeNDJSON(b), "application/x-ndjson", batchID(b))
	case BodyEvent:
		return s.writeEvents(ctx, b)
	default:
		return s.send(ctx, encodeArray(b), "application/json", batchID(b))
	}
}

func (s *Sink) writeEvents(ctx context.Context, b sink.Batch) error {
	failed := make(map[int]error)
	var stop error
	for i, r := range b.Records {
		if stop != nil {
			failed[i] = stop
			continue
		}
		err := s.send(ctx, r.Data, "application/json", eventID(r))
		if err == nil {
			continue
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		failed[i] = err
		if class, _ := sink.ClassOf(err); class != sink.PermanentClass {
			stop = err
		}
	}
	switch {
	case len(failed) == 0:
		return nil
	case stop != nil && failed[0] == stop:
		return stop // nothing got through, for one reason
	default:
		return &sink.PartialError{Failed: failed}
	}
}

// send delivers one body, fetching a new OAuth token and sending again
// once if the endpoint rejects the cached one.
func (s *Sink) send(ctx context.Context, body []byte, contentType, id string) error {
	for attempt := 0; ; attempt++ {
		if err := s.allowed(s.url); err != nil {
			return sink.Misconfigured(err)
		}
		auth, err := s.authorization(ctx)
		if err != nil {
			return err
		}
		h := make(http.Header)
		h.Set("Content-Type", contentType)
		if s.key != nil {
			ts := strconv.FormatInt(s.now().Unix(), 10)
			h.Set("Webhook-Id", id)
			h.Set("Webhook-Timestamp", ts)
			h.Set("Webhook-Signature", sign(s.key, id, ts, body))
		}
		resp, err := s.do(ctx, s.cfg.Method, body, h, auth)
		if err != nil {
			return err
		}
		if resp.status == http.StatusUnauthorized && s.tokens != nil && attempt == 0 {
			s.log.DebugContext(ctx, "endpoint rejected the oauth2 token, fetching a new one", "url", s.target)
			s.tokens.invalidate(auth)
			continue
		}
		return s.classify(resp)
	}
}

// response is what is kept of an answer once its body is drained.
type response struct {
	method  string
	status  int
	header  http.Header
	snippet string
}

// do sends one request with the auth header and h, and drains and closes
// the response body before it returns. Errors are transport errors
// (retryable) or ctx's.
func (s *Sink) do(ctx context.Context, method string, body []byte, h http.Header, auth string) (response, error) {
	rctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout.D())
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(rctx, method, s.url.String(), rd)
	if err != nil {
		return response{}, sink.Misconfigured(fmt.Errorf("%s %s: %w", method, s.target, err))
	}
	req.Header = h
	req.Header.Set("User-Agent", userAgent)
	for k, v := range s.cfg.Headers {
		req.Header.Set(k, v)
	}
	if auth != "" {
		req.Header.Set(s.cfg.authHeader(), auth)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return response{}, transportError(ctx, rctx, method, s.target, s.cfg.Timeout.D(), err)
	}
	return response{
		method:  method,
		status:  resp.StatusCode,
		header:  resp.Header,
		snippet: drain(resp.Body),
	}, nil
}

// transportError explains a failed round trip: ctx's own error when the
// caller gave up, a timeout, or the network error without the URL's query.
func transportError(ctx, rctx context.Context, method, target string, timeout time.Duration, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if rctx.Err() != nil {
		return fmt.Errorf("%s %s: no answer within %v", method, target, timeout)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // its text repeats the full URL, query included
	}
	return fmt.Errorf("%s %s: %w", method, target, err)
}

// authorization returns the value of the auth header, "" for none.
func (s *Sink) authorization(ctx context.Context) (string, error) {
	switch s.cfg.Auth.Type {
	case AuthBasic:
		req := http.Request{Header: make(http.Header)}
		req.SetBasicAuth(s.cfg.Auth.Username, s.cfg.Auth.Password.Reveal())
		return req.Header.Get("Authorization"), nil
	case AuthAPIKey:
		return s.cfg.Auth.APIKey.Reveal(), nil
	case AuthOAuth2:
		return s.tokens.token(ctx)
	default:
		return "", nil
	}
}

// Verify checks that the endpoint answers and accepts the credentials,
// without delivering anything: it fetches an OAuth token when configured,
// then sends a HEAD request with the auth header. Any answer counts as
// reachable (receivers often answer a HEAD with 404, 405 or 501) except a
// redirect, 401, 403, 407, 410 and other 5xx, which are returned as errors
// classified like Write's.
func (s *Sink) Verify(ctx context.Context) error {
	if err := s.allowed(s.url); err != nil {
		return sink.Misconfigured(err)
	}
	auth, err := s.authorization(ctx)
	if err != nil {
		return err
	}
	resp, err := s.do(ctx, http.MethodHead, nil, make(http.Header), auth)
	if err != nil {
		return err
	}
	switch st := resp.status; {
	case st == http.StatusNotImplemented:
		return nil
	case st >= 300 && st < 400, st == http.StatusUnauthorized, st == http.StatusForbidden,
		st == http.StatusProxyAuthRequired, st == http.StatusGone, st >= 500:
		return s.classify(resp)
	default:
		return nil
	}
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

// safeURL is u without query, fragment or credentials: error texts and
// logs must not carry tokens that receivers put in query strings.
func safeURL(u *url.URL) string {
	c := *u
	c.User, c.RawQuery, c.ForceQuery, c.Fragment, c.RawFragment = nil, "", false, "", ""
	s := c.String()
	if u.RawQuery != "" {
		s += "?…"
	}
	return s
}

func encodeArray(b sink.Batch) []byte {
	n := 2
	for _, r := range b.Records {
		n += len(r.Data) + 1
	}
	buf := make([]byte, 0, n)
	buf = append(buf, '[')
	for i, r := range b.Records {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, r.Data...)
	}
	return append(buf, ']')
}

func encodeNDJSON(b sink.Batch) []byte {
	n := 0
	for _, r := range b.Records {
		n += len(r.Data) + 1
	}
	buf := make([]byte, 0, n)
	for _, r := range b.Records {
		buf = append(buf, r.Data...)
		buf = append(buf, '\n')
	}
	return buf
}

// eventID is the webhook-id of a single event: its uuid, unless that could
// not be one (Standard Webhooks ids must not contain '.').
func eventID(r sink.Record) string {
	if r.ID == "" || strings.ContainsAny(r.ID, ". \t\r\n") {
		return batchID(sink.Batch{Records: []sink.Record{r}})
	}
	return r.ID
}
