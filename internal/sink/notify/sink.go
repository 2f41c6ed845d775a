package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/auditstream/auditstream/internal/event"
	"github.com/auditstream/auditstream/internal/sink"
)

const (
	// MaxDigestItems is the most events one digest message lists: a
	// message people read, within Slack's 50 blocks and Teams' 28 KB. A
	// period with more sends more than one digest.
	MaxDigestItems = 25
	// maxEachBatch is the most events the runner hands to one Write in
	// each mode; every event is its own request.
	maxEachBatch = 20
	// MinDigest and MaxDigest bound a digest period.
	MinDigest = time.Minute
	MaxDigest = 24 * time.Hour
)

// CheckDigest refuses a digest period outside MinDigest..MaxDigest (zero:
// each event is its own message).
func CheckDigest(d sink.Duration) error {
	if d != 0 && (d.D() < MinDigest || d.D() > MaxDigest) {
		return fmt.Errorf("digest %v: want between %v and %v, or none for a message per event", d.D(), MinDigest, MaxDigest)
	}
	return nil
}

// Renderer builds the request bodies of a destination.
type Renderer interface {
	// One is the body of the message about one event.
	One(n Notice) ([]byte, error)
	// Digest is the body of the message about a period's events.
	Digest(d Digest) ([]byte, error)
}

// JSON is the Renderer that writes the messages one and digest make as
// JSON (a destination's message types, such as slack.Message).
func JSON[M any](one func(Notice) M, digest func(Digest) M) Renderer {
	return jsonRenderer[M]{one, digest}
}

type jsonRenderer[M any] struct {
	one    func(Notice) M
	digest func(Digest) M
}

func (r jsonRenderer[M]) One(n Notice) ([]byte, error)    { return json.Marshal(r.one(n)) }
func (r jsonRenderer[M]) Digest(d Digest) ([]byte, error) { return json.Marshal(r.digest(d)) }

// Options configure a Sink.
type Options struct {
	// Name is the destination's type, for errors ("slack").
	Name string
	// URL receives the messages; it may hold a secret (a webhook's
	// token), so it is never shown: errors and logs show Shown.
	URL   *url.URL
	Shown string
	// Header is sent with every message (Content-Type is set).
	Header http.Header
	// Timeout bounds each request.
	Timeout time.Duration
	// Digest is the digest period; zero sends a message per event.
	Digest time.Duration
	// Render builds the bodies.
	Render Renderer
	// Answer classifies a destination's answer; nil means sink.Classify.
	// The response's URL is already Shown.
	Answer func(r sink.Response, now time.Time) error
	// Probe, when set, is what Verify posts instead of a HEAD request: a
	// body the destination refuses with 400 without delivering anything
	// (Slack's "no_text"), which proves the URL and its credential. A 400
	// that Answer classifies as a configuration error fails Verify.
	Probe []byte
}

// Sink posts notifications: one request per event, or one per digest.
type Sink struct {
	opts   Options
	http   *sink.HTTP
	deps   sink.Deps
	closed sink.Closed
}

var _ sink.Sink = (*Sink)(nil)

// Shown is how a secret URL prints: its scheme and host only.
func Shown(u *url.URL) string { return u.Scheme + "://" + u.Host + "/…" }

// CheckURL checks u with the egress policy, showing it as Shown.
func CheckURL(u *url.URL, deps sink.Deps) error { return deps.CheckURL(u, Shown(u)) }

// New returns a notification sink. deps are used as given (sink.Build
// fills in their defaults).
func New(opts Options, deps sink.Deps) *Sink {
	deps = deps.WithDefaults()
	return &Sink{opts: opts, deps: deps, http: sink.NewHTTP(deps, opts.Timeout)}
}

// Limits: in each mode up to 20 events per Write (one request each); in
// digest mode up to MaxDigestItems, held for the digest period. Messages
// are bounded by the renderers, not by the events' sizes.
func (s *Sink) Limits() sink.Limits {
	if s.opts.Digest > 0 {
		return sink.Limits{MaxEvents: MaxDigestItems, MaxAge: s.opts.Digest}
	}
	return sink.Limits{MaxEvents: maxEachBatch}
}

// EncodedSize is the event's size; no byte limit applies.
func (s *Sink) EncodedSize(r event.Record) int { return len(r.Data) }

