package httpsink

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/sink"
	"github.com/auditstream/auditstream/internal/sink/notify"
)

// Sink delivers batches to an HTTP endpoint. Build it with New.
type Sink struct {
	cfg    Config
	url    *url.URL
	target string // url without query, for messages
	http   *sink.HTTP
	deps   sink.Deps
	key    []byte           // Standard Webhooks HMAC key, nil when not signing
	tokens *tokenSource     // nil unless auth is oauth2ClientCredentials
	tpl    *notify.Template // nil unless bodyTemplate is set
	closed sink.Closed
}

var _ sink.Sink = (*Sink)(nil)

// Type is the "http" row of the stream type table.
func Type() sink.Type {
	return sink.NewType("http", prepare, build).WithDestination("url", "auth.tokenUrl")
}

// New checks cfg, applies its defaults and returns a sink for it. It sends
// nothing: use Verify to test the endpoint. deps.Egress checks the url and
// the token URL here and before every request, so a policy that resolves
// names is applied at send time too; redirects are never followed, so no
// other URL is ever requested.
func New(cfg Config, deps sink.Deps) (*Sink, error) { return sink.Build(cfg, deps, prepare, build) }

// prepare applies cfg's defaults and checks it and its URLs.
func prepare(cfg Config, deps sink.Deps) (Config, error) {
	cfg, err := sink.Checked("http", cfg, Config.withDefaults)
	if err != nil {
		return cfg, err
	}
	u, _ := url.Parse(cfg.URL) // Validate parsed it
	if err := deps.CheckURL(u, sink.ShowURL(u)); err != nil {
		return cfg, err
	}
	if cfg.Auth.Type == AuthOAuth2 {
		tu, _ := url.Parse(cfg.Auth.TokenURL)
		if err := deps.CheckURL(tu, sink.ShowURL(tu)); err != nil {
			return cfg, fmt.Errorf("auth.tokenUrl: %w", err)
		}
	}
	return cfg, nil
}

func build(cfg Config, deps sink.Deps) (*Sink, error) {
	u, _ := url.Parse(cfg.URL)
	s := &Sink{cfg: cfg, url: u, target: sink.ShowURL(u), deps: deps, http: sink.NewHTTP(deps, cfg.Timeout.D())}
	if cfg.Signing.Secret != "" {
		s.key, _ = signingKey(cfg.Signing.Secret) // Validate checked it
	}
	if cfg.Auth.Type == AuthOAuth2 {
		tu, _ := url.Parse(cfg.Auth.TokenURL)
		s.tokens = &tokenSource{auth: cfg.Auth, url: tu, sink: s}
	}
	if cfg.BodyTemplate != "" {
		s.tpl, _ = notify.ParseTemplate(cfg.BodyTemplate, cfg.Digest > 0) // Validate checked it
	}
	return s, nil
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
	lim.MaxAge = s.cfg.Digest.D()
	return lim
}

// EncodedSize is the event plus its separator: the comma or opening
// bracket of a JSON array, or the newline of NDJSON.
func (s *Sink) EncodedSize(r event.Record) int { return len(r.Data) + 1 }

// Write sends b: one request in batch and ndjson mode, one request per
// event in event mode. In event mode a permanent failure of one event
// does not stop the others, while any other failure stops the batch there;
// the outcome is then a *sink.PartialError unless no event got through
// for one reason, which is returned as it is.
func (s *Sink) Write(ctx context.Context, b sink.Batch) error {
	if skip, err := sink.Skip(ctx, b, s.closed.Load(), "http"); skip {
		return err
	}
	if s.cfg.Body == BodyEvent {
		return s.writeEvents(ctx, b)
	}
	body, contentType := s.encode(b)
	return s.send(ctx, body, contentType, batchID(b))
}

