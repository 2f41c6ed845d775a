package notify

import (
	"cmp"
	"net/url"
	"time"

	"github.com/auditstream/auditstream/internal/secret"
	"github.com/auditstream/auditstream/internal/sink"
)

// Webhook is what a destination that posts to a secret webhook URL
// (slack, teams) shares: each reads it from its own Config and adds its
// renderer.
type Webhook struct {
	// Name is the destination's type, for errors ("slack").
	Name string
	// URL is the webhook's URL, which is its credential: no message
	// names it.
	URL          secret.String
	InsecureHTTP bool
	Digest       sink.Duration
	Timeout      sink.Duration
	// MaxTimeout is the longest Timeout the destination accepts.
	MaxTimeout time.Duration
}

// Validate reports every problem with w at once, under the names of the
// settings (webhookUrl, digest, timeout).
func (w Webhook) Validate() error {
	var errs sink.Problems
	if w.URL == "" {
		errs.Addf("webhookUrl: required")
	} else if _, err := sink.ParseURL(w.URL.Reveal(), sink.URLRules{Credentials: "webhookUrl", Query: true, InsecureHTTP: w.InsecureHTTP}); err != nil {
		errs.Addf("webhookUrl: %w", err)
	}
	errs.Add(CheckDigest(w.Digest), sink.CheckTimeout(w.Timeout, w.MaxTimeout))
	return errs.Err()
}

// Prepared checks the URL of a valid w with the egress policy and
// returns w.
func (w Webhook) Prepared(deps sink.Deps) (Webhook, error) {
	return w, CheckURL(w.url(), deps)
}

// Options are the Options that post to w, with render.
func (w Webhook) Options(render Renderer) Options {
	u := w.url()
	return Options{Name: w.Name, URL: u, Shown: Shown(u), Timeout: w.Timeout.D(), Digest: w.Digest.D(), Render: render}
}

// url is the parsed URL of a valid w.
func (w Webhook) url() *url.URL {
	u, _ := url.Parse(w.URL.Reveal()) // Validate parsed it
	return u
}

// WebhookSettings are the settings an operator sets for a destination that
// posts to a secret webhook URL. Each such destination's Config is a type
// over them (type Config notify.WebhookSettings), so that the settings,
// their JSON names and their checks are written once.
type WebhookSettings = struct {
	// WebhookURL is the webhook's URL, which is its credential
	// (write-only).
	WebhookURL secret.String `json:"webhookUrl"`
	// Digest, e.g. "5m", sends one message summarising the events of each
	// period instead of one message per event (at most 25 events a
	// message).
	Digest sink.Duration `json:"digest,omitempty"`
	// Timeout bounds each request, e.g. "10s" (the destination's
	// DefaultTimeout when not set).
	Timeout sink.Duration `json:"timeout,omitempty"`
	// InsecureHTTP allows plain http to hosts other than this machine.
	InsecureHTTP bool `json:"insecureHttp,omitempty"`
}

// WebhookKind is the row of a secret-URL webhook destination (slack,
// teams) whose Config is C: what the destination adds to the shared
// settings, checks and sink.
type WebhookKind[C interface {
	~WebhookSettings
	Validate() error
}] struct {
	// Name is the destination's type ("slack").
	Name string
	// DefaultTimeout is the Timeout when none is set; MaxTimeout the
	// longest accepted.
	DefaultTimeout, MaxTimeout time.Duration
	// Render, Answer and Probe are the destination's parts of the
	// Options that post to the webhook (Answer and Probe may be nil).
	Render Renderer
	Answer func(r sink.Response, now time.Time) error
	Probe  []byte
}

// Defaults is c with its defaults applied.
func (k WebhookKind[C]) Defaults(c C) C {
	s := WebhookSettings(c)
	s.Timeout = cmp.Or(s.Timeout, sink.Duration(k.DefaultTimeout))
	return C(s)
}

// Validate reports every problem with c at once. No message names the
// URL.
func (k WebhookKind[C]) Validate(c C) error { return k.webhook(c).Validate() }

// Type is the destination's row of the stream type table.
func (k WebhookKind[C]) Type() sink.Type { return sink.NewType(k.Name, k.prepare, k.build) }

// New checks cfg and returns a sink for it. It sends nothing.
func (k WebhookKind[C]) New(cfg C, deps sink.Deps) (*Sink, error) {
	return sink.Build(cfg, deps, k.prepare, k.build)
}

func (k WebhookKind[C]) prepare(cfg C, deps sink.Deps) (Webhook, error) {
	cfg, err := sink.Checked(k.Name, cfg, k.Defaults)
	if err != nil {
		return Webhook{}, err
	}
	return k.webhook(cfg).Prepared(deps)
}

func (k WebhookKind[C]) build(w Webhook, deps sink.Deps) (*Sink, error) {
	o := w.Options(k.Render)
	o.Answer, o.Probe = k.Answer, k.Probe
	return New(o, deps), nil
}

// webhook is c as Webhook checks and posts with it.
func (k WebhookKind[C]) webhook(c C) Webhook {
	s := WebhookSettings(c)
	return Webhook{Name: k.Name, URL: s.WebhookURL, InsecureHTTP: s.InsecureHTTP, Digest: s.Digest, Timeout: s.Timeout, MaxTimeout: k.MaxTimeout}
}