// Write sends b: one message per event, or in digest mode one message
// for the batch. In each mode a permanent failure of one message does not
// stop the others, any other failure stops the batch there; the outcome
// is then a *sink.PartialError unless nothing got through for one reason.
func (s *Sink) Write(ctx context.Context, b sink.Batch) error {
	if skip, err := sink.Skip(ctx, b, s.closed.Load(), s.opts.Name); skip {
		return err
	}
	if s.opts.Digest > 0 {
		notices := make([]Notice, len(b.Records))
		for i, r := range b.Records {
			notices[i] = Parse(r)
		}
		body, err := s.opts.Render.Digest(NewDigest(notices, s.opts.Digest))
		if err != nil {
			return sink.Permanent(fmt.Errorf("%s digest: %w", s.opts.Name, err))
		}
		return s.Post(ctx, body)
	}
	return sink.WriteEach(ctx, b, func(_ int, r event.Record) error {
		body, err := s.opts.Render.One(Parse(r))
		if err != nil {
			return sink.Permanent(fmt.Errorf("%s message for event %s: %w", s.opts.Name, r.UUID, err))
		}
		return s.Post(ctx, body)
	})
}

// Post sends one message and classifies the answer.
func (s *Sink) Post(ctx context.Context, body []byte) error {
	resp, err := s.post(ctx, body)
	if err != nil {
		return err
	}
	return s.answer(resp)
}

// post sends body as JSON with Options.Header.
func (s *Sink) post(ctx context.Context, body []byte) (sink.Response, error) {
	h := s.opts.Header.Clone()
	if h == nil {
		h = http.Header{}
	}
	h.Set("Content-Type", "application/json")
	return s.do(ctx, sink.Request{Method: http.MethodPost, URL: s.opts.URL, Header: h, Body: body})
}

// answer classifies resp with Options.Answer, sink.Classify when not set.
func (s *Sink) answer(resp sink.Response) error {
	if s.opts.Answer != nil {
		return s.opts.Answer(resp, s.deps.Now())
	}
	return sink.Classify(resp, s.deps.Now())
}

// do sends req with its URL shown as Options.Shown in every error.
func (s *Sink) do(ctx context.Context, req sink.Request) (sink.Response, error) {
	if err := s.deps.CheckURL(req.URL, s.opts.Shown); err != nil {
		return sink.Response{}, sink.Misconfigured(err)
	}
	resp, err := s.http.Do(ctx, req)
	if err != nil {
		if ctx.Err() != nil {
			return resp, ctx.Err()
		}
		return resp, hideURL(err, req.URL, s.opts.Shown)
	}
	resp.URL = s.opts.Shown
	return resp, nil
}

// Verify checks that the endpoint answers, without delivering anything:
// it posts Options.Probe when set (see probe), else sends a HEAD request. Any answer counts as reachable (webhook endpoints answer
// a HEAD with 404, 405 or 400) except a redirect, 401, 403, 407, 410 and
// 5xx other than 501.
func (s *Sink) Verify(ctx context.Context) error {
	if s.opts.Probe != nil {
		return s.probe(ctx)
	}
	resp, err := s.do(ctx, sink.Request{Method: http.MethodHead, URL: s.opts.URL})
	if err != nil {
		return err
	}
	return sink.Reachable(resp, s.deps.Now())
}

// probe posts Options.Probe: 400 (the empty message refused) and 2xx
// mean the endpoint and its credential are good, unless Answer makes the
// 400 a configuration error; any other answer is classified.
func (s *Sink) probe(ctx context.Context) error {
	resp, err := s.post(ctx, s.opts.Probe)
	if err != nil {
		return err
	}
	switch st := resp.StatusCode; {
	case st >= 200 && st < 300:
		return nil
	case st == http.StatusBadRequest:
		if err := s.answer(resp); err != nil {
			if class, _ := sink.ClassOf(err); class == sink.ClassConfig {
				return err
			}
		}
		return nil
	default:
		return s.answer(resp)
	}
}

// Close releases idle connections of the sink's own client.
func (s *Sink) Close(context.Context) error { return s.closed.Close(s.http.Close) }

// hidden is an error whose text has the secret URL replaced; it unwraps
// to the original, so its class and causes are kept.
type hidden struct {
	err error
	msg string
}

func (e *hidden) Error() string { return e.msg }
func (e *hidden) Unwrap() error { return e.err }

// hideURL replaces the URL in err's text with shown. A webhook's URL is
// its credential: it must not reach a stream's status or the logs.
func hideURL(err error, u *url.URL, shown string) error {
	msg := err.Error()
	hide := []string{sink.ShowURL(u), u.String()}
	if len(u.Path) > 1 {
		hide = append(hide, u.Path)
	}
	if u.RawQuery != "" {
		hide = append(hide, u.RawQuery)
	}
	out := msg
	for _, h := range hide {
		out = strings.ReplaceAll(out, h, shown)
	}
	if out == msg {
		return err
	}
	return &hidden{err: err, msg: out}
}