// encode returns the body of a batch request (batch and ndjson mode) and
// its media type. The events are sent from the journal's messages as they
// are (sink.Joined), not copied into one buffer first.
func (s *Sink) encode(b sink.Batch) (body payload, contentType string) {
	if s.tpl != nil {
		return payload{bytes: s.digestBody(b)}, "application/json"
	}
	if s.cfg.Body == BodyNDJSON {
		return payload{joined: sink.Join(b.Records, "", "", "\n", "")}, "application/x-ndjson"
	}
	return payload{joined: sink.Join(b.Records, "[", ",", "", "]")}, "application/json"
}

// payload is a request's body: bytes, or records joined as they are.
type payload struct {
	bytes  []byte
	joined *sink.Joined
}

// writeTo writes the body to w (for signing).
func (p payload) writeTo(w io.Writer) {
	if p.joined != nil {
		_, _ = p.joined.WriteTo(w)
		return
	}
	_, _ = w.Write(p.bytes)
}

func (s *Sink) writeEvents(ctx context.Context, b sink.Batch) error {
	return sink.WriteEach(ctx, b, func(_ int, r event.Record) error {
		return s.send(ctx, payload{bytes: s.eventBody(r)}, "application/json", eventID(r))
	})
}

// send delivers one body, fetching a new OAuth token and sending again
// once if the endpoint rejects the cached one.
func (s *Sink) send(ctx context.Context, body payload, contentType, id string) error {
	for attempt := 0; ; attempt++ {
		auth, err := s.authorization(ctx)
		if err != nil {
			return err
		}
		h := make(http.Header)
		h.Set("Content-Type", contentType)
		if s.key != nil {
			ts := strconv.FormatInt(s.deps.Now().Unix(), 10)
			h.Set("Webhook-Id", id)
			h.Set("Webhook-Timestamp", ts)
			h.Set("Webhook-Signature", sign(s.key, id, ts, body))
		}
		resp, err := s.do(ctx, s.cfg.Method, body, h, auth)
		if err != nil {
			return err
		}
		if resp.StatusCode == http.StatusUnauthorized && s.tokens != nil && attempt == 0 {
			s.deps.Logger.DebugContext(ctx, "endpoint rejected the oauth2 token, fetching a new one", "url", s.target)
			s.tokens.invalidate(auth)
			continue
		}
		return sink.Classify(resp, s.deps.Now())
	}
}

// do sends one request with the configured headers, the auth header and
// h (sink.HTTP.Do: egress check, timeout, drained answer).
func (s *Sink) do(ctx context.Context, method string, body payload, h http.Header, auth string) (sink.Response, error) {
	for k, v := range s.cfg.Headers {
		h.Set(k, v)
	}
	if auth != "" {
		h.Set(s.cfg.authHeader(), auth)
	}
	return s.http.Do(ctx, sink.Request{Method: method, URL: s.url, Header: h, Body: body.bytes, Joined: body.joined})
}

// authorization returns the value of the auth header, "" for none. It
// checks the url with the egress policy first, so no token is fetched for
// a destination the request could not go to.
func (s *Sink) authorization(ctx context.Context) (string, error) {
	if err := s.deps.CheckURL(s.url, s.target); err != nil {
		return "", sink.Misconfigured(err)
	}
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
	auth, err := s.authorization(ctx)
	if err != nil {
		return err
	}
	resp, err := s.do(ctx, http.MethodHead, payload{}, make(http.Header), auth)
	if err != nil {
		return err
	}
	return sink.Reachable(resp, s.deps.Now())
}

// Close releases idle connections of the sink's own client. It may be
// called more than once.
func (s *Sink) Close(context.Context) error { return s.closed.Close(s.http.Close) }

// eventID is the webhook-id of a single event: its uuid, unless that could
// not be one (Standard Webhooks ids must not contain '.').
func eventID(r event.Record) string {
	if r.UUID == "" || strings.ContainsAny(r.UUID, ". \t\r\n") {
		return batchID(sink.Batch{Records: []event.Record{r}})
	}
	return r.UUID
}
